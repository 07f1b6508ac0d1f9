//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The live test builds its own little network: a namespace for the caller
// (sipp UAC) joined by a veth pair to the test's own namespace, where the
// callee (sipp UAS) and sipscope run. Each end has a /30 address and there
// is no other route, so the traffic can go nowhere but across the pair.
// sipscope captures on the root-side end in-process, as `serve --iface`.

// requireLiveRoot fails (never skips) when the test cannot build its network.
func requireLiveRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this live test needs root (network namespaces, veth, AF_PACKET, eBPF); run it as root, as CI does")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("this live test needs %s: %v (make deps installs it)", tool, err)
		}
	}
}

func runIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// uacLink is the namespace and veth pair of one test run.
type uacLink struct {
	ns             string     // the caller's namespace
	rootIf, nsIf   string     // veth ends: rootIf in the test's namespace
	rootIP, nsIP   netip.Addr // /30 addresses on them
	rootPfx, nsPfx string
}

// newUACLink creates the namespace and the veth pair, picking the first
// 10.99.7.x/30 that no interface of this namespace uses yet (another run of
// the test may be holding one), and deletes both when the test ends.
func newUACLink(t *testing.T) uacLink {
	t.Helper()
	out, err := exec.Command("ip", "-4", "-o", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr show: %v\n%s", err, out)
	}
	id := fmt.Sprintf("%d%03d", os.Getpid()%10000, rand.IntN(1000))
	l := uacLink{ns: "sipscope-uac-" + id, rootIf: "sscr" + id, nsIf: "sscn" + id}
	for block := 0; block < 256; block += 4 {
		if block == 252 {
			t.Fatal("every 10.99.7.x/30 is in use: leftovers of earlier runs? (ip -4 addr show)")
		}
		nsIP, rootIP := fmt.Sprintf("10.99.7.%d", block+1), fmt.Sprintf("10.99.7.%d", block+2)
		if !strings.Contains(string(out), " "+nsIP+"/") && !strings.Contains(string(out), " "+rootIP+"/") {
			l.nsIP, l.rootIP = netip.MustParseAddr(nsIP), netip.MustParseAddr(rootIP)
			l.nsPfx, l.rootPfx = nsIP+"/30", rootIP+"/30"
			break
		}
	}
	runIP(t, "netns", "add", l.ns)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", l.ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", l.ns, err, out)
		}
	})
	runIP(t, "link", "add", l.rootIf, "type", "veth", "peer", "name", l.nsIf, "netns", l.ns)
	t.Cleanup(func() {
		// Deleting one end deletes the pair; the namespace's deletion may
		// already have done it.
		exec.Command("ip", "link", "del", l.rootIf).Run()
		if exec.Command("ip", "link", "show", l.rootIf).Run() == nil {
			t.Errorf("veth %s still exists after cleanup", l.rootIf)
		}
	})
	// No IPv6: router and neighbour solicitations would only muddy the capture.
	if out, err := exec.Command("sysctl", "-q", "-w", "net.ipv6.conf."+l.rootIf+".disable_ipv6=1").CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v\n%s", err, out)
	}
	runIP(t, "netns", "exec", l.ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	runIP(t, "addr", "add", l.rootPfx, "dev", l.rootIf)
	runIP(t, "link", "set", l.rootIf, "up")
	runIP(t, "-n", l.ns, "addr", "add", l.nsPfx, "dev", l.nsIf)
	runIP(t, "-n", l.ns, "link", "set", l.nsIf, "up")
	runIP(t, "-n", l.ns, "link", "set", "lo", "up")
	return l
}

// sippDir is a working directory for one sipp: its -trace_* files land
// there, and the built-in uac_pcap scenario finds pcap/g711a.pcap through
// a symlink to the Debian package's samples.
func sippDir(t *testing.T, name string) string {
	t.Helper()
	const samples = "/usr/share/sip-tester"
	if _, err := os.Stat(filepath.Join(samples, "g711a.pcap")); err != nil {
		t.Fatalf("sipp's sample media is missing (apt: sip-tester): %v", err)
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(samples, filepath.Join(dir, "pcap")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startSipp runs sipp as a child process in dir and stops it (SIGTERM, so
// it prints its final report) by the returned function, which gives back
// what it printed. The test's cleanup stops it too, in any case.
func startSipp(t *testing.T, dir string, args ...string) (stop func() string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("sipp", args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("sipp: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stopped := false
	stop = func() string {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
		return out.String()
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitUDPBound waits until something listens on UDP addr, read from
// /proc/net/udp so that probing cannot steal the port.
func waitUDPBound(t *testing.T, addr netip.AddrPort) {
	t.Helper()
	a := addr.Addr().As4()
	// /proc/net/udp prints the address as a host-order (little-endian) word.
	want := fmt.Sprintf(" %02X%02X%02X%02X:%04X ", a[3], a[2], a[1], a[0], addr.Port())
	for deadline := time.Now().Add(10 * time.Second); ; {
		b, err := os.ReadFile("/proc/net/udp")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on udp %v after 10 s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sippCSV reads the last row of a sipp -trace_stat or -trace_counts file
// (semicolon-separated, header first) found by glob in dir.
func sippCSV(t *testing.T, dir, glob string) map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, glob))
	if err != nil || len(files) != 1 {
		t.Fatalf("sipp trace file %s in %s: found %v (%v)", glob, dir, files, err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		t.Fatalf("%s has no data row:\n%s", files[0], b)
	}
	head, last := strings.Split(lines[0], ";"), strings.Split(lines[len(lines)-1], ";")
	row := map[string]int{}
	for i, name := range head {
		if i < len(last) {
			if v, err := strconv.Atoi(last[i]); err == nil {
				row[name] = v
			}
		}
	}
	return row
}

// sippMessages sums a -trace_counts row: messages this sipp put on the
// wire (first copies and retransmissions) and messages it received.
func sippMessages(row map[string]int) (sent, retrans, recv int) {
	for k, v := range row {
		switch {
		case strings.HasSuffix(k, "_Sent"):
			sent += v
		case strings.HasSuffix(k, "_Retrans"):
			retrans += v
		case strings.HasSuffix(k, "_Recv"):
			recv += v
		}
	}
	return sent, retrans, recv
}

// sippNumber finds one number that sipp printed on its screen.
func sippNumber(t *testing.T, out, pattern string) int {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("sipp did not print %q:\n%s", pattern, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// runSippCalls is the traffic of the live tests: a sipp UAS on link's root
// side (port 5060, echoing RTP from port 6000) and a sipp UAC in the
// namespace placing calls with RTP (uac_pcap: PCMA, then a DTMF digit), one
// a second. It returns what each printed and their working directories,
// which hold their -trace_stat and -trace_counts files.
func runSippCalls(t *testing.T, link uacLink, calls int) (uacOut, uasOut, uacDir, uasDir string) {
	t.Helper()
	uas := netip.AddrPortFrom(link.rootIP, 5060)
	uasDir, uacDir = sippDir(t, "uas"), sippDir(t, "uac")
	stopUAS := startSipp(t, uasDir, "-sn", "uas", "-i", link.rootIP.String(), "-p", "5060",
		"-mp", "6000", "-rtp_echo", "-nostdin", "-trace_stat", "-trace_counts")
	waitUDPBound(t, uas)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	uac := exec.CommandContext(ctx, "ip", "netns", "exec", link.ns, "sipp", "-sn", "uac_pcap", uas.String(),
		"-i", link.nsIP.String(), "-p", "5060", "-m", strconv.Itoa(calls), "-r", "1",
		"-nostdin", "-trace_stat", "-trace_counts")
	uac.Dir = uacDir
	out, err := uac.CombinedOutput()
	if err != nil {
		t.Fatalf("sipp UAC: %v (exit status 1 means some calls failed)\n%s", err, out)
	}
	time.Sleep(300 * time.Millisecond) // the last echoed RTP packets
	return string(out), stopUAS(), uacDir, uasDir
}

type liveCallDetail struct {
	Call struct {
		CallID    string `json:"call_id"`
		State     string `json:"state"`
		EndReason string `json:"end_reason"`
		Messages  int    `json:"messages"`
	} `json:"call"`
	Messages []struct {
		Src        string `json:"src"`
		IsRequest  bool   `json:"is_request"`
		Method     string `json:"method"`
		StatusCode int    `json:"status_code"`
		CSeqMethod string `json:"cseq_method"`
		Node       string `json:"node"`
	} `json:"messages"`
	Streams []struct {
		Src         string `json:"src"`
		Dst         string `json:"dst"`
		PayloadType uint8  `json:"payload_type"`
		Packets     int    `json:"packets"`
		Lost        int    `json:"lost"`
	} `json:"rtp_streams"`
}

// TestLiveCaptureOfSippCallsOverAVeth places 3 real calls with RTP from a
// sipp UAC in a namespace to a sipp UAS (echoing RTP) across a veth pair,
// while serve captures on that veth. What sipscope shows must equal what
// the two sipps report: the calls, their state, every SIP message, and
// every RTP packet played and echoed.
func TestLiveCaptureOfSippCallsOverAVeth(t *testing.T) {
	requireLiveRoot(t, "sipp", "sysctl")
	t.Run("one socket", func(t *testing.T) { testSippCallsOverAVeth(t, 1) })
	// With two sockets in a PACKET_FANOUT group each flow lands on one of
	// them and the pipeline merges both: nothing may be lost or counted twice.
	t.Run("fanout over two sockets", func(t *testing.T) { testSippCallsOverAVeth(t, 2) })
}

func testSippCallsOverAVeth(t *testing.T, sockets int) {
	link := newUACLink(t)
	base, stopServe := startServe(t, "--data", t.TempDir(), "--iface", link.rootIf, "--flush", "200ms", "--ring-mb", "8", "--promisc",
		"--fanout", strconv.Itoa(sockets))
	t.Cleanup(stopServe) // before the veth goes away (cleanups run last-in first-out)

	const calls = 3
	uacOut, uasOut, uacDir, uasDir := runSippCalls(t, link, calls)

	// What the sipps report.
	uacStat := sippCSV(t, uacDir, "uac_pcap_*_.csv")
	if uacStat["SuccessfulCall(C)"] != calls || uacStat["FailedCall(C)"] != 0 {
		t.Fatalf("sipp UAC: %d successful, %d failed calls, want %d and 0", uacStat["SuccessfulCall(C)"], uacStat["FailedCall(C)"], calls)
	}
	uacSent, uacRetrans, uacRecv := sippMessages(sippCSV(t, uacDir, "uac_pcap_*_counts.csv"))
	uasSent, uasRetrans, uasRecv := sippMessages(sippCSV(t, uasDir, "uas_*_counts.csv"))
	if uacSent != uasRecv || uasSent != uacRecv {
		t.Fatalf("the sipps disagree: UAC sent %d, UAS received %d; UAS sent %d, UAC received %d", uacSent, uasRecv, uasSent, uacRecv)
	}
	wireMessages := uacSent + uacRetrans + uasSent + uasRetrans
	// The UAC plays g711a.pcap (PCMA) and then an RFC 2833 DTMF digit per call.
	played := sippNumber(t, uacOut, `In pcap pcap/g711a\.pcap, npkts (\d+)`)
	dtmf := sippNumber(t, uacOut, `In pcap pcap/dtmf_2833_1\.pcap, npkts (\d+)`)
	echoed := sippNumber(t, uasOut, `(\d+) Total echo RTP pckts 1st stream`)
	t.Logf("sipp: %d SIP messages on the wire (%d UAC retransmissions, %d UAS), per call %d PCMA + %d DTMF packets played, %d echoed in all",
		wireMessages, uacRetrans, uasRetrans, played, dtmf, echoed)

	// What sipscope shows, once the last flush has come in.
	var (
		list    callList
		details []liveCallDetail
		msgs    int
		echoSum int
	)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		getJSON(t, base+"/api/v1/calls?limit=100", &list)
		details, msgs, echoSum = details[:0], 0, 0
		behind := 0 // call rows not yet caught up with their messages
		for _, c := range list.Calls {
			var d liveCallDetail
			getJSON(t, base+"/api/v1/calls/"+url.PathEscape(c.CallID), &d)
			details = append(details, d)
			msgs += len(d.Messages)
			// A flush writes messages and streams before the call rows, so
			// a reader can briefly see a message its call row does not count.
			if d.Call.Messages != len(d.Messages) {
				behind++
			}
			for _, s := range d.Streams {
				if s.Src == netip.AddrPortFrom(link.rootIP, 6000).String() {
					echoSum += s.Packets
				}
			}
		}
		if list.Total == calls && msgs == wireMessages && echoSum == echoed && behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sipscope shows %d calls, %d SIP messages, %d echoed RTP packets; the sipps say %d, %d, %d",
				list.Total, msgs, echoSum, calls, wireMessages, echoed)
		}
	}

	// The ring and the queue must not have lost anything: a loss below
	// would otherwise read as a decode or binding bug.
	var st struct {
		Live liveStatus `json:"live"`
	}
	getJSON(t, base+"/api/v1/status", &st)
	t.Logf("capture: %d packets through the filter, %d kernel drops, %d ring freezes, %d queue drops",
		st.Live.Packets, st.Live.KernelDrops, st.Live.FreezeQueue, st.Live.QueueDrops)
	if st.Live.KernelDrops+st.Live.QueueDrops != 0 {
		t.Errorf("capture dropped packets: %d in the kernel ring, %d in the queue to the pipeline", st.Live.KernelDrops, st.Live.QueueDrops)
	}

	for _, d := range details {
		c := d.Call
		if c.State != "answered" || c.EndReason != "caller_bye" {
			t.Errorf("call %s: state %q, end reason %q; sipp's calls were answered and ended by the caller's BYE", c.CallID, c.State, c.EndReason)
		}
		if c.Messages != len(d.Messages) {
			t.Errorf("call %s: says %d messages, %d stored", c.CallID, c.Messages, len(d.Messages))
		}
		// Without retransmissions each call is INVITE, 180, 200, ACK, BYE,
		// 200: sipp's built-in UAS sends no 100 Trying.
		if uacRetrans+uasRetrans == 0 && len(d.Messages) != wireMessages/calls {
			t.Errorf("call %s: %d SIP messages, want %d", c.CallID, len(d.Messages), wireMessages/calls)
		}
		var bye, byeOK bool
		for _, m := range d.Messages {
			bye = bye || (m.IsRequest && m.Method == "BYE")
			byeOK = byeOK || (!m.IsRequest && m.CSeqMethod == "BYE" && m.StatusCode == 200)
		}
		if !bye || !byeOK {
			t.Errorf("call %s: BYE seen %v, its 200 OK seen %v", c.CallID, bye, byeOK)
		}
		// Each call's RTP: the UAC → UAS direction carries exactly what
		// sipp played (PCMA and DTMF have their own SSRC), and the echo
		// comes back with the same counts.
		var toUAS, pcma, fromUAS int
		for _, s := range d.Streams {
			switch {
			case strings.HasPrefix(s.Src, link.nsIP.String()+":"):
				toUAS += s.Packets
				if s.PayloadType == 8 {
					pcma += s.Packets
				}
			case s.Src == netip.AddrPortFrom(link.rootIP, 6000).String():
				fromUAS += s.Packets
			default:
				t.Errorf("call %s: stream from %s not sent by either sipp", c.CallID, s.Src)
			}
			// DTMF end packets repeat sequence numbers, so only the voice
			// streams have a loss that must be exactly zero.
			if s.PayloadType == 8 && s.Lost != 0 {
				t.Errorf("call %s: stream %s → %s lost %d packets on a veth", c.CallID, s.Src, s.Dst, s.Lost)
			}
		}
		if pcma != played || toUAS != played+dtmf || fromUAS != toUAS {
			t.Errorf("call %s: RTP to the UAS %d (PCMA %d), echoed %d; sipp played %d PCMA + %d DTMF and echoed all",
				c.CallID, toUAS, pcma, fromUAS, played, dtmf)
		}
	}
}
