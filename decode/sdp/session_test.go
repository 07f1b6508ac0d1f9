package sdp

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

const offer = `v=0
o=alice 2890844526 2890844527 IN IP4 192.0.2.10
s=call
c=IN IP4 192.0.2.10
t=0 0
m=audio 49170 RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:40
a=sendrecv
`

func mustUnmarshal(t *testing.T, b []byte) *Session {
	t.Helper()
	var s Session
	if err := s.Unmarshal(b); err != nil {
		t.Fatalf("Unmarshal: %v\n%s", err, b)
	}
	return &s
}

func eq(t *testing.T, field string, got []byte, want string) {
	t.Helper()
	if string(got) != want {
		t.Errorf("%s = %q, want %q", field, got, want)
	}
}

func TestAnAudioOfferIsDecodedFieldByField(t *testing.T) {
	s := mustUnmarshal(t, crlf(offer))
	eq(t, "Origin.Username", s.Origin.Username, "alice")
	eq(t, "Origin.SessionID", s.Origin.SessionID, "2890844526")
	eq(t, "Origin.SessionVersion", s.Origin.SessionVersion, "2890844527")
	if s.Origin.Addr != netip.MustParseAddr("192.0.2.10") {
		t.Errorf("Origin.Addr = %v", s.Origin.Addr)
	}
	eq(t, "Name", s.Name, "call")
	if s.Connection.Addr != netip.MustParseAddr("192.0.2.10") || s.NumMedia != 1 || s.MediaCount != 1 || s.Flags != 0 {
		t.Fatalf("Connection=%v NumMedia=%d MediaCount=%d Flags=%v", s.Connection.Addr, s.NumMedia, s.MediaCount, s.Flags)
	}
	m := &s.Media[0]
	eq(t, "Type", m.Type, "audio")
	eq(t, "Proto", m.Proto, "RTP/AVP")
	eq(t, "Fmt", m.Fmt, "0 8 101")
	if m.Port != 49170 || m.NumPorts != 1 || !m.IsRTP() {
		t.Errorf("Port=%d NumPorts=%d IsRTP=%v", m.Port, m.NumPorts, m.IsRTP())
	}
	if got := m.Formats[:m.NumFormats]; !reflect.DeepEqual(got, []uint8{0, 8, 101}) {
		t.Errorf("Formats = %v", got)
	}
	if m.NumRTPMaps != 2 || m.RTPMaps[1].PT != 101 || m.RTPMaps[1].ClockRate != 8000 {
		t.Errorf("RTPMaps = %+v", m.RTPMaps[:m.NumRTPMaps])
	}
	eq(t, "FormatParams(101)", m.FormatParams(101), "0-16")
	if m.Ptime != 20 || m.MaxPtime != 40 || m.Direction != SendRecv {
		t.Errorf("Ptime=%d MaxPtime=%d Direction=%v", m.Ptime, m.MaxPtime, m.Direction)
	}
	// PCMA (8) has no rtpmap: the static table answers.
	for _, c := range []struct {
		pt    uint8
		name  string
		clock uint32
	}{{0, "PCMU", 8000}, {8, "PCMA", 8000}, {101, "telephone-event", 8000}, {96, "", 0}} {
		eq(t, "EncodingName", m.EncodingName(c.pt), c.name)
		if got := m.ClockRate(c.pt); got != c.clock {
			t.Errorf("ClockRate(%d) = %d, want %d", c.pt, got, c.clock)
		}
	}
	if got, want := s.RTPAddr(0), netip.MustParseAddrPort("192.0.2.10:49170"); got != want {
		t.Errorf("RTPAddr = %v, want %v", got, want)
	}
	if got, want := s.RTCPAddr(0), netip.MustParseAddrPort("192.0.2.10:49171"); got != want {
		t.Errorf("RTCPAddr = %v, want %v", got, want)
	}
}

func TestSessions(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, s *Session)
	}{
		{
			name: "an IPv6 connection address is parsed",
			in:   "v=0\no=- 1 1 IN IP6 2001:db8::1\ns=-\nc=IN IP6 2001:db8::2\nt=0 0\nm=audio 5004 RTP/AVP 9\n",
			check: func(t *testing.T, s *Session) {
				if s.MediaAddr(0) != netip.MustParseAddr("2001:db8::2") || s.Origin.Addr != netip.MustParseAddr("2001:db8::1") {
					t.Errorf("MediaAddr=%v Origin.Addr=%v", s.MediaAddr(0), s.Origin.Addr)
				}
				eq(t, "EncodingName(9)", s.Media[0].EncodingName(9), "G722")
				if s.Media[0].ClockRate(9) != 8000 {
					t.Errorf("G.722 clock = %d, want 8000", s.Media[0].ClockRate(9))
				}
			},
		},
		{
			name: "a multicast address with TTL and count keeps them apart from the address",
			in:   "v=0\nc=IN IP4 224.2.1.1/127/3\nm=video 51372/2 RTP/AVP 31\n",
			check: func(t *testing.T, s *Session) {
				c := s.Connection
				eq(t, "Address", c.Address, "224.2.1.1")
				if c.Addr != netip.MustParseAddr("224.2.1.1") || c.TTL != 127 || c.Count != 3 {
					t.Errorf("Connection = %+v", c)
				}
				if s.Media[0].NumPorts != 2 || s.Media[0].Port != 51372 {
					t.Errorf("Port=%d NumPorts=%d", s.Media[0].Port, s.Media[0].NumPorts)
				}
			},
		},
		{
			name: "an IPv6 multicast address has a count but no TTL",
			in:   "v=0\nc=IN IP6 ff15::101/3\nm=audio 5004 RTP/AVP 0\n",
			check: func(t *testing.T, s *Session) {
				if c := s.Connection; c.Addr != netip.MustParseAddr("ff15::101") || c.TTL != 0 || c.Count != 3 {
					t.Errorf("Connection = %+v", c)
				}
			},
		},
		{
			name: "several media sections each get their own formats and attributes",
			in: `v=0
o=- 1 1 IN IP4 198.51.100.1
c=IN IP4 198.51.100.1
m=audio 10000 RTP/AVP 18 0
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
m=video 10002 RTP/AVPF 96 97
a=rtpmap:96 H264/90000
a=rtpmap:97 VP8/90000
a=fmtp:96 profile-level-id=42e01f;packetization-mode=1
a=recvonly
m=image 10004 udptl t38
a=T38FaxVersion:0
`,
			check: func(t *testing.T, s *Session) {
				if s.NumMedia != 3 {
					t.Fatalf("NumMedia = %d", s.NumMedia)
				}
				a, v, img := &s.Media[0], &s.Media[1], &s.Media[2]
				eq(t, "audio FormatParams(18)", a.FormatParams(18), "annexb=no")
				if a.Direction != DirectionUnspecified || s.MediaDirection(0) != SendRecv {
					t.Errorf("audio direction %v / %v", a.Direction, s.MediaDirection(0))
				}
				eq(t, "video EncodingName(97)", v.EncodingName(97), "VP8")
				if v.ClockRate(96) != 90000 || s.MediaDirection(1) != RecvOnly || !v.IsRTP() {
					t.Errorf("video clock %d direction %v", v.ClockRate(96), s.MediaDirection(1))
				}
				eq(t, "image Type", img.Type, "image")
				eq(t, "image Fmt", img.Fmt, "t38")
				if img.NumFormats != 0 || img.IsRTP() {
					t.Errorf("image NumFormats=%d IsRTP=%v", img.NumFormats, img.IsRTP())
				}
			},
		},
		{
			name: "a media-level connection overrides the session-level one",
			in:   "v=0\nc=IN IP4 192.0.2.1\nm=audio 4000 RTP/AVP 0\nc=IN IP4 192.0.2.2\nm=audio 4002 RTP/AVP 0\n",
			check: func(t *testing.T, s *Session) {
				if s.MediaAddr(0) != netip.MustParseAddr("192.0.2.2") || s.MediaAddr(1) != netip.MustParseAddr("192.0.2.1") {
					t.Errorf("MediaAddr(0)=%v MediaAddr(1)=%v", s.MediaAddr(0), s.MediaAddr(1))
				}
				if s.MediaAddr(2).IsValid() || s.MediaAddr(-1).IsValid() {
					t.Error("an out-of-range media section has an address")
				}
			},
		},
		{
			name: "media without any connection line has no address",
			in:   "v=0\nm=audio 4000 RTP/AVP 0\n",
			check: func(t *testing.T, s *Session) {
				if s.MediaAddr(0).IsValid() {
					t.Errorf("MediaAddr = %v", s.MediaAddr(0))
				}
			},
		},
		{
			name: "a host name in c= is kept as text with no address",
			in:   "v=0\nc=IN IP4 media.example.com\nm=audio 4000 RTP/AVP 0\n",
			check: func(t *testing.T, s *Session) {
				eq(t, "Address", s.Connection.Address, "media.example.com")
				if s.MediaAddr(0).IsValid() {
					t.Errorf("MediaAddr = %v", s.MediaAddr(0))
				}
			},
		},
		{
			name: "the session-level direction applies where a section has none",
			in:   "v=0\na=sendonly\nc=IN IP4 192.0.2.1\nm=audio 4000 RTP/AVP 0\nm=audio 4002 RTP/AVP 0\na=inactive\nm=audio 4004 RTP/AVP 0\na=SendRecv\n",
			check: func(t *testing.T, s *Session) {
				want := []Direction{SendOnly, Inactive, SendRecv}
				for i, d := range want {
					if got := s.MediaDirection(i); got != d {
						t.Errorf("MediaDirection(%d) = %v, want %v", i, got, d)
					}
				}
				if !s.OnHold(0) || !s.OnHold(1) || s.OnHold(2) {
					t.Errorf("OnHold = %v %v %v", s.OnHold(0), s.OnHold(1), s.OnHold(2))
				}
			},
		},
		{
			name: "hold with 0.0.0.0 is an unspecified address",
			in:   "v=0\no=- 1 2 IN IP4 192.0.2.1\nc=IN IP4 0.0.0.0\nm=audio 4000 RTP/AVP 0\n",
			check: func(t *testing.T, s *Session) {
				if a := s.MediaAddr(0); !a.IsValid() || !a.IsUnspecified() || !s.OnHold(0) {
					t.Errorf("MediaAddr = %v, OnHold = %v", a, s.OnHold(0))
				}
			},
		},
		{
			name: "a=rtcp gives the RTCP port and address",
			in:   "v=0\nc=IN IP4 192.0.2.1\nm=audio 49170 RTP/AVP 0\na=rtcp:53020 IN IP4 192.0.2.99\nm=audio 49180 RTP/AVP 0\na=rtcp:53030\n",
			check: func(t *testing.T, s *Session) {
				m := &s.Media[0]
				if m.RTCPPort != 53020 || m.RTCPAddr != netip.MustParseAddr("192.0.2.99") {
					t.Errorf("RTCPPort=%d RTCPAddr=%v", m.RTCPPort, m.RTCPAddr)
				}
				if got := s.RTCPAddr(0); got != netip.MustParseAddrPort("192.0.2.99:53020") {
					t.Errorf("RTCPAddr(0) = %v", got)
				}
				if got := s.RTCPAddr(1); got != netip.MustParseAddrPort("192.0.2.1:53030") {
					t.Errorf("RTCPAddr(1) = %v", got)
				}
			},
		},
		{
			name: "a=rtcp-mux sends RTCP to the RTP port",
			in:   "v=0\nc=IN IP4 192.0.2.1\nm=audio 49170 RTP/SAVPF 111\na=rtpmap:111 opus/48000/2\na=rtcp-mux\n",
			check: func(t *testing.T, s *Session) {
				m := &s.Media[0]
				if !m.RTCPMux || s.RTCPAddr(0) != netip.MustParseAddrPort("192.0.2.1:49170") {
					t.Errorf("RTCPMux=%v RTCPAddr=%v", m.RTCPMux, s.RTCPAddr(0))
				}
				if m.Channels(111) != 2 || m.ClockRate(111) != 48000 || m.Channels(0) != 1 {
					t.Errorf("opus channels %d clock %d", m.Channels(111), m.ClockRate(111))
				}
			},
		},
		{
			name: "a rejected stream has port 0 and no RTCP port",
			in:   "v=0\nc=IN IP4 192.0.2.1\nm=video 0 RTP/AVP 31\n",
			check: func(t *testing.T, s *Session) {
				if s.Media[0].Port != 0 || s.RTCPAddr(0).Port() != 0 {
					t.Errorf("Port=%d RTCP=%v", s.Media[0].Port, s.RTCPAddr(0))
				}
			},
		},
		{
			name: "bare LF line ends, trailing white space and no final newline are accepted",
			in:   "v=0\nc=IN IP4 192.0.2.1  \nm=audio 4000 RTP/AVP 0 \na=ptime:30",
			check: func(t *testing.T, s *Session) {
				if s.MediaAddr(0) != netip.MustParseAddr("192.0.2.1") || s.Media[0].Ptime != 30 || s.Media[0].NumFormats != 1 {
					t.Errorf("MediaAddr=%v Ptime=%d NumFormats=%d", s.MediaAddr(0), s.Media[0].Ptime, s.Media[0].NumFormats)
				}
			},
		},
		{
			name: "fractional ptime keeps its integer part",
			in:   "v=0\nm=audio 4000 RTP/AVP 0\na=ptime:20.0\nm=audio 4002 RTP/AVP 0\na=ptime:0.125\n",
			check: func(t *testing.T, s *Session) {
				if s.Media[0].Ptime != 20 || s.Media[1].Ptime != 0 || s.Flags != 0 {
					t.Errorf("Ptime %d %d Flags %v", s.Media[0].Ptime, s.Media[1].Ptime, s.Flags)
				}
			},
		},
		{
			name: "unknown and malformed lines are ignored, malformed attributes flagged",
			in:   "v=0\nx-unknown\nz=whatever\nb=AS:64\nm=audio 4000 RTP/AVP 0 8\na=rtpmap:8 PCMA\na=rtpmap:x PCMA/8000\na=ptime:abc\na=rtcp:99999\na=candidate:1 1 UDP 2130706431 192.0.2.1 4000 typ host\n",
			check: func(t *testing.T, s *Session) {
				if s.Flags != FlagBadLine|FlagBadAttribute || s.Media[0].NumRTPMaps != 0 || s.Media[0].Ptime != 0 || s.Media[0].RTCPPort != 0 {
					t.Errorf("Flags=%v Media=%+v", s.Flags, s.Media[0])
				}
			},
		},
		{
			name: "a malformed origin is flagged, not fatal",
			in:   "v=0\no=Cisco Systems SIP 1 1 IN IP4\nm=audio 4000 RTP/AVP 0\n",
			check: func(t *testing.T, s *Session) {
				if s.Flags != FlagBadOrigin || s.Origin.Username != nil {
					t.Errorf("Flags=%v Origin=%+v", s.Flags, s.Origin)
				}
			},
		},
		{
			name: "media beyond capacity are counted and their lines dropped",
			in: "v=0\nc=IN IP4 192.0.2.1\n" + strings.Repeat("m=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n", MaxMedia) +
				"m=audio 5000 RTP/AVP 0\nc=IN IP4 192.0.2.9\na=sendonly\n",
			check: func(t *testing.T, s *Session) {
				if s.NumMedia != MaxMedia || s.MediaCount != MaxMedia+1 || !s.Flags.Has(FlagTruncated) {
					t.Errorf("NumMedia=%d MediaCount=%d Flags=%v", s.NumMedia, s.MediaCount, s.Flags)
				}
				last := &s.Media[MaxMedia-1]
				if last.Direction != DirectionUnspecified || last.Connection.Address != nil {
					t.Errorf("lines of the dropped section landed on the last stored one: %+v", last)
				}
			},
		},
		{
			name: "formats beyond capacity are flagged",
			in:   "v=0\nm=audio 4000 RTP/AVP 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
			check: func(t *testing.T, s *Session) {
				if s.Media[0].NumFormats != MaxFormats || !s.Flags.Has(FlagTruncated) {
					t.Errorf("NumFormats=%d Flags=%v", s.Media[0].NumFormats, s.Flags)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustUnmarshal(t, crlf(tt.in)))
		})
	}
}

func TestRejections(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"an empty body is not SDP", "", ErrNotSDP},
		{"blank lines only are not SDP", "\r\n\r\n", ErrNotSDP},
		{"a body not starting with v= is not SDP", "<xml/>\n", ErrNotSDP},
		{"c= with too few fields", "v=0\nc=IN IP4\n", ErrBadConnection},
		{"c= with too many fields", "v=0\nc=IN IP4 1.2.3.4 x\n", ErrBadConnection},
		{"c= with an unknown network type", "v=0\nc=ATM NSAP 47.0005\n", ErrBadConnection},
		{"c= with an unknown address type", "v=0\nc=IN IPX 1.2.3.4\n", ErrBadConnection},
		{"c= IP4 with an IPv6 address", "v=0\nc=IN IP4 2001:db8::1\n", ErrBadConnection},
		{"c= IP6 with an IPv4 address", "v=0\nc=IN IP6 1.2.3.4\n", ErrBadConnection},
		{"c= with a bad IPv4 address", "v=0\nc=IN IP4 1.2.3.256\n", ErrBadConnection},
		{"c= with a TTL above 255", "v=0\nc=IN IP4 224.2.1.1/256\n", ErrBadConnection},
		{"c= with a non-numeric count", "v=0\nc=IN IP6 ff15::1/x\n", ErrBadConnection},
		{"a media-level c= is checked too", "v=0\nm=audio 4000 RTP/AVP 0\nc=IN IP4 garbage!\n", ErrBadConnection},
		{"m= without proto", "v=0\nm=audio 4000\n", ErrBadMedia},
		{"m= with a port above 65535", "v=0\nm=audio 65536 RTP/AVP 0\n", ErrBadMedia},
		{"m= with a non-numeric port", "v=0\nm=audio abc RTP/AVP 0\n", ErrBadMedia},
		{"m= with a zero port count", "v=0\nm=audio 4000/0 RTP/AVP 0\n", ErrBadMedia},
		{"m= beyond capacity is checked too", "v=0\n" + strings.Repeat("m=audio 4000 RTP/AVP 0\n", MaxMedia) + "m=audio x RTP/AVP 0\n", ErrBadMedia},
		{"a description above MaxBytes", "v=0\n" + strings.Repeat("a=x\n", MaxBytes/4), ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Session
			if err := s.Unmarshal(crlf(tt.in)); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestStaticPayloadTypesFollowRFC3551(t *testing.T) {
	// RFC 3551 §6, tables 4 and 5.
	want := map[uint8]struct {
		name     string
		clock    uint32
		channels uint8
	}{
		0: {"PCMU", 8000, 1}, 3: {"GSM", 8000, 1}, 4: {"G723", 8000, 1}, 5: {"DVI4", 8000, 1},
		6: {"DVI4", 16000, 1}, 7: {"LPC", 8000, 1}, 8: {"PCMA", 8000, 1}, 9: {"G722", 8000, 1},
		10: {"L16", 44100, 2}, 11: {"L16", 44100, 1}, 12: {"QCELP", 8000, 1}, 13: {"CN", 8000, 1},
		14: {"MPA", 90000, 0}, 15: {"G728", 8000, 1}, 16: {"DVI4", 11025, 1}, 17: {"DVI4", 22050, 1},
		18: {"G729", 8000, 1}, 25: {"CelB", 90000, 0}, 26: {"JPEG", 90000, 0}, 28: {"nv", 90000, 0},
		31: {"H261", 90000, 0}, 32: {"MPV", 90000, 0}, 33: {"MP2T", 90000, 0}, 34: {"H263", 90000, 0},
	}
	var m Media
	for pt := 0; pt < 128; pt++ {
		w := want[uint8(pt)]
		if got := string(m.EncodingName(uint8(pt))); got != w.name {
			t.Errorf("EncodingName(%d) = %q, want %q", pt, got, w.name)
		}
		if got := m.ClockRate(uint8(pt)); got != w.clock {
			t.Errorf("ClockRate(%d) = %d, want %d", pt, got, w.clock)
		}
		if got := m.Channels(uint8(pt)); got != w.channels {
			t.Errorf("Channels(%d) = %d, want %d", pt, got, w.channels)
		}
	}
	if name := m.EncodingName(0); cap(name) != len(name) {
		t.Error("a static name's capacity lets append overwrite its neighbour")
	}
}

func TestAnRTPMapOverridesTheStaticTable(t *testing.T) {
	s := mustUnmarshal(t, crlf("v=0\nm=audio 4000 RTP/AVP 9 18\na=rtpmap:9 G722/16000\na=rtpmap:18 g729/8000\na=rtpmap:18 G729A/8000\n"))
	m := &s.Media[0]
	if m.ClockRate(9) != 16000 {
		t.Errorf("ClockRate(9) = %d", m.ClockRate(9))
	}
	eq(t, "EncodingName(18)", m.EncodingName(18), "g729")
}

func TestReuseLeavesNothingFromThePreviousSession(t *testing.T) {
	// Every field of a media section set, then one that sets almost none.
	rich := "v=0\nc=IN IP4 224.2.1.1/127/3\nm=audio 5004/2 RTP/AVP 0 96\nc=IN IP6 ff15::101/3\na=rtpmap:96 opus/48000/2\na=fmtp:96 stereo=1\na=rtcp:5007 IN IP6 ::1\na=rtcp-mux\na=ptime:20\na=maxptime:40\na=recvonly\n"
	inputs := []string{offer, "v=0\nm=video 1 RTP/AVP 96\n", "garbage", offer, "v=0\nc=IN IP4 1.2.3.4\nm=audio 1 RTP/AVP 0\nm=audio x RTP/AVP 0\n", "v=0\n", rich, "v=0\nm=audio 1 x\n", rich, "v=0\n"}
	var reused Session
	for i, in := range inputs {
		errReused := reused.Unmarshal(crlf(in))
		var fresh Session
		errFresh := fresh.Unmarshal(crlf(in))
		if (errReused == nil) != (errFresh == nil) || !reflect.DeepEqual(reused, fresh) {
			t.Fatalf("input %d: reused session differs from a fresh one", i)
		}
	}
}

func TestUnmarshalDoesNotAllocate(t *testing.T) {
	in := crlf(offer + "m=video 5000 RTP/AVP 96\nc=IN IP6 2001:db8::5\na=rtpmap:96 H264/90000\na=rtcp:5005 IN IP6 2001:db8::6\n")
	var s Session
	allocs := testing.AllocsPerRun(1000, func() {
		if err := s.Unmarshal(in); err != nil {
			t.Fatal(err)
		}
		_ = s.MediaAddr(1)
		_ = s.RTCPAddr(1)
		_ = s.Media[0].EncodingName(8)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Unmarshal, want 0", allocs)
	}
}
