//go:build linux

package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/sipscope/sipscope/bpf"
	"github.com/sipscope/sipscope/frame"
)

// The live tests build their own network: two namespaces joined by a veth
// pair, 10.99.0.1/30 on the capture side (A), 10.99.0.2/30 on the sender
// side (B). Nothing touches the host's namespace, and everything is deleted
// when the test ends.

var (
	addrA = net.IPv4(10, 99, 0, 1)
	addrB = net.IPv4(10, 99, 0, 2)
)

type vethPair struct {
	nsA, nsB string // namespace names
	ifA, ifB string // interface names, ifA in nsA, ifB in nsB
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("live capture tests need root (network namespaces, AF_PACKET, eBPF); run them as root, as CI does")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("live capture tests need iproute2's ip: %v", err)
	}
}

func ipCmd(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNamespaces creates the two namespaces with IPv6 off (no router or
// neighbour solicitations to muddy what is captured) and a veth pair
// between them, still without addresses.
func newNamespaces(t testing.TB) vethPair {
	t.Helper()
	requireRoot(t)
	id := fmt.Sprintf("%d%04d", os.Getpid()%10000, rand.IntN(10000))
	p := vethPair{nsA: "sipscope-a" + id, nsB: "sipscope-b" + id, ifA: "ssa" + id, ifB: "ssb" + id}
	for _, ns := range []string{p.nsA, p.nsB} {
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
			}
		})
		ipCmd(t, "netns", "exec", ns, "sysctl", "-q", "-w",
			"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	ipCmd(t, "-n", p.nsA, "link", "add", p.ifA, "type", "veth", "peer", "name", p.ifB, "netns", p.nsB)
	ipCmd(t, "-n", p.nsA, "link", "set", p.ifA, "up")
	ipCmd(t, "-n", p.nsB, "link", "set", p.ifB, "up")
	return p
}

// newVethPair is newNamespaces with 10.99.0.1/30 and 10.99.0.2/30 on the
// veth ends.
func newVethPair(t testing.TB) vethPair {
	t.Helper()
	p := newNamespaces(t)
	ipCmd(t, "-n", p.nsA, "addr", "add", "10.99.0.1/30", "dev", p.ifA)
	ipCmd(t, "-n", p.nsB, "addr", "add", "10.99.0.2/30", "dev", p.ifB)
	return p
}

// inNetns runs fn on an OS thread moved into namespace ns. Sockets fn
// creates stay in ns for their whole life, whichever thread uses them.
func inNetns(t testing.TB, ns string, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		err = fn()
		// A thread that cannot go back stays locked, so the runtime
		// discards it when this goroutine ends.
		if rerr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); rerr == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("in namespace %s: %v", ns, err)
	}
}

// openLive opens a live source inside namespace ns and closes it at the
// end of the test.
func openLive(t testing.TB, ns string, cfg LiveConfig) *LiveSource {
	t.Helper()
	var src *LiveSource
	inNetns(t, ns, func() error {
		var err error
		src, err = OpenLive(cfg)
		return err
	})
	t.Cleanup(func() {
		if err := src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return src
}

// loadFilter loads the eBPF filter or fails with the reason.
func loadFilter(t testing.TB) *bpf.Filter {
	t.Helper()
	f, err := bpf.Load()
	if err != nil {
		t.Fatalf("the eBPF filter did not load (the live tests need root with CAP_BPF): %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// udpFrom opens an unconnected UDP socket on addrB in namespace ns (an
// unconnected socket ignores the port-unreachable replies nobody listening
// on the capture side provokes).
func udpFrom(t testing.TB, ns string) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	inNetns(t, ns, func() error {
		var err error
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: addrB})
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t testing.TB, c *net.UDPConn, port int, payload string) {
	t.Helper()
	if _, err := c.WriteToUDP([]byte(payload), &net.UDPAddr{IP: addrA, Port: port}); err != nil {
		t.Fatalf("send to %v:%d: %v", addrA, port, err)
	}
}

// pingFrom sends one ICMP echo request from namespace ns to addrA.
func pingFrom(t testing.TB, ns string) {
	t.Helper()
	inNetns(t, ns, func() error {
		c, err := net.ListenPacket("ip4:icmp", addrB.String())
		if err != nil {
			return err
		}
		defer c.Close()
		echo := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'}
		binary.BigEndian.PutUint16(echo[2:], inetChecksum(echo))
		_, err = c.WriteTo(echo, &net.IPAddr{IP: addrA})
		return err
	})
}

// inetChecksum is the RFC 1071 checksum.
func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// captured is a copy of one frame (a Frame's bytes die with the next call).
type captured struct {
	frame.Frame
	data []byte
}

// collect reads frames until done says the last one ends the wait. After
// timeout it closes the source, which ends the wait with a test failure.
func collect(t testing.TB, src *LiveSource, timeout time.Duration, done func(payload []byte) bool) []captured {
	t.Helper()
	watchdog := time.AfterFunc(timeout, func() { src.Close() })
	defer watchdog.Stop()
	var out []captured
	for {
		var f frame.Frame
		if err := src.Next(&f); err != nil {
			t.Fatalf("Next: %v (after %d frames, %v timeout)", err, len(out), timeout)
		}
		c := captured{Frame: f, data: bytes.Clone(f.Data)}
		out = append(out, c)
		if _, _, pl, ok := udpPayload(c.data); ok && done(pl) {
			return out
		}
	}
}

// udpPayload parses an Ethernet (optionally VLAN-tagged) IPv4/UDP frame.
func udpPayload(frame []byte) (proto byte, dport uint16, payload []byte, ok bool) {
	off := 12
	for off+2 <= len(frame) && (binary.BigEndian.Uint16(frame[off:]) == 0x8100 || binary.BigEndian.Uint16(frame[off:]) == 0x88a8) {
		off += 4
	}
	if off+2+20 > len(frame) || binary.BigEndian.Uint16(frame[off:]) != 0x0800 {
		return 0, 0, nil, false
	}
	ip := frame[off+2:]
	ihl := int(ip[0]&0x0f) * 4
	proto = ip[9]
	if proto != 17 || len(ip) < ihl+8 {
		return proto, 0, nil, proto == 1
	}
	return proto, binary.BigEndian.Uint16(ip[ihl+2:]), ip[ihl+8:], true
}

func sipOptions(callID string) string {
	return "OPTIONS sip:10.99.0.1:5999 SIP/2.0\r\nVia: SIP/2.0/UDP 10.99.0.2;branch=z9hG4bK" + callID +
		"\r\nCall-ID: " + callID + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
}

const sipInviteMsg = "INVITE sip:bob@10.99.0.1:5999 SIP/2.0\r\nVia: SIP/2.0/UDP 10.99.0.2:5999;branch=z9hG4bKlive\r\nCall-ID: live-invite\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"

func TestLiveCaptureWithEBPFKeepsSIPAndDropsJunk(t *testing.T) {
	p := newVethPair(t)
	filter := loadFilter(t)
	reg := prometheus.NewPedanticRegistry()
	src := openLive(t, p.nsA, LiveConfig{Interface: p.ifA, Filter: filter, Promiscuous: true,
		BlockTimeout: 5 * time.Millisecond, Registerer: reg})
	c := udpFrom(t, p.nsB)

	start := time.Now().UnixNano()
	send(t, c, 5999, "junk: neither SIP nor RTP, number 1")
	send(t, c, 5999, sipInviteMsg)
	send(t, c, 6000, "junk: to a port nobody learned yet")
	send(t, c, 5999, "junk: neither SIP nor RTP, number 2")
	send(t, c, 5999, sipOptions("marker-1"))
	frames := collect(t, src, 10*time.Second, func(pl []byte) bool { return bytes.Contains(pl, []byte("marker-1")) })
	end := time.Now().UnixNano()

	var sawInvite bool
	for i, f := range frames {
		proto, dport, pl, ok := udpPayload(f.data)
		if !ok || proto != 17 {
			t.Errorf("frame %d is not UDP/IPv4: % x", i, f.data)
			continue
		}
		if bytes.HasPrefix(pl, []byte("junk")) {
			t.Errorf("frame %d: junk to port %d got through the eBPF filter: %q", i, dport, pl)
		}
		sawInvite = sawInvite || bytes.HasPrefix(pl, []byte("INVITE "))
		if f.LinkType != frame.LinkEthernet || f.Node != p.ifA || f.OrigLen != len(f.data) || f.TS < start || f.TS > end {
			t.Errorf("frame %d: link %d node %q origlen %d/%d ts %d, want Ethernet, %q, whole frame, ts in [%d, %d]",
				i, f.LinkType, f.Node, f.OrigLen, len(f.data), f.TS, p.ifA, start, end)
		}
	}
	if !sawInvite {
		t.Errorf("the INVITE to port 5999 was not captured (%d frames)", len(frames))
	}

	// A port learned from SDP lets anything through.
	if err := filter.AllowPort(6000); err != nil {
		t.Fatalf("AllowPort: %v", err)
	}
	send(t, c, 6000, "junk: but port 6000 is learned now")
	frames = collect(t, src, 10*time.Second, func(pl []byte) bool { return bytes.HasPrefix(pl, []byte("junk: but port 6000")) })
	if len(frames) != 1 {
		t.Errorf("after AllowPort(6000): %d frames before the learned one, want it alone", len(frames))
	}

	st, err := src.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.Packets < 3 || st.Delivered < 3 || st.KernelDrops != 0 {
		t.Errorf("Stats = %+v, want at least 3 packets, 3 delivered, no drops", st)
	}
	counts, err := filter.Counters()
	if err != nil {
		t.Fatalf("Counters: %v", err)
	}
	if counts.PassedSIP < 2 || counts.PassedLearned < 1 || counts.Dropped < 3 {
		t.Errorf("filter counters = %+v, want at least 2 SIP, 1 learned, 3 dropped", counts)
	}
	if v := counterValue(t, reg, "sipscope_capture_packets_total", p.ifA); v < 3 {
		t.Errorf("sipscope_capture_packets_total{iface=%q} = %v, want at least 3", p.ifA, v)
	}
	if v := counterValue(t, reg, "sipscope_capture_kernel_drops_total", p.ifA); v != 0 {
		t.Errorf("sipscope_capture_kernel_drops_total = %v, want 0", v)
	}

	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var f frame.Frame
	if err := src.Next(&f); !errors.Is(err, io.EOF) {
		t.Errorf("Next after Close: %v, want io.EOF", err)
	}
	if after, err := src.Stats(); err != nil || after.Packets < st.Packets || after.Delivered < st.Delivered {
		t.Errorf("Stats after Close = %+v, %v; want the last reading", after, err)
	}
	if mfs, _ := reg.Gather(); len(mfs) != 0 {
		t.Errorf("metrics still registered after Close: %d families", len(mfs))
	}
}

// counterValue returns the value of the counter name with the iface label.
func counterValue(t testing.TB, reg *prometheus.Registry, name, iface string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "iface" && l.GetValue() == iface {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no metric %s{iface=%q}", name, iface)
	return 0
}

func TestLiveCaptureWithClassicFilterKeepsUDPAndDropsICMP(t *testing.T) {
	p := newVethPair(t)
	src := openLive(t, p.nsA, LiveConfig{Interface: p.ifA, BlockTimeout: 5 * time.Millisecond})

	pingFrom(t, p.nsB)
	c := udpFrom(t, p.nsB)
	send(t, c, 5999, "junk the classic filter cannot tell from SIP")
	send(t, c, 5999, sipOptions("marker-classic"))
	frames := collect(t, src, 10*time.Second, func(pl []byte) bool { return bytes.Contains(pl, []byte("marker-classic")) })

	var sawJunk bool
	for i, f := range frames {
		proto, _, pl, ok := udpPayload(f.data)
		if ok && proto == 1 {
			t.Errorf("frame %d: ICMP got through the classic filter: % x", i, f.data)
		}
		if !ok {
			t.Errorf("frame %d: neither IPv4 UDP nor ICMP got through: % x", i, f.data)
		}
		sawJunk = sawJunk || bytes.HasPrefix(pl, []byte("junk"))
	}
	if !sawJunk {
		t.Errorf("UDP junk was not captured with the classic filter (%d frames)", len(frames))
	}
}

// rawSender sends hand-built Ethernet frames out of ifB in namespace ns:
// the way to put VLAN tags, fragments or IPv6 on the wire in a kernel built
// without 802.1Q devices.
type rawSender struct {
	fd      int
	to      unix.SockaddrLinklayer
	src     net.HardwareAddr
	dstAddr net.HardwareAddr
}

func newRawSender(t testing.TB, p vethPair) *rawSender {
	t.Helper()
	var s rawSender
	inNetns(t, p.nsA, func() error {
		ifi, err := net.InterfaceByName(p.ifA)
		if err != nil {
			return err
		}
		s.dstAddr = ifi.HardwareAddr
		return nil
	})
	inNetns(t, p.nsB, func() error {
		ifi, err := net.InterfaceByName(p.ifB)
		if err != nil {
			return err
		}
		s.src = ifi.HardwareAddr
		// Protocol 0: this socket only sends.
		s.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		s.to = unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
		copy(s.to.Addr[:], s.dstAddr)
		return nil
	})
	t.Cleanup(func() { unix.Close(s.fd) })
	return &s
}

// send writes an Ethernet frame with the given tags (TPID<<16 | VLAN ID,
// outermost first) around an L3 packet.
func (s *rawSender) send(t testing.TB, etherType uint16, l3 []byte, tags ...uint32) {
	t.Helper()
	b := append(append([]byte{}, s.dstAddr...), s.src...)
	for _, tag := range tags {
		b = binary.BigEndian.AppendUint32(b, tag)
	}
	b = binary.BigEndian.AppendUint16(b, etherType)
	b = append(b, l3...)
	if err := unix.Sendto(s.fd, b, 0, &s.to); err != nil {
		t.Fatalf("send raw frame: %v", err)
	}
}

// ipv4Packet builds an IPv4 packet from addrB to addrA.
func ipv4Packet(proto byte, fragWord uint16, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(b[6:], fragWord)
	b[8] = 64
	b[9] = proto
	copy(b[12:], addrB.To4())
	copy(b[16:], addrA.To4())
	binary.BigEndian.PutUint16(b[10:], inetChecksum(b))
	return append(b, payload...)
}

// ipv6Packet builds an IPv6 packet between two ULA addresses.
func ipv6Packet(next byte, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6] = next
	b[7] = 64
	copy(b[8:], net.ParseIP("fd00:99::2"))
	copy(b[24:], net.ParseIP("fd00:99::1"))
	return append(b, payload...)
}

// udpDatagram builds a UDP header (checksum 0: none, legal on IPv4) and payload.
func udpDatagram(sport, dport uint16, payload string) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

// tcpSegment builds a TCP header with ACK|PSH and a payload.
func tcpSegment(sport, dport uint16, payload string) []byte {
	b := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	b[12] = 5 << 4
	b[13] = 0x18
	binary.BigEndian.PutUint16(b[14:], 65535)
	return append(b, payload...)
}

// TestLiveCaptureOfCraftedFrames sends hand-built frames over the veth and
// checks which the eBPF filter lets into the ring. Each frame carries a
// label; a final SIP message marks the end.
func TestLiveCaptureOfCraftedFrames(t *testing.T) {
	const (
		dot1Q  = 0x8100 << 16
		dot1AD = 0x88a8 << 16
	)
	p := newVethPair(t)
	filter := loadFilter(t)
	src := openLive(t, p.nsA, LiveConfig{Interface: p.ifA, Filter: filter, BlockTimeout: 5 * time.Millisecond})
	raw := newRawSender(t, p)

	sip := func(label string) string { return sipOptions(label) }
	frames := []struct {
		name  string
		label string
		send  func(label string)
		kept  bool
	}{
		{"VLAN-tagged SIP is kept", "lbl-vlan-sip", func(l string) {
			raw.send(t, 0x0800, ipv4Packet(17, 0, udpDatagram(5999, 5999, sip(l))), dot1Q|100)
		}, true},
		{"VLAN-tagged junk is dropped", "lbl-vlan-junk", func(l string) {
			raw.send(t, 0x0800, ipv4Packet(17, 0, udpDatagram(5999, 5999, "junk "+l)), dot1Q|100)
		}, false},
		{"QinQ-tagged SIP is kept", "lbl-qinq-sip", func(l string) {
			raw.send(t, 0x0800, ipv4Packet(17, 0, udpDatagram(5999, 5999, sip(l))), dot1AD|200, dot1Q|100)
		}, true},
		{"QinQ-tagged junk is dropped", "lbl-qinq-junk", func(l string) {
			raw.send(t, 0x0800, ipv4Packet(17, 0, udpDatagram(5999, 5999, "junk "+l)), dot1AD|200, dot1Q|100)
		}, false},
		{"an IPv4 first fragment is kept", "lbl-frag", func(l string) {
			raw.send(t, 0x0800, ipv4Packet(17, 0x2000, udpDatagram(5999, 5999, "junk "+l)))
		}, true},
		{"SIP on TCP is kept", "lbl-tcp-sip", func(l string) {
			raw.send(t, 0x0800, ipv4Packet(6, 0, tcpSegment(40000, 5060, sip(l))))
		}, true},
		{"HTTP on TCP 5060 is dropped", "lbl-tcp-http", func(l string) {
			raw.send(t, 0x0800, ipv4Packet(6, 0, tcpSegment(40001, 5060, "GET /"+l+" HTTP/1.1\r\n\r\n")))
		}, false},
		{"IPv6 SIP is kept", "lbl-v6-sip", func(l string) {
			raw.send(t, 0x86dd, ipv6Packet(17, udpDatagram(5999, 5999, sip(l))))
		}, true},
		{"RTP on a random port is kept", "lbl-rtp", func(l string) {
			rtp := "\x80\x08\x00\x01\x00\x00\x00\xa0\xde\xad\xbe\xef" + l
			raw.send(t, 0x0800, ipv4Packet(17, 0, udpDatagram(40000, 31338, rtp)))
		}, true},
		{"HEP3 is kept", "lbl-hep", func(l string) {
			raw.send(t, 0x0800, ipv4Packet(17, 0, udpDatagram(40000, 9999, "HEP3\x00\x20"+l)))
		}, true},
	}
	for _, f := range frames {
		f.send(f.label)
	}
	raw.send(t, 0x0800, ipv4Packet(17, 0, udpDatagram(5999, 5999, sip("lbl-end"))))

	got := map[string]bool{}
	for _, c := range collect(t, src, 10*time.Second, func(pl []byte) bool { return bytes.Contains(pl, []byte("lbl-end")) }) {
		for _, f := range frames {
			if bytes.Contains(c.data, []byte(f.label)) {
				got[f.label] = true
			}
		}
	}
	for _, f := range frames {
		t.Run(f.name, func(t *testing.T) {
			if got[f.label] != f.kept {
				t.Errorf("captured = %v, want %v", got[f.label], f.kept)
			}
		})
	}
}

func TestLiveCaptureFanoutSharesFlowsBetweenSockets(t *testing.T) {
	p := newVethPair(t)
	filter := loadFilter(t)
	cfg := LiveConfig{Interface: p.ifA, Filter: filter, FanoutGroup: uint16(1000 + rand.IntN(50000)), BlockTimeout: 5 * time.Millisecond}
	srcs := []*LiveSource{openLive(t, p.nsA, cfg), openLive(t, p.nsA, cfg)}

	const flows = 40
	for i := range flows {
		send(t, udpFrom(t, p.nsB), 5999, sipOptions(fmt.Sprintf("fanout-%02d", i)))
	}

	var (
		mu     sync.Mutex
		seen   = map[string]int{}
		per    [2]int
		wg     sync.WaitGroup
		done   = make(chan struct{})
		enough sync.Once
	)
	for i, src := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var f frame.Frame
				if err := src.Next(&f); err != nil {
					return
				}
				_, _, pl, ok := udpPayload(f.Data)
				if !ok {
					continue
				}
				mu.Lock()
				if k := bytes.Index(pl, []byte("Call-ID: ")); k >= 0 {
					id := string(pl[k+9 : k+9+len("fanout-00")])
					seen[id]++
					per[i]++
				}
				if len(seen) == flows {
					enough.Do(func() { close(done) })
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	for _, src := range srcs {
		src.Close()
	}
	wg.Wait()

	if len(seen) != flows {
		t.Errorf("captured %d of %d flows", len(seen), flows)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s captured %d times, want once across the group", id, n)
		}
	}
	if per[0] == 0 || per[1] == 0 {
		t.Errorf("flows per socket = %v, want both sockets to get some", per)
	}
}

func TestLiveCloseEndsABlockedNext(t *testing.T) {
	p := newVethPair(t)
	src := openLive(t, p.nsA, LiveConfig{Interface: p.ifA, Filter: loadFilter(t)})
	errc := make(chan error, 1)
	go func() {
		var f frame.Frame
		errc <- src.Next(&f)
	}()
	time.Sleep(100 * time.Millisecond)
	begin := time.Now()
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, io.EOF) {
			t.Errorf("blocked Next returned %v, want io.EOF", err)
		}
		if d := time.Since(begin); d > time.Second {
			t.Errorf("Close took %v to end Next, want under a second", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Next still blocked 3 s after Close")
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenLiveRefusesWhatItCannotCapture(t *testing.T) {
	p := newVethPair(t)
	tun := "sst" + p.ifA[3:]
	ipCmd(t, "-n", p.nsA, "tuntap", "add", "dev", tun, "mode", "tun")

	tests := []struct {
		name  string
		cfg   LiveConfig
		check func(error) bool
		want  string
	}{
		{"an interface that does not exist is named", LiveConfig{Interface: "nosuchif0"},
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "nosuchif0") }, "an error naming nosuchif0"},
		{"a tun device is not Ethernet", LiveConfig{Interface: tun},
			func(err error) bool { return errors.Is(err, ErrNotEthernet) }, "ErrNotEthernet"},
		{"a bad config is refused before any socket", LiveConfig{Interface: p.ifA, SnapLen: 1},
			func(err error) bool { return errors.Is(err, ErrLiveConfig) }, "ErrLiveConfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			inNetns(t, p.nsA, func() error {
				var src *LiveSource
				src, err = OpenLive(tt.cfg)
				if err == nil {
					src.Close()
				}
				return nil
			})
			if !tt.check(err) {
				t.Errorf("OpenLive: %v, want %s", err, tt.want)
			}
		})
	}

	t.Run("a closed eBPF filter is refused", func(t *testing.T) {
		f, err := bpf.Load()
		if err != nil {
			t.Fatalf("bpf.Load: %v", err)
		}
		f.Close()
		inNetns(t, p.nsA, func() error {
			_, err = OpenLive(LiveConfig{Interface: p.ifA, Filter: f})
			return nil
		})
		if !errors.Is(err, bpf.ErrClosed) {
			t.Errorf("OpenLive with a closed filter: %v, want bpf.ErrClosed", err)
		}
	})
}

// TestLiveDiscardsFramesFromBeforeTheFilter opens the source while junk
// streams in: the ring exists a moment before the filter is attached, and
// what it took in that moment must not come out of Next.
func TestLiveDiscardsFramesFromBeforeTheFilter(t *testing.T) {
	p := newVethPair(t)
	filter := loadFilter(t)
	c := udpFrom(t, p.nsB)
	send(t, c, 5999, sipOptions("arp-warmup")) // resolve ARP before the window
	// Junk sent in the window between the ring going live and the filter
	// being attached lands in the ring unfiltered. The veth delivers it
	// in the sender's softirq, before the send returns.
	cfg := LiveConfig{Interface: p.ifA, Filter: filter, BlockTimeout: 5 * time.Millisecond}
	cfg.beforeFilter = func() {
		junk := []byte("junk sent while the source opens")
		for range 200 {
			_, _ = c.WriteToUDP(junk, &net.UDPAddr{IP: addrA, Port: 5999})
		}
	}
	src := openLive(t, p.nsA, cfg)
	send(t, c, 5999, sipOptions("marker-prefilter"))

	frames := collect(t, src, 10*time.Second, func(pl []byte) bool { return bytes.Contains(pl, []byte("marker-prefilter")) })
	for i, f := range frames {
		if _, _, pl, _ := udpPayload(f.data); bytes.HasPrefix(pl, []byte("junk")) {
			t.Errorf("frame %d of %d: junk from before the filter came out of Next", i, len(frames))
		}
	}
	st, err := src.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	// The junk was in the ring before the filter: none discarded means the
	// window was not exercised at all.
	if st.Unfiltered == 0 {
		t.Errorf("no frame was discarded as unfiltered (stats %+v): the junk did not reach the ring before the filter", st)
	}
}

// fillRing sends n SIP messages and waits until the kernel has put them in
// the ring and, after settle (longer than the block timeout), retired the
// blocks that hold them.
func fillRing(tb testing.TB, src *LiveSource, c *net.UDPConn, n int, settle time.Duration) {
	tb.Helper()
	before, err := src.Stats()
	if err != nil {
		tb.Fatalf("Stats: %v", err)
	}
	msg := []byte(sipOptions("ring-fill"))
	to := &net.UDPAddr{IP: addrA, Port: 5999}
	for range n {
		if _, err := c.WriteToUDP(msg, to); err != nil {
			tb.Fatalf("send: %v", err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := src.Stats()
		if err != nil {
			tb.Fatalf("Stats: %v", err)
		}
		if st.KernelDrops != before.KernelDrops {
			tb.Fatalf("the ring overflowed while filling it: %+v", st)
		}
		if st.Packets-before.Packets >= uint64(n) {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("only %d of %d frames reached the ring", st.Packets-before.Packets, n)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(settle)
}

func TestLiveNextDoesNotAllocate(t *testing.T) {
	p := newVethPair(t)
	src := openLive(t, p.nsA, LiveConfig{Interface: p.ifA, Filter: loadFilter(t), BlockTimeout: 2 * time.Millisecond})
	fillRing(t, src, udpFrom(t, p.nsB), 120, 20*time.Millisecond)
	var f frame.Frame
	allocs := testing.AllocsPerRun(100, func() {
		if err := src.Next(&f); err != nil {
			t.Fatalf("Next: %v", err)
		}
	})
	if allocs != 0 {
		t.Errorf("Next allocates %v times per frame, want 0", allocs)
	}
}

// BenchmarkLiveNext measures Next on frames already in the ring: the user
// space cost per captured frame, without the sender's.
func BenchmarkLiveNext(b *testing.B) {
	p := newVethPair(b)
	// A block retires when full or after the timeout, so with nobody
	// reading, NumBlocks timeouts fill the ring: the timeout must be long
	// enough for a chunk to fill blocks rather than time them out.
	const blockTimeout = 100 * time.Millisecond
	src := openLive(b, p.nsA, LiveConfig{Interface: p.ifA, Filter: loadFilter(b), BlockTimeout: blockTimeout})
	c := udpFrom(b, p.nsB)

	const chunk = 50000
	var f frame.Frame
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(chunk, b.N-done)
		b.StopTimer()
		fillRing(b, src, c, n, blockTimeout+50*time.Millisecond)
		b.StartTimer()
		for range n {
			if err := src.Next(&f); err != nil {
				b.Fatalf("Next: %v", err)
			}
		}
		done += n
	}
}
