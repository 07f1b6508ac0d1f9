package gen

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// DSCP code points in the IPv4 TOS byte, as real phones mark their traffic.
const (
	tosSignalling = 0x60 // CS3
	tosMedia      = 0xB8 // EF
)

// tcpMSS is announced on SYNs: Ethernet MTU minus IPv4 and TCP headers.
const tcpMSS = 1460

// frame is one packet waiting to be serialised. Frames are built out of time
// order (a whole RTP stream at once) and stably sorted by time before
// writing, so ties keep generation order and headers that depend on capture
// order (the IPv4 ID) are filled in only then.
type frame struct {
	ts       time.Time
	src, dst netip.AddrPort
	tos      uint8
	tcp      *tcpSegment // nil for UDP
	payload  []byte
}

// tcpSegment holds the TCP header fields that vary per segment.
type tcpSegment struct {
	seq, ackNum uint32
	syn, ack    bool
}

// tcpConn is one SIP-over-TCP connection between a client (ephemeral port)
// and a server (its SIP port).
type tcpConn struct {
	client, server       netip.AddrPort
	clientSeq, serverSeq uint32 // next sequence number each side sends
}

type connKey struct {
	client netip.Addr
	server netip.AddrPort
}

// macOf gives every host a stable, locally administered MAC address built
// from its IPv4 address, so frames of one host always carry the same MAC.
func macOf(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x00, b[0], b[1], b[2], b[3]}
}

// serializer turns frames into bytes, keeping per-host IPv4 ID counters.
type serializer struct {
	rng  *rand.Rand
	ipID map[netip.Addr]uint16
	buf  gopacket.SerializeBuffer
	opts gopacket.SerializeOptions
}

func newSerializer(rng *rand.Rand) *serializer {
	return &serializer{
		rng:  rng,
		ipID: make(map[netip.Addr]uint16),
		buf:  gopacket.NewSerializeBuffer(),
		opts: gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
	}
}

// nextID returns the next IPv4 identification of host a; each host starts
// at a random value, as real stacks do.
func (s *serializer) nextID(a netip.Addr) uint16 {
	id, ok := s.ipID[a]
	if !ok {
		id = uint16(s.rng.Uint32())
	}
	s.ipID[a] = id + 1
	return id
}

// serialize returns the Ethernet frame's bytes; they are valid until the
// next call.
func (s *serializer) serialize(f *frame) ([]byte, error) {
	eth := &layers.Ethernet{
		SrcMAC:       macOf(f.src.Addr()),
		DstMAC:       macOf(f.dst.Addr()),
		EthernetType: layers.EthernetTypeIPv4,
	}
	ip := &layers.IPv4{
		Version:  4,
		IHL:      5,
		TOS:      f.tos,
		Id:       s.nextID(f.src.Addr()),
		Flags:    layers.IPv4DontFragment,
		TTL:      64,
		SrcIP:    f.src.Addr().AsSlice(),
		DstIP:    f.dst.Addr().AsSlice(),
		Protocol: layers.IPProtocolUDP,
	}
	var l4 gopacket.SerializableLayer
	if f.tcp == nil {
		udp := &layers.UDP{SrcPort: layers.UDPPort(f.src.Port()), DstPort: layers.UDPPort(f.dst.Port())}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrWrite, err)
		}
		l4 = udp
	} else {
		ip.Protocol = layers.IPProtocolTCP
		tcp := &layers.TCP{
			SrcPort: layers.TCPPort(f.src.Port()),
			DstPort: layers.TCPPort(f.dst.Port()),
			Seq:     f.tcp.seq,
			Ack:     f.tcp.ackNum,
			SYN:     f.tcp.syn,
			ACK:     f.tcp.ack,
			PSH:     len(f.payload) > 0,
			Window:  64240,
		}
		if f.tcp.syn {
			tcp.Options = []layers.TCPOption{{
				OptionType:   layers.TCPOptionKindMSS,
				OptionLength: 4,
				OptionData:   []byte{tcpMSS >> 8, tcpMSS & 0xFF},
			}}
		}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrWrite, err)
		}
		l4 = tcp
	}
	if err := gopacket.SerializeLayers(s.buf, s.opts, eth, ip, l4, gopacket.Payload(f.payload)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return s.buf.Bytes(), nil
}
