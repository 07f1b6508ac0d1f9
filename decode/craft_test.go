package decode

import (
	"encoding/binary"
	"net/netip"
)

// Hand-built headers for tests. Each builder returns its header followed by
// the payload it wraps, so frames read inside out:
// eth(etherTypeIPv4, ip4(protoUDP, a, b, udp(1, 2, payload))).

var be = binary.BigEndian

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func eth(et uint16, payload []byte) []byte {
	h := []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x02, 0x11, 0x22, 0x33, 0x44, 0x66}
	return cat(be.AppendUint16(h, et), payload)
}

// tag is an 802.1Q/802.1ad tag body (TCI, inner EtherType); the TPID is the
// EtherType in front of it.
func tag(vid, inner uint16, payload []byte) []byte {
	return cat(be.AppendUint16(be.AppendUint16(nil, vid&0x0fff), inner), payload)
}

// mplsStack is n labels, the last with the bottom-of-stack bit.
func mplsStack(n int, payload []byte) []byte {
	var h []byte
	for i := range n {
		label := uint32(16+i) << 12
		if i == n-1 {
			label |= 1 << 8
		}
		h = be.AppendUint32(h, label|64) // TTL 64
	}
	return cat(h, payload)
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(be.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// ip4 is an IPv4 header with the given options (a multiple of 4 bytes) and
// fragment field (flags<<13 | offset/8).
func ip4(proto uint8, src, dst string, payload []byte) []byte {
	return ip4x(proto, src, dst, nil, 0, payload)
}

func ip4x(proto uint8, src, dst string, opts []byte, frag uint16, payload []byte) []byte {
	hl := 20 + len(opts)
	h := make([]byte, 20, hl)
	h[0] = 0x40 | byte(hl/4)
	be.PutUint16(h[2:], uint16(hl+len(payload)))
	be.PutUint16(h[4:], 0x1234)
	be.PutUint16(h[6:], frag)
	h[8] = 64
	h[9] = proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	h = append(h, opts...)
	be.PutUint16(h[10:], checksum(h))
	return cat(h, payload)
}

func ip6(next uint8, src, dst string, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	be.PutUint16(h[4:], uint16(len(payload)))
	h[6] = next
	h[7] = 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return cat(h, payload)
}

// ext6 is an IPv6 hop-by-hop, routing or destination-options header of
// 8*(units+1) bytes padded with PadN.
func ext6(next uint8, units int, payload []byte) []byte {
	h := make([]byte, 8*(units+1))
	h[0] = next
	h[1] = byte(units)
	h[2] = 1 // PadN option covering the rest
	h[3] = byte(len(h) - 4)
	return cat(h, payload)
}

// frag6 is an IPv6 fragment header with offset (in 8-byte units) and M flag.
func frag6(next uint8, offset uint16, more bool, payload []byte) []byte {
	h := make([]byte, 8)
	h[0] = next
	v := offset << 3
	if more {
		v |= 1
	}
	be.PutUint16(h[2:], v)
	be.PutUint32(h[4:], 0xabcdef)
	return cat(h, payload)
}

func udp(sport, dport uint16, payload []byte) []byte {
	h := make([]byte, 8)
	be.PutUint16(h, sport)
	be.PutUint16(h[2:], dport)
	be.PutUint16(h[4:], uint16(8+len(payload)))
	return cat(h, payload)
}

// tcp is a TCP header with options (a multiple of 4 bytes).
func tcp(sport, dport uint16, seq uint32, flags uint8, opts, payload []byte) []byte {
	h := make([]byte, 20, 20+len(opts))
	be.PutUint16(h, sport)
	be.PutUint16(h[2:], dport)
	be.PutUint32(h[4:], seq)
	be.PutUint32(h[8:], 1)
	h[12] = byte((20+len(opts))/4) << 4
	h[13] = flags
	be.PutUint16(h[14:], 65535)
	return cat(append(h, opts...), payload)
}

// greFlags bits.
const (
	greC = 0x8000
	greK = 0x2000
	greS = 0x1000
)

func gre(flags, proto uint16, payload []byte) []byte {
	h := be.AppendUint16(nil, flags)
	h = be.AppendUint16(h, proto)
	if flags&greC != 0 {
		h = be.AppendUint32(h, 0)
	}
	if flags&greK != 0 {
		h = be.AppendUint32(h, 0x0000002a)
	}
	if flags&greS != 0 {
		h = be.AppendUint32(h, 7)
	}
	return cat(h, payload)
}

func erspan2(payload []byte) []byte {
	return cat([]byte{0x10, 0x64, 0x00, 0x05, 0x00, 0x00, 0x00, 0x03}, payload)
}

// erspan3 has frame type ft (0 Ethernet, 2 IP) and, with sub, the optional
// platform-specific subheader.
func erspan3(ft byte, sub bool, payload []byte) []byte {
	h := []byte{0x20, 0x64, 0x00, 0x05, 0, 0, 0, 1, 0, 0, ft << 2, 0}
	if sub {
		h[11] |= 1
		h = append(h, 0x0c, 0, 0, 0x10, 0, 0, 0, 0)
	}
	return cat(h, payload)
}

func vxlan(vni uint32, payload []byte) []byte {
	return cat([]byte{0x08, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}, payload)
}

// tzsp is a TZSP header (version 1, type received) for encapsulation
// encap, with the given tagged fields before the END tag.
func tzsp(encap uint16, tags []byte, payload []byte) []byte {
	h := be.AppendUint16([]byte{1, 0}, encap)
	return cat(h, tags, []byte{1}, payload)
}

func geneve(proto uint16, optWords int, payload []byte) []byte {
	h := []byte{byte(optWords), 0, byte(proto >> 8), byte(proto), 0, 0, 0x2a, 0}
	for range optWords {
		h = append(h, 0, 0, 0, 0)
	}
	if optWords > 0 {
		// One option of class 0x0103, type 0x80, filling the space.
		h[8], h[9], h[10], h[11] = 0x01, 0x03, 0x80, byte(optWords-1)
	}
	return cat(h, payload)
}

func pppoe(pppProto uint16, payload []byte) []byte {
	h := []byte{0x11, 0x00, 0x00, 0x01}
	h = be.AppendUint16(h, uint16(2+len(payload)))
	h = be.AppendUint16(h, pppProto)
	return cat(h, payload)
}

// sll is a Linux cooked v1 header for an outgoing packet on Ethernet.
func sll(proto uint16, payload []byte) []byte {
	h := []byte{0, 4, 0, 1, 0, 6, 0x02, 0x11, 0x22, 0x33, 0x44, 0x66, 0, 0}
	return cat(be.AppendUint16(h, proto), payload)
}

func sll2(proto uint16, payload []byte) []byte {
	h := be.AppendUint16(nil, proto)
	h = append(h, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 0x02, 0x11, 0x22, 0x33, 0x44, 0x66, 0, 0)
	return cat(h, payload)
}

// null is a BSD loopback header with the family in the given byte order.
func null(family uint32, order binary.AppendByteOrder, payload []byte) []byte {
	return cat(order.AppendUint32(nil, family), payload)
}

// rtpPacket is a G.711 RTP packet with a 160-byte payload.
func rtpPacket(seq uint16) []byte {
	h := []byte{0x80, 0x08, 0, 0, 0, 0, 0x03, 0x20, 0xde, 0xad, 0xbe, 0xef}
	be.PutUint16(h[2:], seq)
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = 0xd5
	}
	return cat(h, payload)
}
