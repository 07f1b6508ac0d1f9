//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipscope/sipscope/internal/netnstest"
)

// freeUDPPort finds a UDP port nobody uses on ip (127.0.0.x).
func freeUDPPort(t *testing.T, ip string) netip.AddrPort {
	t.Helper()
	c, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// startKamailio writes testdata/kamailio-siptrace.cfg with the test's
// addresses into a temporary directory and runs Kamailio in the foreground
// (-DD -E) with its own runtime directory and pid file, in a process group
// of its own so that its worker processes end with it.
func startKamailio(t *testing.T, listen, uas netip.AddrPort, hepTo string, nodeID uint32) {
	t.Helper()
	tmpl, err := os.ReadFile("testdata/kamailio-siptrace.cfg")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("@LISTEN@", listen.String(), "@UAS@", uas.String(), "@HEP@", hepTo,
		"@NODEID@", strconv.FormatUint(uint64(nodeID), 10)).Replace(string(tmpl))
	dir := t.TempDir()
	cfgPath, runDir := filepath.Join(dir, "kamailio.cfg"), filepath.Join(dir, "run")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("kamailio", "-c", "-f", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("kamailio -c rejects the test config: %v\n%s", err, out)
	}
	var log bytes.Buffer
	cmd := exec.Command("kamailio", "-DD", "-E", "-f", cfgPath, "-P", filepath.Join(runDir, "kamailio.pid"),
		"-Y", runDir, "-w", dir, "-m", "32", "-M", "4")
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("kamailio: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		pgid := cmd.Process.Pid // its own group: the group id is its pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("kamailio log:\n%s", log.String())
		}
	})
	netnstest.WaitUDPBound(t, listen)
}

// TestKamailioSiptraceCallsAppearInSipscope runs sipp UAC → Kamailio (a
// stateful proxy) → sipp UAS on loopback addresses, with Kamailio's
// siptrace mirroring every message as HEPv3 to serve's HEP listener. The
// calls must appear answered, each with every message Kamailio saw.
func TestKamailioSiptraceCallsAppearInSipscope(t *testing.T) {
	netnstest.RequireLiveRoot(t, "sipp", "kamailio")
	hepIn := freeUDPAddr(t)
	base, stopServe := startServe(t, "--data", t.TempDir(), "--hep-listen", "udp://"+hepIn, "--flush", "200ms")
	t.Cleanup(stopServe)

	uacAddr, proxy, uasAddr := freeUDPPort(t, "127.0.0.2"), freeUDPPort(t, "127.0.0.3"), freeUDPPort(t, "127.0.0.4")
	const nodeID = 2001
	startKamailio(t, proxy, uasAddr, hepIn, nodeID)

	uasDir, uacDir := netnstest.SippDir(t, "uas"), netnstest.SippDir(t, "uac")
	stopUAS := netnstest.StartSipp(t, uasDir, "-sn", "uas", "-i", uasAddr.Addr().String(), "-p", strconv.Itoa(int(uasAddr.Port())),
		"-nostdin", "-trace_counts")
	netnstest.WaitUDPBound(t, uasAddr)

	const calls = 2
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	uac := exec.CommandContext(ctx, "sipp", "-sn", "uac", proxy.String(),
		"-i", uacAddr.Addr().String(), "-p", strconv.Itoa(int(uacAddr.Port())),
		"-m", strconv.Itoa(calls), "-r", "1", "-d", "200", "-nostdin", "-trace_stat", "-trace_counts")
	uac.Dir = uacDir
	if out, err := uac.CombinedOutput(); err != nil {
		t.Fatalf("sipp UAC through Kamailio: %v (exit status 1 means some calls failed)\n%s", err, out)
	}
	stopUAS()

	uacStat := netnstest.SippCSV(t, uacDir, "uac_*_.csv")
	if uacStat["SuccessfulCall(C)"] != calls {
		t.Fatalf("sipp UAC: %d successful calls, want %d", uacStat["SuccessfulCall(C)"], calls)
	}
	// Kamailio sits on both legs and mirrors each message it receives and
	// each it sends. So every message either sipp sent or received is
	// mirrored exactly once: the UAC leg's by what the UAC counted, the
	// UAS leg's by what the UAS counted. Per call that is, on the UAC leg,
	// INVITE, Kamailio's own 100 Trying, 180, 200, ACK, BYE, 200 (7), and
	// on the UAS leg INVITE, 180, 200, ACK, BYE, 200 (6; sipp's UAS sends
	// no 100): 13, twice the end-to-end dialog minus the one 100.
	// Kamailio's 100 is hop-by-hop, and tm absorbs nothing here as long as
	// nobody retransmits.
	uacSent, uacRetrans, uacRecv := netnstest.SippMessages(netnstest.SippCSV(t, uacDir, "uac_*_counts.csv"))
	uasSent, uasRetrans, uasRecv := netnstest.SippMessages(netnstest.SippCSV(t, uasDir, "uas_*_counts.csv"))
	if uacRetrans+uasRetrans != 0 {
		t.Fatalf("sipp saw %d retransmissions on loopback: the expected count would be ambiguous", uacRetrans+uasRetrans)
	}
	mirrored := uacSent + uacRecv + uasSent + uasRecv
	const perCall = 13
	if mirrored != calls*perCall {
		t.Fatalf("the sipps sent and received %d messages, want %d for %d calls through a proxy", mirrored, calls*perCall, calls)
	}

	var list callList
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		getJSON(t, base+"/api/v1/calls?limit=100", &list)
		n := 0
		for _, c := range list.Calls {
			n += c.Messages
		}
		if list.Total == calls && n == mirrored {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sipscope shows %d calls with %d messages, want %d with %d", list.Total, n, calls, mirrored)
		}
	}
	for _, c := range list.Calls {
		var d liveCallDetail
		getJSON(t, base+"/api/v1/calls/"+url.PathEscape(c.CallID), &d)
		if d.Call.State != "answered" || d.Call.EndReason != "caller_bye" {
			t.Errorf("call %s: state %q, end reason %q; want answered, caller_bye", c.CallID, d.Call.State, d.Call.EndReason)
		}
		if len(d.Messages) != perCall {
			t.Errorf("call %s: %d messages stored, want %d", c.CallID, len(d.Messages), perCall)
		}
		// Both legs are there, each in its own addresses as siptrace
		// reported them, and the 100 Trying came from Kamailio.
		seen := map[string]int{}
		for _, m := range d.Messages {
			// The capture node is the agent's HEP id (Kamailio's hep_capture_id).
			if m.Node != fmt.Sprintf("hep:%d", nodeID) {
				t.Errorf("call %s: message from node %q, want hep:%d", c.CallID, m.Node, nodeID)
			}
			what := m.Method
			if !m.IsRequest {
				what = fmt.Sprintf("%d %s", m.StatusCode, m.CSeqMethod)
			}
			seen[what+" from "+hostOf(m.Src)]++
		}
		want := map[string]int{
			"INVITE from 127.0.0.2": 1, "INVITE from 127.0.0.3": 1,
			"100 INVITE from 127.0.0.3": 1,
			"180 INVITE from 127.0.0.4": 1, "180 INVITE from 127.0.0.3": 1,
			"200 INVITE from 127.0.0.4": 1, "200 INVITE from 127.0.0.3": 1,
			"ACK from 127.0.0.2": 1, "ACK from 127.0.0.3": 1,
			"BYE from 127.0.0.2": 1, "BYE from 127.0.0.3": 1,
			"200 BYE from 127.0.0.4": 1, "200 BYE from 127.0.0.3": 1,
		}
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("call %s: messages by sender %v, want %v", c.CallID, seen, want)
		}
	}
}

func hostOf(addrPort string) string {
	h, _, err := net.SplitHostPort(addrPort)
	if err != nil {
		return addrPort
	}
	return h
}
