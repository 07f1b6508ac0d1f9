//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package bpf

import (
	"testing"

	"github.com/cilium/ebpf"
)

// FuzzClassicKeepsWhatEBPFKeeps checks that the classic fallback is a
// superset of the eBPF filter: switching to it may let more through, never
// lose a packet eBPF would keep.
func FuzzClassicKeepsWhatEBPFKeeps(f *testing.F) {
	for _, frame := range [][]byte{
		sipUDP(5060, 5999, sipInvite),
		sipUDP(40010, 31338, rtp(8, false, 160)),
		sipUDP(40020, 9999, hep3()),
		ether(etherIPv4, ipv4(protoTCP, 0, nil, tcp(5060, 40000, tcpACK, sipOK))),
		ether(etherIPv4, ipv4(protoSCTP, 0, nil, sctp(5060, 5060, sctpData(sipInvite)))),
		ether(etherIPv4, ipv4(protoUDP, 0, nil, udp(5060, 5060, sipInvite)), ether1AD<<16|8, ether1Q<<16|7),
		ether(etherIPv6, ipv6(protoUDP, udp(5060, 5060, sipInvite))),
		ether(etherIPv6, ipv6(44, ipv6Frag(protoUDP, 0, true, udp(5060, 5060, sipInvite[:64])))),
		ether(etherIPv4, ipv4(protoICMP, 0x2000, nil, make([]byte, 40))),
	} {
		f.Add(frame)
	}
	filter := loadFilter(f)
	vm := classicVM(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < 14 || len(frame) > 2048 {
			return
		}
		before, err := filter.Counters()
		if err != nil {
			t.Fatal(err)
		}
		ret, err := filter.objs.SipFilter.Run(&ebpf.RunOptions{Data: frame})
		if err != nil {
			return // the kernel's test harness refuses frames too short for their EtherType
		}
		after, err := filter.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if ret == 0 {
			return
		}
		n, err := vm.Run(frame)
		if err != nil {
			t.Fatalf("classic run: %v", err)
		}
		if n == 0 {
			t.Fatalf("eBPF kept (class counts went from %+v to %+v) what classic BPF drops: % x", before, after, frame)
		}
	})
}
