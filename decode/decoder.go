package decode

import (
	"encoding/binary"

	"github.com/sipscope/sipscope/frame"
)

// Bounds on nesting, so that crafted frames cost bounded work. Real traffic
// has at most two VLAN tags, a handful of MPLS labels and one or two tunnels.
const (
	maxTunnels = 4  // encapsulations removed before ErrTunnelTooDeep
	maxTags    = 8  // 802.1Q/802.1ad tags in one Ethernet header
	maxLabels  = 16 // MPLS labels in one stack
)

// Decoder turns frames into Packets. It keeps nothing from one frame to
// the next (but held fragments, given a Defragmenter, and the SCTP chunks
// NextSCTPData has yet to walk) and is owned by one goroutine; make one per
// capture loop and reuse it.
type Decoder struct {
	defrag   *Defragmenter // nil: fragments are dropped with ErrFragment
	hepState *hepState     // allocated on the first HEP packet
	sctpNext sctpState     // DATA chunks bundled after the one last decoded
}

// NewDecoder returns a Decoder ready for use. It drops IP fragments until
// SetDefragmenter gives it somewhere to reassemble them.
func NewDecoder() *Decoder { return &Decoder{} }

// SetDefragmenter makes Decode hand IP fragments to f (nil: drop them).
// A held fragment then returns ErrFragmentHeld, and the fragment that
// completes a datagram decodes like an unfragmented packet.
func (d *Decoder) SetDefragmenter(f *Defragmenter) { d.defrag = f }

// Decode fills p from one frame of the given link type, down to the UDP or
// TCP payload of the innermost IP packet, or the user data of its first
// SCTP DATA chunk (NextSCTPData gives the chunks bundled behind it). p is
// reset first; its Payload points into data, or, for a reassembled
// datagram, into the Defragmenter's buffer: either way it is valid until
// the next call and as long as data.
// ts is copied into p.TS. On error p holds whatever was decoded before the
// failure and must not be used; the error is one of this package's
// sentinels (see Reason). Decode does not allocate, except to hold
// fragments.
func (d *Decoder) Decode(link frame.LinkType, data []byte, ts int64, p *Packet) error {
	*p = Packet{TS: ts}
	switch link {
	case frame.LinkEthernet:
		return d.ethernet(data, p)
	case frame.LinkRaw:
		return d.ipByVersion(data, p)
	case frame.LinkIPv4:
		return d.ipv4(data, p)
	case frame.LinkIPv6:
		return d.ipv6(data, p)
	case frame.LinkSLL:
		return d.sll(data, p)
	case frame.LinkSLL2:
		return d.sll2(data, p)
	case frame.LinkNull, frame.LinkLoop:
		return d.null(data, p)
	case frame.LinkHEP:
		return d.hep(data, p)
	}
	return ErrUnsupportedLink
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// enterTunnel counts one more encapsulation and enforces the bound.
func enterTunnel(p *Packet) error {
	if p.Tunnels >= maxTunnels {
		return ErrTunnelTooDeep
	}
	p.Tunnels++
	return nil
}
