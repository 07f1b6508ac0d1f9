//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// loadFilter loads the eBPF program for BPF_PROG_TEST_RUN or fails: these
// tests run as root, as CI does, and an unavailable eBPF is a broken
// environment, not a skip. The capture tests run what Load loads on real
// packet sockets.
func loadFilter(t testing.TB) *Filter {
	t.Helper()
	f, err := load(true)
	if err != nil {
		t.Fatalf("eBPF filter did not load (tests need root with CAP_BPF on a kernel with eBPF): %v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

// class names the counter a packet landed in.
type class string

const (
	keptSIP     class = "sip"
	keptRTP     class = "rtp"
	keptLearned class = "learned"
	keptFrag    class = "frag"
	keptHEP     class = "hep"
	keptTunnel  class = "tunnel"
	dropped     class = "dropped"
)

// verdict runs the program on one frame with BPF_PROG_TEST_RUN and returns
// the class whose counter moved. It fails the test unless exactly one class
// and the seen counter moved by one, and unless the return value agrees
// (zero for dropped, the whole packet otherwise).
func verdict(t *testing.T, f *Filter, frame []byte) class {
	t.Helper()
	before, err := f.Counters()
	if err != nil {
		t.Fatalf("Counters: %v", err)
	}
	ret, err := f.objs.SipFilter.Run(&ebpf.RunOptions{Data: frame})
	if err != nil {
		t.Fatalf("BPF_PROG_RUN: %v", err)
	}
	after, err := f.Counters()
	if err != nil {
		t.Fatalf("Counters: %v", err)
	}
	if after.Seen != before.Seen+1 {
		t.Fatalf("seen moved by %d, want 1", after.Seen-before.Seen)
	}
	var moved []class
	for _, c := range []struct {
		name          class
		before, after uint64
	}{
		{keptSIP, before.PassedSIP, after.PassedSIP},
		{keptRTP, before.PassedRTP, after.PassedRTP},
		{keptLearned, before.PassedLearned, after.PassedLearned},
		{keptFrag, before.PassedFrag, after.PassedFrag},
		{keptHEP, before.PassedHEP, after.PassedHEP},
		{keptTunnel, before.PassedTunnel, after.PassedTunnel},
		{dropped, before.Dropped, after.Dropped},
	} {
		switch c.after - c.before {
		case 0:
		case 1:
			moved = append(moved, c.name)
		default:
			t.Fatalf("counter %s moved by %d", c.name, c.after-c.before)
		}
	}
	if len(moved) != 1 {
		t.Fatalf("classes moved: %v, want exactly one", moved)
	}
	// Under BPF_PROG_RUN the socket buffer starts after the Ethernet
	// header, so keeping the whole packet returns its length less 14.
	switch {
	case moved[0] == dropped && ret != 0:
		t.Fatalf("dropped packet returned %d, want 0", ret)
	case moved[0] != dropped && int(ret) != len(frame)-14:
		t.Fatalf("kept packet returned %d, want %d (all of it)", ret, len(frame)-14)
	}
	return moved[0]
}

func withIHL(ihl byte, ip []byte) []byte {
	ip[0] = 0x40 | ihl
	return ip
}

func withUDPLen(n uint16, u []byte) []byte {
	binary.BigEndian.PutUint16(u[4:], n)
	return u
}

func TestFilterClassifiesFrames(t *testing.T) {
	f := loadFilter(t)
	ipOptions := []byte{0x94, 0x04, 0, 0} // router alert
	tests := []struct {
		name  string
		frame []byte
		want  class
	}{
		{"SIP INVITE on UDP port 5999 is kept", sipUDP(5999, 5999, sipInvite), keptSIP},
		{"SIP INVITE from a privileged port is kept", sipUDP(53, 5060, sipInvite), keptSIP},
		{"SIP status line on TCP is kept", ether(etherIPv4, ipv4(protoTCP, 0, nil, tcp(5060, 40000, tcpACK|tcpPSH, sipOK))), keptSIP},
		{"HTTP GET on TCP 5060 is dropped", ether(etherIPv4, ipv4(protoTCP, 0, nil, tcp(40001, 5060, tcpACK|tcpPSH, httpGet))), dropped},
		{"a DNS query whose ID looks like RTP is dropped", sipUDP(40002, 53, dnsQuery(0x8012)), dropped},
		{"a DNS query is dropped", sipUDP(40002, 53, dnsQuery(0x1234)), dropped},
		{"RTP PCMA on a random UDP port is kept", sipUDP(40010, 31338, rtp(8, false, 160)), keptRTP},
		{"RTP with the marker and a dynamic payload type is kept", sipUDP(40012, 31340, rtp(101, true, 4)), keptRTP},
		{"RTCP sender report is kept", sipUDP(40011, 31339, rtcpSR()), keptRTP},
		{"RTP-like bytes with a payload type of 72 are dropped", sipUDP(40012, 31340, rtp(72, false, 20)), dropped},
		{"an RTP-like datagram too big for media is dropped", sipUDP(40013, 31341, rtp(0, false, 1600)), dropped},
		{"an IPv4 first fragment is kept", ether(etherIPv4, ipv4(protoUDP, 0x2000, nil, udp(5060, 5060, sipInvite[:64]))), keptFrag},
		{"an IPv4 later fragment is kept", ether(etherIPv4, ipv4(protoUDP, 185, nil, sipInvite[64:])), keptFrag},
		{"an IPv4 fragment of ICMP is kept", ether(etherIPv4, ipv4(protoICMP, 0x2000, nil, make([]byte, 64))), keptFrag},
		{"IPv4 with options carrying SIP is kept", ether(etherIPv4, ipv4(protoUDP, 0, ipOptions, udp(5060, 5060, sipInvite))), keptSIP},
		{"VLAN-tagged SIP is kept", ether(etherIPv4, ipv4(protoUDP, 0, nil, udp(5060, 5060, sipInvite)), ether1Q<<16|100), keptSIP},
		{"QinQ-tagged SIP is kept", ether(etherIPv4, ipv4(protoUDP, 0, nil, udp(5060, 5060, sipInvite)), ether1AD<<16|200, ether1Q<<16|100), keptSIP},
		{"SIP behind three tags is dropped", ether(etherIPv4, ipv4(protoUDP, 0, nil, udp(5060, 5060, sipInvite)), ether1AD<<16|300, ether1AD<<16|200, ether1Q<<16|100), dropped},
		{"IPv6 UDP SIP is kept", ether(etherIPv6, ipv6(protoUDP, udp(5060, 5060, sipInvite))), keptSIP},
		{"IPv6 SIP behind hop-by-hop and destination options is kept", ether(etherIPv6, ipv6(0, ipv6Ext(60, ipv6Ext(protoUDP, udp(5060, 5060, sipInvite))))), keptSIP},
		{"an IPv6 fragment is kept", ether(etherIPv6, ipv6(44, ipv6Frag(protoUDP, 0, true, udp(5060, 5060, sipInvite[:64])))), keptFrag},
		{"an IPv6 fragment behind hop-by-hop options is kept", ether(etherIPv6, ipv6(0, ipv6Ext(44, ipv6Frag(protoUDP, 8, false, sipInvite[64:])))), keptFrag},
		{"ICMPv6 is dropped", ether(etherIPv6, ipv6(protoICMPv6, make([]byte, 32))), dropped},
		{"HEP3 on a random port is kept", sipUDP(40020, 9999, hep3()), keptHEP},
		{"anything on UDP port 9060 is kept as HEP", sipUDP(40021, 9060, []byte("not a HEP packet at all")), keptHEP},
		{"a HEPv2 header on a random port is kept", sipUDP(40022, 9998, hep2()), keptHEP},
		{"HEP3 on TCP is kept", ether(etherIPv4, ipv4(protoTCP, 0, nil, tcp(40023, 9061, tcpACK|tcpPSH, hep3()))), keptHEP},
		{"SIP in an SCTP DATA chunk is kept", ether(etherIPv4, ipv4(protoSCTP, 0, nil, sctp(5060, 5060, sctpData(sipInvite)))), keptSIP},
		{"SIP in an SCTP DATA chunk bundled behind a SACK is kept", ether(etherIPv4, ipv4(protoSCTP, 0, nil, sctp(5060, 5060, sctpChunk(3, make([]byte, 12)), sctpData(sipOK)))), keptSIP},
		{"SCTP INIT is dropped", ether(etherIPv4, ipv4(protoSCTP, 0, nil, sctp(5060, 5060, sctpChunk(1, make([]byte, 16))))), dropped},
		{"ICMP is dropped", ether(etherIPv4, ipv4(protoICMP, 0, nil, make([]byte, 40))), dropped},
		// Mirrored traffic arrives in tunnels decode/ removes; what is inside
		// is classified there.
		{"ERSPAN in GRE is kept as a tunnel", ether(etherIPv4, ipv4(protoGRE, 0, nil, append([]byte{0x10, 0, 0x88, 0xbe, 0, 0, 0, 1}, make([]byte, 60)...))), keptTunnel},
		{"IPv4 in IPv4 is kept as a tunnel", ether(etherIPv4, ipv4(protoIPIP, 0, nil, ipv4(protoICMP, 0, nil, make([]byte, 40)))), keptTunnel},
		{"IPv6 in IPv4 is kept as a tunnel", ether(etherIPv4, ipv4(protoIPv6, 0, nil, ipv6(protoICMPv6, make([]byte, 32)))), keptTunnel},
		{"GRE over IPv6 is kept as a tunnel", ether(etherIPv6, ipv6(protoGRE, append([]byte{0, 0, 0x08, 0}, make([]byte, 40)...))), keptTunnel},
		{"UDP to the VXLAN port is kept as a tunnel", sipUDP(49152, 4789, append([]byte{0x08, 0, 0, 0, 0, 0x13, 0x89, 0}, make([]byte, 60)...)), keptTunnel},
		{"UDP to the Geneve port is kept as a tunnel", sipUDP(49152, 6081, append([]byte{0, 0, 0x65, 0x58, 0, 0x13, 0x8a, 0}, make([]byte, 60)...)), keptTunnel},
		{"UDP to the TZSP port is kept as a tunnel", sipUDP(49152, 37008, append([]byte{1, 0, 0, 1, 1}, make([]byte, 60)...)), keptTunnel},
		{"UDP from the VXLAN port to another is not a tunnel", sipUDP(4789, 40000, make([]byte, 60)), dropped},
		{"ARP is dropped", ether(etherARP, make([]byte, 28)), dropped},
		{"a VLAN tag cut short is dropped", ether(ether1Q, []byte{0, 100}), dropped},
		{"a UDP header cut short is dropped", ether(etherIPv4, ipv4(protoUDP, 0, nil, udp(5060, 5060, sipInvite)))[:14+20+4], dropped},
		{"IPv4 options running past the frame are dropped", ether(etherIPv4, withIHL(15, ipv4(protoUDP, 0, nil, udp(5060, 5060, sipInvite[:20])))), dropped},
		{"a UDP length beyond the IP packet is dropped", ether(etherIPv4, ipv4(protoUDP, 0, nil, withUDPLen(2000, udp(5060, 5060, sipInvite)))), dropped},
		{"SIP in a frame cut after the peek window is kept", sipUDP(5060, 5060, sipInvite)[:14+20+8+12], keptSIP},
		{"a SIP token without the space is dropped", sipUDP(5060, 5060, []byte("INVITEsip:bob@example.org SIP/2.0\r\n\r\n")), dropped},
		{"a version other than SIP/2.0 is dropped", sipUDP(5060, 5060, []byte("SIP/3.0 200 OK\r\nContent-Length: 0\r\n\r\n")), dropped},
		{"a SIP message shorter than the peek window is dropped", sipUDP(5060, 5060, []byte("ACK x")), dropped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdict(t, f, tt.frame); got != tt.want {
				t.Errorf("class %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFilterKeepsEveryMethod(t *testing.T) {
	f := loadFilter(t)
	for _, m := range []string{"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK",
		"SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"} {
		msg := []byte(m + " sip:bob@example.org SIP/2.0\r\nContent-Length: 0\r\n\r\n")
		t.Run(m+" is kept on UDP and TCP", func(t *testing.T) {
			if got := verdict(t, f, sipUDP(40000, 40001, msg)); got != keptSIP {
				t.Errorf("UDP: class %s, want sip", got)
			}
			tcpFrame := ether(etherIPv4, ipv4(protoTCP, 0, nil, tcp(40002, 40003, tcpACK|tcpPSH, msg)))
			if got := verdict(t, f, tcpFrame); got != keptSIP {
				t.Errorf("TCP: class %s, want sip", got)
			}
		})
		t.Run("a lower-case "+m+" is dropped", func(t *testing.T) {
			lower := []byte(strings.ToLower(m) + " sip:bob@example.org SIP/2.0\r\n\r\n")
			if got := verdict(t, f, sipUDP(5060, 5060, lower)); got != dropped {
				t.Errorf("class %s, want dropped", got)
			}
		})
	}
}

func TestFilterLearnedPorts(t *testing.T) {
	f := loadFilter(t)
	// STUN binding request: neither SIP nor RTP-looking.
	stun := append([]byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42}, bytes.Repeat([]byte{7}, 12)...)
	toPort := sipUDP(33000, 41000, stun)
	fromPort := sipUDP(41000, 33000, stun)

	if got := verdict(t, f, toPort); got != dropped {
		t.Fatalf("before AllowPort: class %s, want dropped", got)
	}
	if err := f.AllowPort(41000); err != nil {
		t.Fatalf("AllowPort: %v", err)
	}
	if got := verdict(t, f, toPort); got != keptLearned {
		t.Errorf("to a learned port: class %s, want learned", got)
	}
	if got := verdict(t, f, fromPort); got != keptLearned {
		t.Errorf("from a learned port: class %s, want learned", got)
	}
	if err := f.ForgetPort(41000); err != nil {
		t.Fatalf("ForgetPort: %v", err)
	}
	if got := verdict(t, f, toPort); got != dropped {
		t.Errorf("after ForgetPort: class %s, want dropped", got)
	}
	if err := f.ForgetPort(41000); err != nil {
		t.Errorf("forgetting a port twice: %v, want nil", err)
	}
}

func TestFilterFollowsSIPOverTCPConnections(t *testing.T) {
	f := loadFilter(t)
	seg := func(sport uint16, flags byte, payload []byte) []byte {
		return ether(etherIPv4, ipv4(protoTCP, 0, nil, tcp(sport, 5060, flags, payload)))
	}
	tail := []byte("m=audio 49170 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n")

	if got := verdict(t, f, seg(40100, tcpACK|tcpPSH, tail)); got != dropped {
		t.Fatalf("continuation of an unknown connection: class %s, want dropped", got)
	}
	if got := verdict(t, f, seg(40100, tcpACK, sipInvite)); got != keptSIP {
		t.Fatalf("first SIP segment: class %s, want sip", got)
	}
	if got := verdict(t, f, seg(40100, tcpACK|tcpPSH, tail)); got != keptSIP {
		t.Errorf("continuation of a SIP connection: class %s, want sip", got)
	}
	if got := verdict(t, f, seg(40101, tcpACK|tcpPSH, tail)); got != dropped {
		t.Errorf("same bytes on another connection: class %s, want dropped", got)
	}
	if got := verdict(t, f, seg(40100, tcpACK|tcpFIN, nil)); got != keptSIP {
		t.Errorf("FIN of a SIP connection: class %s, want sip", got)
	}
	if got := verdict(t, f, seg(40100, tcpACK|tcpPSH, tail)); got != dropped {
		t.Errorf("segment after FIN: class %s, want dropped", got)
	}
}

func TestFilterAfterClose(t *testing.T) {
	f, err := load(true)
	if err != nil {
		t.Fatalf("eBPF filter did not load: %v", err)
	}
	if _, err := f.objs.SipFilter.Run(&ebpf.RunOptions{Data: sipUDP(5060, 5060, sipInvite)}); err != nil {
		t.Fatalf("run: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	c, err := f.Counters()
	if err != nil || c.Seen != 1 || c.PassedSIP != 1 {
		t.Errorf("Counters after Close = %+v, %v; want the final counts (seen 1, sip 1)", c, err)
	}
	if err := f.AllowPort(1); !errors.Is(err, ErrClosed) {
		t.Errorf("AllowPort after Close: %v, want ErrClosed", err)
	}
	if err := f.ForgetPort(1); !errors.Is(err, ErrClosed) {
		t.Errorf("ForgetPort after Close: %v, want ErrClosed", err)
	}
	if fd := f.FD(); fd != -1 {
		t.Errorf("FD after Close = %d, want -1", fd)
	}
}

// TestLoadWithoutCapabilities runs this test binary again with CAP_BPF and
// CAP_SYS_ADMIN dropped (setpriv) and checks that Load refuses with
// ErrUnavailable and names the capability.
func TestLoadWithoutCapabilities(t *testing.T) {
	if os.Getenv("SIPSCOPE_BPF_NOCAP_CHILD") == "1" {
		_, err := Load()
		fmt.Printf("errors.Is(ErrUnavailable)=%v\nerror: %v\n", errors.Is(err, ErrUnavailable), err)
		return
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) is needed to drop capabilities: %v", err)
	}
	cmd := exec.Command(setpriv, "--bounding-set", "-bpf,-sys_admin", "--inh-caps", "-bpf,-sys_admin",
		os.Args[0], "-test.run", "^TestLoadWithoutCapabilities$", "-test.count", "1")
	cmd.Env = append(os.Environ(), "SIPSCOPE_BPF_NOCAP_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("errors.Is(ErrUnavailable)=true")) {
		t.Fatalf("Load without capabilities did not fail with ErrUnavailable:\n%s", out)
	}
	if !bytes.Contains(out, []byte("CAP_BPF")) {
		t.Errorf("the error does not name CAP_BPF:\n%s", out)
	}
}

// BenchmarkFilter measures the program's cost per packet inside the kernel
// (BPF_PROG_RUN with a repeat count), by kind of packet.
func BenchmarkFilter(b *testing.B) {
	f := loadFilter(b)
	if err := f.AllowPort(41000); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"SIP-INVITE-UDP", sipUDP(5060, 5060, sipInvite)},
		{"SIP-200-TCP", ether(etherIPv4, ipv4(protoTCP, 0, nil, tcp(5060, 40000, tcpACK|tcpPSH, sipOK)))},
		{"RTP", sipUDP(40010, 31338, rtp(8, false, 160))},
		{"learned-port", sipUDP(33000, 41000, make([]byte, 40))},
		{"DNS-dropped", sipUDP(40002, 53, dnsQuery(0x1234))},
		{"QinQ-IPv6-SIP", ether(etherIPv6, ipv6(protoUDP, udp(5060, 5060, sipInvite)), ether1AD<<16|2, ether1Q<<16|1)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			_, per, err := f.objs.SipFilter.Benchmark(bc.frame, b.N, b.ResetTimer)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(per.Nanoseconds()), "ns/pkt")
		})
	}
}
