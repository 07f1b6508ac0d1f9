package decode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"unsafe"

	"github.com/sipscope/sipscope/frame"
)

const (
	hostA   = "192.0.2.1"
	hostB   = "198.51.100.2"
	outerA  = "203.0.113.1"
	outerB  = "203.0.113.2"
	hostA6  = "2001:db8::1"
	hostB6  = "2001:db8::2"
	outerA6 = "2001:db8:ff::1"
	outerB6 = "2001:db8:ff::2"
)

var sipMsg = []byte("OPTIONS sip:bob@example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n")

// Inner packets that the tunnels and link layers below wrap.
var (
	udp4 = ip4(protoUDP, hostA, hostB, udp(5060, 5062, sipMsg))
	udp6 = ip6(protoUDP, hostA6, hostB6, udp(5060, 5062, sipMsg))
)

func udpWant(src, dst string) Packet {
	return Packet{
		Transport: TransportUDP,
		Src:       netip.AddrPortFrom(netip.MustParseAddr(src), 5060),
		Dst:       netip.AddrPortFrom(netip.MustParseAddr(dst), 5062),
		Payload:   sipMsg,
	}
}

func tunnelled(p Packet, n uint8) Packet { p.Tunnels = n; return p }

var (
	want4 = udpWant(hostA, hostB)
	want6 = udpWant(hostA6, hostB6)
)

// rh6 is an IPv6 routing header of type 0 with no segments left.
func rh6(next uint8, payload []byte) []byte {
	return cat([]byte{next, 0, 0, 0, 0, 0, 0, 0}, payload)
}

// ah is an IPv6/IPv4 Authentication Header with a 12-byte ICV.
func ah(next uint8, payload []byte) []byte {
	h := []byte{next, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}
	return cat(h, make([]byte, 12), payload)
}

// nest wraps udp4 in n IPv4-in-IPv4 tunnels.
func nest(n int) []byte {
	b := udp4
	for range n {
		b = ip4(protoIPIP, outerA, outerB, b)
	}
	return b
}

func tags(n int, inner uint16, payload []byte) []byte {
	b := tag(uint16(n), inner, payload)
	for i := n - 1; i > 0; i-- {
		b = tag(uint16(i), etherTypeVLAN, b)
	}
	return eth(etherTypeVLAN, b)
}

type decodeCase struct {
	name  string
	link  frame.LinkType
	frame []byte
	want  Packet // when err is nil; TS is not compared
	err   error
}

// decodeCases are frames that decode; crafted.pcapng holds them for tshark.
func decodeCases() []decodeCase {
	eth4 := eth(etherTypeIPv4, udp4)
	tcpOpts := []byte{2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7} // MSS, NOP, NOP, SACK-ok, NOP, WS
	return []decodeCase{
		{"Ethernet carries IPv4 and UDP", frame.LinkEthernet, eth4, want4, nil},
		{"Ethernet padding and FCS after the IPv4 total length are cut off", frame.LinkEthernet,
			cat(eth4, make([]byte, 18), []byte{0xde, 0xad, 0xbe, 0xef}), want4, nil},
		{"IPv4 options are skipped", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4x(protoUDP, hostA, hostB, []byte{1, 1, 1, 0}, 0, udp(5060, 5062, sipMsg))), want4, nil},
		{"IPv4 with only the don't-fragment flag is not a fragment", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4x(protoUDP, hostA, hostB, nil, 0x4000, udp(5060, 5062, sipMsg))), want4, nil},
		{"an 802.1Q tag is peeled", frame.LinkEthernet, eth(etherTypeVLAN, tag(100, etherTypeIPv4, udp4)), want4, nil},
		{"802.1ad QinQ tags are peeled", frame.LinkEthernet,
			eth(etherTypeQinQ, tag(10, etherTypeVLAN, tag(20, etherTypeIPv4, udp4))), want4, nil},
		{"pre-standard 0x9100 QinQ tags are peeled down to IPv6", frame.LinkEthernet,
			eth(etherTypeQinQOld, tag(10, etherTypeVLAN, tag(20, etherTypeIPv6, udp6))), want6, nil},
		{"eight VLAN tags are still accepted", frame.LinkEthernet, tags(8, etherTypeIPv4, udp4), want4, nil},
		{"an MPLS stack of three labels carries IPv4", frame.LinkEthernet, eth(etherTypeMPLS, mplsStack(3, udp4)), want4, nil},
		{"a multicast MPLS label carries IPv6", frame.LinkEthernet, eth(etherTypeMPLSMcst, mplsStack(1, udp6)), want6, nil},
		{"MPLS under a VLAN tag", frame.LinkEthernet, eth(etherTypeVLAN, tag(5, etherTypeMPLS, mplsStack(2, udp4))), want4, nil},
		{"an MPLS Ethernet pseudowire with control word is a tunnel", frame.LinkEthernet,
			eth(etherTypeMPLS, mplsStack(2, cat([]byte{0, 0, 0, 1}, eth(etherTypeIPv4, udp4)))), tunnelled(want4, 1), nil},
		{"PPPoE session carries IPv4", frame.LinkEthernet, eth(etherTypePPPoE, pppoe(0x0021, udp4)), want4, nil},
		{"PPPoE session carries IPv6", frame.LinkEthernet, eth(etherTypePPPoE, pppoe(0x0057, udp6)), want6, nil},
		{"Linux cooked v1 carries IPv4", frame.LinkSLL, sll(etherTypeIPv4, udp4), want4, nil},
		{"Linux cooked v2 carries IPv6", frame.LinkSLL2, sll2(etherTypeIPv6, udp6), want6, nil},
		{"Linux cooked v1 carries a VLAN tag", frame.LinkSLL, sll(etherTypeVLAN, tag(7, etherTypeIPv4, udp4)), want4, nil},
		{"raw IP holds IPv4", frame.LinkRaw, udp4, want4, nil},
		{"raw IP holds IPv6", frame.LinkRaw, udp6, want6, nil},
		{"raw IPv4 link type", frame.LinkIPv4, udp4, want4, nil},
		{"raw IPv6 link type", frame.LinkIPv6, udp6, want6, nil},
		{"BSD null with AF_INET in little-endian", frame.LinkNull, null(2, binary.LittleEndian, udp4), want4, nil},
		{"BSD null with AF_INET in big-endian", frame.LinkNull, null(2, binary.BigEndian, udp4), want4, nil},
		{"BSD null with Darwin AF_INET6", frame.LinkNull, null(30, binary.LittleEndian, udp6), want6, nil},
		{"OpenBSD loop with AF_INET6 in network order", frame.LinkLoop, null(24, binary.BigEndian, udp6), want6, nil},
		{"OpenBSD loop with FreeBSD AF_INET6", frame.LinkLoop, null(28, binary.BigEndian, udp6), want6, nil},
		{"IPv6 hop-by-hop, routing and destination options are walked", frame.LinkEthernet,
			eth(etherTypeIPv6, ip6(protoHopByHop, hostA6, hostB6,
				ext6(protoRouting, 0, rh6(protoDestOpts, ext6(protoUDP, 1, udp(5060, 5062, sipMsg)))))), want6, nil},
		{"an IPv6 atomic fragment header is skipped", frame.LinkEthernet,
			eth(etherTypeIPv6, ip6(protoFragment, hostA6, hostB6, frag6(protoUDP, 0, false, udp(5060, 5062, sipMsg)))), want6, nil},
		{"an IPv6 authentication header is skipped", frame.LinkEthernet,
			eth(etherTypeIPv6, ip6(protoAH, hostA6, hostB6, ah(protoUDP, udp(5060, 5062, sipMsg)))), want6, nil},
		{"IPv4 in IPv4 gives the inner addresses", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoIPIP, outerA, outerB, udp4)), tunnelled(want4, 1), nil},
		{"IPv6 in IPv4", frame.LinkEthernet, eth(etherTypeIPv4, ip4(protoIPv6, outerA, outerB, udp6)), tunnelled(want6, 1), nil},
		{"IPv4 in IPv6", frame.LinkEthernet, eth(etherTypeIPv6, ip6(protoIPIP, outerA6, outerB6, udp4)), tunnelled(want4, 1), nil},
		{"IPv6 in IPv6", frame.LinkEthernet, eth(etherTypeIPv6, ip6(protoIPv6, outerA6, outerB6, udp6)), tunnelled(want6, 1), nil},
		{"four nested tunnels are still accepted", frame.LinkEthernet, eth(etherTypeIPv4, nest(4)), tunnelled(want4, 4), nil},
		{"GRE carries IPv4", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoGRE, outerA, outerB, gre(0, etherTypeIPv4, udp4))), tunnelled(want4, 1), nil},
		{"GRE with checksum, key and sequence carries IPv6", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoGRE, outerA, outerB, gre(greC|greK|greS, etherTypeIPv6, udp6))), tunnelled(want6, 1), nil},
		{"GRE over IPv6 carries transparent Ethernet", frame.LinkEthernet,
			eth(etherTypeIPv6, ip6(protoGRE, outerA6, outerB6, gre(greK, etherTypeTEB, eth(etherTypeIPv4, udp4)))), tunnelled(want4, 1), nil},
		{"GRE carries MPLS", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoGRE, outerA, outerB, gre(0, etherTypeMPLS, mplsStack(1, udp4)))), tunnelled(want4, 1), nil},
		{"ERSPAN type I has no header of its own", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoGRE, outerA, outerB, gre(0, etherTypeERSPAN2, eth(etherTypeIPv4, udp4)))), tunnelled(want4, 1), nil},
		{"ERSPAN type II carries a tagged frame", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoGRE, outerA, outerB, gre(greS, etherTypeERSPAN2,
				erspan2(eth(etherTypeVLAN, tag(100, etherTypeIPv4, udp4)))))), tunnelled(want4, 1), nil},
		{"ERSPAN type III with platform subheader", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoGRE, outerA, outerB, gre(greS, etherTypeERSPAN3,
				erspan3(0, true, eth(etherTypeIPv6, udp6))))), tunnelled(want6, 1), nil},
		{"ERSPAN type III without subheader", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoGRE, outerA, outerB, gre(greS, etherTypeERSPAN3,
				erspan3(0, false, eth(etherTypeIPv4, udp4))))), tunnelled(want4, 1), nil},
		{"VXLAN carries Ethernet", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoUDP, outerA, outerB, udp(49152, portVXLAN, vxlan(100, eth(etherTypeIPv4, udp4))))), tunnelled(want4, 1), nil},
		{"Geneve with options carries Ethernet", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoUDP, outerA, outerB, udp(49152, portGeneve, geneve(etherTypeTEB, 2, eth(etherTypeIPv6, udp6))))), tunnelled(want6, 1), nil},
		{"Geneve carries IPv4 directly", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoUDP, outerA, outerB, udp(49152, portGeneve, geneve(etherTypeIPv4, 0, udp4)))), tunnelled(want4, 1), nil},
		{"GRE inside VXLAN counts two tunnels", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoUDP, outerA, outerB, udp(49152, portVXLAN, vxlan(7,
				eth(etherTypeIPv4, ip4(protoGRE, outerA, outerB, gre(0, etherTypeIPv4, udp4))))))), tunnelled(want4, 2), nil},
		{"TZSP carries Ethernet after padding and a tag", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoUDP, outerA, outerB, udp(49152, portTZSP, tzsp(1, []byte{0, 40, 4, 0, 0, 0, 9}, eth(etherTypeIPv4, udp4))))), tunnelled(want4, 1), nil},
		{"a datagram to the TZSP port whose tags run off the end stays UDP", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoUDP, hostA, hostB, udp(5060, portTZSP, []byte{1, 0, 0, 1, 40, 9, 0}))),
			Packet{Transport: TransportUDP, Src: netip.MustParseAddrPort(hostA + ":5060"), Dst: netip.MustParseAddrPort(hostB + ":37008"), Payload: []byte{1, 0, 0, 1, 40, 9, 0}}, nil},
		{"a datagram to the VXLAN port without the I flag stays UDP", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoUDP, hostA, hostB, udp(5060, portVXLAN, []byte("0123456789")))),
			Packet{Transport: TransportUDP, Src: netip.MustParseAddrPort(hostA + ":5060"), Dst: netip.MustParseAddrPort(hostB + ":4789"), Payload: []byte("0123456789")}, nil},
		{"TCP with options carries a payload", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoTCP, hostA, hostB, tcp(40000, 5060, 0x01020304, 0x18, tcpOpts, sipMsg))),
			Packet{Transport: TransportTCP, Src: netip.MustParseAddrPort(hostA + ":40000"), Dst: netip.MustParseAddrPort(hostB + ":5060"),
				TCPSeq: 0x01020304, TCPFlags: 0x18, Payload: sipMsg}, nil},
		{"a TCP SYN over IPv6 has an empty payload", frame.LinkEthernet,
			eth(etherTypeIPv6, ip6(protoTCP, hostA6, hostB6, tcp(40000, 5061, 0xfffffff0, 0x02, tcpOpts, nil))),
			Packet{Transport: TransportTCP, Src: netip.MustParseAddrPort("[" + hostA6 + "]:40000"), Dst: netip.MustParseAddrPort("[" + hostB6 + "]:5061"),
				TCPSeq: 0xfffffff0, TCPFlags: 0x02, Payload: []byte{}}, nil},
		{"an RTP packet over UDP", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoUDP, hostA, hostB, udp(16384, 16386, rtpPacket(7)))),
			Packet{Transport: TransportUDP, Src: netip.MustParseAddrPort(hostA + ":16384"), Dst: netip.MustParseAddrPort(hostB + ":16386"), Payload: rtpPacket(7)}, nil},
	}
}

// oracleErrorCases are frames that Decode rejects and that crafted.pcapng
// also holds: tshark must not find UDP or TCP in them either.
func oracleErrorCases() []decodeCase {
	return []decodeCase{
		{"BSD null with Linux's AF_INET6 value, which no BSD uses, is not IP", frame.LinkNull, null(10, binary.LittleEndian, udp6), Packet{}, ErrNotIP},
		{"ARP is not IP", frame.LinkEthernet, eth(0x0806, make([]byte, 28)), Packet{}, ErrNotIP},
		{"an 802.3 LLC frame (spanning tree) is not IP", frame.LinkEthernet,
			eth(0x0026, cat([]byte{0x42, 0x42, 0x03}, make([]byte, 35))), Packet{}, ErrNotIP},
		{"ICMP is an unsupported transport", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(1, hostA, hostB, []byte{8, 0, 0xf7, 0xff, 0, 0, 0, 0})), Packet{}, ErrUnsupportedTransport},
		{"SCTP is an unsupported transport for now", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(132, hostA, hostB, make([]byte, 12))), Packet{}, ErrUnsupportedTransport},
		{"IPv6 with no next header", frame.LinkEthernet, eth(etherTypeIPv6, ip6(59, hostA6, hostB6, nil)), Packet{}, ErrUnsupportedTransport},
		{"a first IPv4 fragment", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4x(protoUDP, hostA, hostB, nil, 0x2000, udp(5060, 5062, sipMsg))), Packet{}, ErrFragment},
		{"a later IPv4 fragment", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4x(protoUDP, hostA, hostB, nil, 200, []byte("tail of a datagram"))), Packet{}, ErrFragment},
		{"a first IPv6 fragment", frame.LinkEthernet,
			eth(etherTypeIPv6, ip6(protoFragment, hostA6, hostB6, frag6(protoUDP, 0, true, udp(5060, 5062, sipMsg)))), Packet{}, ErrFragment},
		{"a last IPv6 fragment", frame.LinkEthernet,
			eth(etherTypeIPv6, ip6(protoFragment, hostA6, hostB6, frag6(protoUDP, 185, false, []byte("tail of a datagram")))), Packet{}, ErrFragment},
	}
}

// errorCases are all the frames that Decode rejects, each with the sentinel
// it must return. Those past oracleErrorCases are not in crafted.pcapng:
// tshark decodes as much of them as it can, or follows what we refuse to.
func errorCases() []decodeCase {
	eth4 := eth(etherTypeIPv4, udp4)
	snap := func(b []byte, n int) []byte { return b[:len(b)-n] }
	with := func(b []byte, at int, v byte) []byte { b = slices.Clone(b); b[at] = v; return b }
	return append(oracleErrorCases(), []decodeCase{
		{"GRE version 1 (PPTP) is not followed", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoGRE, outerA, outerB, gre(greK|1, 0x880b, cat([]byte{0, 0, 0, 0}, []byte{0xff, 0x03, 0, 0x21}, udp4)))), Packet{}, ErrUnsupportedTunnel},
		{"five nested tunnels are too deep", frame.LinkEthernet, eth(etherTypeIPv4, nest(5)), Packet{}, ErrTunnelTooDeep},
		{"nine VLAN tags are too many", frame.LinkEthernet, tags(9, etherTypeIPv4, udp4), Packet{}, ErrTooManyTags},
		{"seventeen MPLS labels are too many", frame.LinkEthernet, eth(etherTypeMPLS, mplsStack(17, udp4)), Packet{}, ErrTooManyTags},
		{"an MPLS payload that is neither IP nor a pseudowire", frame.LinkEthernet, eth(etherTypeMPLS, mplsStack(1, []byte{0x90, 1, 2, 3})), Packet{}, ErrNotIP},
		{"PPP control traffic in PPPoE", frame.LinkEthernet, eth(etherTypePPPoE, pppoe(0xc021, make([]byte, 8))), Packet{}, ErrNotIP},
		{"a null header with an unknown family", frame.LinkNull, null(7, binary.LittleEndian, udp4), Packet{}, ErrNotIP},
		{"GRE with the routing bit", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoGRE, outerA, outerB, gre(0x4000, etherTypeIPv4, udp4))), Packet{}, ErrUnsupportedTunnel},
		{"ERSPAN II with a wrong version", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoGRE, outerA, outerB, gre(greS, etherTypeERSPAN2, with(erspan2(eth4), 0, 0x30)))), Packet{}, ErrUnsupportedTunnel},
		{"ERSPAN III with an unknown frame type", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoGRE, outerA, outerB, gre(greS, etherTypeERSPAN3, erspan3(5, false, eth4)))), Packet{}, ErrUnsupportedTunnel},
		{"TZSP of an 802.11 frame is an unsupported tunnel", frame.LinkEthernet,
			eth(etherTypeIPv4, ip4(protoUDP, outerA, outerB, udp(49152, portTZSP, tzsp(18, nil, []byte("0123456789"))))), Packet{}, ErrUnsupportedTunnel},
		{"an 802.11 link type", frame.LinkType(105), eth4, Packet{}, ErrUnsupportedLink},

		{"an Ethernet header cut short", frame.LinkEthernet, eth4[:13], Packet{}, ErrTruncated},
		{"a VLAN tag cut short", frame.LinkEthernet, eth(etherTypeVLAN, []byte{0, 1, 8}), Packet{}, ErrTruncated},
		{"an MPLS stack without bottom", frame.LinkEthernet, eth(etherTypeMPLS, []byte{0, 1, 0, 64, 0, 2}), Packet{}, ErrTruncated},
		{"an MPLS stack with nothing after it", frame.LinkEthernet, eth(etherTypeMPLS, mplsStack(2, nil)), Packet{}, ErrTruncated},
		{"a PPPoE length past the frame", frame.LinkEthernet, eth(etherTypePPPoE, snap(pppoe(0x0021, udp4), 1)), Packet{}, ErrTruncated},
		{"a Linux cooked v1 header cut short", frame.LinkSLL, sll(etherTypeIPv4, nil)[:15], Packet{}, ErrTruncated},
		{"a Linux cooked v2 header cut short", frame.LinkSLL2, sll2(etherTypeIPv4, nil)[:19], Packet{}, ErrTruncated},
		{"a null header cut short", frame.LinkNull, []byte{2, 0, 0}, Packet{}, ErrTruncated},
		{"an empty raw IP frame", frame.LinkRaw, nil, Packet{}, ErrTruncated},
		{"an IPv4 header cut short", frame.LinkEthernet, eth4[:14+19], Packet{}, ErrTruncated},
		{"IPv4 options cut short", frame.LinkIPv4, with(udp4[:20], 0, 0x46), Packet{}, ErrTruncated},
		{"an IPv4 packet longer than the snap length", frame.LinkEthernet, snap(eth4, 1), Packet{}, ErrTruncated},
		{"an IPv6 header cut short", frame.LinkIPv6, udp6[:39], Packet{}, ErrTruncated},
		{"an IPv6 packet longer than the snap length", frame.LinkIPv6, snap(udp6, 1), Packet{}, ErrTruncated},
		{"an IPv6 extension header cut short", frame.LinkIPv6, ip6(protoHopByHop, hostA6, hostB6, []byte{17, 1, 0, 0, 0, 0, 0, 0}), Packet{}, ErrTruncated},
		{"an IPv6 fragment header cut short", frame.LinkIPv6, ip6(protoFragment, hostA6, hostB6, []byte{17, 0, 0}), Packet{}, ErrTruncated},
		{"a UDP header cut short", frame.LinkIPv4, ip4(protoUDP, hostA, hostB, []byte{1, 2, 3, 4, 5, 6, 7}), Packet{}, ErrTruncated},
		{"a TCP header cut short", frame.LinkIPv4, ip4(protoTCP, hostA, hostB, make([]byte, 19)), Packet{}, ErrTruncated},
		{"TCP options cut short", frame.LinkIPv4, ip4(protoTCP, hostA, hostB, with(tcp(1, 2, 3, 0x10, nil, nil), 12, 0xf0)), Packet{}, ErrTruncated},
		{"a GRE header cut short", frame.LinkIPv4, ip4(protoGRE, outerA, outerB, gre(greK, etherTypeIPv4, nil)[:6]), Packet{}, ErrTruncated},
		{"an ERSPAN II header cut short", frame.LinkIPv4, ip4(protoGRE, outerA, outerB, gre(greS, etherTypeERSPAN2, []byte{0x10, 0})), Packet{}, ErrTruncated},
		{"an ERSPAN III subheader cut short", frame.LinkIPv4, ip4(protoGRE, outerA, outerB, gre(greS, etherTypeERSPAN3, erspan3(0, true, nil)[:16])), Packet{}, ErrTruncated},

		{"IPv6 under the IPv4 EtherType", frame.LinkEthernet, eth(etherTypeIPv4, udp6), Packet{}, ErrMalformedIP},
		{"IPv4 under the IPv6 EtherType", frame.LinkEthernet, eth(etherTypeIPv6, cat(udp4, make([]byte, 40))), Packet{}, ErrMalformedIP},
		{"an IPv4 header length below 20", frame.LinkIPv4, with(udp4, 0, 0x44), Packet{}, ErrMalformedIP},
		{"an IPv4 total length below the header length", frame.LinkIPv4, with(with(udp4, 2, 0), 3, 19), Packet{}, ErrMalformedIP},
		{"raw IP of version 5", frame.LinkRaw, with(udp4, 0, 0x55), Packet{}, ErrMalformedIP},
		{"a UDP length below 8", frame.LinkIPv4, ip4(protoUDP, hostA, hostB, with(udp(1, 2, sipMsg), 5, 4)), Packet{}, ErrMalformedTransport},
		{"a UDP length past the IP payload", frame.LinkIPv4, ip4(protoUDP, hostA, hostB, with(udp(1, 2, sipMsg), 5, byte(8+len(sipMsg)+1))), Packet{}, ErrMalformedTransport},
		{"a TCP data offset below 5", frame.LinkIPv4, ip4(protoTCP, hostA, hostB, with(tcp(1, 2, 3, 0x10, nil, sipMsg), 12, 0x40)), Packet{}, ErrMalformedTransport},
	}...)
}

// within reports whether sub lies inside data's backing bytes.
func within(data, sub []byte) bool {
	if len(sub) == 0 {
		return true
	}
	if len(data) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	s := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return s >= start && s+uintptr(len(sub)) <= start+uintptr(len(data))
}

func TestDecodeFillsThePacketForEveryEncapsulation(t *testing.T) {
	d := NewDecoder()
	for _, c := range decodeCases() {
		t.Run(c.name, func(t *testing.T) {
			p := Packet{Payload: []byte("stale"), Tunnels: 9, TCPSeq: 9}
			if err := d.Decode(c.link, c.frame, 1234567890, &p); err != nil {
				t.Fatalf("Decode: %v (%s)", err, Reason(err))
			}
			if p.TS != 1234567890 {
				t.Errorf("TS = %d", p.TS)
			}
			if got, want := describe(p), describe(c.want); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if !within(c.frame, p.Payload) {
				t.Errorf("payload does not point into the frame")
			}
		})
	}
}

func describe(p Packet) string {
	return fmt.Sprintf("%v %v -> %v seq=%d flags=%#x tunnels=%d payload=%q",
		p.Transport, p.Src, p.Dst, p.TCPSeq, p.TCPFlags, p.Tunnels, p.Payload)
}

func TestDecodeRejectsWhatItCannotUseWithASentinel(t *testing.T) {
	d := NewDecoder()
	for _, c := range errorCases() {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			err := d.Decode(c.link, c.frame, 0, &p)
			if err != c.err {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if r := Reason(err); !slices.Contains(Reasons(), r) || r == "other" {
				t.Errorf("Reason = %q", r)
			}
		})
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	d := NewDecoder()
	var p Packet
	for _, c := range append(decodeCases(), errorCases()...) {
		allocs := testing.AllocsPerRun(100, func() {
			d.Decode(c.link, c.frame, 1, &p)
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per Decode", c.name, allocs)
		}
	}
	// The two shapes the brief names, explicitly.
	rtp := eth(etherTypeIPv4, ip4(protoUDP, hostA, hostB, udp(16384, 16386, rtpPacket(1))))
	vlan := eth(etherTypeVLAN, tag(100, etherTypeIPv4, udp4))
	for name, data := range map[string][]byte{"Ethernet/IPv4/UDP/RTP": rtp, "Ethernet/802.1Q/IPv4/UDP": vlan} {
		allocs := testing.AllocsPerRun(1000, func() {
			if err := d.Decode(frame.LinkEthernet, data, 1, &p); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per Decode", name, allocs)
		}
	}
}

func TestReasonNamesEverySentinelEvenWhenWrapped(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{ErrTruncated, "truncated"},
		{ErrUnsupportedLink, "unsupported_link"},
		{ErrNotIP, "not_ip"},
		{ErrMalformedIP, "malformed_ip"},
		{ErrFragment, "fragment"},
		{ErrFragmentHeld, "fragment_held"},
		{ErrUnsupportedTransport, "unsupported_transport"},
		{ErrMalformedTransport, "malformed_transport"},
		{ErrTunnelTooDeep, "tunnel_too_deep"},
		{ErrUnsupportedTunnel, "unsupported_tunnel"},
		{ErrTooManyTags, "too_many_tags"},
		{ErrMalformedHEP, "malformed_hep"},
		{ErrUnsupportedHEP, "unsupported_hep"},
		{fmt.Errorf("frame 7: %w", ErrFragment), "fragment"},
		{errors.New("something else"), "other"},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if got := Reason(c.err); got != c.want {
			t.Errorf("Reason(%v) = %q, want %q", c.err, got, c.want)
		}
		seen[c.want] = true
	}
	for _, r := range Reasons() {
		if !seen[r] {
			t.Errorf("Reasons() lists %q, which no sentinel maps to", r)
		}
	}
	if len(Reasons()) != len(seen)-1 { // minus ""
		t.Errorf("Reasons() = %v, want every reason once", Reasons())
	}
}

func BenchmarkDecodeRTP(b *testing.B) {
	data := eth(etherTypeIPv4, ip4(protoUDP, hostA, hostB, udp(16384, 16386, rtpPacket(1))))
	d := NewDecoder()
	var p Packet
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := d.Decode(frame.LinkEthernet, data, 1, &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeVXLAN(b *testing.B) {
	data := eth(etherTypeIPv4, ip4(protoUDP, outerA, outerB, udp(49152, portVXLAN,
		vxlan(1, eth(etherTypeVLAN, tag(100, etherTypeIPv4, ip4(protoUDP, hostA, hostB, udp(16384, 16386, rtpPacket(1)))))))))
	d := NewDecoder()
	var p Packet
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := d.Decode(frame.LinkEthernet, data, 1, &p); err != nil {
			b.Fatal(err)
		}
	}
}
