package gen

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the generated captures and truths in the project's testdata/")

// projectTestdata is the project root's testdata/, seen from this package.
const projectTestdata = "../../../../testdata"

// maxCaptureSize keeps committed captures small enough to review and clone.
const maxCaptureSize = 1 << 20

// committedCaptures are the generated captures committed in testdata/. Their
// configs are part of the contract: testdata/README.md quotes them.
func committedCaptures() []struct {
	name string
	cfg  Config
} {
	return []struct {
		name string
		cfg  Config
	}{
		{"calls", Config{Calls: 10, Seed: 1, Codec: CodecMix, AltSIPPort: 5080}},
		{"loss", Config{Calls: 2, Seed: 2, Mix: []Scenario{ScenarioAnswered}, Codec: CodecMix,
			CallDuration: 10 * time.Second, LossPct: 5, BurstLen: 3, JitterMs: 5}},
		{"sip_tcp", Config{Calls: 2, Seed: 3, Mix: []Scenario{ScenarioAnswered, ScenarioCancelled}, Transport: TransportTCP}},
	}
}

// TestGenerateTestdata checks that the committed captures and truths are
// exactly what the generator writes today, and that tshark agrees with each
// committed truth. With -update it rewrites them instead of comparing.
func TestGenerateTestdata(t *testing.T) {
	for _, c := range committedCaptures() {
		t.Run(c.name, func(t *testing.T) {
			var pcap bytes.Buffer
			truth, err := Write(&pcap, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			js, err := json.MarshalIndent(truth, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			js = append(js, '\n')
			if pcap.Len() > maxCaptureSize {
				t.Errorf("%s.pcap is %d bytes, over the %d limit", c.name, pcap.Len(), maxCaptureSize)
			}

			pcapPath := filepath.Join(projectTestdata, c.name+".pcap")
			truthPath := filepath.Join(projectTestdata, c.name+".truth.json")
			if *update {
				if err := os.WriteFile(pcapPath, pcap.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(truthPath, js, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range []struct {
				path string
				want []byte
			}{{pcapPath, pcap.Bytes()}, {truthPath, js}} {
				got, err := os.ReadFile(f.path)
				if err != nil {
					t.Fatalf("committed fixture missing (regenerate with: go test ./cmd/sipscope/internal/gen -run TestGenerateTestdata -update): %v", err)
				}
				if !bytes.Equal(got, f.want) {
					t.Errorf("%s differs from what the generator writes now; if the change is intended, regenerate with: go test ./cmd/sipscope/internal/gen -run TestGenerateTestdata -update", f.path)
				}
			}

			// The committed truth, read back as a consumer would, must be what
			// tshark sees in the committed capture.
			var committed Truth
			raw, err := os.ReadFile(truthPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &committed); err != nil {
				t.Fatalf("%s: %v", truthPath, err)
			}
			checkAgainstTshark(t, pcapPath, &committed)
		})
	}
}
