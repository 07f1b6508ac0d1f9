package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/pipeline"

	"github.com/sipscope/sipscope/gen"
)

// TestAnalyzeGeneratedCapturesMatchGroundTruth checks analyze against the
// generator's truth for every committed capture in testdata/.
func TestAnalyzeGeneratedCapturesMatchGroundTruth(t *testing.T) {
	truths, err := filepath.Glob("../../testdata/*.truth.json")
	if err != nil || len(truths) == 0 {
		t.Fatalf("no truth files in testdata/ (%v)", err)
	}
	for _, tp := range truths {
		pcap := strings.TrimSuffix(tp, ".truth.json") + ".pcap"
		t.Run(filepath.Base(pcap), func(t *testing.T) {
			var truth gen.Truth
			b, err := os.ReadFile(tp)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &truth); err != nil {
				t.Fatal(err)
			}
			r, err := pipeline.AnalyzeFile(pcap, pipeline.QualityOptions{G711PLC: true})
			if err != nil {
				t.Fatal(err)
			}
			compareWithTruth(t, &r, &truth)
		})
	}
}

func compareWithTruth(t *testing.T, r *pipeline.Report, truth *gen.Truth) {
	t.Helper()
	if r.Packets != truth.Totals.Packets || r.SIP.Messages != truth.Totals.SIPMessages || r.SIP.CallIDs != truth.Totals.CallIDs {
		t.Errorf("totals: packets %d sip %d call-ids %d, truth %d %d %d", r.Packets, r.SIP.Messages, r.SIP.CallIDs,
			truth.Totals.Packets, truth.Totals.SIPMessages, truth.Totals.CallIDs)
	}
	if d := diffCounts(r.SIP.Requests, truth.Totals.Requests); d != "" {
		t.Errorf("requests: %s", d)
	}
	if d := diffCounts(r.SIP.Responses, truth.Totals.Responses); d != "" {
		t.Errorf("responses: %s", d)
	}
	if len(r.DecodeErrors) != 0 {
		t.Errorf("decode errors on a clean capture: %v", r.DecodeErrors)
	}
	calls := map[string]api.CallView{}
	for _, c := range r.Calls {
		calls[c.CallID] = c
	}
	if len(r.Calls) != len(truth.Calls) {
		t.Errorf("%d calls, truth %d", len(r.Calls), len(truth.Calls))
	}
	for _, w := range truth.Calls {
		g, ok := calls[w.CallID]
		if !ok {
			t.Errorf("call %s missing", w.CallID)
			continue
		}
		if g.State != w.State || g.FinalCode != w.FinalCode || g.Messages != w.Messages || g.FromUser != w.FromUser || g.ToUser != w.ToUser {
			t.Errorf("call %s: %s %d msgs %d %s→%s, truth %s %d msgs %d %s→%s", w.CallID, g.State, g.FinalCode, g.Messages, g.FromUser, g.ToUser,
				w.State, w.FinalCode, w.Messages, w.FromUser, w.ToUser)
		}
		if g.Start != api.FormatTime(w.Start.Time) || g.End != api.FormatTime(w.End.Time) {
			t.Errorf("call %s: %s..%s, truth %s..%s", w.CallID, g.Start, g.End, api.FormatTime(w.Start.Time), api.FormatTime(w.End.Time))
		}
	}
	regs := map[string]pipeline.RegistrationJSON{}
	for _, g := range r.Registrations {
		regs[g.CallID] = g
	}
	for _, w := range truth.Registrations {
		g, ok := regs[w.CallID]
		if !ok || g.AoR != w.AoR || g.Challenged != w.Challenged || g.FinalCode != w.FinalCode {
			t.Errorf("registration %s: %+v, truth %+v", w.CallID, g, w)
		}
	}
	streams := map[string]api.StreamView{}
	for _, s := range r.RTPStreams {
		streams[s.SSRC+" "+s.Src+" "+s.Dst] = s
	}
	if len(r.RTPStreams) != len(truth.Streams) {
		t.Errorf("%d streams, truth %d", len(r.RTPStreams), len(truth.Streams))
	}
	for _, w := range truth.Streams {
		g, ok := streams[w.SSRC+" "+w.Src.String()+" "+w.Dst.String()]
		if !ok {
			t.Errorf("stream %s %s→%s missing", w.SSRC, w.Src, w.Dst)
			continue
		}
		if g.Packets != w.Packets || g.Lost != w.Lost || g.Payload != w.Payload || g.CallID != w.CallID {
			t.Errorf("stream %s: %d pkts %d lost %s call %s, truth %d %d %s %s", w.SSRC, g.Packets, g.Lost, g.Payload, g.CallID,
				w.Packets, w.Lost, w.Payload, w.CallID)
		}
		if w.Lost > 0 && !(g.MOS < 4.41 && g.MOS > 1) {
			t.Errorf("stream %s with %d lost has MOS %.2f", w.SSRC, w.Lost, g.MOS)
		}
	}
}

// TestAnalyzeCommandLine runs the real binary path: exit codes and one-line
// errors for unreadable files, JSON on stdout.
func TestAnalyzeCommandLine(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pcap")
	if err := os.WriteFile(garbage, []byte("this is not a capture file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile("../../testdata/calls.pcap")
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.pcap")
	if err := os.WriteFile(truncated, full[:len(full)-37], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"a good file prints JSON and exits 0", []string{"analyze", "../../testdata/calls.pcap", "--json"}, 0, `"call_ids": 10`, ""},
		{"a truncated file is counted and exits 0", []string{"analyze", truncated, "--json"}, 0, `"truncated_file": 1`, ""},
		{"a file that is not a capture exits 1 with one line", []string{"analyze", garbage}, 1, "", "not a pcap or pcapng"},
		{"a missing file exits 1", []string{"analyze", filepath.Join(dir, "nope.pcap")}, 1, "", "no such file"},
		{"no file is a usage error", []string{"analyze"}, 1, "", "exactly one capture file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(t.Context(), tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errb.String())
			}
			if !strings.Contains(out.String(), tt.inStdout) {
				t.Errorf("stdout lacks %q:\n%.500s", tt.inStdout, out.String())
			}
			if !strings.Contains(errb.String(), tt.inStderr) {
				t.Errorf("stderr lacks %q: %s", tt.inStderr, errb.String())
			}
			if tt.code != 0 && strings.Count(strings.TrimSpace(errb.String()), "\n") > 0 {
				t.Errorf("error is not one line: %q", errb.String())
			}
		})
	}
}

// TestAnalyzeNeedsNoStore builds the real binary and runs analyze where
// libchdb.so cannot be found: only the store commands may need the engine.
func TestAnalyzeNeedsNoStore(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sipscope")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "analyze", "../../testdata/calls.pcap")
	cmd.Env = append(os.Environ(), "CHDB_LIB_PATH=/nonexistent/libchdb.so", "LD_LIBRARY_PATH=/nonexistent")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("analyze without libchdb.so: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "CALLS (8)") {
		t.Errorf("unexpected output:\n%s", out)
	}
}
