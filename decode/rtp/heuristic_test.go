package rtp

import (
	"testing"

	"github.com/pion/rtcp"
)

// rtcpPackets are RTCP packets and compounds marshalled by pion/rtcp.
func rtcpPackets(t testing.TB) map[string][]byte {
	t.Helper()
	report := rtcp.ReceptionReport{SSRC: 0x11111111, FractionLost: 3, TotalLost: 7, LastSequenceNumber: 40000, Jitter: 12}
	sets := map[string][]rtcp.Packet{
		"a sender report with SDES": {
			&rtcp.SenderReport{SSRC: 0xcafebabe, NTPTime: 1 << 40, RTPTime: 8000, PacketCount: 50, OctetCount: 8000, Reports: []rtcp.ReceptionReport{report}},
			&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: 0xcafebabe,
				Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "alice@example.com"}}}}},
		},
		"a receiver report with SDES and BYE": {
			&rtcp.ReceiverReport{SSRC: 0xcafebabe, Reports: []rtcp.ReceptionReport{report, report}},
			&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: 0xcafebabe,
				Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "x"}}}}},
			&rtcp.Goodbye{Sources: []uint32{0xcafebabe}, Reason: "bye"},
		},
		"an empty receiver report":     {&rtcp.ReceiverReport{SSRC: 1}},
		"a picture loss indication":    {&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 2}},
		"a generic NACK":               {&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: 2, Nacks: []rtcp.NackPair{{PacketID: 100, LostPackets: 3}}}},
		"an application-defined":       {&rtcp.ApplicationDefined{SubType: 1, SSRC: 3, Name: "TEST", Data: []byte{1, 2, 3, 4}}},
		"an extended report with DLRR": {&rtcp.ExtendedReport{SenderSSRC: 5, Reports: []rtcp.ReportBlock{&rtcp.DLRRReportBlock{Reports: []rtcp.DLRRReport{{SSRC: 6, LastRR: 7, DLRR: 8}}}}}},
	}
	out := map[string][]byte{}
	for name, pkts := range sets {
		b, err := rtcp.Marshal(pkts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = b
	}
	return out
}

func compoundRTCP(t testing.TB) []byte { return rtcpPackets(t)["a receiver report with SDES and BYE"] }

func TestRTCPLooksLikeRTCPAndNotLikeRTP(t *testing.T) {
	for name, b := range rtcpPackets(t) {
		t.Run(name, func(t *testing.T) {
			if !LooksLikeRTCP(b) {
				t.Errorf("LooksLikeRTCP(%x) = false", b)
			}
			if LooksLikeRTP(b) {
				t.Errorf("LooksLikeRTP(%x) = true", b)
			}
		})
	}
}

func TestRTPLooksLikeRTPAndNotLikeRTCP(t *testing.T) {
	cases := map[string][]byte{
		"G.711":                     packet(0x80, 8, 0, nil, audio, 0),
		"a telephone event":         packet(0x80, 0x80|101, 0, nil, []byte{1, 10, 0, 0}, 0),
		"CSRCs, extension, padding": packet(0xb0, 96, 3, oneByteExt, audio, 3),
		"a payload type of 77 (RTCP 205 with marker) that is no RTCP compound": packet(0x80, 0x80|77, 0, nil, audio, 0),
		"an empty keepalive": packet(0x80, 0, 0, nil, nil, 0),
	}
	for i, b := range pionPackets(t) {
		cases["pion packet "+string(rune('A'+i))] = b
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if !LooksLikeRTP(b) {
				t.Errorf("LooksLikeRTP(%x) = false", b)
			}
			if LooksLikeRTCP(b) {
				t.Errorf("LooksLikeRTCP(%x) = true", b)
			}
		})
	}
}

func TestOtherTrafficLooksLikeNeither(t *testing.T) {
	rtcpRR := rtcpPackets(t)["an empty receiver report"]
	sr := rtcpPackets(t)["a sender report with SDES"]
	cases := map[string][]byte{
		"nothing":                                     nil,
		"a SIP request":                               []byte("INVITE sip:bob@example.com SIP/2.0\r\n"),
		"a SIP response":                              []byte("SIP/2.0 200 OK\r\n"),
		"a STUN binding request":                      {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
		"a DTLS record":                               {0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10},
		"a keepalive CRLF":                            []byte("\r\n\r\n"),
		"payload type 72 without marker":              packet(0x80, 72, 0, nil, audio, 0),
		"payload type 76 without marker":              packet(0x80, 76, 0, nil, audio, 0),
		"RTP with padding past the payload":           append(packet(0xa0, 0, 0, nil, audio[:2], 0), 9),
		"an RTCP compound with a stray byte":          append(append([]byte{}, sr...), 1),
		"an RTCP compound with 4 zero bytes after it": append(append([]byte{}, sr...), 0, 0, 0, 0),
		"an RTCP length running past the datagram":    sr[:len(sr)-4],
		"RTCP padding in a packet that is not the last": func() []byte {
			b := append(append([]byte{}, rtcpRR...), rtcpRR...)
			b[0] |= 0x20
			b[7] = 4
			return b
		}(),
		"a sender report shorter than its sender info":  {0x80, 200, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2},
		"a receiver report announcing a block it lacks": {0x81, 201, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2},
		"RTCP version 1":               {0x40, 201, 0, 1, 0, 0, 0, 1},
		"SRTCP with its index and tag": append(append([]byte{}, sr...), 0x80, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if LooksLikeRTP(b) {
				t.Errorf("LooksLikeRTP(%x) = true", b)
			}
			if LooksLikeRTCP(b) {
				t.Errorf("LooksLikeRTCP(%x) = true", b)
			}
		})
	}
}

// Second bytes just outside 200-207 are RTP with the marker set (payload
// types 71 and 80), not RTCP.
func TestPacketTypesBesideTheRTCPRangeAreRTP(t *testing.T) {
	for _, pt := range []byte{199, 208} {
		b := []byte{0x80, pt, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2}
		if LooksLikeRTCP(b) || !LooksLikeRTP(b) {
			t.Errorf("second byte %d: RTCP %v, RTP %v", pt, LooksLikeRTCP(b), LooksLikeRTP(b))
		}
	}
}

func TestUpToThreeZeroBytesAfterRTCPAreTolerated(t *testing.T) {
	sr := rtcpPackets(t)["a sender report with SDES"]
	for n := 1; n <= 3; n++ {
		if b := append(append([]byte{}, sr...), make([]byte, n)...); !LooksLikeRTCP(b) {
			t.Errorf("%d zero bytes after the compound: not RTCP", n)
		}
	}
	if LooksLikeRTCP([]byte{0, 0, 0}) {
		t.Error("three zero bytes alone are RTCP")
	}
}

func BenchmarkLooksLikeRTCP(b *testing.B) {
	pkt := compoundRTCP(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if !LooksLikeRTCP(pkt) {
			b.Fatal("not RTCP")
		}
	}
}
