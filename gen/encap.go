package gen

import (
	"encoding/binary"
	"hash/fnv"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Encapsulation constants. Every value is fixed so captures stay
// deterministic; the addresses are documentation ranges (RFC 5737, 3849).
const (
	vlanC        = 100  // 802.1Q customer VLAN
	vlanS        = 200  // 802.1ad service VLAN
	mplsOuter    = 1000 // transport label
	mplsInner    = 2000 // service label, bottom of stack
	vxlanVNI     = 5001
	geneveVNI    = 5002
	portVXLAN    = 4789
	portGeneve   = 6081
	portTZSP     = 37008
	tzspSensor   = 49152 // the sensor's source port
	erspanID     = 7     // ERSPAN session
	erspanHWID   = 3     // ERSPAN III hardware id of the mirroring switch
	sllIfIndex   = 2     // interface index in SLL2 headers
	arphrdEther  = 1
	sllHost      = 0 // packet type: addressed to the capturing host
	sllOutgoing  = 4 // packet type: sent by the capturing host
	greERSPAN2   = 0x88BE
	greERSPAN3   = 0x22EB
	etherTypeTEB = 0x6558 // Transparent Ethernet Bridging
)

// Tunnel endpoints. The caller side of every point-to-point tunnel sits
// behind tunnelA, everything else behind tunnelB; a mirroring switch sends
// ERSPAN from mirrorSrc to the analyser at mirrorDst.
func tunnelA() netip.Addr   { return netip.AddrFrom4([4]byte{198, 51, 100, 1}) }
func tunnelB() netip.Addr   { return netip.AddrFrom4([4]byte{198, 51, 100, 2}) }
func tunnelA6() netip.Addr  { return netip.MustParseAddr("2001:db8:ffff::1") }
func tunnelB6() netip.Addr  { return netip.MustParseAddr("2001:db8:ffff::2") }
func mirrorSrc() netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, 11}) }
func mirrorDst() netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, 99}) }

// LinkType returns the pcap link type of captures made with encap.
func LinkType(encap string) layers.LinkType {
	switch encap {
	case EncapSLL:
		return layers.LinkTypeLinuxSLL
	case EncapSLL2:
		return layers.LinkTypeLinuxSLL2
	}
	return layers.LinkTypeEthernet
}

// etherTypeOf names an IP packet's version as an EtherType.
func etherTypeOf(ip []byte) layers.EthernetType {
	if len(ip) > 0 && ip[0]>>4 == 6 {
		return layers.EthernetTypeIPv6
	}
	return layers.EthernetTypeIPv4
}

// pcp maps the DSCP class to an 802.1p priority (EF voice 5, CS3 3) as
// switches trusting DSCP do.
func pcp(tos uint8) uint8 { return tos >> 5 }

// link wraps one IP packet of f in the configured encapsulation.
func (s *serializer) link(f *frame, ip []byte) ([]byte, error) {
	src, dst := f.src.Addr(), f.dst.Addr()
	et := etherTypeOf(ip)
	switch s.cfg.Encap {
	case EncapVLAN:
		return s.serialize(ethernet(src, dst, layers.EthernetTypeDot1Q),
			&layers.Dot1Q{Priority: pcp(f.tos), VLANIdentifier: vlanC, Type: et}, gopacket.Payload(ip))
	case EncapQinQ:
		return s.serialize(ethernet(src, dst, layers.EthernetTypeQinQ),
			&layers.Dot1Q{Priority: pcp(f.tos), VLANIdentifier: vlanS, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{Priority: pcp(f.tos), VLANIdentifier: vlanC, Type: et}, gopacket.Payload(ip))
	case EncapMPLS:
		return s.serialize(ethernet(src, dst, layers.EthernetTypeMPLSUnicast),
			&layers.MPLS{Label: mplsOuter, TrafficClass: pcp(f.tos), TTL: 64},
			&layers.MPLS{Label: mplsInner, TrafficClass: pcp(f.tos), StackBottom: true, TTL: 64}, gopacket.Payload(ip))
	case EncapSLL:
		return sll(f, et, ip), nil
	case EncapSLL2:
		return sll2(f, et, ip), nil
	case EncapVXLAN, EncapGeneve:
		inner, err := s.serialize(ethernet(src, dst, et), gopacket.Payload(ip))
		if err != nil {
			return nil, err
		}
		hdr := make([]byte, 8, 8+len(inner))
		port := uint16(portVXLAN)
		if s.cfg.Encap == EncapVXLAN {
			hdr[0] = 0x08 // I: the VNI is valid
			binary.BigEndian.PutUint32(hdr[4:], vxlanVNI<<8)
		} else {
			port = portGeneve
			binary.BigEndian.PutUint16(hdr[2:], etherTypeTEB) // version 0, no options
			binary.BigEndian.PutUint32(hdr[4:], geneveVNI<<8)
		}
		a, b := tunnelEnds(src, false)
		// The source port spreads flows over paths (RFC 7348 §5): a hash
		// of the inner flow in the dynamic range.
		h := fnv.New32a()
		h.Write([]byte(f.src.String() + f.dst.String()))
		sport := uint16(49152 + h.Sum32()%16384)
		return s.outer(netip.AddrPortFrom(a, sport), netip.AddrPortFrom(b, port), layers.IPProtocolUDP, f.tos, append(hdr, inner...))
	case EncapTZSP:
		inner, err := s.serialize(ethernet(src, dst, et), gopacket.Payload(ip))
		if err != nil {
			return nil, err
		}
		// Version 1, type 0 (received), encapsulation 1 (Ethernet), then
		// the END tag: a sensor that adds no tagged fields.
		hdr := []byte{1, 0, 0, 1, 1}
		return s.outer(netip.AddrPortFrom(mirrorSrc(), tzspSensor), netip.AddrPortFrom(mirrorDst(), portTZSP), layers.IPProtocolUDP, 0, append(hdr, inner...))
	case EncapGRE:
		gre := make([]byte, 4, 4+len(ip))
		binary.BigEndian.PutUint16(gre[2:], uint16(et))
		a, b := tunnelEnds(src, false)
		return s.outer(netip.AddrPortFrom(a, 0), netip.AddrPortFrom(b, 0), layers.IPProtocolGRE, f.tos, append(gre, ip...))
	case EncapERSPAN2, EncapERSPAN3:
		return s.erspan(f, et, ip)
	case EncapIPIP, Encap6in4:
		a, b := tunnelEnds(src, false)
		proto := layers.IPProtocolIPv4
		if et == layers.EthernetTypeIPv6 {
			proto = layers.IPProtocolIPv6
		}
		return s.outer(netip.AddrPortFrom(a, 0), netip.AddrPortFrom(b, 0), proto, f.tos, ip)
	case Encap4in6:
		a, b := tunnelEnds(src, true)
		return s.outer(netip.AddrPortFrom(a, 0), netip.AddrPortFrom(b, 0), layers.IPProtocolIPv4, f.tos, ip)
	}
	return s.serialize(ethernet(src, dst, et), gopacket.Payload(ip))
}

// tunnelEnds returns the outer source and destination of a packet from
// host src through the point-to-point tunnel.
func tunnelEnds(src netip.Addr, v6 bool) (netip.Addr, netip.Addr) {
	a, b := tunnelA(), tunnelB()
	if v6 {
		a, b = tunnelA6(), tunnelB6()
	}
	if callerSide(src) {
		return a, b
	}
	return b, a
}

func ethernet(src, dst netip.Addr, et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macOf(src), DstMAC: macOf(dst), EthernetType: et}
}

// outer sends payload from one tunnel endpoint to another over Ethernet
// and IPv4 or IPv6, with a UDP header when proto is UDP. The outer header
// copies the inner DSCP, as tunnels do by default.
func (s *serializer) outer(src, dst netip.AddrPort, proto layers.IPProtocol, tos uint8, payload []byte) ([]byte, error) {
	var ip gopacket.SerializableLayer
	var nl gopacket.NetworkLayer
	et := layers.EthernetTypeIPv4
	if src.Addr().Is4() {
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TOS: tos, Id: s.nextID(src.Addr()), Flags: layers.IPv4DontFragment,
			TTL: 64, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice(), Protocol: proto}
		ip, nl = ip4, ip4
	} else {
		et = layers.EthernetTypeIPv6
		ip6 := &layers.IPv6{Version: 6, TrafficClass: tos, HopLimit: 64, NextHeader: proto,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		ip, nl = ip6, ip6
	}
	eth := ethernet(src.Addr(), dst.Addr(), et)
	if proto != layers.IPProtocolUDP {
		return s.serialize(eth, ip, gopacket.Payload(payload))
	}
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	if err := udp.SetNetworkLayerForChecksum(nl); err != nil {
		return nil, err
	}
	return s.serialize(eth, ip, udp, gopacket.Payload(payload))
}

// erspan mirrors the host's Ethernet frame to the analyser: GRE with a
// sequence number, then the ERSPAN type II (8 bytes) or type III (12 bytes)
// header, then the frame as the switch port saw it.
func (s *serializer) erspan(f *frame, et layers.EthernetType, ip []byte) ([]byte, error) {
	inner, err := s.serialize(ethernet(f.src.Addr(), f.dst.Addr(), et), gopacket.Payload(ip))
	if err != nil {
		return nil, err
	}
	proto, hdrLen := uint16(greERSPAN2), 8
	if s.cfg.Encap == EncapERSPAN3 {
		proto, hdrLen = greERSPAN3, 12
	}
	b := make([]byte, 8+hdrLen, 8+hdrLen+len(inner))
	binary.BigEndian.PutUint16(b, 0x1000) // S: sequence number present
	binary.BigEndian.PutUint16(b[2:], proto)
	binary.BigEndian.PutUint32(b[4:], s.greSeq)
	s.greSeq++
	h := b[8:]
	cos := uint16(pcp(f.tos))
	if s.cfg.Encap == EncapERSPAN2 {
		// Ver 1, VLAN 0 | COS, En 0 (untagged), T 0, session id | reserved, index 0.
		binary.BigEndian.PutUint16(h, 1<<12)
		binary.BigEndian.PutUint16(h[2:], cos<<13|erspanID)
	} else {
		// Ver 2, VLAN 0 | COS, BSO 0, T 0, session id | timestamp in 100 µs
		// units (granularity 00) | SGT 0 | P 1 (an Ethernet PDU), FT 0
		// (Ethernet), HW id, D 0 (ingress), Gra 00, O 0 (no platform
		// subheader).
		binary.BigEndian.PutUint16(h, 2<<12)
		binary.BigEndian.PutUint16(h[2:], cos<<13|erspanID)
		binary.BigEndian.PutUint32(h[4:], uint32(f.ts.UnixMicro()/100))
		h[10] = 0x80 | erspanHWID>>4
		h[11] = (erspanHWID & 0x0f) << 4
	}
	return s.outer(netip.AddrPortFrom(mirrorSrc(), 0), netip.AddrPortFrom(mirrorDst(), 0), layers.IPProtocolGRE, 0, append(b, inner...))
}

// sllAddr is the 8-byte address field of the cooked headers: the sender's
// MAC, zero-padded.
func sllAddr(dst []byte, a net.HardwareAddr) { copy(dst[:8], a) }

// sllPacketType says whether the capturing host received or sent the
// packet; the capture is taken on the callers' side.
func sllPacketType(f *frame) uint8 {
	if callerSide(f.src.Addr()) {
		return sllOutgoing
	}
	return sllHost
}

// sll builds a Linux cooked v1 frame: packet type, ARPHRD, address length,
// address, protocol.
func sll(f *frame, et layers.EthernetType, ip []byte) []byte {
	b := make([]byte, 16, 16+len(ip))
	binary.BigEndian.PutUint16(b, uint16(sllPacketType(f)))
	binary.BigEndian.PutUint16(b[2:], arphrdEther)
	binary.BigEndian.PutUint16(b[4:], 6)
	sllAddr(b[6:], macOf(f.src.Addr()))
	binary.BigEndian.PutUint16(b[14:], uint16(et))
	return append(b, ip...)
}

// sll2 builds a Linux cooked v2 frame: protocol, reserved, interface index,
// ARPHRD, packet type, address length, address.
func sll2(f *frame, et layers.EthernetType, ip []byte) []byte {
	b := make([]byte, 20, 20+len(ip))
	binary.BigEndian.PutUint16(b, uint16(et))
	binary.BigEndian.PutUint32(b[4:], sllIfIndex)
	binary.BigEndian.PutUint16(b[8:], arphrdEther)
	b[10] = sllPacketType(f)
	b[11] = 6
	sllAddr(b[12:], macOf(f.src.Addr()))
	return append(b, ip...)
}
