package correlate

import (
	"bytes"
	"slices"
	"testing"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
)

func TestEndOfCaptureEndsWhatTheFileLeftOpen(t *testing.T) {
	tests := []struct {
		name      string
		script    []sipMsg
		endOfFile bool
		state     string
		reason    string
		finished  bool
	}{
		{"a ringing call at the end of a file is capture_ended and final",
			[]sipMsg{inv(0, 1), trying(10 * msec), ringing(sec)}, true, StateNoFinal, EndCaptureEnded, true},
		{"the same call watched live is still in progress",
			[]sipMsg{inv(0, 1), trying(10 * msec), ringing(sec)}, false, StateNoFinal, EndInProgress, false},
		{"an INVITE whose timer ran out before the file ended got no final",
			[]sipMsg{inv(0, 1)}, true, StateNoFinal, EndNoFinal, true},
		{"an answered call without BYE at the end of a file is no_bye and final",
			[]sipMsg{inv(0, 1), ok(sec), ack(sec+msec, 1, false)}, true, StateAnswered, EndNoBye, true},
		{"a cancelled call with no final yet stays cancelled",
			[]sipMsg{inv(0, 1), cancel(sec)}, true, StateCancelled, EndCancelled, true},
		{"a failed call is not touched by the end of the file",
			[]sipMsg{inv(0, 1), res(500*msec, "486 Busy Here", "1 INVITE"), ack(510*msec, 1, true)}, true, StateFailed, EndBusy, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(DefaultConfig())
			feed(t, c, "eof@test", tt.script)
			// The file goes on 40 s with another call: longer than
			// InviteTimeout after the first INVITE.
			play(t, c, "later@test", base+int64(40*sec), alice, bob, []sipMsg{inv(0, 1)})
			if tt.endOfFile {
				c.EndOfCapture(0)
			}
			calls := c.Calls()
			var got Call
			for _, call := range calls {
				if call.CallID == "eof@test" {
					got = call
				}
			}
			if got.State != tt.state || got.EndReason != tt.reason || got.Finished != tt.finished {
				t.Errorf("state %q reason %q finished %v, want %q %q %v", got.State, got.EndReason, got.Finished, tt.state, tt.reason, tt.finished)
			}
		})
	}
}

func TestEndOfCaptureHandsTheOpenCallsOutAgain(t *testing.T) {
	c := New(liveConfig())
	feed(t, c, "eof-live@test", []sipMsg{inv(0, 1), ringing(sec)})
	if u := c.Updates(); len(u) != 1 || u[0].EndReason != EndInProgress {
		t.Fatalf("before the end of the file: %+v", u)
	}
	c.EndOfCapture(0)
	u := c.Updates()
	if len(u) != 1 || u[0].EndReason != EndCaptureEnded || !u[0].Finished {
		t.Fatalf("after the end of the file: %+v", u)
	}
}

func TestPartialDialogsAreInferredFromWhatWasSeen(t *testing.T) {
	calleeReInvite := sipMsg{at: 2 * sec, back: true, start: "INVITE", cseq: "7 INVITE", toTag: "a1"}
	okToCalleeReInvite := res(2*sec+10*msec, "200 OK", "7 INVITE")
	okToCalleeReInvite.back = true
	okToCalleeReInvite.toTag = "a1"
	update := sipMsg{at: sec, start: "UPDATE", cseq: "3 UPDATE", toTag: "b1"}
	okToUpdate := res(sec+5*msec, "200 OK", "3 UPDATE")
	prack := sipMsg{at: sec, start: "PRACK", cseq: "2 PRACK", toTag: "b1"}
	okToPrack := res(sec+5*msec, "200 OK", "2 PRACK")
	tests := []struct {
		name    string
		script  []sipMsg
		partial bool
		state   string
		reason  string
		byeBy   string
		code    int
	}{
		{"a BYE and its 200 alone are an answered call ended by an unknown side",
			[]sipMsg{byeFromCaller(0), okToBye(5 * msec)}, true, StateAnswered, EndBye, "", 0},
		{"a re-INVITE of the callee answered 200, then the caller's BYE, is answered and the BYE's side stays unknown",
			[]sipMsg{calleeReInvite, okToCalleeReInvite, byeFromCaller(5 * sec), okToBye(5*sec + msec)}, true, StateAnswered, EndBye, "", 0},
		{"a 200 to an UPDATE is an answered call still up",
			[]sipMsg{update, okToUpdate}, true, StateAnswered, EndNoBye, "", 0},
		{"a 200 to a PRACK is only an early dialog: no final",
			[]sipMsg{prack, okToPrack}, true, StateNoFinal, EndCaptureEnded, "", 0},
		{"a 486 to an INVITE that was not captured is a failed busy call",
			[]sipMsg{ringing(0), res(sec, "486 Busy Here", "1 INVITE"), ack(sec+msec, 1, true)}, true, StateFailed, EndBusy, "", 486},
		{"the 200 to an INVITE not captured names the caller, so the BYE's side is known",
			[]sipMsg{ok(0), ack(msec, 1, false), byeFromCaller(9 * sec), okToBye(9*sec + msec)}, true, StateAnswered, EndCallerBye, SideCaller, 200},
		{"a call whose INVITE was captured is not partial",
			[]sipMsg{inv(0, 1), ok(sec), ack(sec+msec, 1, false), byeFromCaller(9 * sec), okToBye(9*sec + msec)}, false, StateAnswered, EndCallerBye, SideCaller, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(DefaultConfig())
			feed(t, c, "partial@test", tt.script)
			c.EndOfCapture(0)
			got := only(t, c)
			if got.Partial != tt.partial || got.State != tt.state || got.EndReason != tt.reason || got.ByeBy != tt.byeBy || got.FinalCode != tt.code {
				t.Errorf("partial %v state %q reason %q bye by %q code %d, want %v %q %q %q %d",
					got.Partial, got.State, got.EndReason, got.ByeBy, got.FinalCode, tt.partial, tt.state, tt.reason, tt.byeBy, tt.code)
			}
			if got.FromUser == "" || got.ToUser == "" || !got.SrcIP.IsValid() {
				t.Errorf("the parties are not named: %q → %q from %v", got.FromUser, got.ToUser, got.SrcIP)
			}
			if tt.partial && (got.PDDMs != 0 || got.SetupMs != 0 || got.AnswerMs != 0) {
				t.Errorf("timings from an INVITE never seen: pdd %v setup %v answer %v", got.PDDMs, got.SetupMs, got.AnswerMs)
			}
		})
	}
}

func TestAPartialCallEndsOnItsBYEsTimerLive(t *testing.T) {
	c := New(liveConfig())
	feed(t, c, "partial-live@test", []sipMsg{byeFromCaller(0)})
	c.Expire(at(liveConfig().InviteTimeout + sec)) // the BYE's Timer F
	u := c.Updates()
	if len(u) != 1 || !u[0].Finished || u[0].State != StateAnswered || u[0].EndReason != EndBye {
		t.Fatalf("%+v", u)
	}
}

func TestSDPOfEachSideIsKept(t *testing.T) {
	offer := inv(0, 1)
	offer.sdp = sdpBody("10.0.0.1", 40000)
	answer := ok(sec)
	answer.sdp = sdpBody("10.0.0.2", 50000, "a=recvonly")
	fax := sipMsg{at: 5 * sec, start: "INVITE", cseq: "2 INVITE", toTag: "b1",
		sdp: "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=image 40000 udptl t38\r\n"}
	c := New(DefaultConfig())
	feed(t, c, "sdp@test", []sipMsg{offer, answer, ack(sec+msec, 1, false), fax})
	got := only(t, c)
	if !got.CalleeMedia.Announced || got.CalleeMedia.Addr.String() != "10.0.0.2:50000" || got.CalleeMedia.Direction != "recvonly" ||
		got.CalleeMedia.Formats != "" {
		t.Errorf("callee media %+v", got.CalleeMedia)
	}
	if got.CalleeMedia.Sends() || !got.CalleeMedia.Receives() {
		t.Errorf("a recvonly answer sends %v receives %v", got.CalleeMedia.Sends(), got.CalleeMedia.Receives())
	}
	// The caller's re-INVITE moved to T.38: no RTP audio announced any more.
	if got.CallerMedia.Announced || !got.CallerMedia.T38 || got.CallerMedia.Formats != "" {
		t.Errorf("caller media after the T.38 re-INVITE %+v", got.CallerMedia)
	}
}

func TestBrokenButIdentifiableMessagesKeepTheirCall(t *testing.T) {
	offer := inv(0, 1)
	offer.sdp = sdpBody("10.0.0.1", 40000)
	answer := ok(sec)
	answer.toTag = "none" // a 2xx without a To tag
	answer.sdp = sdpBody("10.0.0.2", 50000)
	c := New(DefaultConfig())
	var m sip.Message
	for i, e := range []sipMsg{offer, trying(10 * msec), answer} {
		b := buildMsg("broken@test", alice, bob, e)
		if i == 0 {
			// The INVITE's Content-Length is not a number.
			b = bytes.Replace(b, []byte("Content-Length: "), []byte("Content-Length: x"), 1)
		}
		if err := m.Unmarshal(b); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		src, dst := alice.addr, bob.addr
		if !e.isRequest() {
			src, dst = dst, src
		}
		c.HandleSIP(base+int64(e.at), src, dst, decode.TransportUDP, &m)
	}
	got := only(t, c)
	want := []string{MalformedContentLength, MalformedToTag}
	if !slices.Equal(got.Malformed, want) || got.State != StateAnswered || got.CallID != "broken@test" {
		t.Errorf("malformed %q state %q, want %q answered", got.Malformed, got.State, want)
	}
	// The SDP of the broken INVITE still bound the caller's media.
	if !got.CallerMedia.Announced || got.CallerMedia.Addr.String() != "10.0.0.1:40000" || got.CallerMedia.Formats != "8 101" {
		t.Errorf("caller media %+v", got.CallerMedia)
	}
	if c.Stats().Malformed != 1 {
		t.Errorf("Stats.Malformed %d, want 1 (the flagged INVITE; the 2xx parsed cleanly)", c.Stats().Malformed)
	}
}
