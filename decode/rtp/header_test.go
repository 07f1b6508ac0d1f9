package rtp

import (
	"bytes"
	"fmt"
	"testing"

	pionrtp "github.com/pion/rtp"
)

// packet builds an RTP packet from its parts.
func packet(first, second byte, csrcs int, ext []byte, payload []byte, pad int) []byte {
	b := []byte{first | byte(csrcs), second, 0x12, 0x34, 0, 0, 0x03, 0x20, 0xca, 0xfe, 0xba, 0xbe}
	for i := range csrcs {
		b = append(b, 0, 0, 0, byte(i+1))
	}
	b = append(b, ext...)
	b = append(b, payload...)
	if pad > 0 {
		b = append(b, make([]byte, pad-1)...)
		b = append(b, byte(pad))
	}
	return b
}

var audio = bytes.Repeat([]byte{0xd5}, 160)

// oneByteExt is an RFC 8285 one-byte extension block: audio level (id 1).
var oneByteExt = []byte{0xbe, 0xde, 0x00, 0x01, 0x10, 0x85, 0x00, 0x00}

func TestUnmarshalReadsEveryPartOfTheHeader(t *testing.T) {
	cases := []struct {
		name   string
		packet []byte
		want   Header
	}{
		{"a bare G.711 packet", packet(0x80, 8, 0, nil, audio, 0),
			Header{Version: 2, PayloadType: 8, SequenceNumber: 0x1234, Timestamp: 800, SSRC: 0xcafebabe, Payload: audio}},
		{"the marker bit with a dynamic payload type", packet(0x80, 0x80|101, 0, nil, audio[:4], 0),
			Header{Version: 2, Marker: true, PayloadType: 101, SequenceNumber: 0x1234, Timestamp: 800, SSRC: 0xcafebabe, Payload: audio[:4]}},
		{"two CSRCs are skipped", packet(0x80, 0, 2, nil, audio, 0),
			Header{Version: 2, CSRCCount: 2, SequenceNumber: 0x1234, Timestamp: 800, SSRC: 0xcafebabe, Payload: audio}},
		{"a one-byte header extension is skipped", packet(0x90, 0, 0, oneByteExt, audio, 0),
			Header{Version: 2, Extension: true, ExtensionProfile: 0xbede, SequenceNumber: 0x1234, Timestamp: 800, SSRC: 0xcafebabe, Payload: audio}},
		{"padding is cut off the payload", packet(0xa0, 0, 0, nil, audio, 4),
			Header{Version: 2, Padding: true, PaddingLen: 4, SequenceNumber: 0x1234, Timestamp: 800, SSRC: 0xcafebabe, Payload: audio}},
		{"CSRCs, an empty extension and padding together", packet(0xb0, 0x80|96, 15, []byte{0x10, 0x00, 0, 0}, audio, 1),
			Header{Version: 2, Padding: true, Extension: true, Marker: true, PayloadType: 96, CSRCCount: 15, ExtensionProfile: 0x1000,
				SequenceNumber: 0x1234, Timestamp: 800, SSRC: 0xcafebabe, Payload: audio, PaddingLen: 1}},
		{"a packet of padding only has an empty payload", packet(0xa0, 0, 0, nil, nil, 8),
			Header{Version: 2, Padding: true, PaddingLen: 8, SequenceNumber: 0x1234, Timestamp: 800, SSRC: 0xcafebabe, Payload: []byte{}}},
		{"a header with no payload", packet(0x80, 13, 0, nil, nil, 0),
			Header{Version: 2, PayloadType: 13, SequenceNumber: 0x1234, Timestamp: 800, SSRC: 0xcafebabe, Payload: []byte{}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := Header{Payload: []byte("stale"), PaddingLen: 9, ExtensionProfile: 9}
			if err := h.Unmarshal(c.packet); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", h) != fmt.Sprintf("%+v", c.want) {
				t.Errorf("got  %+v\nwant %+v", h, c.want)
			}
		})
	}
}

func TestUnmarshalRejectsInconsistentPackets(t *testing.T) {
	cases := []struct {
		name   string
		packet []byte
		want   error
	}{
		{"eleven bytes", packet(0x80, 0, 0, nil, nil, 0)[:11], ErrTooShort},
		{"version 1", packet(0x40, 0, 0, nil, audio, 0), ErrVersion},
		{"version 0 (STUN)", []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8}, ErrVersion},
		{"a CSRC count past the end", packet(0x80, 0, 3, nil, nil, 0)[:12+11], ErrHeaderOverflow},
		{"an extension header cut short", packet(0x90, 0, 0, []byte{0xbe, 0xde, 0}, nil, 0), ErrHeaderOverflow},
		{"an extension length past the end", packet(0x90, 0, 0, []byte{0xbe, 0xde, 0, 2, 0x10, 0x85, 0, 0}, nil, 0), ErrHeaderOverflow},
		{"a padding count of zero", append(packet(0xa0, 0, 0, nil, audio, 0), 0), ErrPadding},
		{"a padding count past the payload", append(packet(0xa0, 0, 0, nil, audio[:3], 0), 5), ErrPadding},
		{"the padding flag on a bare header", packet(0xa0, 0, 0, nil, nil, 0), ErrPadding},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h Header
			if err := h.Unmarshal(c.packet); err != c.want {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// pion/rtp is an independent implementation: whatever it decodes (as RTP
// version 2), Unmarshal must decode to the same fields.
func agreeWithPion(t *testing.T, b []byte) {
	t.Helper()
	var pp pionrtp.Packet
	if pp.Unmarshal(b) != nil || pp.Version != 2 {
		return
	}
	var h Header
	if err := h.Unmarshal(b); err != nil {
		t.Fatalf("pion decodes %x, Unmarshal fails: %v", b, err)
	}
	ph := pp.Header
	if h.Padding != ph.Padding || h.Extension != ph.Extension || h.Marker != ph.Marker ||
		h.PayloadType != ph.PayloadType || h.SequenceNumber != ph.SequenceNumber ||
		h.Timestamp != ph.Timestamp || h.SSRC != ph.SSRC || int(h.CSRCCount) != len(ph.CSRC) ||
		(h.Extension && h.ExtensionProfile != ph.ExtensionProfile) ||
		h.PaddingLen != ph.PaddingSize || !bytes.Equal(h.Payload, pp.Payload) {
		t.Fatalf("%x:\n ours %+v\npion %+v payload %x", b, h, ph, pp.Payload)
	}
}

func TestUnmarshalAgreesWithPionOnPacketsPionBuilds(t *testing.T) {
	for i, p := range pionPackets(t) {
		t.Run(fmt.Sprint(i), func(t *testing.T) { agreeWithPion(t, p) })
	}
}

// pionPackets marshals a spread of headers with pion/rtp.
func pionPackets(t testing.TB) [][]byte {
	var out [][]byte
	for _, csrcs := range []int{0, 1, 15} {
		for _, ext := range []int{0, 1, 2} { // none, one-byte, two-byte
			for _, pad := range []byte{0, 1, 7} {
				h := pionrtp.Header{Version: 2, Marker: pad == 7, PayloadType: 96 + byte(csrcs), SequenceNumber: 65535,
					Timestamp: 0xfffffff0, SSRC: 0x01020304, Padding: pad > 0, PaddingSize: pad}
				for i := range csrcs {
					h.CSRC = append(h.CSRC, uint32(i)+100)
				}
				switch ext {
				case 1:
					h.Extension, h.ExtensionProfile = true, pionrtp.ExtensionProfileOneByte
					if err := h.SetExtension(1, []byte{0x85}); err != nil {
						t.Fatal(err)
					}
				case 2:
					h.Extension, h.ExtensionProfile = true, pionrtp.ExtensionProfileTwoByte
					if err := h.SetExtension(3, bytes.Repeat([]byte{7}, 20)); err != nil {
						t.Fatal(err)
					}
				}
				pp := pionrtp.Packet{Header: h, Payload: audio[:20+csrcs]}
				b, err := pp.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
		}
	}
	return out
}

func TestUnmarshalDoesNotAllocate(t *testing.T) {
	b := packet(0xb0, 0x80|96, 2, oneByteExt, audio, 4)
	var h Header
	allocs := testing.AllocsPerRun(1000, func() {
		if err := h.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		if !LooksLikeRTP(b) {
			t.Fatal("not RTP")
		}
		var e Event
		if err := e.Unmarshal(h.Payload); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per packet", allocs)
	}
	rtcp := compoundRTCP(t)
	if a := testing.AllocsPerRun(1000, func() { LooksLikeRTCP(rtcp) }); a != 0 {
		t.Errorf("LooksLikeRTCP: %.1f allocations", a)
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	pkt := packet(0x80, 8, 0, nil, audio, 0)
	var h Header
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if err := h.Unmarshal(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLooksLikeRTP(b *testing.B) {
	pkt := packet(0x80, 8, 0, nil, audio, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if !LooksLikeRTP(pkt) {
			b.Fatal("not RTP")
		}
	}
}
