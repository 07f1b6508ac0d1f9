package hep

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chunk builds one HEPv3 chunk by hand, independently of the encoder.
func chunk(vendor, typ uint16, data []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, vendor)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(6+len(data)))
	return append(b, data...)
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// hep3 wraps chunks in a HEPv3 header whose length counts them all.
func hep3(chunks ...[]byte) []byte {
	body := bytes.Join(chunks, nil)
	b := append([]byte("HEP3"), u16(uint16(6+len(body)))...)
	return append(b, body...)
}

// hep2 builds a HEPv1/v2 datagram the way Kamailio's siptrace and captagent
// do: the 8-byte header, the addresses, for version 2 the 12-byte
// little-endian time header, then the payload.
func hep2(version, family, proto byte, sport, dport uint16, src, dst netip.Addr, sec, usec uint32, captID uint16, payload string) []byte {
	b := []byte{version, 0, family, proto}
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = append(b, src.AsSlice()...)
	b = append(b, dst.AsSlice()...)
	b[1] = byte(len(b))
	if version == 2 {
		b = binary.LittleEndian.AppendUint32(b, sec)
		b = binary.LittleEndian.AppendUint32(b, usec)
		b = binary.LittleEndian.AppendUint16(b, captID)
		b = append(b, 0, 0)
	}
	return append(b, payload...)
}

// samePacket compares every field, treating nil and empty slices alike.
func samePacket(t *testing.T, got, want *Packet) {
	t.Helper()
	type field struct {
		name      string
		got, want any
	}
	for _, f := range []field{
		{"Version", got.Version, want.Version},
		{"IPFamily", got.IPFamily, want.IPFamily},
		{"Protocol", got.Protocol, want.Protocol},
		{"SrcIP", got.SrcIP, want.SrcIP},
		{"DstIP", got.DstIP, want.DstIP},
		{"SrcPort", got.SrcPort, want.SrcPort},
		{"DstPort", got.DstPort, want.DstPort},
		{"TimestampSec", got.TimestampSec, want.TimestampSec},
		{"TimestampUsec", got.TimestampUsec, want.TimestampUsec},
		{"ProtoType", got.ProtoType, want.ProtoType},
		{"NodeID", got.NodeID, want.NodeID},
		{"VLAN", got.VLAN, want.VLAN},
		{"CompressedPayload", got.CompressedPayload, want.CompressedPayload},
	} {
		if f.got != f.want {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	for _, f := range []struct {
		name      string
		got, want []byte
	}{
		{"NodeName", got.NodeName, want.NodeName},
		{"AuthKey", got.AuthKey, want.AuthKey},
		{"CorrelationID", got.CorrelationID, want.CorrelationID},
		{"Payload", got.Payload, want.Payload},
	} {
		if !bytes.Equal(f.got, f.want) {
			t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
		}
	}
}

const sipOptions = "OPTIONS sip:probe@example.com SIP/2.0\r\nCall-ID: abc@host\r\nContent-Length: 0\r\n\r\n"

func roundTripCases() []struct {
	name string
	p    Packet
} {
	return []struct {
		name string
		p    Packet
	}{
		{"a minimal IPv4 SIP packet survives", Packet{
			Version: 3, IPFamily: FamilyIPv4, Protocol: 17,
			SrcIP: netip.MustParseAddr("192.0.2.10"), DstIP: netip.MustParseAddr("198.51.100.20"),
			SrcPort: 5060, DstPort: 5080, TimestampSec: 1700000000, TimestampUsec: 123456,
			ProtoType: ProtoSIP, NodeID: 2001, Payload: []byte(sipOptions),
		}},
		{"an IPv6 packet with every optional chunk survives", Packet{
			Version: 3, IPFamily: FamilyIPv6, Protocol: 6,
			SrcIP: netip.MustParseAddr("2001:db8::1"), DstIP: netip.MustParseAddr("2001:db8:ffff::2"),
			SrcPort: 5061, DstPort: 40000, TimestampSec: 4294967295, TimestampUsec: 999999,
			ProtoType: ProtoSIP, NodeID: 4294967295, NodeName: []byte("edge-paris-1"),
			AuthKey: []byte("s3cret"), CorrelationID: []byte("call-1@host"), VLAN: 4094,
			Payload: []byte(sipOptions),
		}},
		{"an IPv4 packet with a node name but no auth key survives", Packet{
			Version: 3, IPFamily: FamilyIPv4, Protocol: 17,
			SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
			SrcPort: 1, DstPort: 65535, ProtoType: ProtoRTCP, NodeName: []byte("n"),
			CorrelationID: []byte("cid"), Payload: []byte(`{"type":200}`),
		}},
		{"an IPv6 packet with an auth key but no node name survives", Packet{
			Version: 3, IPFamily: FamilyIPv6, Protocol: 17,
			SrcIP: netip.MustParseAddr("::1"), DstIP: netip.MustParseAddr("fe80::1"),
			ProtoType: ProtoLog, AuthKey: []byte("k"), Payload: []byte("log line"),
		}},
		{"an IPv4-mapped IPv6 address stays IPv6", Packet{
			Version: 3, IPFamily: FamilyIPv6, Protocol: 17,
			SrcIP: netip.MustParseAddr("::ffff:192.0.2.1"), DstIP: netip.MustParseAddr("::ffff:192.0.2.2"),
			ProtoType: ProtoSIP, Payload: []byte("x"),
		}},
		{"a compressed payload keeps its flag", Packet{
			Version: 3, IPFamily: FamilyIPv4, Protocol: 17,
			SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
			ProtoType: ProtoSIP, Payload: []byte{0x78, 0x9c, 1, 2, 3}, CompressedPayload: true,
		}},
		{"an empty payload survives", Packet{
			Version: 3, IPFamily: FamilyIPv4, Protocol: 17,
			SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
		}},
	}
}

func TestDecodeOfEncodeGivesThePacketBack(t *testing.T) {
	for _, tc := range roundTripCases() {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != tc.p.MarshalSize() {
				t.Fatalf("Marshal wrote %d bytes, MarshalSize says %d", len(b), tc.p.MarshalSize())
			}
			if n, err := FrameLength(b); err != nil || n != len(b) {
				t.Fatalf("FrameLength = %d, %v; want %d", n, err, len(b))
			}
			var got Packet
			if err := got.Unmarshal(b); err != nil {
				t.Fatal(err)
			}
			samePacket(t, &got, &tc.p)
		})
	}
}

func TestMarshalDerivesAMissingFamilyFromTheAddresses(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want uint8
	}{
		{"IPv4 addresses give family 2", "192.0.2.1", FamilyIPv4},
		{"IPv6 addresses give family 10", "2001:db8::1", FamilyIPv6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := netip.MustParseAddr(tc.src)
			p := Packet{SrcIP: a, DstIP: a}
			b, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			var got Packet
			if err := got.Unmarshal(b); err != nil {
				t.Fatal(err)
			}
			if got.IPFamily != tc.want {
				t.Errorf("IPFamily = %d, want %d", got.IPFamily, tc.want)
			}
		})
	}
}

func TestMarshalWritesTheWireFormatTheSpecificationDescribes(t *testing.T) {
	p := Packet{
		IPFamily: FamilyIPv4, Protocol: 17,
		SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
		SrcPort: 5060, DstPort: 5062, TimestampSec: 0x01020304, TimestampUsec: 0x05060708,
		ProtoType: 1, NodeID: 0x0a0b0c0d, AuthKey: []byte("pw"), CorrelationID: []byte("c"),
		VLAN: 7, NodeName: []byte("nd"), Payload: []byte("SIP"),
	}
	want := hep3(
		chunk(0, 0x0001, []byte{2}),
		chunk(0, 0x0002, []byte{17}),
		chunk(0, 0x0003, []byte{192, 0, 2, 1}),
		chunk(0, 0x0004, []byte{192, 0, 2, 2}),
		chunk(0, 0x0007, u16(5060)),
		chunk(0, 0x0008, u16(5062)),
		chunk(0, 0x0009, u32(0x01020304)),
		chunk(0, 0x000a, u32(0x05060708)),
		chunk(0, 0x000b, []byte{1}),
		chunk(0, 0x000c, u32(0x0a0b0c0d)),
		chunk(0, 0x000e, []byte("pw")),
		chunk(0, 0x0011, []byte("c")),
		chunk(0, 0x0012, u16(7)),
		chunk(0, 0x0013, []byte("nd")),
		chunk(0, 0x000f, []byte("SIP")),
	)
	got, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Marshal =\n% x\nwant\n% x", got, want)
	}
}

func TestMarshalToRefusesWhatDoesNotFit(t *testing.T) {
	small := Packet{Payload: []byte("x")}
	if _, err := small.MarshalTo(make([]byte, small.MarshalSize()-1)); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("one byte short: err = %v, want ErrShortBuffer", err)
	}
	big := Packet{Payload: make([]byte, 0xffff)}
	if _, err := big.MarshalTo(make([]byte, big.MarshalSize())); !errors.Is(err, ErrTooLarge) {
		t.Errorf("64 KiB payload: err = %v, want ErrTooLarge", err)
	}
	if _, err := big.Marshal(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Marshal of 64 KiB payload: err = %v, want ErrTooLarge", err)
	}
	// The largest payload that fits gives a packet of exactly 65535 bytes.
	fit := Packet{SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2")}
	fit.Payload = make([]byte, 0xffff-fit.MarshalSize())
	b, err := fit.Marshal()
	if err != nil || len(b) != 0xffff {
		t.Fatalf("largest packet: len %d, err %v", len(b), err)
	}
	var got Packet
	if err := got.Unmarshal(b); err != nil || len(got.Payload) != len(fit.Payload) {
		t.Errorf("largest packet decodes with %d payload bytes, err %v", len(got.Payload), err)
	}
}

func TestUnmarshalReadsHandBuiltHEPv3(t *testing.T) {
	src6, dst6 := netip.MustParseAddr("2001:db8::a"), netip.MustParseAddr("2001:db8::b")
	for _, tc := range []struct {
		name string
		in   []byte
		want Packet
	}{
		{
			name: "chunks in captagent's order decode to their fields",
			in: hep3(
				chunk(0, 1, []byte{2}), chunk(0, 2, []byte{17}),
				chunk(0, 7, u16(5060)), chunk(0, 8, u16(5070)),
				chunk(0, 9, u32(1433719443)), chunk(0, 10, u32(979)),
				chunk(0, 11, []byte{1}), chunk(0, 12, u32(2001)),
				chunk(0, 3, []byte{192, 168, 100, 1}), chunk(0, 4, []byte{192, 168, 1, 23}),
				chunk(0, 14, []byte("myHep")), chunk(0, 15, []byte("ACK sip:x SIP/2.0\r\n\r\n")),
			),
			want: Packet{
				Version: 3, IPFamily: 2, Protocol: 17, SrcPort: 5060, DstPort: 5070,
				TimestampSec: 1433719443, TimestampUsec: 979, ProtoType: 1, NodeID: 2001,
				SrcIP: netip.MustParseAddr("192.168.100.1"), DstIP: netip.MustParseAddr("192.168.1.23"),
				AuthKey: []byte("myHep"), Payload: []byte("ACK sip:x SIP/2.0\r\n\r\n"),
			},
		},
		{
			name: "IPv6 address chunks decode to IPv6 addresses",
			in: hep3(chunk(0, 1, []byte{10}), chunk(0, 5, src6.AsSlice()), chunk(0, 6, dst6.AsSlice()),
				chunk(0, 15, []byte("p"))),
			want: Packet{Version: 3, IPFamily: 10, SrcIP: src6, DstIP: dst6, Payload: []byte("p")},
		},
		{
			name: "a vendor chunk is skipped even when its type is a generic one",
			in:   hep3(chunk(0x0008, 15, []byte("vendor")), chunk(0, 15, []byte("generic")), chunk(0x0008, 7, []byte("xyz"))),
			want: Packet{Version: 3, Payload: []byte("generic")},
		},
		{
			name: "unknown generic chunks (MOS, MAC, keep-alive) are skipped",
			in: hep3(chunk(0, 0x0020, u16(440)), chunk(0, 0x0014, make([]byte, 6)), chunk(0, 0x000d, u16(30)),
				chunk(0, 0x00ff, nil), chunk(0, 15, []byte("p"))),
			want: Packet{Version: 3, Payload: []byte("p")},
		},
		{
			name: "a 16-bit capture id from an old agent is accepted",
			in:   hep3(chunk(0, 12, u16(1234))),
			want: Packet{Version: 3, NodeID: 1234},
		},
		{
			name: "the compressed payload chunk sets CompressedPayload",
			in:   hep3(chunk(0, 16, []byte{0x78, 0x9c})),
			want: Packet{Version: 3, Payload: []byte{0x78, 0x9c}, CompressedPayload: true},
		},
		{
			name: "a header with no chunks is an empty packet",
			in:   hep3(),
			want: Packet{Version: 3},
		},
		{
			name: "bytes after the declared total length are ignored",
			in:   append(hep3(chunk(0, 15, []byte("p"))), "trailing garbage"...),
			want: Packet{Version: 3, Payload: []byte("p")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got Packet
			if err := got.Unmarshal(tc.in); err != nil {
				t.Fatal(err)
			}
			samePacket(t, &got, &tc.want)
		})
	}
}

func TestUnmarshalReadsHEPv1AndHEPv2(t *testing.T) {
	v4a, v4b := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("10.4.5.6")
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	for _, tc := range []struct {
		name string
		in   []byte
		want Packet
	}{
		{
			name: "HEPv1 over IPv4 carries addresses, ports and SIP",
			in:   hep2(1, 2, 17, 5060, 5061, v4a, v4b, 0, 0, 0, sipOptions),
			want: Packet{Version: 1, IPFamily: 2, Protocol: 17, SrcIP: v4a, DstIP: v4b,
				SrcPort: 5060, DstPort: 5061, ProtoType: ProtoSIP, Payload: []byte(sipOptions)},
		},
		{
			name: "HEPv2 over IPv4 adds a little-endian timestamp and capture id",
			in:   hep2(2, 2, 6, 5060, 5061, v4a, v4b, 1700000000, 654321, 0xbeef, sipOptions),
			want: Packet{Version: 2, IPFamily: 2, Protocol: 6, SrcIP: v4a, DstIP: v4b,
				SrcPort: 5060, DstPort: 5061, TimestampSec: 1700000000, TimestampUsec: 654321,
				NodeID: 0xbeef, ProtoType: ProtoSIP, Payload: []byte(sipOptions)},
		},
		{
			name: "HEPv2 over IPv6 places the time header after 32 address bytes",
			in:   hep2(2, 10, 17, 5062, 5063, v6a, v6b, 1, 2, 3, sipOptions),
			want: Packet{Version: 2, IPFamily: 10, Protocol: 17, SrcIP: v6a, DstIP: v6b,
				SrcPort: 5062, DstPort: 5063, TimestampSec: 1, TimestampUsec: 2, NodeID: 3,
				ProtoType: ProtoSIP, Payload: []byte(sipOptions)},
		},
		{
			name: "HEPv2 with an empty payload is a packet with no payload",
			in:   hep2(2, 2, 17, 1, 2, v4a, v4b, 1, 2, 3, ""),
			want: Packet{Version: 2, IPFamily: 2, Protocol: 17, SrcIP: v4a, DstIP: v4b,
				SrcPort: 1, DstPort: 2, TimestampSec: 1, TimestampUsec: 2, NodeID: 3, ProtoType: ProtoSIP},
		},
		{
			name: "a wrong length byte is ignored as Kamailio ignores it",
			in: func() []byte {
				b := hep2(2, 2, 17, 1, 2, v4a, v4b, 1, 2, 3, "x")
				b[1] = 0xff
				return b
			}(),
			want: Packet{Version: 2, IPFamily: 2, Protocol: 17, SrcIP: v4a, DstIP: v4b,
				SrcPort: 1, DstPort: 2, TimestampSec: 1, TimestampUsec: 2, NodeID: 3,
				ProtoType: ProtoSIP, Payload: []byte("x")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got Packet
			if err := got.Unmarshal(tc.in); err != nil {
				t.Fatal(err)
			}
			samePacket(t, &got, &tc.want)
		})
	}
}

func TestUnmarshalRejectsDamagedInputWithTheRightError(t *testing.T) {
	good := hep3(chunk(0, 15, []byte("payload")))
	v4 := netip.MustParseAddr("10.0.0.1")
	withLength := func(b []byte, n uint16) []byte {
		b = bytes.Clone(b)
		binary.BigEndian.PutUint16(b[4:], n)
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty input is too short to tell", nil, ErrTruncated},
		{"a prefix of the magic is too short to tell", []byte("HEP"), ErrTruncated},
		{"the magic without a length is truncated", []byte("HEP3\x00"), ErrTruncated},
		{"plain SIP is not HEP", []byte(sipOptions), ErrNotHEP},
		{"a HEP4 magic is not HEP", []byte("HEP4\x00\x06"), ErrNotHEP},
		{"a zero version byte is not HEP", []byte{0, 16, 2, 17, 0, 0, 0, 0}, ErrNotHEP},
		{"a total length below the header is a bad length", withLength(good, 5), ErrBadLength},
		{"a total length beyond the datagram is truncated", withLength(good, uint16(len(good)+1)), ErrTruncated},
		{"a chunk length below the chunk header is a bad chunk", hep3([]byte{0, 0, 0, 15, 0, 5}), ErrBadChunk},
		{"a zero chunk length is a bad chunk (no endless loop)", hep3([]byte{0, 0, 0, 15, 0, 0}), ErrBadChunk},
		{"a chunk running past the total length is a bad chunk", hep3([]byte{0, 0, 0, 15, 0, 9, 'a', 'b'}), ErrBadChunk},
		{"leftover bytes shorter than a chunk header are a bad chunk", hep3(chunk(0, 15, nil), []byte{0, 0, 0}), ErrBadChunk},
		{"a 2-byte IPv4 address is a bad chunk", hep3(chunk(0, 3, []byte{1, 2})), ErrBadChunk},
		{"a 4-byte IPv6 address is a bad chunk", hep3(chunk(0, 6, []byte{1, 2, 3, 4})), ErrBadChunk},
		{"a 3-byte port is a bad chunk", hep3(chunk(0, 7, []byte{1, 2, 3})), ErrBadChunk},
		{"a 2-byte timestamp is a bad chunk", hep3(chunk(0, 9, []byte{1, 2})), ErrBadChunk},
		{"an empty protocol type is a bad chunk", hep3(chunk(0, 11, nil)), ErrBadChunk},
		{"a 3-byte capture id is a bad chunk", hep3(chunk(0, 12, []byte{1, 2, 3})), ErrBadChunk},
		{"a 1-byte VLAN is a bad chunk", hep3(chunk(0, 18, []byte{1})), ErrBadChunk},
		{"a HEPv2 header cut short is truncated", []byte{2, 16, 2, 17, 0}, ErrTruncated},
		{"HEPv2 without its time header is truncated", hep2(2, 2, 17, 1, 2, v4, v4, 0, 0, 0, "")[:16], ErrTruncated},
		{"HEPv2 cut inside its time header is truncated",
			func() []byte { b := hep2(2, 2, 17, 1, 2, v4, v4, 0, 0, 0, ""); return b[:len(b)-1] }(), ErrTruncated},
		{"HEPv2 cut inside its IPv6 addresses is truncated",
			hep2(1, 10, 17, 1, 2, netip.IPv6Loopback(), netip.IPv6Loopback(), 0, 0, 0, "")[:39], ErrTruncated},
		{"a HEPv2 family other than 2 or 10 is a bad family", []byte{2, 16, 28, 17, 0, 0, 0, 0}, ErrBadFamily},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Packet{Payload: []byte("stale"), NodeID: 9}
			err := p.Unmarshal(tc.in)
			if err != tc.want { // bare sentinels, by contract
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestUnmarshalForgetsThePreviousPacket(t *testing.T) {
	full := roundTripCases()[1].p
	b1, _ := full.Marshal()
	b2 := hep3(chunk(0, 15, []byte("second")))
	var p Packet
	if err := p.Unmarshal(b1); err != nil {
		t.Fatal(err)
	}
	if err := p.Unmarshal(b2); err != nil {
		t.Fatal(err)
	}
	samePacket(t, &p, &Packet{Version: 3, Payload: []byte("second")})
}

func TestFrameLengthFramesAStream(t *testing.T) {
	pkt := hep3(chunk(0, 15, []byte("abc")))
	for _, tc := range []struct {
		name    string
		in      []byte
		want    int
		wantErr error
	}{
		{"a whole packet gives its length", pkt, len(pkt), nil},
		{"a packet followed by the next gives the first length", append(bytes.Clone(pkt), pkt...), len(pkt), nil},
		{"the bare header is enough to know the length", pkt[:6], len(pkt), nil},
		{"nothing yet means read more", nil, 0, ErrTruncated},
		{"part of the magic means read more", []byte("HE"), 0, ErrTruncated},
		{"the magic alone means read more", []byte("HEP3\x00"), 0, ErrTruncated},
		{"a wrong first byte is seen at once", []byte("X"), 0, ErrNotHEP},
		{"a wrong third byte is seen at once", []byte("HEX"), 0, ErrNotHEP},
		{"HEPv2 cannot be framed", hep2(2, 2, 17, 1, 2, netip.IPv4Unspecified(), netip.IPv4Unspecified(), 0, 0, 0, ""), 0, ErrNotHEP},
		{"a length below the header loses the framing", []byte("HEP3\x00\x05"), 0, ErrBadLength},
		{"a length of exactly the header is an empty packet", []byte("HEP3\x00\x06"), 6, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := FrameLength(tc.in)
			if n != tc.want || err != tc.wantErr {
				t.Errorf("FrameLength = %d, %v; want %d, %v", n, err, tc.want, tc.wantErr)
			}
		})
	}
}

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("test vector missing (see testdata/README.md): %v", err)
	}
	return b
}

// The Kamailio vectors were captured on 2026-11-26 (testdata/README.md); a
// timestamp decoded in the wrong byte order lands decades away from it.
func assertCaptureDay(t *testing.T, p *Packet) {
	t.Helper()
	got := time.Unix(0, p.UnixNano()).UTC().Format(time.DateOnly)
	if got != "2026-11-26" {
		t.Errorf("timestamp %d.%06d is on %s, want the capture day 2026-11-26", p.TimestampSec, p.TimestampUsec, got)
	}
	if p.TimestampUsec >= 1e6 {
		t.Errorf("microseconds %d out of range", p.TimestampUsec)
	}
}

func TestUnmarshalReadsWhatKamailioSends(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	t.Run("a HEPv3 SIP packet from siptrace", func(t *testing.T) {
		var p Packet
		if err := p.Unmarshal(readVector(t, "kamailio-hepv3-sip.bin")); err != nil {
			t.Fatal(err)
		}
		want := Packet{Version: 3, IPFamily: FamilyIPv4, Protocol: 17, SrcIP: lo, DstIP: lo,
			SrcPort: 5099, DstPort: 5073, ProtoType: ProtoSIP, NodeID: 2345,
			AuthKey: []byte("sipscope-key"), CorrelationID: []byte("sipscope-hep-vector@127.0.0.1-corr"),
			Payload: p.Payload, TimestampSec: p.TimestampSec, TimestampUsec: p.TimestampUsec}
		samePacket(t, &p, &want)
		if !strings.HasPrefix(string(p.Payload), "OPTIONS sip:probe@127.0.0.1:5073 SIP/2.0\r\n") ||
			!strings.HasSuffix(string(p.Payload), "Content-Length: 0\r\n\r\n") ||
			!strings.Contains(string(p.Payload), "\r\nCall-ID: sipscope-hep-vector@127.0.0.1\r\n") {
			t.Errorf("payload is not the whole OPTIONS request:\n%s", p.Payload)
		}
		assertCaptureDay(t, &p)
	})
	t.Run("a HEPv3 log packet from hlog", func(t *testing.T) {
		var p Packet
		if err := p.Unmarshal(readVector(t, "kamailio-hepv3-log.bin")); err != nil {
			t.Fatal(err)
		}
		want := Packet{Version: 3, IPFamily: FamilyIPv4, Protocol: 17, SrcIP: lo, DstIP: lo,
			SrcPort: 5073, DstPort: 9063, ProtoType: ProtoLog, NodeID: 2345,
			AuthKey: []byte("sipscope-key"), CorrelationID: []byte("sipscope-hep-vector@127.0.0.1"),
			Payload: []byte("sipscope test log line"), TimestampSec: p.TimestampSec, TimestampUsec: p.TimestampUsec}
		samePacket(t, &p, &want)
		assertCaptureDay(t, &p)
	})
	t.Run("a HEPv2 SIP packet from siptrace", func(t *testing.T) {
		var p Packet
		if err := p.Unmarshal(readVector(t, "kamailio-hepv2-sip.bin")); err != nil {
			t.Fatal(err)
		}
		want := Packet{Version: 2, IPFamily: FamilyIPv4, Protocol: 17, SrcIP: lo, DstIP: lo,
			SrcPort: 5099, DstPort: 5072, ProtoType: ProtoSIP, NodeID: 2345,
			Payload: p.Payload, TimestampSec: p.TimestampSec, TimestampUsec: p.TimestampUsec}
		samePacket(t, &p, &want)
		if !strings.HasPrefix(string(p.Payload), "OPTIONS sip:probe@127.0.0.1:5072 SIP/2.0\r\n") ||
			!strings.HasSuffix(string(p.Payload), "Content-Length: 0\r\n\r\n") {
			t.Errorf("payload is not the whole OPTIONS request:\n%q", p.Payload)
		}
		assertCaptureDay(t, &p)
	})
	t.Run("re-encoding the HEPv3 SIP packet keeps every field", func(t *testing.T) {
		var p, again Packet
		if err := p.Unmarshal(readVector(t, "kamailio-hepv3-sip.bin")); err != nil {
			t.Fatal(err)
		}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := again.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		samePacket(t, &again, &p)
	})
}

func TestDecodingAllocatesNothing(t *testing.T) {
	v3, _ := (&roundTripCases()[1].p).Marshal()
	v2 := hep2(2, 10, 17, 1, 2, netip.IPv6Loopback(), netip.IPv6Loopback(), 1, 2, 3, sipOptions)
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"HEPv3 with every chunk", v3},
		{"HEPv2 over IPv6", v2},
		{"a damaged packet", v3[:len(v3)-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Packet
			allocs := testing.AllocsPerRun(1000, func() {
				_ = p.Unmarshal(tc.in)
				_, _ = FrameLength(tc.in)
			})
			if allocs != 0 {
				t.Errorf("%.1f allocations per decode, want 0", allocs)
			}
		})
	}
	t.Run("encoding into a caller's buffer", func(t *testing.T) {
		p := roundTripCases()[1].p
		buf := make([]byte, p.MarshalSize())
		allocs := testing.AllocsPerRun(1000, func() { _, _ = p.MarshalTo(buf) })
		if allocs != 0 {
			t.Errorf("%.1f allocations per MarshalTo, want 0", allocs)
		}
	})
}

func BenchmarkUnmarshal(b *testing.B) {
	v3, _ := (&roundTripCases()[1].p).Marshal()
	for _, bc := range []struct {
		name string
		in   []byte
	}{
		{"HEPv3", v3},
		{"HEPv2", hep2(2, 2, 17, 5060, 5060, netip.IPv4Unspecified(), netip.IPv4Unspecified(), 1, 2, 3, sipOptions)},
		{"Kamailio-HEPv3", readVector(b, "kamailio-hepv3-sip.bin")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var p Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				if err := p.Unmarshal(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMarshalTo(b *testing.B) {
	p := roundTripCases()[1].p
	buf := make([]byte, p.MarshalSize())
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := p.MarshalTo(buf); err != nil {
			b.Fatal(err)
		}
	}
}
