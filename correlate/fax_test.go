package correlate

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// t38Body is an SDP that moves ip:port to T.38 over UDPTL.
func t38Body(ip string, port int) string {
	s := sdpBody(ip, port)
	return strings.Replace(s, "m=audio "+strconv.Itoa(port)+" RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n", "m=image "+strconv.Itoa(port)+" udptl t38\r\na=T38FaxVersion:0\r\n", 1)
}

// TestFlowModeFollowsTheSwitchToT38AndBack: each SDP that moves an
// endpoint between RTP and T.38 changes the flow's mode from its capture
// time on and gives the flow a new epoch; a packet captured before the
// switch keeps the mode before.
func TestFlowModeFollowsTheSwitchToT38AndBack(t *testing.T) {
	c := New(DefaultConfig())
	caller, callee := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:50000")
	feed(t, c, "fax@test", []sipMsg{
		{at: 0, start: "INVITE", cseq: "1 INVITE", sdp: sdpBody("10.0.0.1", 40000)},
		{at: sec, start: "SIP/2.0 200 OK", cseq: "1 INVITE", sdp: sdpBody("10.0.0.2", 50000)},
		ack(sec+msec, 1, false),
	})
	if c.FaxSwitches() != 0 {
		t.Fatalf("%d switches before any T.38", c.FaxSwitches())
	}
	if t38, ep := c.FlowMode(caller, callee, base+int64(2*sec)); t38 || ep != 0 {
		t.Fatalf("audio flow: t38 %v epoch %d", t38, ep)
	}
	feed(t, c, "fax@test", []sipMsg{
		{at: 10 * sec, back: true, start: "INVITE", cseq: "7 INVITE", toTag: "a1", sdp: t38Body("10.0.0.2", 50000)},
		{at: 10*sec + 5*msec, back: true, start: "SIP/2.0 200 OK", cseq: "7 INVITE", sdp: t38Body("10.0.0.1", 40000)},
	})
	for _, tc := range []struct {
		name  string
		at    time.Duration
		t38   bool
		epoch uint32
	}{
		{"a packet before the re-INVITE is audio of the first epoch", 9 * sec, false, 0},
		{"a packet between offer and answer is T.38 (the offerer's end moved)", 10*sec + 2*msec, true, 1},
		{"a packet after the answer is T.38 with both ends moved", 11 * sec, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, dir := range [][2]netip.AddrPort{{caller, callee}, {callee, caller}} {
				if t38, ep := c.FlowMode(dir[0], dir[1], base+int64(tc.at)); t38 != tc.t38 || ep != tc.epoch {
					t.Errorf("%s -> %s: t38 %v epoch %d, want %v %d", dir[0], dir[1], t38, ep, tc.t38, tc.epoch)
				}
			}
		})
	}
	feed(t, c, "fax@test", []sipMsg{
		{at: 30 * sec, start: "INVITE", cseq: "2 INVITE", toTag: "b1", sdp: sdpBody("10.0.0.1", 40000)},
		{at: 30*sec + 5*msec, start: "SIP/2.0 200 OK", cseq: "2 INVITE", sdp: sdpBody("10.0.0.2", 50000)},
	})
	if t38, ep := c.FlowMode(caller, callee, base+int64(31*sec)); t38 || ep != 4 {
		t.Errorf("back to audio: t38 %v epoch %d, want audio in epoch 4", t38, ep)
	}
	if c.FaxSwitches() != 4 {
		t.Errorf("%d switches, want 4", c.FaxSwitches())
	}
	if call := only(t, c); call.Fax != FaxT38 {
		t.Errorf("fax %q, want %q", call.Fax, FaxT38)
	}
}

func TestFaxHintsMarkG711Passthrough(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers string
		attrs   []string
		want    string
	}{
		{"silence suppression switched off is a fax hint", "", []string{"a=silenceSupp:off - - - -"}, FaxG711Passthrough},
		{"a V.152 voiceband-data payload is a fax hint", "", []string{"a=gpmd:8 vbd=yes"}, FaxG711Passthrough},
		{"an X-Fax header is a fax hint", "X-Fax: yes\r\n", nil, FaxG711Passthrough},
		{"a plain G.711 call is no fax", "", []string{"a=sendrecv"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(DefaultConfig())
			feed(t, c, "hint@test", []sipMsg{
				{at: 0, start: "INVITE", cseq: "1 INVITE", headers: tc.headers, sdp: sdpBody("10.0.0.1", 40000, tc.attrs...)},
				{at: sec, start: "SIP/2.0 200 OK", cseq: "1 INVITE", sdp: sdpBody("10.0.0.2", 50000)},
			})
			if got := only(t, c).Fax; got != tc.want {
				t.Errorf("fax %q, want %q", got, tc.want)
			}
		})
	}
}
