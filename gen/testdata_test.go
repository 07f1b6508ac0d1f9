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
const projectTestdata = "../testdata"

// maxCaptureSize keeps committed captures small enough to review and clone.
const maxCaptureSize = 1 << 20

// committedCapture is one generated capture committed with its truth.
type committedCapture struct {
	name string
	cfg  Config
}

// committedCaptures are the generated captures committed in testdata/. Their
// configs are part of the contract: testdata/README.md quotes them.
func committedCaptures() []committedCapture {
	return []committedCapture{
		{"calls", Config{Calls: 10, Seed: 1, Codec: CodecMix, AltSIPPort: 5080}},
		{"loss", Config{Calls: 2, Seed: 2, Mix: []Scenario{ScenarioAnswered}, Codec: CodecMix,
			CallDuration: 10 * time.Second, LossPct: 5, BurstLen: 3, JitterMs: 5}},
		{"sip_tcp", Config{Calls: 2, Seed: 3, Mix: []Scenario{ScenarioAnswered, ScenarioCancelled}, Transport: TransportTCP}},
	}
}

// encapMix is the scenario mix of every capture in testdata/encap/.
func encapMix() []Scenario {
	return []Scenario{ScenarioAnswered, ScenarioBusy, ScenarioCancelled, ScenarioRegister}
}

// committedEncapCaptures are the captures in testdata/encap/: the same four
// scenarios with 1 s of media, once for every encapsulation and transport a
// capture point meets. testdata/README.md quotes these configs.
func committedEncapCaptures() []committedCapture {
	m, d := encapMix(), time.Second
	return []committedCapture{
		{"vlan", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapVLAN}},
		{"qinq", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapQinQ}},
		{"mpls", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapMPLS}},
		{"vxlan", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapVXLAN}},
		{"geneve", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapGeneve}},
		{"gre", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapGRE}},
		{"erspan2", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapERSPAN2}},
		{"erspan3", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapERSPAN3}},
		{"ipip", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapIPIP}},
		{"6in4", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: Encap6in4, IPv6: true}},
		{"4in6", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: Encap4in6}},
		{"ipv6", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, IPv6: true}},
		{"fragments", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapFragments, FragmentMTU: 576}},
		{"fragments_ipv6", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapFragments, FragmentMTU: 576, IPv6: true}},
		{"hep", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapHEP}},
		{"sll", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapSLL}},
		{"sll2", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapSLL2}},
		{"tzsp", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Encap: EncapTZSP}},
		{"tcp_segmented", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Transport: TransportTCP, TCPSegmentSize: 200}},
		{"tcp_reordered", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Transport: TransportTCP, TCPSegmentSize: 200, TCPReorderPct: 50}},
		{"tcp_retransmitted", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Transport: TransportTCP, TCPSegmentSize: 300, TCPRetransmitPct: 50}},
		{"ws", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Transport: TransportWS}},
		{"ws_fragmented", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Transport: TransportWS, WSFragment: true}},
		{"sctp", Config{Calls: 4, Seed: 21, Mix: m, CallDuration: d, Transport: TransportSCTP}},
	}
}

// maxEncapCaptureSize keeps each capture in testdata/encap/ small.
const maxEncapCaptureSize = 100 << 10

// TestGenerateTestdata checks that the committed captures and truths are
// exactly what the generator writes today, and that tshark agrees with each
// committed truth. With -update it rewrites them instead of comparing.
func TestGenerateTestdata(t *testing.T) {
	for _, c := range committedCaptures() {
		t.Run(c.name, func(t *testing.T) {
			checkCommitted(t, projectTestdata, c, maxCaptureSize, "TestGenerateTestdata")
		})
	}
}

// TestGenerateEncapTestdata does the same for testdata/encap/.
func TestGenerateEncapTestdata(t *testing.T) {
	dir := filepath.Join(projectTestdata, "encap")
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range committedEncapCaptures() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // mostly waiting for tshark; files are distinct
			checkCommitted(t, dir, c, maxEncapCaptureSize, "TestGenerateEncapTestdata")
		})
	}
}

// checkCommitted writes c (with -update) or compares it byte for byte with
// the committed pair in dir, then checks the committed truth with tshark.
func checkCommitted(t *testing.T, dir string, c committedCapture, maxSize int, testName string) {
	t.Helper()
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
	if pcap.Len() > maxSize {
		t.Errorf("%s.pcap is %d bytes, over the %d limit", c.name, pcap.Len(), maxSize)
	}

	regen := "go test ./gen -run " + testName + " -update"
	pcapPath := filepath.Join(dir, c.name+".pcap")
	truthPath := filepath.Join(dir, c.name+".truth.json")
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
			t.Fatalf("committed fixture missing (regenerate with: %s): %v", regen, err)
		}
		if !bytes.Equal(got, f.want) {
			t.Errorf("%s differs from what the generator writes now; if the change is intended, regenerate with: %s", f.path, regen)
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
}
