package rtp

import (
	"testing"
	"unsafe"
)

// seedRTP adds built packets and real UDP payloads to a fuzz corpus.
func seedRTP(f *testing.F) {
	for _, b := range pionPackets(f) {
		f.Add(b)
	}
	for _, b := range rtcpPackets(f) {
		f.Add(b)
	}
	f.Add(packet(0xb0, 0x80|96, 15, oneByteExt, audio, 3))
	for _, name := range []string{"sipp__dtmf_2833_1.pcap", "heplify__rtp_rtcp_sip_ipv4_udp.pcap", "sngrep__aaa.pcap"} {
		n := 0
		for _, dg := range udpDatagramsF(f, name) {
			if n++; n > 60 {
				break
			}
			f.Add(dg.payload)
		}
	}
}

func inside(b, sub []byte) bool {
	if len(sub) == 0 {
		return true
	}
	s, e := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return e >= s && e+uintptr(len(sub)) <= s+uintptr(len(b))
}

// FuzzHeader: no panic; a decoded header accounts for every byte of the
// packet; it agrees with pion/rtp; events decode from any 4 bytes.
func FuzzHeader(f *testing.F) {
	seedRTP(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		err := h.Unmarshal(b)
		agreeWithPion(t, b)
		if err != nil {
			switch err {
			case ErrTooShort, ErrVersion, ErrHeaderOverflow, ErrPadding:
				return
			}
			t.Fatalf("unknown error %v", err)
		}
		if !inside(b, h.Payload) {
			t.Fatal("payload outside the packet")
		}
		ext := 0
		if h.Extension {
			off := HeaderLen + 4*int(h.CSRCCount)
			ext = 4 + 4*int(b[off+2])<<8 + 4*int(b[off+3])
		}
		if got := HeaderLen + 4*int(h.CSRCCount) + ext + len(h.Payload) + int(h.PaddingLen); got != len(b) {
			t.Fatalf("header+payload+padding = %d bytes of %d", got, len(b))
		}
		var e Event
		if err := e.Unmarshal(h.Payload); (err == nil) != (len(h.Payload) >= 4) {
			t.Fatalf("Event.Unmarshal on %d bytes: %v", len(h.Payload), err)
		}
	})
}

// FuzzHeuristics: no panic, and the two heuristics never both say yes; RTP
// implies a header that decodes, outside the RTCP payload types.
func FuzzHeuristics(f *testing.F) {
	seedRTP(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		isRTP, isRTCP := LooksLikeRTP(b), LooksLikeRTCP(b)
		if isRTP && isRTCP {
			t.Fatal("both RTP and RTCP")
		}
		if isRTP {
			var h Header
			if err := h.Unmarshal(b); err != nil || (h.PayloadType >= 72 && h.PayloadType <= 76) {
				t.Fatalf("RTP with %v, payload type %d", err, h.PayloadType)
			}
		}
		if isRTCP && (len(b) < 4 || b[0]>>6 != 2 || b[1] < 200 || b[1] > 207) {
			t.Fatalf("RTCP starting %x", b[:min(len(b), 2)])
		}
	})
}
