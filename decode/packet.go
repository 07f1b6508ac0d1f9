package decode

import "net/netip"

// Transport is the layer-4 protocol a payload arrived on.
type Transport uint8

const (
	TransportUnknown Transport = iota
	TransportUDP
	TransportTCP
	TransportSCTP
)

func (t Transport) String() string {
	switch t {
	case TransportUDP:
		return "udp"
	case TransportTCP:
		return "tcp"
	case TransportSCTP:
		return "sctp"
	}
	return "unknown"
}

// Packet is the decoded view of one frame down to its layer-4 payload.
// Payload points into the frame's bytes; it is valid only as long as they are.
type Packet struct {
	TS        int64 // Unix nanoseconds, copied from the frame
	Src, Dst  netip.AddrPort
	Transport Transport
	Payload   []byte
	// TCP only: the segment's sequence number and flags (FIN/SYN/RST/PSH/ACK bits as on the wire).
	TCPSeq   uint32
	TCPFlags uint8
	// Tunnels counts the encapsulations removed (IP-in-IP, GRE, ...).
	Tunnels uint8
	// HEPNode is the capture agent id of a packet that arrived in HEP (0 otherwise).
	HEPNode uint32
	// HEPProto is the HEP payload type of a packet that arrived in HEP
	// (hep.ProtoSIP, hep.ProtoRTCP, hep.ProtoMOSFull; 0 otherwise), and
	// HEPCorrelationID its correlation id chunk (a Call-ID for RTCP and RTP
	// statistics), pointing into the frame's bytes like Payload.
	HEPProto         uint8
	HEPCorrelationID []byte
}
