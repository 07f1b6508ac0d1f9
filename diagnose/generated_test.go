package diagnose

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/gen"
)

// generate writes a capture of one scenario with the generator and returns
// its path and ground truth.
func generate(t testing.TB, sc gen.Scenario, mod func(*gen.Config)) (string, *gen.Truth) {
	t.Helper()
	cfg := gen.Config{Calls: 1, Seed: 7, Mix: []gen.Scenario{sc}, CallDuration: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	var buf bytes.Buffer
	truth, err := gen.Write(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), string(sc)+".pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, truth
}

func onlyCall(t *testing.T, calls []correlate.Call) correlate.Call {
	t.Helper()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	return calls[0]
}

func TestGeneratedCallsAreDiagnosed(t *testing.T) {
	// dropFrom cuts the RTP one party sends out of the capture: the truth
	// lists the caller's stream first, then the callee's.
	dropFrom := func(truth **gen.Truth, i int) packetFilter {
		return func(pkt *decode.Packet, isSIP bool) bool {
			return isSIP || pkt.Src != (*truth).Streams[i].Src
		}
	}
	var truth *gen.Truth
	tests := []struct {
		name     string
		scenario gen.Scenario
		mod      func(*gen.Config)
		keep     func() packetFilter
		findings []string
		mos      func(float64) bool
		sentence []string // fragments the diagnosis must contain
	}{
		{"an answered call with clean audio has no findings and a good MOS", gen.ScenarioAnswered, nil, nil,
			[]string{}, func(m float64) bool { return m > 4.0 }, []string{"answered after", "hung up after", "Audio flowed both ways; MOS 4."}},
		{"10 % loss both ways is high loss in each direction", gen.ScenarioAnswered,
			func(c *gen.Config) { c.LossPct = 10; c.BurstLen = 3 }, nil,
			[]string{"high_loss:caller_to_callee", "high_loss:callee_to_caller"}, func(m float64) bool { return m > 1 && m < 3.6 },
			[]string{"lost", "burst ratio", "(poor)", "The other direction lost"}},
		{"no RTP from the callee while the caller talks 5 s is one-way audio with MOS 1", gen.ScenarioAnswered, nil,
			func() packetFilter { return dropFrom(&truth, 1) },
			[]string{"one_way_audio:callee_to_caller"}, func(m float64) bool { return m == 1.0 },
			[]string{"No audio went from the callee to the caller", "MOS 1.00 (no audio)"}},
		{"no RTP from the caller is one-way the other way", gen.ScenarioAnswered, nil,
			func() packetFilter { return dropFrom(&truth, 0) },
			[]string{"one_way_audio:caller_to_callee"}, func(m float64) bool { return m == 1.0 },
			[]string{"No audio went from the caller to the callee"}},
		{"jitter of up to 120 ms is high jitter both ways", gen.ScenarioAnswered,
			func(c *gen.Config) { c.JitterMs = 120 }, nil,
			[]string{"high_jitter:caller_to_callee", "late_packets:caller_to_callee", "high_jitter:callee_to_caller", "late_packets:callee_to_caller"},
			func(m float64) bool { return m > 1 && m < 4.4 }, []string{"had a mean jitter of", "The other direction lost 0.0 %"}},
		{"5 % of packets 400 ms late are late packets, and raise the jitter", gen.ScenarioAnswered,
			func(c *gen.Config) { c.LatePct = 5; c.LateMs = 400 }, nil,
			[]string{"high_jitter:caller_to_callee", "late_packets:caller_to_callee", "high_jitter:callee_to_caller", "late_packets:callee_to_caller"},
			func(m float64) bool { return m > 1 && m < 4.4 }, []string{"packets too late for the jitter buffer"}},
		{"an answered call with SDP and no RTP at all has no media", gen.ScenarioAnswered, nil,
			func() packetFilter { return func(_ *decode.Packet, isSIP bool) bool { return isSIP } },
			[]string{"no_media"}, func(m float64) bool { return m == 0 },
			[]string{"Both sides offered audio but no RTP was captured."}},
		{"a capture that starts at the 200 OK holds a partial answered call", gen.ScenarioAnswered, nil,
			func() packetFilter {
				return func(pkt *decode.Packet, isSIP bool) bool {
					return !isSIP || !bytes.HasPrefix(pkt.Payload, []byte("INVITE ")) && !bytes.HasPrefix(pkt.Payload, []byte("SIP/2.0 1"))
				}
			},
			[]string{"partial"}, func(m float64) bool { return m > 4.0 },
			[]string{"Seen mid-call (its INVITE was not captured):", "hung up after"}},
		{"a busy callee is named with its status and the time after the INVITE", gen.ScenarioBusy, nil, nil,
			[]string{"busy"}, func(m float64) bool { return m == 0 }, []string{" answered 486 Busy Here ", " s after the INVITE."}},
		{"a caller hanging up while it rings is cancelled after ring", gen.ScenarioCancelled, nil, nil,
			[]string{"cancelled_after_ring"}, func(m float64) bool { return m == 0 }, []string{"hung up (CANCEL) while", "rang for"}},
		{"a call the capture ended before any final response says so", gen.ScenarioNoFinal, nil, nil,
			[]string{"capture_ended"}, func(m float64) bool { return m == 0 }, []string{"The capture ended", "before any final response"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var path string
			path, truth = generate(t, tt.scenario, tt.mod)
			var keep packetFilter
			if tt.keep != nil {
				keep = tt.keep()
			}
			calls, _ := analyzeCapture(t, path, keep)
			c := onlyCall(t, calls)
			t.Logf("%s: %v MOS %.2f", c.Diagnosis, c.Findings, c.MOS)
			if c.CallID != truth.Calls[0].CallID {
				t.Fatalf("call %s, truth %s", c.CallID, truth.Calls[0].CallID)
			}
			if !slices.Equal(c.Findings, tt.findings) {
				t.Errorf("findings %q, want %q", c.Findings, tt.findings)
			}
			if !tt.mos(c.MOS) {
				t.Errorf("MOS %.2f", c.MOS)
			}
			for _, frag := range tt.sentence {
				if !strings.Contains(c.Diagnosis, frag) {
					t.Errorf("diagnosis %q lacks %q", c.Diagnosis, frag)
				}
			}
			if strings.Count(c.Diagnosis, ". ")+1 > 3 {
				t.Errorf("diagnosis is more than two sentences: %q", c.Diagnosis)
			}
		})
	}
}

func TestHighLossFiguresAreTheGroundTruths(t *testing.T) {
	path, truth := generate(t, gen.ScenarioAnswered, func(c *gen.Config) { c.LossPct = 8; c.BurstLen = 2; c.Seed = 11 })
	calls, _ := analyzeCapture(t, path, nil)
	c := onlyCall(t, calls)
	pct := func(s gen.StreamTruth) float64 { return 100 * float64(s.Lost) / float64(s.Expected) }
	fromCaller, fromCallee := pct(truth.Streams[0]), pct(truth.Streams[1])
	worst, other, who := fromCaller, fromCallee, "(caller)"
	if fromCallee > fromCaller {
		worst, other, who = fromCallee, fromCaller, "(callee)"
	}
	for _, frag := range []string{who, fmt.Sprintf("lost %.1f %%", worst), fmt.Sprintf("The other direction lost %.1f %%,", other)} {
		if !strings.Contains(c.Diagnosis, frag) {
			t.Errorf("diagnosis %q lacks %q (truth: %.2f %% from the caller, %.2f %% from the callee)", c.Diagnosis, frag, fromCaller, fromCallee)
		}
	}
}
