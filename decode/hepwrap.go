package decode

import (
	"errors"
	"net/netip"

	"github.com/sipscope/sipscope/hep"
)

// HEP errors: a HEP packet that does not decode, or one whose payload is
// not something sipscope analyses (logs, QoS reports, DNS...).
var (
	ErrMalformedHEP   = errors.New("decode: malformed HEP packet")
	ErrUnsupportedHEP = errors.New("decode: HEP payload type not analysed")
)

// maxHEPInflated bounds a compressed HEP payload once inflated.
const maxHEPInflated = 64 << 10

// hepState is the reusable view and inflate buffer for HEP input.
type hepState struct {
	pkt hep.Packet
	buf []byte
}

// hep unwraps one HEP packet (from the HEP listener, or found in a UDP
// payload) into p: the addresses, ports and time the capture agent saw,
// and the captured SIP or RTCP payload, or an RTP agent report.
func (d *Decoder) hep(data []byte, p *Packet) error {
	if d.hepState == nil {
		d.hepState = &hepState{buf: make([]byte, 0, maxHEPInflated)}
	}
	h := &d.hepState.pkt
	if err := h.Unmarshal(data); err != nil {
		return ErrMalformedHEP
	}
	switch h.ProtoType {
	case hep.ProtoSIP, hep.ProtoRTP, hep.ProtoRTCP, hep.ProtoMOSFull:
		// RTP agent reports (type 34) are what an edge sipscope or another
		// RTP agent measured of a call's streams: a collector stores them.
	default:
		return ErrUnsupportedHEP
	}
	switch h.Protocol {
	case 17:
		p.Transport = TransportUDP
	case 6:
		p.Transport = TransportTCP
	case 132:
		p.Transport = TransportSCTP
	default:
		// Agents that leave the protocol out send SIP over UDP.
		p.Transport = TransportUDP
	}
	p.Src = netip.AddrPortFrom(h.SrcIP.Unmap(), h.SrcPort)
	p.Dst = netip.AddrPortFrom(h.DstIP.Unmap(), h.DstPort)
	if ts := h.UnixNano(); ts > 0 {
		p.TS = ts
	}
	p.HEPNode = h.NodeID
	p.HEPProto = h.ProtoType
	p.HEPCorrelationID = h.CorrelationID
	p.Payload = h.Payload
	if h.CompressedPayload {
		out, err := h.DecompressPayload(d.hepState.buf[:0])
		if err != nil {
			return ErrMalformedHEP
		}
		p.Payload = out
	}
	return nil
}

// UnwrapHEP decodes data as one HEP packet into p, as Decode does for
// frames of frame.LinkHEP. The pipeline uses it for HEP found inside
// UDP datagrams of a capture file (traffic to a HEP collector).
func (d *Decoder) UnwrapHEP(data []byte, p *Packet) error {
	ts := p.TS
	*p = Packet{TS: ts}
	return d.hep(data, p)
}

// LooksLikeHEP3 is the cheap test for a HEPv3 packet at the start of b.
func LooksLikeHEP3(b []byte) bool {
	return len(b) >= 6 && b[0] == 'H' && b[1] == 'E' && b[2] == 'P' && b[3] == '3'
}
