package decode

import (
	"net/netip"
	"testing"

	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/hep"
)

func TestHEPFramesUnwrapToTheCapturedSIP(t *testing.T) {
	sipText := []byte("OPTIONS sip:a@b SIP/2.0\r\n\r\n")
	in := hep.Packet{
		Version: 3, IPFamily: hep.FamilyIPv4, Protocol: 17,
		SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
		SrcPort: 5060, DstPort: 5080, TimestampSec: 1700000000, TimestampUsec: 250,
		ProtoType: hep.ProtoSIP, NodeID: 2345, Payload: sipText,
	}
	b, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder()
	var p Packet
	if err := d.Decode(frame.LinkHEP, b, 1, &p); err != nil {
		t.Fatal(err)
	}
	if p.Src.String() != "192.0.2.1:5060" || p.Dst.String() != "192.0.2.2:5080" || p.Transport != TransportUDP ||
		string(p.Payload) != string(sipText) || p.HEPNode != 2345 || p.TS != 1700000000*1e9+250*1e3 {
		t.Errorf("unwrapped %+v", p)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = d.Decode(frame.LinkHEP, b, 1, &p) }); allocs != 0 {
		t.Errorf("HEP unwrap allocates %.0f times per packet", allocs)
	}
	in.ProtoType = hep.ProtoLog
	b, _ = in.Marshal()
	if err := d.Decode(frame.LinkHEP, b, 1, &p); err != ErrUnsupportedHEP {
		t.Errorf("a HEP log packet gave %v", err)
	}
	if err := d.Decode(frame.LinkHEP, b[:10], 1, &p); err != ErrMalformedHEP {
		t.Errorf("a cut HEP packet gave %v", err)
	}
}
