package correlate

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	msec = time.Millisecond
	sec  = time.Second
)

// Common pieces of the scripts below.
var (
	trying  = func(at time.Duration) sipMsg { return res(at, "100 Trying", "1 INVITE") }
	ringing = func(at time.Duration) sipMsg { return res(at, "180 Ringing", "1 INVITE") }
	ok      = func(at time.Duration) sipMsg { return res(at, "200 OK", "1 INVITE") }
	cancel  = func(at time.Duration) sipMsg {
		return sipMsg{at: at, start: "CANCEL", cseq: "1 CANCEL", branch: "1INVITE"}
	}
	byeFromCaller = func(at time.Duration) sipMsg {
		return sipMsg{at: at, start: "BYE", cseq: "2 BYE", toTag: "b1"}
	}
	okToBye = func(at time.Duration) sipMsg { return res(at, "200 OK", "2 BYE") }
)

func TestCallOutcomes(t *testing.T) {
	authRetry := inv(3*sec, 2)
	authRetry.headers = "Proxy-Authorization: Digest username=\"alice\", response=\"x\"\r\n"
	calleeBye := sipMsg{at: 20 * sec, back: true, start: "BYE", cseq: "1 BYE", toTag: "a1",
		headers: "Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\n"}
	calleeByeOK := res(20*sec+5*msec, "200 OK", "1 BYE")
	calleeByeOK.back = true
	cancelWithReason := cancel(5 * sec)
	cancelWithReason.headers = "Reason: SIP;cause=200;text=\"Call completed elsewhere\", Q.850 ;cause=26\r\n"
	rejected480 := res(31*sec, "480 Temporarily Unavailable", "1 INVITE")
	rejected480.headers = "Reason: q.850;cause=21\r\n"

	tests := []struct {
		name     string
		script   []sipMsg
		state    string
		code     int
		reason   string
		byeBy    string
		q850     int
		finished bool
		// pdd, ring, answer, duration in ms
		timings [4]float64
	}{
		{"an answered call hung up by the caller has every timing",
			[]sipMsg{inv(0, 1), trying(10 * msec), ringing(100 * msec), ok(2100 * msec), ack(2110*msec, 1, false),
				byeFromCaller(62100 * msec), okToBye(62110 * msec)},
			StateAnswered, 200, EndCallerBye, SideCaller, 0, true, [4]float64{100, 2000, 2100, 60000}},
		{"a callee BYE with a Q.850 reason is callee_bye with its cause",
			[]sipMsg{inv(0, 1), ringing(1 * sec), ok(4 * sec), ack(4*sec+5*msec, 1, false), calleeBye, calleeByeOK},
			StateAnswered, 200, EndCalleeBye, SideCallee, 16, true, [4]float64{1000, 3000, 4000, 16000}},
		{"an answered call without BYE is no_bye and not finished",
			[]sipMsg{inv(0, 1), ok(1 * sec), ack(1*sec+2*msec, 1, false)},
			StateAnswered, 200, EndNoBye, "", 0, false, [4]float64{0, 0, 1000, 0}},
		{"486 is busy",
			[]sipMsg{inv(0, 1), trying(20 * msec), res(500*msec, "486 Busy Here", "1 INVITE"), ack(510*msec, 1, true)},
			StateFailed, 486, EndBusy, "", 0, true, [4]float64{}},
		{"600 is busy too",
			[]sipMsg{inv(0, 1), ringing(1 * sec), res(2*sec, "600 Busy Everywhere", "1 INVITE"), ack(2*sec+msec, 1, true)},
			StateFailed, 600, EndBusy, "", 0, true, [4]float64{1000, 1000, 0, 0}},
		{"480 after ringing is no_answer with the ring time",
			[]sipMsg{inv(0, 1), ringing(1 * sec), rejected480, ack(31*sec+msec, 1, true)},
			StateFailed, 480, EndNoAnswer, "", 21, true, [4]float64{1000, 30000, 0, 0}},
		{"408 without ringing is rejected",
			[]sipMsg{inv(0, 1), trying(10 * msec), res(32*sec, "408 Request Timeout", "1 INVITE"), ack(32*sec+msec, 1, true)},
			StateFailed, 408, EndRejected, "", 0, true, [4]float64{}},
		{"487 after ringing without a CANCEL seen is no_answer",
			[]sipMsg{inv(0, 1), res(300*msec, "183 Session Progress", "1 INVITE"), res(9*sec, "487 Request Terminated", "1 INVITE")},
			StateCancelled, 487, EndNoAnswer, "", 0, true, [4]float64{300, 8700, 0, 0}},
		{"a caller CANCEL answered 487 is cancelled",
			[]sipMsg{inv(0, 1), ringing(200 * msec), cancelWithReason, res(5*sec+10*msec, "200 OK", "1 CANCEL"),
				res(5*sec+20*msec, "487 Request Terminated", "1 INVITE"), ack(5*sec+30*msec, 1, true)},
			StateCancelled, 487, EndCancelled, "", 26, true, [4]float64{200, 4820, 0, 0}},
		{"a CANCEL without any final is cancelled",
			[]sipMsg{inv(0, 1), cancel(1 * sec)},
			StateCancelled, 0, EndCancelled, "", 0, false, [4]float64{}},
		{"a 480 that crossed the caller's CANCEL decides the call: failed and rejected, not cancelled",
			[]sipMsg{inv(0, 1), cancel(1 * sec), res(1100*msec, "408 Request Timeout", "1 CANCEL"), res(1200*msec, "480 Temporarily Unavailable", "1 INVITE")},
			StateFailed, 480, EndRejected, "", 0, true, [4]float64{}},
		{"a 408 to the INVITE after an unanswered CANCEL is a timeout",
			[]sipMsg{inv(0, 1), trying(10 * msec), cancel(1 * sec), cancel(1500 * msec), res(32*sec, "408 Request Timeout", "1 INVITE")},
			StateFailed, 408, EndTimeout, "", 0, true, [4]float64{}},
		{"a 407 never retried is auth_failed",
			[]sipMsg{inv(0, 1), res(100*msec, "407 Proxy Authentication Required", "1 INVITE"), ack(110*msec, 1, true)},
			StateFailed, 407, EndAuthFailed, "", 0, false, [4]float64{}},
		{"a 407 then an authenticated INVITE answered is answered, its PDD from the retry and its setup from the first INVITE",
			[]sipMsg{inv(0, 1), res(100*msec, "407 Proxy Authentication Required", "1 INVITE"), ack(110*msec, 1, true),
				authRetry, res(4*sec, "180 Ringing", "2 INVITE"), res(6*sec, "200 OK", "2 INVITE"), ack(6*sec+msec, 2, false)},
			StateAnswered, 200, EndNoBye, "", 0, false, [4]float64{1000, 2000, 6000, 0}},
		{"a 403 to an INVITE with credentials is auth_failed",
			[]sipMsg{inv(0, 1), res(100*msec, "407 Proxy Authentication Required", "1 INVITE"), ack(110*msec, 1, true),
				authRetry, res(3*sec+200*msec, "403 Forbidden", "2 INVITE"), ack(3*sec+210*msec, 2, true)},
			StateFailed, 403, EndAuthFailed, "", 0, true, [4]float64{}},
		{"a 403 without a challenge is rejected",
			[]sipMsg{inv(0, 1), res(100*msec, "403 Forbidden", "1 INVITE"), ack(110*msec, 1, true)},
			StateFailed, 403, EndRejected, "", 0, true, [4]float64{}},
		{"a 503 is rejected",
			[]sipMsg{inv(0, 1), res(100*msec, "503 Service Unavailable", "1 INVITE")},
			StateFailed, 503, EndRejected, "", 0, true, [4]float64{}},
		{"no final response yet is in progress",
			[]sipMsg{inv(0, 1), trying(10 * msec)},
			StateNoFinal, 0, EndInProgress, "", 0, false, [4]float64{}},
		{"a failed re-INVITE does not change an answered call",
			[]sipMsg{inv(0, 1), ok(1 * sec), {at: 5 * sec, start: "INVITE", cseq: "2 INVITE", toTag: "b1"}, res(5*sec+msec, "491 Request Pending", "2 INVITE")},
			StateAnswered, 200, EndNoBye, "", 0, false, [4]float64{0, 0, 1000, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(DefaultConfig())
			feed(t, c, "call-1@test", tt.script)
			got := only(t, c)
			if got.State != tt.state || got.FinalCode != tt.code || got.EndReason != tt.reason || got.ByeBy != tt.byeBy {
				t.Errorf("state %q code %d reason %q bye by %q, want %q %d %q %q",
					got.State, got.FinalCode, got.EndReason, got.ByeBy, tt.state, tt.code, tt.reason, tt.byeBy)
			}
			if got.Q850Cause != tt.q850 || got.Finished != tt.finished {
				t.Errorf("Q.850 %d finished %v, want %d %v (Reason %q)", got.Q850Cause, got.Finished, tt.q850, tt.finished, got.ReasonHeader)
			}
			timings := [4]float64{got.PDDMs, got.RingMs, got.AnswerMs, got.DurationMs}
			for i := range timings {
				if math.Abs(timings[i]-tt.timings[i]) > 1e-9 {
					t.Errorf("pdd/ring/answer/duration %v ms, want %v", timings, tt.timings)
					break
				}
			}
			// Setup counts from the first INVITE: 3 s more than the PDD
			// after the challenge, the PDD itself otherwise.
			wantSetup := tt.timings[0]
			if strings.Contains(tt.name, "407 then") && tt.state == StateAnswered {
				wantSetup += 3000
			}
			if math.Abs(got.SetupMs-wantSetup) > 1e-9 {
				t.Errorf("setup %v ms, want %v", got.SetupMs, wantSetup)
			}
			if got.FromUser != "alice" || got.ToUser != "bob" || got.Messages != len(tt.script) {
				t.Errorf("from %q to %q messages %d, want alice bob %d", got.FromUser, got.ToUser, got.Messages, len(tt.script))
			}
			if got.SrcIP != alice.addr.Addr() || got.DstIP != bob.addr.Addr() {
				t.Errorf("path %v → %v", got.SrcIP, got.DstIP)
			}
			if want := time.Unix(0, base+int64(tt.script[len(tt.script)-1].at)).UTC(); !got.LastUpdate.Equal(want) || !got.End.Equal(want) {
				t.Errorf("last update %v end %v, want %v", got.LastUpdate, got.End, want)
			}
		})
	}
}

func TestReasonHeaderKeepsTheFirstAndItsQ850Cause(t *testing.T) {
	tests := []struct {
		header string
		cause  int
	}{
		{`Q.850;cause=16;text="Normal call clearing"`, 16},
		{`Q.850 ;cause=16 ;text="local"`, 16},
		{`q.850;cause=21`, 21},
		{`SIP;cause=200;text="Call completed elsewhere", Q.850;cause=31`, 31},
		{`SIP;cause=487`, 0},
		{`Q.850;cause=abc`, 0},
		{`Q.850`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			if got := q850Cause([]byte(tt.header)); got != tt.cause {
				t.Errorf("cause %d, want %d", got, tt.cause)
			}
		})
	}
}

func TestRetransmissionsAreCountedNotTimed(t *testing.T) {
	tests := []struct {
		name    string
		script  []sipMsg
		retrans int
		pdd     float64
		answer  float64
	}{
		{"retransmitted INVITE, 180, 200 and ACK count once each in timings",
			[]sipMsg{inv(0, 1), inv(500*msec, 1), trying(600 * msec), ringing(1 * sec), ringing(1500 * msec),
				ok(3 * sec), ack(3*sec+10*msec, 1, false), ok(3500 * msec), ack(3500*msec+10*msec, 1, false)},
			4, 1000, 3000},
		{"the ACK to a non-2xx belongs to the INVITE transaction and repeats with the final",
			[]sipMsg{inv(0, 1), res(1*sec, "486 Busy Here", "1 INVITE"), ack(1*sec+msec, 1, true),
				res(1500*msec, "486 Busy Here", "1 INVITE"), ack(1500*msec+msec, 1, true)},
			2, 0, 0},
		{"a CANCEL shares the INVITE's branch but is its own transaction",
			[]sipMsg{inv(0, 1), ringing(1 * sec), cancel(2 * sec), cancel(2500 * msec), res(2600*msec, "200 OK", "1 CANCEL"),
				res(2700*msec, "487 Request Terminated", "1 INVITE")},
			1, 1000, 0},
		{"the same INVITE forwarded on a second hop has its own branch and is no retransmission",
			[]sipMsg{inv(0, 1), {at: 5 * msec, start: "INVITE", cseq: "1 INVITE", branch: "proxyhop"},
				{at: 700 * msec, start: "SIP/2.0 180 Ringing", cseq: "1 INVITE", branch: "proxyhop"}, ringing(705 * msec)},
			0, 700, 0},
		{"two 183s with different SDP are two responses",
			[]sipMsg{inv(0, 1), {at: 1 * sec, start: "SIP/2.0 183 Session Progress", cseq: "1 INVITE", sdp: sdpBody("10.0.0.2", 50000)},
				{at: 2 * sec, start: "SIP/2.0 183 Session Progress", cseq: "1 INVITE", sdp: sdpBody("10.0.0.2", 50000, "a=sendrecv")}},
			0, 1000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(DefaultConfig())
			feed(t, c, "rt@test", tt.script)
			got := only(t, c)
			if got.Retransmissions != tt.retrans || c.Stats().Retransmissions != tt.retrans {
				t.Errorf("retransmissions %d (stats %d), want %d", got.Retransmissions, c.Stats().Retransmissions, tt.retrans)
			}
			if got.Messages != len(tt.script) {
				t.Errorf("messages %d, want every copy: %d", got.Messages, len(tt.script))
			}
			if got.PDDMs != tt.pdd || got.AnswerMs != tt.answer {
				t.Errorf("pdd %v answer %v, want %v %v", got.PDDMs, got.AnswerMs, tt.pdd, tt.answer)
			}
		})
	}
}

func TestMidCallEvents(t *testing.T) {
	reinvite := func(at time.Duration, cseq int, sdp string) sipMsg {
		return sipMsg{at: at, start: "INVITE", cseq: strconv.Itoa(cseq) + " INVITE", toTag: "b1", sdp: sdp}
	}
	tests := []struct {
		name      string
		script    []sipMsg
		reinvites int
		hold      bool
		forked    bool
	}{
		{"a re-INVITE offering sendonly puts the call on hold",
			[]sipMsg{inv(0, 1), ok(1 * sec), reinvite(10*sec, 2, sdpBody("10.0.0.1", 40000, "a=sendonly")),
				res(10*sec+msec, "200 OK", "2 INVITE"), reinvite(20*sec, 3, sdpBody("10.0.0.1", 40000))},
			2, true, false},
		{"a re-INVITE to 0.0.0.0 is the RFC 2543 hold",
			[]sipMsg{inv(0, 1), ok(1 * sec), reinvite(10*sec, 2, strings.Replace(sdpBody("10.0.0.1", 40000), "c=IN IP4 10.0.0.1", "c=IN IP4 0.0.0.0", 1))},
			1, true, false},
		{"an UPDATE offering inactive puts the call on hold",
			[]sipMsg{inv(0, 1), ok(1 * sec), {at: 3 * sec, start: "UPDATE", cseq: "2 UPDATE", toTag: "b1", sdp: sdpBody("10.0.0.1", 40000, "a=inactive")}},
			0, true, false},
		{"a sendonly initial offer is not a hold, a retransmitted re-INVITE counts once",
			[]sipMsg{{start: "INVITE", cseq: "1 INVITE", sdp: sdpBody("10.0.0.1", 40000, "a=sendonly")}, ok(1 * sec),
				reinvite(5*sec, 2, sdpBody("10.0.0.1", 40000)), reinvite(5500*msec, 2, sdpBody("10.0.0.1", 40000))},
			1, false, false},
		{"180s with two To tags are a forked call",
			[]sipMsg{inv(0, 1), trying(10 * msec), ringing(1 * sec),
				{at: 1100 * msec, start: "SIP/2.0 180 Ringing", cseq: "1 INVITE", toTag: "b2"}, ok(3 * sec)},
			0, false, true},
		{"a challenge and its retry with other proxy tags is not forking",
			[]sipMsg{inv(0, 1), {at: 100 * msec, start: "SIP/2.0 407 Proxy Authentication Required", cseq: "1 INVITE", toTag: "p1"},
				ack(110*msec, 1, true), inv(1*sec, 2), {at: 2 * sec, start: "SIP/2.0 180 Ringing", cseq: "2 INVITE", toTag: "b7"}},
			0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(DefaultConfig())
			feed(t, c, "mid@test", tt.script)
			got := only(t, c)
			if got.ReInvites != tt.reinvites || got.Hold != tt.hold || got.Forked != tt.forked {
				t.Errorf("re-INVITEs %d hold %v forked %v, want %d %v %v", got.ReInvites, got.Hold, got.Forked, tt.reinvites, tt.hold, tt.forked)
			}
		})
	}
}

func TestUserAgentIsTheCallers(t *testing.T) {
	c := New(DefaultConfig())
	invite := inv(0, 1)
	invite.headers = "User-Agent: Linphone/5.2\r\n"
	okWithServer := ok(1 * sec)
	okWithServer.headers = "User-Agent: Asterisk PBX 20\r\n"
	feed(t, c, "ua@test", []sipMsg{invite, okWithServer})
	if got := only(t, c).UserAgent; got != "Linphone/5.2" {
		t.Errorf("user agent %q", got)
	}
}

func TestOtherTransactionsAreCountedPerMethod(t *testing.T) {
	c := New(DefaultConfig())
	options := sipMsg{start: "OPTIONS", cseq: "1 OPTIONS"}
	feed(t, c, "opt@test", []sipMsg{options, {at: sec, start: "OPTIONS", cseq: "1 OPTIONS"}, res(2*sec, "200 OK", "1 OPTIONS")})
	feed(t, c, "msg@test", []sipMsg{{start: "MESSAGE", cseq: "1 MESSAGE"}, res(sec, "202 Accepted", "1 MESSAGE")})
	feed(t, c, "sub@test", []sipMsg{{start: "SUBSCRIBE", cseq: "1 SUBSCRIBE"}, res(sec, "200 OK", "1 SUBSCRIBE"),
		{at: 2 * sec, back: true, start: "NOTIFY", cseq: "1 NOTIFY", toTag: "a1"}, {at: 3 * sec, back: true, start: "NOTIFY", cseq: "2 NOTIFY", toTag: "a1"}})
	feed(t, c, "info@test", []sipMsg{{start: "INFO", cseq: "1 INFO"}})
	s := c.Stats()
	want := map[string]int{"OPTIONS": 1, "MESSAGE": 1, "SUBSCRIBE": 1, "NOTIFY": 2, "INFO": 1}
	if len(s.Other) != len(want) {
		t.Errorf("other %v, want %v", s.Other, want)
	}
	for k, v := range want {
		if s.Other[k] != v {
			t.Errorf("other %v, want %v", s.Other, want)
			break
		}
	}
	if s.Retransmissions != 1 || len(c.Calls()) != 0 || len(c.Registrations()) != 0 {
		t.Errorf("retransmissions %d, %d calls, %d registrations", s.Retransmissions, len(c.Calls()), len(c.Registrations()))
	}
}

func TestRegistrations(t *testing.T) {
	register := func(at time.Duration, cseq int, extra string) sipMsg {
		return sipMsg{at: at, start: "REGISTER", cseq: strconv.Itoa(cseq) + " REGISTER", headers: extra}
	}
	contact := "Contact: <sip:alice@10.0.0.1:5060;line=1>;expires=3600\r\nUser-Agent: Zoiper 5\r\n"
	granted := func(at time.Duration, cseq int) sipMsg {
		m := res(at, "200 OK", strconv.Itoa(cseq)+" REGISTER")
		m.headers = "Contact: <sip:other@10.0.0.9>;expires=60, <sip:alice@10.0.0.1:5060;line=1>;expires=1800\r\n"
		return m
	}
	t0 := time.Unix(0, base).UTC()
	tests := []struct {
		name   string
		script []sipMsg
		want   Registration
	}{
		{"challenged then accepted grants the 200's expiry",
			[]sipMsg{register(0, 1, contact), res(100*msec, "401 Unauthorized", "1 REGISTER"), register(200*msec, 2, contact), granted(300*msec, 2)},
			Registration{Challenged: true, FinalCode: 200, Messages: 4, Contact: "sip:alice@10.0.0.1:5060;line=1", Expires: 1800,
				UserAgent: "Zoiper 5", Attempts: 2, SucceededAt: t0.Add(300 * msec)}},
		{"a challenge never answered has failed",
			[]sipMsg{register(0, 1, contact), res(100*msec, "401 Unauthorized", "1 REGISTER")},
			Registration{Challenged: true, FinalCode: 401, Messages: 2, Contact: "sip:alice@10.0.0.1:5060;line=1", Expires: 3600,
				UserAgent: "Zoiper 5", Attempts: 1, Failed: true}},
		{"a 403 has failed and a retransmitted REGISTER is no attempt",
			[]sipMsg{register(0, 1, "Expires: 600\r\nContact: <sip:alice@10.0.0.1>\r\n"), register(500*msec, 1, "Expires: 600\r\nContact: <sip:alice@10.0.0.1>\r\n"),
				res(time.Second, "403 Forbidden", "1 REGISTER")},
			Registration{FinalCode: 403, Messages: 3, Contact: "sip:alice@10.0.0.1", Expires: 600, Attempts: 1, Failed: true}},
		{"a success followed by a refused refresh keeps the last code and the success time",
			[]sipMsg{register(0, 1, contact), granted(100*msec, 1), register(10*sec, 2, contact), res(10*sec+100*msec, "401 Unauthorized", "2 REGISTER")},
			Registration{Challenged: true, FinalCode: 401, Messages: 4, Contact: "sip:alice@10.0.0.1:5060;line=1", Expires: 1800,
				UserAgent: "Zoiper 5", Attempts: 2, SucceededAt: t0.Add(100 * msec), Failed: true}},
		{"a wildcard Contact with Expires 0 removes every binding",
			[]sipMsg{register(0, 1, "Contact: *\r\nExpires: 0\r\n"), res(100*msec, "200 OK", "1 REGISTER")},
			Registration{FinalCode: 200, Messages: 2, Contact: "*", Expires: 0, Attempts: 1, SucceededAt: t0.Add(100 * msec)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(DefaultConfig())
			feed(t, c, "reg-1@test", tt.script)
			regs := c.Registrations()
			if len(regs) != 1 {
				t.Fatalf("got %d registrations", len(regs))
			}
			want := tt.want
			want.CallID, want.AoR, want.SrcIP, want.Start = "reg-1@test", "sip:bob@example.com", alice.addr.Addr(), t0
			want.End = t0.Add(tt.script[len(tt.script)-1].at)
			if got := regs[0]; got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if len(c.Calls()) != 0 {
				t.Errorf("a registration was listed as a call")
			}
		})
	}
}

func TestConfigValidateNamesTheField(t *testing.T) {
	tests := []struct {
		field string
		mod   func(*Config)
	}{
		{"MaxDialogs", func(c *Config) { c.MaxDialogs = 0 }},
		{"MaxRegistrations", func(c *Config) { c.MaxRegistrations = -1 }},
		{"MaxMedia", func(c *Config) { c.MaxMedia = 0 }},
		{"InviteTimeout", func(c *Config) { c.InviteTimeout = 0 }},
		{"ProceedingTimeout", func(c *Config) { c.ProceedingTimeout = -1 }},
		{"MaxCallAge", func(c *Config) { c.MaxCallAge = 0 }},
		{"AuthTimeout", func(c *Config) { c.AuthTimeout = 0 }},
		{"Linger", func(c *Config) { c.Linger = 0 }},
		{"RegistrationLinger", func(c *Config) { c.RegistrationLinger = 0 }},
		{"LegWindow", func(c *Config) { c.LegWindow = -time.Second }},
		{"LegHeaders[1]", func(c *Config) { c.LegHeaders = []string{"X-CID", "X Bad"} }},
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.mod(&cfg)
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

func TestACallCapturedAfterItsINVITEStillNamesItsParties(t *testing.T) {
	c := New(DefaultConfig())
	feed(t, c, "late-start@test", []sipMsg{ringing(0), ok(sec), ack(sec+msec, 1, false), byeFromCaller(9 * sec), okToBye(9*sec + msec)})
	got := only(t, c)
	if got.FromUser != "alice" || got.ToUser != "bob" || got.SrcIP != alice.addr.Addr() || got.DstIP != bob.addr.Addr() {
		t.Errorf("parties %s → %s, path %v → %v", got.FromUser, got.ToUser, got.SrcIP, got.DstIP)
	}
	// Without the INVITE there is no PDD or setup time, but the talk time is known.
	if got.State != StateAnswered || got.EndReason != EndCallerBye || got.PDDMs != 0 || got.AnswerMs != 0 || got.DurationMs != 8000 {
		t.Errorf("%+v", got)
	}
}
