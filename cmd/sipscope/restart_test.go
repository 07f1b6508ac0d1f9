package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/decode/sip"
	"github.com/sipscope/sipscope/hep"
	"github.com/sipscope/sipscope/internal/heptest"
	"github.com/sipscope/sipscope/pipeline"
)

// TestMain lets a test run this binary's main as a child process (to kill
// it with SIGKILL, or stop it with SIGTERM as main does): SIPSCOPE_TEST_MAIN
// holds its arguments, separated by the ASCII unit separator.
func TestMain(m *testing.M) {
	if args := os.Getenv("SIPSCOPE_TEST_MAIN"); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, strings.Split(args, "\x1f"), os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// restartFeed is calls.pcap's SIP as HEP, moved to the present (the resume
// window is counted back from now), split at each call's first BYE: what
// the first run gets, and what arrives after the restart.
func restartFeed(t *testing.T) (before, after [][]byte, callMsgsBefore, callMsgs int) {
	t.Helper()
	pkts, ids := hepMessages(t, "../../testdata/calls.pcap")
	offline, err := pipeline.AnalyzeFile("../../testdata/calls.pcap", pipeline.QualityOptions{G711PLC: true})
	if err != nil {
		t.Fatal(err)
	}
	isCall := map[string]bool{}
	for _, c := range offline.Calls {
		isCall[c.CallID] = true
	}
	var first hep.Packet
	if err := first.Unmarshal(pkts[0]); err != nil {
		t.Fatal(err)
	}
	shift := time.Now().Add(-time.Minute).UnixNano() - first.UnixNano()
	byeSeen := map[string]bool{}
	for i, b := range pkts {
		var h hep.Packet
		if err := h.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		ts := h.UnixNano() + shift
		h.TimestampSec, h.TimestampUsec = uint32(ts/1e9), uint32(ts%1e9/1e3)
		var m sip.Message
		if err := m.Unmarshal(h.Payload); err != nil {
			t.Fatal(err)
		}
		if m.IsRequest && string(m.Method) == "BYE" {
			byeSeen[ids[i]] = true
		}
		out, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if byeSeen[ids[i]] {
			after = append(after, out)
		} else {
			before = append(before, out)
		}
		if isCall[ids[i]] {
			callMsgs++
			if !byeSeen[ids[i]] {
				callMsgsBefore++
			}
		}
	}
	if len(after) == 0 {
		t.Fatal("calls.pcap has no BYE to send after the restart")
	}
	return before, after, callMsgsBefore, callMsgs
}

func sendHEP(t *testing.T, addr string, pkts [][]byte) {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, b := range pkts {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond) // a loopback socket buffer is small
	}
}

// waitStored waits until the store holds want SIP messages of calls.
func waitStored(t *testing.T, base string, want int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var list callList
		getJSON(t, base+"/api/v1/calls?limit=1000", &list)
		n := 0
		for _, c := range list.Calls {
			var d struct {
				Messages []any `json:"messages"`
			}
			getJSON(t, base+"/api/v1/calls/"+url.PathEscape(c.CallID), &d)
			n += len(d.Messages)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d SIP messages stored, want %d", n, want)
		}
	}
}

// checkContinued compares every stored call with the offline analysis of
// the whole capture: a call answered before the restart and hung up after
// it is one answered call with all its messages and the BYE's end reason.
func checkContinued(t *testing.T, base string) {
	t.Helper()
	want, err := pipeline.AnalyzeFile("../../testdata/calls.pcap", pipeline.QualityOptions{G711PLC: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range want.Calls {
		var got struct {
			Call struct {
				State     string `json:"state"`
				EndReason string `json:"end_reason"`
				FinalCode int    `json:"final_code"`
				Messages  int    `json:"messages"`
				Finished  bool   `json:"finished"`
				ByeBy     string `json:"bye_by"`
			} `json:"call"`
		}
		getJSON(t, base+"/api/v1/calls/"+url.PathEscape(c.CallID), &got)
		g := got.Call
		want := c.EndReason
		if want == correlate.EndCaptureEnded {
			want = correlate.EndInProgress // live calls are not at the end of a file
		}
		if g.State != c.State || g.EndReason != want || g.FinalCode != c.FinalCode || g.Messages != c.Messages || g.ByeBy != c.ByeBy {
			t.Errorf("call %s after the restart: %s/%s %d, %d messages, bye by %q; the capture says %s/%s %d, %d messages, bye by %q",
				c.CallID, g.State, g.EndReason, g.FinalCode, g.Messages, g.ByeBy, c.State, want, c.FinalCode, c.Messages, c.ByeBy)
		}
	}
}

// A serve stopped (SIGTERM) in the middle of answered calls continues them
// after its restart: the BYEs that arrive then end the stored calls rather
// than starting fragments of them.
func TestRestartContinuesTheCallsInProgress(t *testing.T) {
	before, after, storedBefore, stored := restartFeed(t)
	data := t.TempDir()
	hepAddr := freeUDPAddr(t)
	args := []string{"--data", data, "--hep-listen", "udp://" + hepAddr, "--flush", "100ms"}
	base, stop := startServe(t, args...)
	sendHEP(t, hepAddr, before)
	waitStored(t, base, storedBefore)
	stop()

	base, stop = startServe(t, args...)
	defer stop()
	sendHEP(t, hepAddr, after)
	waitStored(t, base, stored)
	checkContinued(t, base)
}

// The same with a serve killed with SIGKILL: what it had written (every
// message up to the last flush) is enough to continue the calls.
func TestRestartAfterSIGKILLContinuesTheCallsInProgress(t *testing.T) {
	before, after, storedBefore, stored := restartFeed(t)
	data := t.TempDir()
	hepAddr := freeUDPAddr(t)
	addr := heptest.FreeAddr(t)
	args := []string{"serve", "--listen", addr, "--data", data, "--hep-listen", "udp://" + hepAddr, "--flush", "100ms"}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SIPSCOPE_TEST_MAIN="+strings.Join(args, "\x1f"))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	base := "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child serve is not ready: %s", errb.String())
		}
	}
	sendHEP(t, hepAddr, before)
	waitStored(t, base, storedBefore)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true

	base, stop := startServe(t, args[3:]...)
	defer stop()
	sendHEP(t, hepAddr, after)
	waitStored(t, base, stored)
	checkContinued(t, base)
}
