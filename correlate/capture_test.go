package correlate

import (
	"bytes"
	"errors"
	"io"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
	"github.com/sipscope/sipscope/frame"
)

const sharedCaptures = "../testdata/captures"

// correlateCapture feeds every SIP message of a capture file to a new
// correlator with cfg. TCP segments in these captures carry whole
// messages, so each payload is cut with sip.FrameLength. each, if not nil,
// runs before every frame with the correlator and the frame's time.
func correlateCapture(t *testing.T, name string, cfg Config, each ...func(*Correlator, int64)) *Correlator {
	t.Helper()
	path := filepath.Join(sharedCaptures, name)
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatalf("the evidence test needs %s (testdata/captures): %v", path, err)
	}
	defer src.Close()
	c := New(cfg)
	dec := decode.NewDecoder()
	var (
		f   frame.Frame
		pkt decode.Packet
		m   sip.Message
	)
	for {
		err := src.Next(&f)
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, capture.ErrTruncated) {
			t.Fatalf("%s: %v", name, err)
		}
		if err != nil {
			break
		}
		for _, f2 := range each {
			f2(c, f.TS)
		}
		if dec.Decode(f.LinkType, f.Data, f.TS, &pkt) != nil {
			continue
		}
		pl := pkt.Payload
		switch pkt.Transport {
		case decode.TransportUDP:
			if sip.LooksLikeSIP(pl) && m.Unmarshal(pl) == nil {
				c.HandleSIP(pkt.TS, pkt.Src, pkt.Dst, pkt.Transport, &m)
			}
		case decode.TransportTCP:
			for pl = bytes.TrimLeft(pl, "\r\n"); len(pl) > 0 && sip.LooksLikeSIP(pl); pl = bytes.TrimLeft(pl, "\r\n") {
				n, err := sip.FrameLength(pl)
				if err != nil {
					break
				}
				if m.Unmarshal(pl[:n]) == nil {
					c.HandleSIP(pkt.TS, pkt.Src, pkt.Dst, pkt.Transport, &m)
				}
				pl = pl[n:]
			}
		}
	}
	return c
}

// epoch turns a tshark frame.time_epoch into the correlator's time.
func epoch(sec, usec int64) time.Time { return time.Unix(sec, usec*1000).UTC() }

// The expectations below were read off
//
//	tshark -r FILE -Y sip -T fields -e frame.number -e frame.time_epoch \
//	  -e sip.Call-ID -e sip.Method -e sip.Status-Code -e sip.CSeq -e sip.Via.branch \
//	  -e sip.to.tag -e sip.Reason
//
// (tshark 4.0.17), message counts from `-T fields -e sip.Call-ID | uniq -c`,
// and timings computed by hand from the epochs named in each comment.
func TestCallsOfRealCaptures(t *testing.T) {
	type want struct {
		state, reason, byeBy string
		code, q850           int
		messages, retrans    int
		pdd, ring, answer    float64
		duration             float64
		setup                float64 // from the first INVITE; pdd when 0
		from, to, ua         string
		reasonHeader         string
	}
	tests := []struct {
		file  string
		calls map[string]want
	}{
		{"sngrep__aaa.pcap", map[string]want{
			// INVITE (223) sent three times (225, 227), 100 (228), CANCEL
			// (247) sent eleven times until the 408 to the CANCEL (274);
			// the INVITE failed 408 (252) in between: the caller gave up.
			// One rule: failed 408 after an unanswered CANCEL is a timeout
			// (CancelSeen notes the CANCEL).
			"105090259-446faf7a@192.168.1.2": {state: StateFailed, reason: EndTimeout, code: 408, messages: 18, retrans: 12,
				from: "816666", to: "97239287044", ua: "Nero SIPPS IP Phone Version 2.0.51.16"},
			// INVITE three times, 407, ACK, INVITE with Proxy-Authorization
			// (346), 403 (348): the credentials were refused.
			"85216695-42dcdb1d@192.168.1.2": {state: StateFailed, reason: EndAuthFailed, code: 403, messages: 8, retrans: 2,
				from: "voi18062", to: "0097239287044", ua: "Nero SIPPS IP Phone Version 2.0.51.16"},
			// The same with a 100 before the 403 (578-582).
			"24487391-449bf2a0@192.168.1.2": {state: StateFailed, reason: EndAuthFailed, code: 403, messages: 7,
				from: "35104723", to: "0097239287044", ua: "Nero SIPPS IP Phone Version 2.0.51.16"},
			// INVITE 602 (1120470966.443914), 407, ACK, INVITE 617 with
			// credentials, 100, 183 at 620 (1120470984.289950), 480 with
			// "Reason: q.850;cause=21" at 621 (1120470984.332623):
			// PDD 426.462 ms from the INVITE with credentials (617,
			// 1120470983.863488), 17846.036 ms from the first INVITE,
			// ring 42.673 ms.
			"11894297-4432a9f8@192.168.1.2": {state: StateFailed, reason: EndNoAnswer, code: 480, q850: 21, messages: 8,
				pdd: 426.462, setup: 17846.036, ring: 42.673, from: "35104723", to: "35104724", ua: "Nero SIPPS IP Phone Version 2.0.51.16",
				reasonHeader: "q.850;cause=21"},
		}},
		{"heplify__sip_ipv4_tcp.pcap", map[string]want{
			// INVITE 3 (1311857686.562096), 180 at 7 (1311857686.621123),
			// 200 at 9 (1311857690.905636), ACK, BYE from the callee
			// (From tag 1c342958875 = the To tag of the INVITE) at 81
			// (1311857693.057152) with Reason Q.850 cause 16, 200 at 83.
			"158936656982201062716@10.33.6.100": {state: StateAnswered, reason: EndCalleeBye, byeBy: SideCallee, code: 200, q850: 16,
				messages: 7, pdd: 59.027, ring: 4284.513, answer: 4343.540, duration: 2151.516,
				from: "", to: "", ua: "IPP/v.6.20A.027.012", reasonHeader: `Q.850 ;cause=16 ;text="local"`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c := correlateCapture(t, tt.file, DefaultConfig())
			calls := c.Calls()
			if len(calls) != len(tt.calls) {
				t.Errorf("%d calls, want %d", len(calls), len(tt.calls))
			}
			for _, got := range calls {
				w, ok := tt.calls[got.CallID]
				if !ok {
					t.Errorf("unexpected call %s", got.CallID)
					continue
				}
				if got.State != w.state || got.EndReason != w.reason || got.ByeBy != w.byeBy || got.FinalCode != w.code || got.Q850Cause != w.q850 {
					t.Errorf("%s: state %s reason %s bye by %q code %d q850 %d, want %s %s %q %d %d", got.CallID,
						got.State, got.EndReason, got.ByeBy, got.FinalCode, got.Q850Cause, w.state, w.reason, w.byeBy, w.code, w.q850)
				}
				if got.Messages != w.messages || got.Retransmissions != w.retrans || !got.Finished {
					t.Errorf("%s: %d messages %d retransmissions finished %v, want %d %d true", got.CallID,
						got.Messages, got.Retransmissions, got.Finished, w.messages, w.retrans)
				}
				if w.setup == 0 {
					w.setup = w.pdd
				}
				timings := []float64{got.PDDMs, got.RingMs, got.AnswerMs, got.DurationMs, got.SetupMs}
				wantT := []float64{w.pdd, w.ring, w.answer, w.duration, w.setup}
				for i := range timings {
					if math.Abs(timings[i]-wantT[i]) > 0.0015 {
						t.Errorf("%s: pdd/ring/answer/duration/setup %v ms, want %v", got.CallID, timings, wantT)
						break
					}
				}
				if w.from != "" && (got.FromUser != w.from || got.ToUser != w.to) {
					t.Errorf("%s: %s → %s, want %s → %s", got.CallID, got.FromUser, got.ToUser, w.from, w.to)
				}
				if got.UserAgent != w.ua || got.ReasonHeader != w.reasonHeader {
					t.Errorf("%s: user agent %q reason %q, want %q %q", got.CallID, got.UserAgent, got.ReasonHeader, w.ua, w.reasonHeader)
				}
				if got.Forked || got.Hold || got.ReInvites != 0 || len(got.LinkedCallIDs) != 0 {
					t.Errorf("%s: forked %v hold %v re-INVITEs %d linked %q", got.CallID, got.Forked, got.Hold, got.ReInvites, got.LinkedCallIDs)
				}
			}
		})
	}
}

func TestRegistrationsOfARealCapture(t *testing.T) {
	c := correlateCapture(t, "sngrep__aaa.pcap", DefaultConfig())
	const ua = "Nero SIPPS IP Phone Version 2.0.51.16"
	want := []Registration{
		// REGISTER CSeq 68..79 (12 transactions): 401s, a 403 (32), the
		// only 200 at 182 (1120469956.406918, Contact expires=1200), then
		// 401s again up to 454: the last answer is a failure.
		{CallID: "578222729-4665d775@578222732-4665d772", AoR: "sip:voi18063@sip.cybercity.dk", Challenged: true, FinalCode: 401,
			Start: epoch(1120469572, 844249), End: epoch(1120470509, 599796), Messages: 26,
			Contact: "sip:35104723@192.168.1.2:5060;line=7d36558f31367051", Expires: 1200, UserAgent: ua, Attempts: 12,
			SucceededAt: epoch(1120469956, 406918), Failed: true},
		// CSeq 1..6: 401, 200 at 527, 401, 401, 401, 200 at 650
		// (1120471018.881832).
		{CallID: "29858147-465b0752@29858051-465b07b2", AoR: "sip:35104723@sip.cybercity.dk", Challenged: true, FinalCode: 200,
			Start: epoch(1120470796, 804243), End: epoch(1120471018, 881832), Messages: 14,
			Contact: "sip:35104723@192.168.1.2:5060;line=7d36558f31367051", Expires: 1200, UserAgent: ua, Attempts: 6,
			SucceededAt: epoch(1120471018, 881832)},
	}
	got := c.Registrations()
	if len(got) != len(want) {
		t.Fatalf("%d registrations, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		want[i].SrcIP = got[i].SrcIP
		if got[i] != want[i] {
			t.Errorf("registration %d:\n got  %+v\n want %+v", i, got[i], want[i])
		}
		if got[i].SrcIP.String() != "192.168.1.2" {
			t.Errorf("registration %d from %v", i, got[i].SrcIP)
		}
	}
}

// TestLiveModeGivesTheSameCallsAsOffline replays a capture through a live
// correlator, draining Updates and calling Expire as the capture clock
// advances, and requires the last record of every call to be what the
// offline correlator says.
//
// heplify__sip_ipv6_udp.pcap is left out: its timestamps jump by years
// between messages (2012, 2018, ..., 2092), so a live correlator rightly
// times its call out after the INVITE.
func TestLiveModeGivesTheSameCallsAsOffline(t *testing.T) {
	for _, name := range []string{"sngrep__aaa.pcap", "heplify__sip_ipv4_tcp.pcap", "heplify__rtp_rtcp_sip_ipv4_udp.pcap", "sngrep__ipip.pcap"} {
		t.Run(name, func(t *testing.T) {
			offline := correlateCapture(t, name, DefaultConfig()).Calls()
			cfg := DefaultConfig()
			cfg.Retain = false
			last := map[string]Call{}
			var second int64
			live := correlateCapture(t, name, cfg, func(c *Correlator, ts int64) {
				if ts/1e9 > second { // once a second of capture time, as cmd does
					second = ts / 1e9
					c.Expire(ts)
					for _, u := range c.Updates() {
						last[u.CallID] = u
					}
				}
			})
			for _, u := range live.Updates() {
				last[u.CallID] = u
			}
			live.Expire(live.now + int64(cfg.MaxCallAge+time.Hour))
			for _, u := range live.Updates() {
				last[u.CallID] = u
			}
			if len(last) != len(offline) || live.Stats().Held != 0 {
				t.Fatalf("live emitted %d calls and holds %d, offline has %d", len(last), live.Stats().Held, len(offline))
			}
			for _, want := range offline {
				got := last[want.CallID]
				// Expire finished what the capture left open.
				got.Finished, want.Finished = false, false
				got.LastUpdate, want.LastUpdate = time.Time{}, time.Time{}
				if want.EndReason == EndInProgress {
					want.EndReason = EndNoFinal
				}
				if got.EndReason != want.EndReason || got.State != want.State || got.Messages != want.Messages ||
					got.PDDMs != want.PDDMs || got.DurationMs != want.DurationMs || got.FinalCode != want.FinalCode {
					t.Errorf("live %+v\noffline %+v", got, want)
				}
			}
		})
	}
}
