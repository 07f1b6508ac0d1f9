package storage

import (
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/sipscope/sipscope/correlate"
)

// referenceHash is messageHash as it was first written with hash/fnv: the
// stored msg_hash of every message already in a store. The inline version
// must give the same value, or a capture imported again after an upgrade
// would store its messages twice.
func referenceHash(m *correlate.Message) uint64 {
	h := fnv.New64a()
	src, _ := m.Src.MarshalBinary()
	dst, _ := m.Dst.MarshalBinary()
	h.Write(src)
	h.Write(dst)
	h.Write([]byte(m.Transport))
	h.Write(m.Raw)
	return h.Sum64()
}

func TestMessageHashIsTheStoredFNV1aOfEndpointsTransportAndBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		name string
		m    correlate.Message
	}{
		{"an empty message", correlate.Message{}},
		{"IPv4 over UDP", correlate.Message{Src: netip.MustParseAddrPort("192.0.2.1:5060"),
			Dst: netip.MustParseAddrPort("198.51.100.7:5062"), Transport: "udp", Raw: []byte("OPTIONS sip:a SIP/2.0\r\n\r\n")}},
		{"IPv6 with a zone over TLS", correlate.Message{Src: netip.MustParseAddrPort("[fe80::1%eth0]:5061"),
			Dst: netip.MustParseAddrPort("[2001:db8::2]:5061"), Transport: "tls", Raw: []byte{0, 0xff}}},
		{"a zone longer than the stack buffer", correlate.Message{
			Src: netip.AddrPortFrom(netip.MustParseAddr("fe80::1").WithZone("a-very-long-interface-zone-name-beyond-32-bytes"), 1),
			Dst: netip.MustParseAddrPort("[::1]:2"), Transport: "ws"}},
		{"only the source set", correlate.Message{Src: netip.MustParseAddrPort("10.0.0.1:1")}},
	}
	for range 20 {
		raw := make([]byte, rng.IntN(2000))
		for i := range raw {
			raw[i] = byte(rng.IntN(256))
		}
		var a4 [4]byte
		for i := range a4 {
			a4[i] = byte(rng.IntN(256))
		}
		cases = append(cases, struct {
			name string
			m    correlate.Message
		}{"random bytes", correlate.Message{Src: netip.AddrPortFrom(netip.AddrFrom4(a4), uint16(rng.IntN(65536))),
			Dst: netip.MustParseAddrPort("192.0.2.9:5060"), Transport: "tcp", Raw: raw}})
	}
	for _, c := range cases {
		if got, want := messageHash(&c.m), referenceHash(&c.m); got != want {
			t.Errorf("%s: %#x, want %#x", c.name, got, want)
		}
	}
}

func TestMessageHashAllocatesNothing(t *testing.T) {
	m := correlate.Message{Src: netip.MustParseAddrPort("[fe80::1%eth0]:5061"), Dst: netip.MustParseAddrPort("192.0.2.1:5060"),
		Transport: "udp", Raw: make([]byte, 600)}
	if n := testing.AllocsPerRun(100, func() { messageHash(&m) }); n != 0 {
		t.Errorf("%v allocations per hash, want 0", n)
	}
}
