package api

import (
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/sipscope/sipscope/correlate"
)

const (
	// pcapSnapLen is the file's declared snapshot length; every synthesised
	// packet is shorter, so nothing is ever truncated.
	pcapSnapLen = 262144
	// Largest UDP payload one IP datagram can carry (16-bit length fields).
	maxUDPPayload4 = 65535 - 20 - 8
	maxUDPPayload6 = 65535 - 8
	// maxTCPSegment keeps every synthesised TCP segment inside one IP
	// datagram for both families; longer messages span several segments.
	maxTCPSegment = 65535 - 40 - 60
)

// WritePCAP writes msgs, in the given order, as a pcap file (nanosecond
// timestamps, Ethernet link type) that Wireshark dissects as SIP. The original
// packets are gone by the time a call is stored, so each message is
// synthesised from its record: Ethernet, IPv4 or IPv6 (IPv6 when either end
// is IPv6), then UDP, or TCP with per-direction sequence numbers and PSH|ACK
// when the message came over a stream transport (tcp, tls, ws, wss). SCTP and
// unknown transports are written as UDP. Lengths and checksums are computed;
// the MAC addresses are made up from the IP addresses.
func WritePCAP(w io.Writer, msgs []correlate.Message) error {
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(pcapSnapLen, layers.LinkTypeEthernet); err != nil {
		return fmt.Errorf("api: pcap header: %w", err)
	}
	p := newPacketizer(pw.WritePacket)
	for i := range msgs {
		if err := p.write(&msgs[i]); err != nil {
			return fmt.Errorf("api: pcap message %d: %w", i, err)
		}
	}
	return nil
}

// flow is one direction of a TCP connection.
type flow struct{ src, dst netip.AddrPort }

// packetizer holds what must stay consistent across packets of one file:
// TCP sequence numbers per direction and the IPv4 identification counter.
// out writes one Ethernet packet.
type packetizer struct {
	nextSeq map[flow]uint32
	ipID    uint16
	buf     gopacket.SerializeBuffer
	opts    gopacket.SerializeOptions
	out     func(ci gopacket.CaptureInfo, data []byte) error
}

func newPacketizer(out func(ci gopacket.CaptureInfo, data []byte) error) *packetizer {
	return &packetizer{
		out:     out,
		nextSeq: make(map[flow]uint32),
		buf:     gopacket.NewSerializeBuffer(),
		opts:    gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
	}
}

func (p *packetizer) write(m *correlate.Message) error {
	src, dst := endpoints(m.Src, m.Dst)
	if isStreamTransport(m.Transport) {
		return p.writeTCP(m, src, dst)
	}
	limit := maxUDPPayload6
	if src.Addr().Is4() {
		limit = maxUDPPayload4
	}
	if len(m.Raw) > limit {
		return fmt.Errorf("%w: %d bytes over UDP", ErrMessageTooLarge, len(m.Raw))
	}
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	return p.emit(m, src, dst, udp, m.Raw)
}

// writeTCP sends the message as one PSH|ACK segment (several if it is too
// long for one), continuing this direction's sequence space and
// acknowledging everything the other direction has sent so far, as a real
// capture of the connection would show.
func (p *packetizer) writeTCP(m *correlate.Message, src, dst netip.AddrPort) error {
	fwd, rev := flow{src, dst}, flow{dst, src}
	seq := p.seq(fwd)
	ack := p.seq(rev)
	data := m.Raw
	for first := true; first || len(data) > 0; first = false {
		seg := data[:min(len(data), maxTCPSegment)]
		data = data[len(seg):]
		tcp := &layers.TCP{
			SrcPort: layers.TCPPort(src.Port()),
			DstPort: layers.TCPPort(dst.Port()),
			Seq:     seq,
			Ack:     ack,
			PSH:     true,
			ACK:     true,
			Window:  65535,
		}
		if err := p.emit(m, src, dst, tcp, seg); err != nil {
			return err
		}
		seq += uint32(len(seg))
	}
	p.nextSeq[fwd] = seq
	return nil
}

// seq returns the next sequence number of a direction, starting it at an
// initial sequence number derived from the endpoints so that exports are
// reproducible yet different connections do not share numbers.
func (p *packetizer) seq(f flow) uint32 {
	if s, ok := p.nextSeq[f]; ok {
		return s
	}
	h := fnv.New32a()
	b, _ := f.src.MarshalBinary()
	h.Write(b)
	b, _ = f.dst.MarshalBinary()
	h.Write(b)
	s := h.Sum32()
	p.nextSeq[f] = s
	return s
}

type transportLayer interface {
	gopacket.SerializableLayer
	SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
}

func (p *packetizer) emit(m *correlate.Message, src, dst netip.AddrPort, tl transportLayer, payload []byte) error {
	eth := &layers.Ethernet{SrcMAC: macFor(src.Addr()), DstMAC: macFor(dst.Addr())}
	var proto layers.IPProtocol = layers.IPProtocolUDP
	if _, ok := tl.(*layers.TCP); ok {
		proto = layers.IPProtocolTCP
	}
	var ip interface {
		gopacket.SerializableLayer
		gopacket.NetworkLayer
	}
	if src.Addr().Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		p.ipID++
		ip = &layers.IPv4{
			Version: 4, IHL: 5, TTL: 64, Id: p.ipID, Flags: layers.IPv4DontFragment,
			Protocol: proto, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice(),
		}
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip = &layers.IPv6{
			Version: 6, HopLimit: 64, NextHeader: proto,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice(),
		}
	}
	if err := tl.SetNetworkLayerForChecksum(ip); err != nil {
		return fmt.Errorf("checksum setup: %w", err)
	}
	if err := gopacket.SerializeLayers(p.buf, p.opts, eth, ip, tl, gopacket.Payload(payload)); err != nil {
		return fmt.Errorf("serialize: %w", err)
	}
	data := p.buf.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: m.TS, CaptureLength: len(data), Length: len(data)}
	if err := p.out(ci, data); err != nil {
		return fmt.Errorf("write packet: %w", err)
	}
	return nil
}

// endpoints normalises the two addresses to one IP family: IPv4 when both
// are IPv4 (or IPv4-mapped), otherwise IPv6 with IPv4 ends mapped. A missing
// address becomes the unspecified address of that family.
func endpoints(src, dst netip.AddrPort) (netip.AddrPort, netip.AddrPort) {
	s, d := src.Addr().Unmap().WithZone(""), dst.Addr().Unmap().WithZone("")
	if !s.IsValid() {
		s = unspecifiedLike(d)
	}
	if !d.IsValid() {
		d = unspecifiedLike(s)
	}
	if s.Is6() || d.Is6() {
		s, d = netip.AddrFrom16(s.As16()), netip.AddrFrom16(d.As16())
	}
	return netip.AddrPortFrom(s, src.Port()), netip.AddrPortFrom(d, dst.Port())
}

func unspecifiedLike(a netip.Addr) netip.Addr {
	if a.Is6() {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// macFor makes a locally administered unicast MAC from the address's last
// four bytes, so each host keeps one MAC throughout the file.
func macFor(a netip.Addr) []byte {
	b := a.As16()
	return []byte{0x02, 0x00, b[12], b[13], b[14], b[15]}
}

func isStreamTransport(t string) bool {
	switch strings.ToLower(t) {
	case "tcp", "tls", "ws", "wss":
		return true
	}
	return false
}
