package bpf

import (
	"encoding/binary"
	"net/netip"
)

// Frame builders for the filter tests. Checksums are left zero: neither
// filter looks at them.

var (
	macA = []byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = []byte{0x02, 0, 0, 0, 0, 0x0b}
	v4A  = netip.MustParseAddr("10.99.0.1")
	v4B  = netip.MustParseAddr("10.99.0.2")
	v6A  = netip.MustParseAddr("fd00:99::1")
	v6B  = netip.MustParseAddr("fd00:99::2")
)

const (
	etherIPv4 = 0x0800
	etherIPv6 = 0x86dd
	etherARP  = 0x0806
	ether1Q   = 0x8100
	ether1AD  = 0x88a8

	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoSCTP   = 132
	protoICMPv6 = 58
	protoIPIP   = 4
	protoIPv6   = 41
	protoGRE    = 47
)

// ether prepends an Ethernet header with the given VLAN tags (outermost
// first, each as TPID<<16 | TCI) to an L3 packet of the given EtherType.
func ether(etherType uint16, l3 []byte, tags ...uint32) []byte {
	b := append([]byte{}, macA...)
	b = append(b, macB...)
	for _, t := range tags {
		b = binary.BigEndian.AppendUint32(b, t)
	}
	b = binary.BigEndian.AppendUint16(b, etherType)
	return append(b, l3...)
}

// ipv4 builds an IPv4 header (with optional options, a multiple of 4
// bytes) around payload; fragWord is the flags+fragment offset field.
func ipv4(proto byte, fragWord uint16, options []byte, payload []byte) []byte {
	ihl := 20 + len(options)
	b := make([]byte, ihl, ihl+len(payload))
	b[0] = 0x40 | byte(ihl/4)
	binary.BigEndian.PutUint16(b[2:], uint16(ihl+len(payload)))
	binary.BigEndian.PutUint16(b[4:], 0x1234)
	binary.BigEndian.PutUint16(b[6:], fragWord)
	b[8] = 64
	b[9] = proto
	copy(b[12:], v4B.AsSlice())
	copy(b[16:], v4A.AsSlice())
	copy(b[20:], options)
	return append(b, payload...)
}

// ipv6 builds an IPv6 header; next is the first next-header value and
// payload holds any extension headers followed by the transport.
func ipv6(next byte, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6] = next
	b[7] = 64
	copy(b[8:], v6B.AsSlice())
	copy(b[24:], v6A.AsSlice())
	return append(b, payload...)
}

// ipv6Ext builds an 8-byte extension header (hop-by-hop, destination
// options or routing) with padding options.
func ipv6Ext(next byte, rest []byte) []byte {
	return append([]byte{next, 0, 1, 4, 0, 0, 0, 0}, rest...)
}

// ipv6Frag builds a fragment extension header.
func ipv6Frag(next byte, offset uint16, more bool, rest []byte) []byte {
	b := []byte{next, 0, 0, 0, 0, 0, 0x56, 0x78}
	w := offset << 3
	if more {
		w |= 1
	}
	binary.BigEndian.PutUint16(b[2:], w)
	return append(b, rest...)
}

func udp(sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

// TCP flag bits.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)

func tcp(sport, dport uint16, flags byte, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], 1000)
	binary.BigEndian.PutUint32(b[8:], 2000)
	b[12] = 5 << 4
	b[13] = flags
	binary.BigEndian.PutUint16(b[14:], 65535)
	return append(b, payload...)
}

// sipUDP builds an Ethernet/IPv4/UDP frame around msg.
func sipUDP(sport, dport uint16, msg []byte) []byte {
	return ether(etherIPv4, ipv4(protoUDP, 0, nil, udp(sport, dport, msg)))
}

// sctp builds an SCTP common header followed by chunks.
func sctp(sport, dport uint16, chunks ...[]byte) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], 0xcafe)
	for _, c := range chunks {
		b = append(b, c...)
	}
	return b
}

// sctpChunk builds a chunk of the given type around value, padded to 4.
func sctpChunk(typ byte, value []byte) []byte {
	b := []byte{typ, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(4+len(value)))
	b = append(b, value...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// sctpData builds a DATA chunk (PPID 0) carrying user data.
func sctpData(user []byte) []byte {
	v := make([]byte, 12, 12+len(user))
	binary.BigEndian.PutUint32(v[0:], 1) // TSN
	v[9] = 0                             // stream sequence
	b := sctpChunk(0, append(v, user...))
	b[1] = 0x03 // B and E: an unfragmented message
	return b
}

// rtp builds an RTP packet of version 2 with the payload type and marker.
func rtp(pt byte, marker bool, payloadLen int) []byte {
	b := make([]byte, 12+payloadLen)
	b[0] = 0x80
	b[1] = pt
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], 4711)
	binary.BigEndian.PutUint32(b[4:], 160*99)
	binary.BigEndian.PutUint32(b[8:], 0xdeadbeef)
	for i := 12; i < len(b); i++ {
		b[i] = 0xd5 // PCMA silence
	}
	return b
}

// rtcpSR builds an RTCP sender report without report blocks.
func rtcpSR() []byte {
	b := make([]byte, 28)
	b[0] = 0x80
	b[1] = 200
	binary.BigEndian.PutUint16(b[2:], 6) // 7 words
	binary.BigEndian.PutUint32(b[4:], 0xdeadbeef)
	return b
}

// dnsQuery builds a query for example.org with the given ID.
func dnsQuery(id uint16) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b[0:], id)
	b[2] = 0x01 // recursion desired
	b[5] = 1    // one question
	b = append(b, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0, 0, 1, 0, 1)
	return b
}

// hep3 builds a minimal HEPv3 packet with an IP-protocol-family chunk.
func hep3() []byte {
	b := []byte("HEP3\x00\x00")
	chunk := []byte{0, 0, 0, 1, 0, 7, 2} // vendor 0, type 1 (family), length 7, AF_INET
	b = append(b, chunk...)
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)))
	return b
}

// hep2 builds a HEPv2 header for an IPv4/UDP capture followed by SIP.
func hep2() []byte {
	b := []byte{2, 16, 2, protoUDP, 0x13, 0xc4, 0x13, 0xc4}
	b = append(b, v4A.AsSlice()...)
	b = append(b, v4B.AsSlice()...)
	b = append(b, make([]byte, 12)...) // time header
	return append(b, sipInvite...)
}

var (
	sipInvite = []byte("INVITE sip:bob@10.99.0.1:5999 SIP/2.0\r\nVia: SIP/2.0/UDP 10.99.0.2:5999;branch=z9hG4bK776asdhds\r\nMax-Forwards: 70\r\nTo: <sip:bob@10.99.0.1>\r\nFrom: <sip:alice@10.99.0.2>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n")
	sipOK     = []byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 10.99.0.2:5060;branch=z9hG4bK776asdhds\r\nTo: <sip:bob@10.99.0.1>;tag=a6c85cf\r\nFrom: <sip:alice@10.99.0.2>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n")
	httpGet   = []byte("GET / HTTP/1.1\r\nHost: 10.99.0.1:5060\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n")
)
