package gen

import (
	"fmt"
	"net/netip"

	"github.com/gopacket/gopacket/layers"

	"github.com/sipscope/sipscope/hep"
)

// The HEP capture agent and collector of EncapHEP captures.
const (
	HEPNodeID        = 2001
	HEPCollectorPort = 9060
	hepAgentPort     = 47391 // the agent's one socket, from the ephemeral range
)

// HEPAgent and HEPCollector return the addresses of the HEP capture agent
// and of the collector it sends to.
func HEPAgent() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 100}), hepAgentPort)
}

func HEPCollector() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 200}), HEPCollectorPort)
}

// hep wraps the SIP message of f in HEPv3, as an agent that captured it
// forwards it at once, and sends it to the collector.
func (s *serializer) hep(f *frame) ([]byte, error) {
	proto := uint8(layers.IPProtocolUDP)
	if f.tcp != nil {
		proto = uint8(layers.IPProtocolTCP)
	}
	p := hep.Packet{
		Version:       3,
		Protocol:      proto,
		SrcIP:         f.src.Addr(),
		DstIP:         f.dst.Addr(),
		SrcPort:       f.src.Port(),
		DstPort:       f.dst.Port(),
		TimestampSec:  uint32(f.ts.Unix()),
		TimestampUsec: uint32(f.ts.Nanosecond() / 1000),
		ProtoType:     hep.ProtoSIP,
		NodeID:        HEPNodeID,
		Payload:       f.payload,
	}
	b, err := p.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: HEP: %w", ErrWrite, err)
	}
	return s.outer(HEPAgent(), HEPCollector(), layers.IPProtocolUDP, tosSignalling, b)
}
