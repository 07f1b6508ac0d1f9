package bpf

import (
	"testing"

	cbpf "golang.org/x/net/bpf"
)

// classicVM assembles ClassicFilter and loads it into x/net/bpf's
// interpreter, which runs it with the same semantics as the kernel
// (offsets from the MAC header, out-of-bounds loads reject).
func classicVM(t testing.TB) *cbpf.VM {
	t.Helper()
	raw, err := ClassicFilter()
	if err != nil {
		t.Fatalf("ClassicFilter: %v", err)
	}
	prog, ok := cbpf.Disassemble(raw)
	if !ok {
		t.Fatalf("classic filter does not disassemble: %v", prog)
	}
	vm, err := cbpf.NewVM(prog)
	if err != nil {
		t.Fatalf("classic filter rejected by the interpreter: %v", err)
	}
	return vm
}

func TestClassicFilterKeepsAReducedSet(t *testing.T) {
	vm := classicVM(t)
	tests := []struct {
		name  string
		frame []byte
		keep  bool
	}{
		{"SIP on UDP is kept", sipUDP(5060, 5999, sipInvite), true},
		{"a DNS query is kept (classic BPF cannot tell it from SIP)", sipUDP(40000, 53, dnsQuery(1)), true},
		{"SIP on TCP is kept", ether(etherIPv4, ipv4(protoTCP, 0, nil, tcp(5060, 40000, tcpACK, sipOK))), true},
		{"SIP on SCTP is kept", ether(etherIPv4, ipv4(protoSCTP, 0, nil, sctp(5060, 5060, sctpData(sipInvite)))), true},
		{"ICMP is dropped", ether(etherIPv4, ipv4(protoICMP, 0, nil, make([]byte, 40))), false},
		{"an IPv4 fragment of ICMP is kept", ether(etherIPv4, ipv4(protoICMP, 0x2000, nil, make([]byte, 40))), true},
		{"an IPv4 later fragment is kept", ether(etherIPv4, ipv4(protoICMP, 100, nil, make([]byte, 40))), true},
		{"ARP is dropped", ether(etherARP, make([]byte, 28)), false},
		{"VLAN-tagged UDP is kept", ether(etherIPv4, ipv4(protoUDP, 0, nil, udp(5060, 5060, sipInvite)), ether1Q<<16|7), true},
		{"QinQ-tagged UDP is kept", ether(etherIPv4, ipv4(protoUDP, 0, nil, udp(5060, 5060, sipInvite)), ether1AD<<16|8, ether1Q<<16|7), true},
		{"VLAN-tagged ICMP is dropped", ether(etherIPv4, ipv4(protoICMP, 0, nil, make([]byte, 40)), ether1Q<<16|7), false},
		{"UDP behind three tags is dropped", ether(etherIPv4, ipv4(protoUDP, 0, nil, udp(5060, 5060, sipInvite)), ether1AD<<16|9, ether1AD<<16|8, ether1Q<<16|7), false},
		{"IPv6 UDP is kept", ether(etherIPv6, ipv6(protoUDP, udp(5060, 5060, sipInvite))), true},
		{"an IPv6 fragment is kept", ether(etherIPv6, ipv6(44, ipv6Frag(protoUDP, 0, true, udp(5060, 5060, sipInvite[:64])))), true},
		{"ICMPv6 is dropped", ether(etherIPv6, ipv6(protoICMPv6, make([]byte, 32))), false},
		{"IPv6 with a routing header is kept", ether(etherIPv6, ipv6(43, ipv6Ext(protoUDP, udp(5060, 5060, sipInvite)))), true},
		{"a frame cut inside the EtherType is dropped", ether(etherIPv4, nil)[:13], false},
		{"an IPv4 header cut before the protocol is dropped", ether(etherIPv4, ipv4(protoUDP, 0, nil, nil))[:14+8], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := vm.Run(tt.frame)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if keep := n > 0; keep != tt.keep {
				t.Errorf("kept %d bytes, want keep=%v", n, tt.keep)
			}
			if n > 0 && n < len(tt.frame) {
				t.Errorf("kept %d of %d bytes: the snap length belongs to user space", n, len(tt.frame))
			}
		})
	}
}
