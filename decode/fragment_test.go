package decode

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/frame"
)

// bigInvite is a SIP INVITE with an SDP body too large for one Ethernet frame.
var bigInvite = func() []byte {
	var b strings.Builder
	b.WriteString("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n")
	for i := 0; b.Len() < 3300; i++ {
		fmt.Fprintf(&b, "a=candidate:%d 1 UDP 2130706431 192.0.2.%d %d typ host\r\n", i, i%250+1, 10000+i)
	}
	return []byte(b.String())
}()

// ip4frag is one IPv4 fragment: payload at byte offset off of datagram id.
func ip4frag(proto uint8, src, dst string, id uint16, off int, more bool, payload []byte) []byte {
	frag := uint16(off / 8)
	if more {
		frag |= 0x2000
	}
	b := ip4x(proto, src, dst, nil, frag, payload)
	be.PutUint16(b[4:], id)
	be.PutUint16(b[10:], 0)
	be.PutUint16(b[10:], checksum(b[:20]))
	return b
}

// fragments4 splits an IPv4 datagram's payload into fragments of chunk bytes.
func fragments4(proto uint8, src, dst string, id uint16, payload []byte, chunk int) [][]byte {
	var out [][]byte
	for off := 0; off < len(payload); off += chunk {
		end := min(off+chunk, len(payload))
		out = append(out, ip4frag(proto, src, dst, id, off, end < len(payload), payload[off:end]))
	}
	return out
}

// fragments6 splits an IPv6 datagram's fragmentable part the same way.
func fragments6(next uint8, src, dst string, id uint32, payload []byte, chunk int) [][]byte {
	var out [][]byte
	for off := 0; off < len(payload); off += chunk {
		end := min(off+chunk, len(payload))
		fh := frag6(next, uint16(off/8), end < len(payload), payload[off:end])
		be.PutUint32(fh[4:], id)
		out = append(out, ip6(protoFragment, src, dst, fh))
	}
	return out
}

func ethAll(et uint16, pkts [][]byte) [][]byte {
	out := make([][]byte, len(pkts))
	for i, p := range pkts {
		out[i] = eth(et, p)
	}
	return out
}

func pick(frames [][]byte, order ...int) [][]byte {
	out := make([][]byte, len(order))
	for i, o := range order {
		out[i] = frames[o]
	}
	return out
}

type fragmentCase struct {
	name   string
	frames [][]byte // Ethernet frames; the last completes the datagram
	want   Packet
}

// fragmentCases are fragmented datagrams, each sent whole.
func fragmentCases() []fragmentCase {
	sip4 := udp(5060, 5060, bigInvite)
	v4 := ethAll(etherTypeIPv4, fragments4(protoUDP, hostA, hostB, 0x0101, sip4, 1480))
	v6 := ethAll(etherTypeIPv6, fragments6(protoUDP, hostA6, hostB6, 0x01020304, sip4, 1232))
	wantSIP := func(src, dst string, tunnels uint8) Packet {
		return Packet{Transport: TransportUDP, Src: netip.AddrPortFrom(netip.MustParseAddr(src), 5060),
			Dst: netip.AddrPortFrom(netip.MustParseAddr(dst), 5060), Payload: bigInvite, Tunnels: tunnels}
	}
	// Inner datagram fragmented, each fragment carried whole in IP-in-IP.
	var inner [][]byte
	for _, f := range fragments4(protoUDP, hostA, hostB, 0x0202, sip4, 1456) {
		inner = append(inner, eth(etherTypeIPv4, ip4(protoIPIP, outerA, outerB, f)))
	}
	// Outer tunnel packet fragmented, the inner one whole.
	outer := ethAll(etherTypeIPv4, fragments4(protoIPIP, outerA, outerB, 0x0303, ip4(protoUDP, hostA, hostB, sip4), 1480))
	tcpSeg := tcp(40000, 5060, 1000, 0x18, nil, bigInvite)
	return []fragmentCase{
		{"IPv4 fragments in order", v4, wantSIP(hostA, hostB, 0)},
		{"IPv4 fragments last first", pick(v4, 2, 1, 0), wantSIP(hostA, hostB, 0)},
		{"IPv4 fragments with a duplicate", pick(v4, 0, 1, 1, 2), wantSIP(hostA, hostB, 0)},
		{"IPv6 fragments in order", v6, wantSIP(hostA6, hostB6, 0)},
		{"IPv6 fragments out of order", pick(v6, 1, 2, 0), wantSIP(hostA6, hostB6, 0)},
		{"IPv4 fragments inside IP-in-IP", inner, wantSIP(hostA, hostB, 1)},
		{"a fragmented IP-in-IP packet", outer, wantSIP(hostA, hostB, 1)},
		{"a fragmented TCP segment", ethAll(etherTypeIPv4, fragments4(protoTCP, hostA, hostB, 0x0404, tcpSeg, 1480)),
			Packet{Transport: TransportTCP, Src: netip.MustParseAddrPort(hostA + ":40000"), Dst: netip.MustParseAddrPort(hostB + ":5060"),
				TCPSeq: 1000, TCPFlags: 0x18, Payload: bigInvite}},
	}
}

// checkDefrag verifies the Defragmenter's bookkeeping against its state.
func checkDefrag(t *testing.T, f *Defragmenter) {
	t.Helper()
	held, stale, inQueue := 0, 0, map[*datagram]bool{}
	for _, dg := range f.queue {
		if dg.done {
			stale++
		}
		inQueue[dg] = true
	}
	flows := 0
	for _, n := range f.flows {
		flows += n
	}
	for _, dg := range f.pending {
		held += len(dg.buf)
		if !inQueue[dg] || dg.done {
			t.Fatalf("pending datagram %v missing from the queue or finished", dg.key)
		}
	}
	s := f.Stats()
	if s.Pending != len(f.pending) || s.HeldBytes != held || f.stale != stale || flows != len(f.pending) {
		t.Fatalf("stats %+v, stale %d: actual pending %d, held %d, stale %d, flows %d", s, f.stale, len(f.pending), held, stale, flows)
	}
	if s.Pending > f.cfg.MaxDatagrams || s.HeldBytes > f.cfg.MaxBytes {
		t.Fatalf("over the bounds: %+v", s)
	}
}

func TestDefragmenterReassemblesDatagrams(t *testing.T) {
	for _, c := range fragmentCases() {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder()
			f := NewDefragmenter(DefragConfig{})
			d.SetDefragmenter(f)
			var p Packet
			for i, fr := range c.frames {
				err := d.Decode(frame.LinkEthernet, fr, int64(i)*1e6, &p)
				checkDefrag(t, f)
				if i < len(c.frames)-1 {
					if err != ErrFragmentHeld {
						t.Fatalf("fragment %d: %v, want ErrFragmentHeld", i+1, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("last fragment: %v", err)
				}
			}
			if got, want := describe(p), describe(c.want); got != want {
				t.Errorf("got  %.200s\nwant %.200s", got, want)
			}
			if p.TS != int64(len(c.frames)-1)*1e6 {
				t.Errorf("TS = %d, want the last fragment's", p.TS)
			}
			if s := f.Stats(); s.Reassembled != 1 || s.Pending != 0 || s.HeldBytes != 0 || s.Rejected != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestWithoutADefragmenterFragmentsAreDropped(t *testing.T) {
	d := NewDecoder()
	var p Packet
	for _, c := range fragmentCases() {
		for i, fr := range c.frames {
			if err := d.Decode(frame.LinkEthernet, fr, 0, &p); err != ErrFragment {
				t.Errorf("%s, fragment %d: %v, want ErrFragment", c.name, i+1, err)
			}
		}
	}
}

// step is one fragment given to a Defragmenter in TestDefragmenterBounds.
type step struct {
	at    time.Duration
	frame []byte
	want  error
}

func TestDefragmenterStaysWithinItsBounds(t *testing.T) {
	payload := make([]byte, 2960)
	frag := func(id uint16, off, n int, more bool) []byte {
		return eth(etherTypeIPv4, ip4frag(protoUDP, hostA, hostB, id, off, more, payload[:n]))
	}
	fragFrom := func(src string, id uint16) []byte {
		return eth(etherTypeIPv4, ip4frag(protoUDP, src, hostB, id, 0, true, payload[:1480]))
	}
	cases := []struct {
		name  string
		cfg   DefragConfig
		steps []step
		want  DefragStats
	}{
		{"a datagram older than the timeout expires", DefragConfig{Timeout: 30 * time.Second}, []step{
			{0, frag(1, 0, 1480, true), ErrFragmentHeld},
			{31 * time.Second, frag(1, 1480, 100, false), ErrFragmentHeld},
		}, DefragStats{Pending: 1, HeldBytes: 1580, Expired: 1}},
		{"the oldest datagram is evicted past MaxDatagrams", DefragConfig{MaxDatagrams: 2}, []step{
			{0, frag(1, 0, 1480, true), ErrFragmentHeld},
			{1, frag(2, 0, 1480, true), ErrFragmentHeld},
			{2, frag(3, 0, 1480, true), ErrFragmentHeld},
			{3, frag(1, 1480, 8, false), ErrFragmentHeld}, // 1 was evicted: starts anew
		}, DefragStats{Pending: 2, HeldBytes: 1480 + 1488, Evicted: 2}},
		{"a flow over MaxPerFlow is refused, others are not", DefragConfig{MaxPerFlow: 1}, []step{
			{0, fragFrom(hostA, 1), ErrFragmentHeld},
			{1, fragFrom(hostA, 2), ErrFragment},
			{2, fragFrom(outerA, 3), ErrFragmentHeld},
		}, DefragStats{Pending: 2, HeldBytes: 2960, Rejected: 1}},
		{"the oldest datagram is evicted past MaxBytes", DefragConfig{MaxBytes: 2000}, []step{
			{0, frag(1, 0, 1480, true), ErrFragmentHeld},
			{1, frag(2, 0, 1480, true), ErrFragmentHeld},
		}, DefragStats{Pending: 1, HeldBytes: 1480, Evicted: 1}},
		{"a datagram larger than MaxBytes on its own is evicted", DefragConfig{MaxBytes: 2000}, []step{
			{0, frag(1, 0, 1480, true), ErrFragmentHeld},
			{1, frag(1, 1480, 1480, true), ErrFragment},
		}, DefragStats{Evicted: 1}},
		{"a datagram of more than MaxFragments is dropped", DefragConfig{MaxFragments: 3}, []step{
			{0, frag(1, 0, 8, true), ErrFragmentHeld},
			{1, frag(1, 8, 8, true), ErrFragmentHeld},
			{2, frag(1, 8, 8, true), ErrFragmentHeld}, // a duplicate counts
			{3, frag(1, 16, 8, true), ErrFragment},
		}, DefragStats{Rejected: 1}},
		{"an overlapping fragment spoils the datagram", DefragConfig{}, []step{
			{0, frag(1, 0, 1480, true), ErrFragmentHeld},
			{1, frag(1, 8, 1480, false), ErrFragment},
			{2, frag(1, 1480, 8, false), ErrFragmentHeld}, // a new datagram
		}, DefragStats{Pending: 1, HeldBytes: 1488, Rejected: 1}},
		{"two different ends spoil the datagram", DefragConfig{}, []step{
			{0, frag(1, 1480, 100, false), ErrFragmentHeld},
			{1, frag(1, 1480, 200, false), ErrFragment},
		}, DefragStats{Rejected: 1}},
		{"data past the end spoils the datagram", DefragConfig{}, []step{
			{0, frag(1, 1480, 100, false), ErrFragmentHeld},
			{1, frag(1, 1576, 8, true), ErrFragment},
		}, DefragStats{Rejected: 1}},
		{"a repeated fragment with other bytes spoils the datagram", DefragConfig{}, []step{
			{0, frag(1, 0, 1480, true), ErrFragmentHeld},
			{1, eth(etherTypeIPv4, ip4frag(protoUDP, hostA, hostB, 1, 8, true, bytes.Repeat([]byte{1}, 16))), ErrFragment},
		}, DefragStats{Rejected: 1}},
		{"a repeated fragment with the same bytes is ignored", DefragConfig{}, []step{
			{0, frag(1, 0, 1480, true), ErrFragmentHeld},
			{1, frag(1, 8, 16, true), ErrFragmentHeld},
			{2, frag(1, 0, 1480, true), ErrFragmentHeld},
		}, DefragStats{Pending: 1, HeldBytes: 1480}},
		{"a fragment reaching past 64 KiB is refused", DefragConfig{}, []step{
			{0, frag(1, 65528, 16, false), ErrFragment},
		}, DefragStats{Rejected: 1}},
		{"a middle fragment not a multiple of 8 bytes is refused", DefragConfig{}, []step{
			{0, frag(1, 0, 100, true), ErrFragment},
		}, DefragStats{Rejected: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder()
			f := NewDefragmenter(c.cfg)
			d.SetDefragmenter(f)
			var p Packet
			for i, s := range c.steps {
				if err := d.Decode(frame.LinkEthernet, s.frame, int64(s.at), &p); err != s.want {
					t.Fatalf("step %d: %v, want %v", i+1, err, s.want)
				}
				checkDefrag(t, f)
			}
			if got := f.Stats(); got != c.want {
				t.Errorf("stats %+v\n want %+v", got, c.want)
			}
		})
	}
}

// A flood of datagrams that never complete, and of ones that complete behind
// a lingering one, leaves memory within the bounds.
func TestDefragmenterMemoryIsBoundedUnderAFlood(t *testing.T) {
	cfg := DefragConfig{MaxDatagrams: 100, MaxBytes: 64 << 10, MaxPerFlow: 1000}
	d := NewDecoder()
	f := NewDefragmenter(cfg)
	d.SetDefragmenter(f)
	var p Packet
	payload := make([]byte, 1024)
	linger := eth(etherTypeIPv4, ip4frag(protoUDP, outerA, outerB, 1, 0, true, payload))
	if err := d.Decode(frame.LinkEthernet, linger, 0, &p); err != ErrFragmentHeld {
		t.Fatal(err)
	}
	for i := range 20000 {
		id := uint16(i + 2)
		first := eth(etherTypeIPv4, ip4frag(protoUDP, hostA, hostB, id, 0, true, udp(1, 2, payload[:1016])))
		last := eth(etherTypeIPv4, ip4frag(protoUDP, hostA, hostB, id, 1024, false, payload[:8]))
		d.Decode(frame.LinkEthernet, first, int64(i), &p)
		if i%2 == 0 { // half complete, half never do
			if err := d.Decode(frame.LinkEthernet, last, int64(i), &p); err != nil && !errors.Is(err, ErrFragmentHeld) {
				t.Fatal(err)
			}
		}
	}
	checkDefrag(t, f)
	if len(f.queue) > 2*cfg.MaxDatagrams+64 {
		t.Errorf("queue holds %d entries for %d datagrams", len(f.queue), len(f.pending))
	}
	s := f.Stats()
	if s.Reassembled == 0 || s.Evicted == 0 {
		t.Errorf("stats %+v", s)
	}
	t.Logf("%+v, queue %d", s, len(f.queue))
}

// FuzzDefragmenter drives a Defragmenter with arbitrary fragments of a few
// datagrams; its bookkeeping must stay exact and within bounds, and what
// it reassembles must be exactly what was sent.
func FuzzDefragmenter(f *testing.F) {
	f.Add([]byte{0, 0, 0, 185, 1, 0, 185, 185, 0})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Fuzz(func(t *testing.T, ops []byte) {
		cfg := DefragConfig{MaxDatagrams: 3, MaxPerFlow: 2, MaxBytes: 4096, MaxFragments: 4, Timeout: 10}
		d := NewDecoder()
		def := NewDefragmenter(cfg)
		d.SetDefragmenter(def)
		// Every datagram carries the same pattern, so any reassembly can
		// be checked against it.
		pattern := make([]byte, 2048)
		for i := range pattern {
			pattern[i] = byte(i * 7)
		}
		var p Packet
		for i := 0; i+3 <= len(ops) && i < 3*64; i += 3 {
			id := uint16(ops[i] % 4)
			src := hostA
			if ops[i]&0x80 != 0 {
				src = outerA
			}
			off := int(ops[i+1]%32) * 8
			n := int(ops[i+2]%64)*8 + int(ops[i+2]>>7)
			more := ops[i+2]&0x40 != 0
			end := min(off+n, len(pattern))
			fr := eth(etherTypeIPv4, ip4frag(99, src, hostB, id, off, more, pattern[off:end]))
			err := d.Decode(frame.LinkEthernet, fr, int64(i), &p)
			checkDefrag(t, def)
			switch err {
			case ErrFragment, ErrFragmentHeld, ErrUnsupportedTransport:
			default:
				t.Fatalf("unexpected %v", err)
			}
			if err == ErrUnsupportedTransport && !bytes.Equal(def.out, pattern[:len(def.out)]) {
				t.Fatalf("reassembled %d bytes that were not sent", len(def.out))
			}
		}
	})
}
