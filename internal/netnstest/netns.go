//go:build linux

// Package netnstest builds the little networks the live tests run on:
// network namespaces joined by veth pairs, and sipp calls across them. It
// is imported only by tests.
package netnstest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
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
func RequireLiveRoot(t *testing.T, tools ...string) {
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

func RunIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// UACLink is the namespace and veth pair of one test run.
type UACLink struct {
	NS             string     // the caller's namespace
	RootIf, NsIf   string     // veth ends: RootIf in the test's namespace
	RootIP, NsIP   netip.Addr // /30 addresses on them
	RootPfx, NsPfx string
}

// newUACLink creates the namespace and the veth pair, picking the first
// 10.99.7.x/30 that no interface of this namespace uses yet (another run of
// the test may be holding one), and deletes both when the test ends.
func NewUACLink(t *testing.T) UACLink {
	t.Helper()
	out, err := exec.Command("ip", "-4", "-o", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr show: %v\n%s", err, out)
	}
	id := fmt.Sprintf("%d%03d", os.Getpid()%10000, rand.IntN(1000))
	l := UACLink{NS: "sipscope-uac-" + id, RootIf: "sscr" + id, NsIf: "sscn" + id}
	for block := 0; block < 256; block += 4 {
		if block == 252 {
			t.Fatal("every 10.99.7.x/30 is in use: leftovers of earlier runs? (ip -4 addr show)")
		}
		nsIP, rootIP := fmt.Sprintf("10.99.7.%d", block+1), fmt.Sprintf("10.99.7.%d", block+2)
		if !strings.Contains(string(out), " "+nsIP+"/") && !strings.Contains(string(out), " "+rootIP+"/") {
			l.NsIP, l.RootIP = netip.MustParseAddr(nsIP), netip.MustParseAddr(rootIP)
			l.NsPfx, l.RootPfx = nsIP+"/30", rootIP+"/30"
			break
		}
	}
	RunIP(t, "netns", "add", l.NS)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", l.NS).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", l.NS, err, out)
		}
	})
	RunIP(t, "link", "add", l.RootIf, "type", "veth", "peer", "name", l.NsIf, "netns", l.NS)
	t.Cleanup(func() {
		// Deleting one end deletes the pair; the namespace's deletion may
		// already have done it.
		exec.Command("ip", "link", "del", l.RootIf).Run()
		if exec.Command("ip", "link", "show", l.RootIf).Run() == nil {
			t.Errorf("veth %s still exists after cleanup", l.RootIf)
		}
	})
	// No IPv6: router and neighbour solicitations would only muddy the capture.
	if out, err := exec.Command("sysctl", "-q", "-w", "net.ipv6.conf."+l.RootIf+".disable_ipv6=1").CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v\n%s", err, out)
	}
	RunIP(t, "netns", "exec", l.NS, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	RunIP(t, "addr", "add", l.RootPfx, "dev", l.RootIf)
	RunIP(t, "link", "set", l.RootIf, "up")
	RunIP(t, "-n", l.NS, "addr", "add", l.NsPfx, "dev", l.NsIf)
	RunIP(t, "-n", l.NS, "link", "set", l.NsIf, "up")
	RunIP(t, "-n", l.NS, "link", "set", "lo", "up")
	return l
}

// sippDir is a working directory for one sipp: its -trace_* files land
// there, and the built-in uac_pcap scenario finds pcap/g711a.pcap through
// a symlink to the Debian package's samples.
func SippDir(t *testing.T, name string) string {
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
func StartSipp(t *testing.T, dir string, args ...string) (stop func() string) {
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
			// sipp prints its final counters (the echoed RTP among them)
			// as it exits; on a loaded machine that takes seconds, so it
			// gets a minute before it is killed with its output cut.
			select {
			case <-done:
			case <-time.After(time.Minute):
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
func WaitUDPBound(t *testing.T, addr netip.AddrPort) {
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
func SippCSV(t *testing.T, dir, glob string) map[string]int {
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
func SippMessages(row map[string]int) (sent, retrans, recv int) {
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
func SippNumber(t *testing.T, out, pattern string) int {
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
func RunSippCalls(t *testing.T, link UACLink, calls int) (uacOut, uasOut, uacDir, uasDir string) {
	t.Helper()
	uas := netip.AddrPortFrom(link.RootIP, 5060)
	uasDir, uacDir = SippDir(t, "uas"), SippDir(t, "uac")
	stopUAS := StartSipp(t, uasDir, "-sn", "uas", "-i", link.RootIP.String(), "-p", "5060",
		"-mp", "6000", "-rtp_echo", "-nostdin", "-trace_stat", "-trace_counts")
	WaitUDPBound(t, uas)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	uac := exec.CommandContext(ctx, "ip", "netns", "exec", link.NS, "sipp", "-sn", "uac_pcap", uas.String(),
		"-i", link.NsIP.String(), "-p", "5060", "-m", strconv.Itoa(calls), "-r", "1",
		"-nostdin", "-trace_stat", "-trace_counts")
	uac.Dir = uacDir
	out, err := uac.CombinedOutput()
	if err != nil {
		t.Fatalf("sipp UAC: %v (exit status 1 means some calls failed)\n%s", err, out)
	}
	time.Sleep(300 * time.Millisecond) // the last echoed RTP packets
	return string(out), stopUAS(), uacDir, uasDir
}
