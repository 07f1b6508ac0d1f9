package correlate

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// The endpoint table must behave like a map of netip.AddrPort through
// inserts, overwrites, removals and growth, keep each entry's flags, and
// keep an IPv4 endpoint apart from its IPv4-mapped IPv6 twin.
func TestEndpointsBehaveLikeAMapOfAddrPorts(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	tab := newEndpoints()
	want := map[netip.AddrPort]mediaEntry{}
	owners := []*dialog{{callID: "a"}, {callID: "b"}, {callID: "c"}}
	endpoint := func() netip.AddrPort {
		a := netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(256))})
		switch rng.IntN(8) {
		case 0:
			a = netip.AddrFrom16(a.As16()) // IPv4-mapped: another endpoint
		case 1:
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(rng.IntN(256))})
		}
		return netip.AddrPortFrom(a, uint16(1024+rng.IntN(64)))
	}
	check := func(step int) {
		if tab.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", step, tab.len(), len(want))
		}
		for ap, e := range want {
			if got, ok := tab.get(ap); !ok || got != e {
				t.Fatalf("step %d: get(%v) = %+v %v, want %+v", step, ap, got, ok, e)
			}
		}
	}
	for step := range 20000 {
		ap := endpoint()
		switch rng.IntN(3) {
		case 0, 1:
			e := mediaEntry{d: owners[rng.IntN(len(owners))], caller: rng.IntN(2) == 0, nat: rng.IntN(2) == 0, rtcpNext: rng.IntN(2) == 0, stale: rng.IntN(2) == 0}
			tab.set(ap, e)
			want[ap] = e
		default:
			tab.del(ap)
			delete(want, ap)
		}
		if got, ok := tab.get(ap); ok != (want[ap].d != nil) || got != want[ap] {
			t.Fatalf("step %d: get(%v) right after the change = %+v %v", step, ap, got, ok)
		}
		if step%500 == 0 {
			check(step)
		}
	}
	check(-1)
	for ap := range want {
		tab.del(ap)
		delete(want, ap)
	}
	check(-2)
}
