package correlate

import (
	"net/netip"
	"testing"
)

func TestMediaIsBoundPerDirection(t *testing.T) {
	c := New(DefaultConfig())
	invite := inv(0, 1)
	invite.sdp = sdpBody("10.0.0.1", 40000)
	answer := ok(sec)
	answer.sdp = sdpBody("10.0.0.2", 50000)
	feed(t, c, "media-1@test", []sipMsg{invite, answer})

	aliceRTP := netip.MustParseAddrPort("10.0.0.1:40000")
	bobRTP := netip.MustParseAddrPort("10.0.0.2:50000")
	bobRTCP := netip.MustParseAddrPort("10.0.0.2:50001")
	stranger := netip.MustParseAddrPort("192.0.2.9:7000")
	tests := []struct {
		name       string
		src, dst   netip.AddrPort
		callID     string
		fromCaller bool
	}{
		{"caller to callee", aliceRTP, bobRTP, "media-1@test", true},
		{"callee to caller", bobRTP, aliceRTP, "media-1@test", false},
		{"RTCP to the callee's port plus one", netip.MustParseAddrPort("10.0.0.1:40001"), bobRTCP, "media-1@test", true},
		{"RTCP from the callee's port plus one", bobRTCP, stranger, "media-1@test", false},
		{"to the callee's port from an unannounced source", stranger, bobRTP, "media-1@test", true},
		{"from the callee's port to an unannounced address", bobRTP, stranger, "media-1@test", false},
		{"a flow no SDP explains", stranger, stranger, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, fromCaller := c.MediaDirection(tt.src, tt.dst)
			if id != tt.callID || fromCaller != tt.fromCaller {
				t.Errorf("MediaDirection = %q %v, want %q %v", id, fromCaller, tt.callID, tt.fromCaller)
			}
			if got := c.MediaCallID(tt.src, tt.dst); got != tt.callID {
				t.Errorf("MediaCallID = %q", got)
			}
		})
	}
}

func TestBindMediaLearnsATranslatedSource(t *testing.T) {
	c := New(DefaultConfig())
	invite := inv(0, 1)
	invite.sdp = sdpBody("192.168.1.20", 40000) // the caller's private address
	answer := ok(sec)
	answer.sdp = sdpBody("10.0.0.2", 50000)
	feed(t, c, "nat@test", []sipMsg{invite, answer})
	public := netip.MustParseAddrPort("198.51.100.7:61000")
	bobRTP := netip.MustParseAddrPort("10.0.0.2:50000")

	steps := []struct {
		name     string
		src, dst netip.AddrPort
		want     MediaBinding
	}{
		{"the caller's RTP arrives from its NAT address", public, bobRTP, MediaBinding{CallID: "nat@test", FromCaller: true, NAT: true}},
		{"the callee's RTP back to that address is bound too", bobRTP, public, MediaBinding{CallID: "nat@test", FromCaller: false, NAT: true}},
		{"a flow between announced endpoints is no NAT", netip.MustParseAddrPort("192.168.1.20:40000"), bobRTP, MediaBinding{CallID: "nat@test", FromCaller: true}},
		{"unbound media stays unbound", netip.MustParseAddrPort("203.0.113.1:4000"), netip.MustParseAddrPort("203.0.113.2:4000"), MediaBinding{}},
	}
	for _, s := range steps {
		if got := c.BindMedia(s.src, s.dst); got != s.want {
			t.Errorf("%s: %+v, want %+v", s.name, got, s.want)
		}
	}
	if n := c.Stats().NATBindings; n != 1 {
		t.Errorf("NAT bindings %d, want 1", n)
	}
}

func TestReInviteMovesMediaAndDirection(t *testing.T) {
	c := New(DefaultConfig())
	invite := inv(0, 1)
	invite.sdp = sdpBody("10.0.0.1", 40000)
	answer := ok(sec)
	answer.sdp = sdpBody("10.0.0.2", 50000)
	// The callee moves its media with a re-INVITE of its own.
	move := sipMsg{at: 10 * sec, back: true, start: "INVITE", cseq: "1 INVITE", branch: "move1", toTag: "a1", sdp: sdpBody("10.0.0.3", 52000)}
	feed(t, c, "move@test", []sipMsg{invite, answer, move})
	if id, fromCaller := c.MediaDirection(netip.MustParseAddrPort("10.0.0.3:52000"), netip.MustParseAddrPort("10.0.0.1:40000")); id != "move@test" || fromCaller {
		t.Errorf("callee's new endpoint to caller: %q fromCaller=%v", id, fromCaller)
	}
	if id, fromCaller := c.MediaDirection(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.3:52000")); id != "move@test" || !fromCaller {
		t.Errorf("caller to callee's new endpoint: %q fromCaller=%v", id, fromCaller)
	}
	// Another call announcing the caller's old port takes it over.
	other := inv(0, 1)
	other.sdp = sdpBody("10.0.0.1", 40000)
	feed(t, c, "next@test", []sipMsg{other})
	if id := c.MediaCallID(netip.MustParseAddrPort("10.0.0.2:50000"), netip.MustParseAddrPort("10.0.0.1:40000")); id != "next@test" {
		t.Errorf("reused port bound to %q", id)
	}
}

func TestMaxMediaIsCounted(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxMedia = 1
	c := New(cfg)
	invite := inv(0, 1)
	invite.sdp = sdpBody("10.0.0.1", 40000)
	answer := ok(sec)
	answer.sdp = sdpBody("10.0.0.2", 50000)
	feed(t, c, "max@test", []sipMsg{invite, answer})
	if s := c.Stats(); s.MediaDropped != 1 || c.media.len() != 1 {
		t.Errorf("dropped %d, held %d endpoints", s.MediaDropped, c.media.len())
	}
}

func TestBadSDPIsCounted(t *testing.T) {
	c := New(DefaultConfig())
	invite := inv(0, 1)
	invite.sdp = "v=0\r\nm=audio notaport RTP/AVP 0\r\n"
	feed(t, c, "bad@test", []sipMsg{invite})
	if s := c.Stats(); s.BadSDP != 1 {
		t.Errorf("bad SDP %d", s.BadSDP)
	}
}

func TestRTCPEndpointsFollowTheSDP(t *testing.T) {
	tests := []struct {
		name  string
		attrs []string
		rtcp  string // where RTCP to the callee goes
		other string // an address that must not be bound
	}{
		{"port plus one by default", nil, "10.0.0.2:50001", "10.0.0.2:50003"},
		{"an a=rtcp port of its own", []string{"a=rtcp:53000"}, "10.0.0.2:53000", "10.0.0.2:50001"},
		{"an a=rtcp address and port", []string{"a=rtcp:53000 IN IP4 10.9.9.9"}, "10.9.9.9:53000", "10.0.0.2:50001"},
		{"rtcp-mux on the RTP port", []string{"a=rtcp-mux"}, "10.0.0.2:50000", "10.0.0.2:50001"},
	}
	stranger := netip.MustParseAddrPort("192.0.2.9:7000")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(DefaultConfig())
			answer := ok(sec)
			answer.sdp = sdpBody("10.0.0.2", 50000, tt.attrs...)
			feed(t, c, "rtcp@test", []sipMsg{inv(0, 1), answer})
			if id, fromCaller := c.MediaDirection(stranger, netip.MustParseAddrPort(tt.rtcp)); id != "rtcp@test" || !fromCaller {
				t.Errorf("RTCP to %s: %q %v", tt.rtcp, id, fromCaller)
			}
			if id := c.MediaCallID(stranger, netip.MustParseAddrPort(tt.other)); id != "" {
				t.Errorf("%s bound to %q", tt.other, id)
			}
		})
	}
}

func TestOnMediaHearsEndpointsLearnedAndForgotten(t *testing.T) {
	cfg := DefaultConfig()
	got := map[netip.AddrPort]bool{}
	cfg.OnMedia = func(ap netip.AddrPort, bound bool) { got[ap] = bound }
	c := New(cfg)
	d := &dialog{}
	ap := netip.MustParseAddrPort("192.0.2.7:40000")
	c.bindMedia(d, ap, mediaEntry{d: d})
	if !got[ap] {
		t.Fatalf("binding %v was not announced: %v", ap, got)
	}
	c.freeMedia(d)
	if bound, ok := got[ap]; !ok || bound {
		t.Errorf("freeing %v was not announced: %v", ap, got)
	}
}

// TestReusedMediaPortStaysWithTheCallThatSendsFromItsOwnEndpoint: a UAS that
// answers every call from one port (sipp does) hands that port to the
// newest call's SDP, yet RTP from an older call's caller endpoint to it is
// still the older call's.
func TestReusedMediaPortStaysWithTheCallThatSendsFromItsOwnEndpoint(t *testing.T) {
	c := New(DefaultConfig())
	uas := "10.0.0.2"
	for i, callID := range []string{"one@test", "two@test"} {
		invite := inv(0, 1)
		invite.sdp = sdpBody("10.0.0.1", 40000+2*i)
		answer := ok(sec)
		answer.sdp = sdpBody(uas, 50000)
		feed(t, c, callID, []sipMsg{invite, answer})
	}
	shared := netip.MustParseAddrPort("10.0.0.2:50000")
	if b := c.BindMedia(netip.MustParseAddrPort("10.0.0.1:40000"), shared); b.CallID != "one@test" || !b.FromCaller {
		t.Errorf("first call's caller RTP to the shared port: %+v", b)
	}
	if b := c.BindMedia(netip.MustParseAddrPort("10.0.0.1:40002"), shared); b.CallID != "two@test" || !b.FromCaller {
		t.Errorf("second call's caller RTP to the shared port: %+v", b)
	}
}
