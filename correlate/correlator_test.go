package correlate

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
)

var (
	alice = netip.MustParseAddrPort("10.0.0.1:5060")
	bob   = netip.MustParseAddrPort("10.0.0.2:5060")
)

// exchange is one message of a scripted dialog: direction, start line, CSeq,
// whether the To has a tag, and an optional SDP body.
type exchange struct {
	fromAlice bool
	start     string
	cseq      string
	toTag     bool
	sdp       string
}

func request(method string) exchange {
	return exchange{fromAlice: true, start: method + " sip:bob@example.com SIP/2.0"}
}

func build(callID string, e exchange) []byte {
	cseq := e.cseq
	if cseq == "" {
		cseq = "1 INVITE"
	}
	to := "<sip:bob@example.com>"
	if e.toTag {
		to += ";tag=b1"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK%s\r\n", e.start, strings.ReplaceAll(cseq, " ", ""))
	fmt.Fprintf(&sb, "From: \"Alice\" <sip:alice@example.com>;tag=a1\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\nMax-Forwards: 70\r\n", to, callID, cseq)
	if e.sdp != "" {
		fmt.Fprintf(&sb, "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(e.sdp), e.sdp)
	} else {
		sb.WriteString("Content-Length: 0\r\n\r\n")
	}
	return []byte(sb.String())
}

func feed(t *testing.T, c *Correlator, callID string, script []exchange) {
	t.Helper()
	var m sip.Message
	for i, e := range script {
		b := build(callID, e)
		if err := m.Unmarshal(b); err != nil {
			t.Fatalf("message %d (%q) does not parse: %v", i, e.start, err)
		}
		src, dst := alice, bob
		if !e.fromAlice {
			src, dst = bob, alice
		}
		c.HandleSIP(int64(i+1)*1e9, src, dst, decode.TransportUDP, &m)
	}
}

func resp(code, cseq string, tag bool) exchange {
	return exchange{start: "SIP/2.0 " + code, cseq: cseq, toTag: tag}
}

func sdpBody(ip string, port int) string {
	return fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n", ip, ip, port)
}

func TestCallStates(t *testing.T) {
	invite := request("INVITE")
	ack := exchange{fromAlice: true, start: "ACK sip:bob@example.com SIP/2.0", cseq: "1 ACK", toTag: true}
	cancel := exchange{fromAlice: true, start: "CANCEL sip:bob@example.com SIP/2.0", cseq: "1 CANCEL"}
	tests := []struct {
		name   string
		script []exchange
		state  string
		code   int
	}{
		{"a 200 to the INVITE answers the call", []exchange{invite, resp("100 Trying", "1 INVITE", false), resp("180 Ringing", "1 INVITE", true), resp("200 OK", "1 INVITE", true), ack}, StateAnswered, 200},
		{"a 486 fails it with that code", []exchange{invite, resp("486 Busy Here", "1 INVITE", true)}, StateFailed, 486},
		{"CANCEL then 487 is cancelled", []exchange{invite, resp("180 Ringing", "1 INVITE", true), cancel, resp("200 OK", "1 CANCEL", true), resp("487 Request Terminated", "1 INVITE", true)}, StateCancelled, 487},
		{"CANCEL without any final is cancelled", []exchange{invite, cancel}, StateCancelled, 0},
		{"no final response is no_final", []exchange{invite, resp("100 Trying", "1 INVITE", false)}, StateNoFinal, 0},
		{"a 407 then an authenticated INVITE answered is answered",
			[]exchange{invite, resp("407 Proxy Authentication Required", "1 INVITE", true), {fromAlice: true, start: "INVITE sip:bob@example.com SIP/2.0", cseq: "2 INVITE"}, resp("200 OK", "2 INVITE", true)}, StateAnswered, 200},
		{"a failed re-INVITE does not change an answered call",
			[]exchange{invite, resp("200 OK", "1 INVITE", true), {fromAlice: true, start: "INVITE sip:bob@example.com SIP/2.0", cseq: "2 INVITE", toTag: true}, resp("491 Request Pending", "2 INVITE", true)}, StateAnswered, 200},
		{"CANCEL answered 408 with the INVITE failing 480 is failed",
			[]exchange{invite, cancel, resp("408 Request Timeout", "1 CANCEL", true), resp("480 Temporarily Unavailable", "1 INVITE", true)}, StateFailed, 480},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(DefaultConfig())
			feed(t, c, "call-1@test", tt.script)
			calls := c.Calls()
			if len(calls) != 1 {
				t.Fatalf("got %d calls, want 1", len(calls))
			}
			got := calls[0]
			if got.State != tt.state || got.FinalCode != tt.code {
				t.Errorf("state %q code %d, want %q %d", got.State, got.FinalCode, tt.state, tt.code)
			}
			if got.FromUser != "alice" || got.ToUser != "bob" || got.Messages != len(tt.script) {
				t.Errorf("from %q to %q messages %d", got.FromUser, got.ToUser, got.Messages)
			}
		})
	}
}

func TestRegistrationChallengedThenAccepted(t *testing.T) {
	c := New(DefaultConfig())
	reg := exchange{fromAlice: true, start: "REGISTER sip:example.com SIP/2.0", cseq: "1 REGISTER"}
	reg2 := reg
	reg2.cseq = "2 REGISTER"
	feed(t, c, "reg-1@test", []exchange{reg, resp("401 Unauthorized", "1 REGISTER", true), reg2, resp("200 OK", "2 REGISTER", true)})
	regs := c.Registrations()
	if len(regs) != 1 {
		t.Fatalf("got %d registrations", len(regs))
	}
	r := regs[0]
	if r.AoR != "sip:bob@example.com" || !r.Challenged || r.FinalCode != 200 || r.Messages != 4 {
		t.Errorf("got %+v", r)
	}
	if len(c.Calls()) != 0 {
		t.Errorf("a registration was listed as a call")
	}
}

func TestSDPBindsMediaInBothDirections(t *testing.T) {
	c := New(DefaultConfig())
	invite := request("INVITE")
	invite.sdp = sdpBody("10.0.0.1", 40000)
	ok := resp("200 OK", "1 INVITE", true)
	ok.sdp = sdpBody("10.0.0.2", 50000)
	feed(t, c, "media-1@test", []exchange{invite, ok})
	aliceRTP := netip.MustParseAddrPort("10.0.0.1:40000")
	bobRTP := netip.MustParseAddrPort("10.0.0.2:50000")
	stranger := netip.MustParseAddrPort("192.0.2.9:7000")
	if got := c.MediaCallID(bobRTP, aliceRTP); got != "media-1@test" {
		t.Errorf("bob→alice RTP bound to %q", got)
	}
	if got := c.MediaCallID(stranger, bobRTP); got != "media-1@test" {
		t.Errorf("RTP to bob's announced port from a NATed source bound to %q", got)
	}
	if got := c.MediaCallID(netip.MustParseAddrPort("10.0.0.2:50001"), stranger); got != "media-1@test" {
		t.Errorf("RTCP (port+1) bound to %q", got)
	}
	if got := c.MediaCallID(stranger, stranger); got != "" {
		t.Errorf("unrelated flow bound to %q", got)
	}
}

func TestMaxDialogsBoundsMemory(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxDialogs = 2
	c := New(cfg)
	for i := range 5 {
		feed(t, c, fmt.Sprintf("c%d@test", i), []exchange{request("INVITE")})
	}
	if n := len(c.Calls()); n != 2 {
		t.Errorf("tracked %d calls, want 2", n)
	}
	if s := c.Stats(); s.DialogsDropped != 3 || s.CallIDs != 5 {
		t.Errorf("stats %+v", s)
	}
}

func TestConfigValidateNamesTheField(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxMedia = 0
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "MaxMedia") {
		t.Errorf("Validate() = %v", err)
	}
}
