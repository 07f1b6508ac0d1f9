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

// TCP MSS announced on SYNs: Ethernet MTU minus IP and TCP headers.
const (
	tcpMSS  = 1460
	tcpMSS6 = 1440
)

// ipProtoSCTP is SCTP's IP protocol number.
const ipProtoSCTP = 132

// frame is one packet of the calls waiting to be serialised. Frames are
// built out of time order (a whole RTP stream at once) and stably sorted by
// time before writing, so ties keep generation order and headers that depend
// on capture order (the IPv4 ID) are filled in only then. A frame is what a
// host sends; the serializer adds whatever encapsulation the capture point
// sees around it, and may cut it into IP fragments.
type frame struct {
	ts       time.Time
	src, dst netip.AddrPort
	tos      uint8
	tcp      *tcpSegment // a TCP segment, nil otherwise
	sctp     *sctpData   // an SCTP DATA chunk, nil otherwise
	media    bool        // RTP, which HEP captures leave out
	payload  []byte
}

// tcpSegment holds the TCP header fields that vary per segment.
type tcpSegment struct {
	seq, ackNum uint32
	syn, ack    bool
}

// macOf gives every host a stable, locally administered MAC address built
// from its IP address, so frames of one host always carry the same MAC.
func macOf(a netip.Addr) net.HardwareAddr {
	if a.Is4() {
		b := a.As4()
		return net.HardwareAddr{0x02, 0x00, b[0], b[1], b[2], b[3]}
	}
	b := a.As16() // the site byte and the host's last three bytes
	return net.HardwareAddr{0x02, 0x06, b[5], b[13], b[14], b[15]}
}

// serializer turns frames into link-layer frames, keeping the per-host
// counters real stacks keep (IPv4 ID, IPv6 fragment ID) and the sequence
// numbers of the mirroring session.
type serializer struct {
	cfg    Config
	rng    *rand.Rand
	ipID   map[netip.Addr]uint16
	fragID map[netip.Addr]uint32
	greSeq uint32 // ERSPAN sessions number their GRE packets
	opts   gopacket.SerializeOptions
}

func newSerializer(cfg Config, rng *rand.Rand) *serializer {
	return &serializer{
		cfg:    cfg,
		rng:    rng,
		ipID:   make(map[netip.Addr]uint16),
		fragID: make(map[netip.Addr]uint32),
		opts:   gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
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

// nextFragID returns the next IPv6 fragment identification of host a.
func (s *serializer) nextFragID(a netip.Addr) uint32 {
	id, ok := s.fragID[a]
	if !ok {
		id = s.rng.Uint32()
	}
	s.fragID[a] = id + 1
	return id
}

// frames returns the link-layer frames that carry f as the capture point
// sees it: one, or one per IP fragment.
func (s *serializer) frames(f *frame) ([][]byte, error) {
	if s.cfg.Encap == EncapHEP {
		b, err := s.hep(f)
		if err != nil {
			return nil, err
		}
		return [][]byte{b}, nil
	}
	ip, err := s.ipPacket(f)
	if err != nil {
		return nil, err
	}
	pieces := [][]byte{ip}
	if s.cfg.Encap == EncapFragments && len(ip) > s.cfg.FragmentMTU {
		pieces = s.fragment(f, ip)
	}
	out := make([][]byte, 0, len(pieces))
	for _, p := range pieces {
		b, err := s.link(f, p)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// ipPacket serialises the IP packet a host sends for f.
func (s *serializer) ipPacket(f *frame) ([]byte, error) {
	proto := layers.IPProtocolUDP
	switch {
	case f.tcp != nil:
		proto = layers.IPProtocolTCP
	case f.sctp != nil:
		proto = ipProtoSCTP
	}
	var ip gopacket.SerializableLayer
	var nl gopacket.NetworkLayer
	if f.src.Addr().Is4() {
		ip4 := &layers.IPv4{
			Version:  4,
			IHL:      5,
			TOS:      f.tos,
			Id:       s.nextID(f.src.Addr()),
			Flags:    layers.IPv4DontFragment,
			TTL:      64,
			SrcIP:    f.src.Addr().AsSlice(),
			DstIP:    f.dst.Addr().AsSlice(),
			Protocol: proto,
		}
		if s.cfg.Encap == EncapFragments {
			ip4.Flags = 0 // this host lets routers fragment (no path MTU discovery)
		}
		ip, nl = ip4, ip4
	} else {
		ip6 := &layers.IPv6{
			Version:      6,
			TrafficClass: f.tos,
			HopLimit:     64,
			SrcIP:        f.src.Addr().AsSlice(),
			DstIP:        f.dst.Addr().AsSlice(),
			NextHeader:   proto,
		}
		ip, nl = ip6, ip6
	}
	var l4 gopacket.SerializableLayer
	payload := f.payload
	switch {
	case f.tcp != nil:
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
			mss := uint16(tcpMSS)
			if f.src.Addr().Is6() {
				mss = tcpMSS6
			}
			tcp.Options = []layers.TCPOption{{
				OptionType:   layers.TCPOptionKindMSS,
				OptionLength: 4,
				OptionData:   []byte{byte(mss >> 8), byte(mss)},
			}}
		}
		if err := tcp.SetNetworkLayerForChecksum(nl); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrWrite, err)
		}
		l4 = tcp
	case f.sctp != nil:
		payload = sctpPacket(f.src.Port(), f.dst.Port(), f.sctp, f.payload)
	default:
		udp := &layers.UDP{SrcPort: layers.UDPPort(f.src.Port()), DstPort: layers.UDPPort(f.dst.Port())}
		if err := udp.SetNetworkLayerForChecksum(nl); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrWrite, err)
		}
		l4 = udp
	}
	if l4 == nil {
		return s.serialize(ip, gopacket.Payload(payload))
	}
	return s.serialize(ip, l4, gopacket.Payload(payload))
}

// serialize returns the layers' bytes in a slice of their own.
func (s *serializer) serialize(ls ...gopacket.SerializableLayer) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, s.opts, ls...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return buf.Bytes(), nil
}
