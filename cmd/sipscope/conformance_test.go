package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/pipeline"

	"github.com/sipscope/sipscope/capture/oracle"
)

const sharedCaptures = "../../testdata/captures"

// notSIP lists captures where tshark's SIP count is wrong by the manifest's
// own account, with the count sipscope must produce instead.
var notSIP = map[string]int{
	"ndpi__http_on_sip_port.pcap": 0, // HTTP on TCP 5060: tshark dissects 2 frames as SIP with no status code
}

func sharedCaptureFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"*.pcap", "*.pcapng"} {
		m, err := filepath.Glob(filepath.Join(sharedCaptures, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no captures in %s: the conformance test needs testdata/captures", sharedCaptures)
	}
	return files
}

// TestConformanceSharedCaptures analyses every third-party capture and
// compares SIP counts, Call-IDs, methods, status codes and every RTP stream
// with tshark 4.0.17's oracle output.
func TestConformanceSharedCaptures(t *testing.T) {
	for _, path := range sharedCaptureFiles(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want, err := oracle.Load(path + ".tshark.txt")
			if err != nil {
				t.Fatal(err)
			}
			got, err := pipeline.AnalyzeFile(path, pipeline.QualityOptions{G711PLC: true})
			if err != nil {
				t.Fatal(err)
			}
			if got.Packets != want.Packets {
				t.Errorf("packets %d, tshark %d", got.Packets, want.Packets)
			}
			wantSIP, override := notSIP[name]
			if !override {
				wantSIP = want.SIPPackets
			}
			if got.SIP.Messages != wantSIP {
				t.Errorf("SIP messages %d, want %d", got.SIP.Messages, wantSIP)
			}
			if got.SIP.CallIDs != len(want.CallIDs) {
				t.Errorf("distinct Call-IDs %d, tshark %d", got.SIP.CallIDs, len(want.CallIDs))
			}
			if override {
				return
			}
			if d := diffCounts(got.SIP.Requests, want.Requests); d != "" {
				t.Errorf("requests differ from tshark: %s", d)
			}
			if d := diffCounts(got.SIP.Responses, responsesByString(want.Responses)); d != "" {
				t.Errorf("responses differ from tshark: %s", d)
			}
			perCall := map[string]int{}
			for _, c := range got.Calls {
				perCall[c.CallID] = c.Messages
			}
			for _, r := range got.Registrations {
				perCall[r.CallID] = r.Messages
			}
			for id, n := range want.CallIDs {
				if m, ok := perCall[id]; ok && m != n {
					t.Errorf("Call-ID %s: %d messages, tshark %d", id, m, n)
				}
			}
			compareStreams(t, got.RTPStreams, want)
		})
	}
}

// compareStreams requires sipscope's streams to be exactly tshark's
// heuristic table (every stream, every figure as printed) and every
// SDP-bound stream to be in tshark's SDP-learned table.
func compareStreams(t *testing.T, got []api.StreamView, want *oracle.File) {
	t.Helper()
	type key struct {
		src, dst string
		ssrc     string
	}
	rows := map[key]oracle.Stream{}
	for _, s := range want.StreamsOf(oracle.TableHeuristic) {
		rows[key{s.Src.String(), s.Dst.String(), fmt.Sprintf("0x%08X", s.SSRC)}] = s
	}
	sdpRows := map[key]bool{}
	for _, s := range want.StreamsOf(oracle.TableSDP) {
		sdpRows[key{s.Src.String(), s.Dst.String(), fmt.Sprintf("0x%08X", s.SSRC)}] = true
	}
	seen := map[key]bool{}
	for _, s := range got {
		k := key{s.Src, s.Dst, s.SSRC}
		seen[k] = true
		row, ok := rows[k]
		if !ok {
			t.Errorf("stream %v not in tshark's heuristic table", k)
			continue
		}
		if s.CallID != "" && !sdpRows[k] {
			t.Errorf("stream %v bound to %s but tshark learned no SDP for it", k, s.CallID)
		}
		checks := []struct{ field, got, want string }{
			{"payload", s.Payload, row.Payload},
			{"packets", fmt.Sprint(s.Packets), fmt.Sprint(row.Packets)},
			{"lost", fmt.Sprint(s.Lost), fmt.Sprint(row.Lost)},
			{"min delta", fmt.Sprintf("%.3f", s.MinDeltaMs), row.MinDelta},
			{"mean delta", fmt.Sprintf("%.3f", s.MeanDeltaMs), row.MeanDelta},
			{"max delta", fmt.Sprintf("%.3f", s.MaxDeltaMs), row.MaxDelta},
			{"min jitter", fmt.Sprintf("%.3f", s.MinJitterMs), row.MinJitter},
			{"mean jitter", fmt.Sprintf("%.3f", s.MeanJitterMs), row.MeanJitter},
			{"max jitter", fmt.Sprintf("%.3f", s.MaxJitterMs), row.MaxJitter},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("stream %v %s: %s, tshark %s", k, c.field, c.got, c.want)
			}
		}
	}
	for k := range rows {
		if !seen[k] {
			t.Errorf("tshark's stream %v missing", k)
		}
	}
}

func responsesByString(m map[int]int) map[string]int {
	out := make(map[string]int, len(m))
	for c, n := range m {
		out[fmt.Sprint(c)] = n
	}
	return out
}

func diffCounts(got, want map[string]int) string {
	var d []string
	for k, n := range want {
		if got[k] != n {
			d = append(d, fmt.Sprintf("%s: %d, want %d", k, got[k], n))
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("%s: %d, want none", k, n))
		}
	}
	return strings.Join(d, "; ")
}
