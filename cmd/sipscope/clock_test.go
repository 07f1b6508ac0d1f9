package main

import (
	"bytes"
	"net/url"
	"testing"
	"time"

	"github.com/sipscope/sipscope/hep"
	"github.com/sipscope/sipscope/pipeline"
)

// restamp rewrites a HEP packet as sent by agent node (id, name) with
// capture time ts, and Call-ID from replaced by to (same length).
func restamp(t *testing.T, b []byte, id uint32, name string, ts int64, from, to string) []byte {
	t.Helper()
	var h hep.Packet
	if err := h.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	h.NodeID, h.NodeName = id, []byte(name)
	h.TimestampSec, h.TimestampUsec = uint32(ts/1e9), uint32(ts%1e9/1e3)
	if from != "" {
		h.Payload = bytes.ReplaceAll(h.Payload, []byte(from), []byte(to))
	}
	out, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// clockCalls is the part of GET /api/v1/calls this test reads.
type clockCalls struct {
	Calls []struct {
		CallID    string   `json:"call_id"`
		State     string   `json:"state"`
		EndReason string   `json:"end_reason"`
		Finished  bool     `json:"finished"`
		Nodes     []string `json:"nodes"`
	} `json:"calls"`
	Total int `json:"total"`
}

// TestALaggingHEPAgentsRingingCallFollowsItsOwnClock: one HEP agent's
// clock is in step with the collector, another's lags by 10 minutes or 2
// hours. The lagging agent's ringing call stays in progress (no_final /
// in_progress) after the in-step agent's later calls have been stored
// (their flush ran the timers), and ends only when its own agent's clock
// passes ProceedingTimeout (3 minutes of ITS time) after the 180.
func TestALaggingHEPAgentsRingingCallFollowsItsOwnClock(t *testing.T) {
	for _, tc := range []struct {
		name string
		lag  time.Duration
	}{
		{"an agent 10 minutes behind", 10 * time.Minute},
		{"an agent 2 hours behind", 2 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkts, ids := hepMessages(t, "../../testdata/calls.pcap")
			offline, err := pipeline.AnalyzeFile("../../testdata/calls.pcap", pipeline.QualityOptions{})
			if err != nil {
				t.Fatal(err)
			}
			isCall := map[string]bool{}
			for _, c := range offline.Calls {
				isCall[c.CallID] = true
			}
			ringing := ids[0]
			if ids[1] != ringing || ids[2] != ringing {
				t.Fatalf("calls.pcap does not start with INVITE, 100, 180 of one call: %v", ids[:3])
			}
			var first hep.Packet
			if err := first.Unmarshal(pkts[0]); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UnixNano()
			shift := func(b []byte) int64 {
				var h hep.Packet
				if err := h.Unmarshal(b); err != nil {
					t.Fatal(err)
				}
				return h.UnixNano() - first.UnixNano()
			}
			lagBase := now - int64(tc.lag)
			var lagging, inStep [][]byte
			for i := range 3 { // INVITE, 100, 180: ringing
				lagging = append(lagging, restamp(t, pkts[i], 9, "edge-lag", lagBase+shift(pkts[i]), "", ""))
			}
			others := map[string]bool{}
			for i, b := range pkts {
				if ids[i] != ringing {
					inStep = append(inStep, restamp(t, b, 7, "edge-now", now+shift(b), "", ""))
					others[ids[i]] = isCall[ids[i]] // registrations are not listed
				}
			}
			hepAddr := freeUDPAddr(t)
			base, stop := startServe(t, "--data", t.TempDir(), "--hep-listen", "udp://"+hepAddr, "--flush", "200ms")
			defer stop()
			sendHEP(t, hepAddr, lagging)
			sendHEP(t, hepAddr, inStep)

			// The 7 other calls are stored only by a flush after their
			// messages: that flush ran the timers with the in-step clock.
			get := func() (map[string]int, clockCalls) {
				var list clockCalls
				getJSON(t, base+"/api/v1/calls?limit=100", &list)
				at := map[string]int{}
				for i, c := range list.Calls {
					at[c.CallID] = i
				}
				return at, list
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				at, list := get()
				n := 0
				for id, call := range others {
					if _, ok := at[id]; ok && call {
						n++
					}
				}
				if _, ok := at[ringing]; ok && n == len(offline.Calls)-1 {
					c := list.Calls[at[ringing]]
					if c.State != "no_final" || c.EndReason != "in_progress" || c.Finished {
						t.Fatalf("the lagging agent's ringing call is %s/%s (finished %v) once the in-step agent's calls are stored",
							c.State, c.EndReason, c.Finished)
					}
					// Each call names the agent that carried it.
					for _, c := range list.Calls {
						want := "hep:7/edge-now"
						if c.CallID == ringing {
							want = "hep:9/edge-lag"
						}
						if len(c.Nodes) != 1 || c.Nodes[0] != want {
							t.Errorf("call %s: nodes %q, want [%s]", c.CallID, c.Nodes, want)
						}
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d in-step calls stored, ringing call listed: %v", n, len(offline.Calls)-1, at)
				}
			}

			// The lagging agent's clock moves 4 minutes on (a new call's
			// INVITE): past ProceedingTimeout after its 180, on its own clock.
			tick := restamp(t, pkts[0], 9, "edge-lag", lagBase+int64(4*time.Minute), ringing[:8], "0c10c4ed")
			sendHEP(t, hepAddr, [][]byte{tick})
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				var list clockCalls
				getJSON(t, base+"/api/v1/calls?call_id="+url.QueryEscape(ringing), &list)
				if list.Total == 1 && list.Calls[0].EndReason == "no_final" && list.Calls[0].Finished {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the ringing call is %+v after its agent's clock passed ProceedingTimeout", list.Calls)
				}
			}
		})
	}
}
