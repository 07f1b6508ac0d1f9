package correlate

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
)

func liveConfig() Config {
	cfg := DefaultConfig()
	cfg.Retain = false
	return cfg
}

// at is a capture time d after base, for Expire.
func at(d time.Duration) int64 { return base + int64(d) }

func TestTimersEndDialogs(t *testing.T) {
	tests := []struct {
		name    string
		script  []sipMsg
		quiet   time.Duration // Expire at this time (from base) should change nothing
		due     time.Duration // Expire at this time ends the call
		reason  string
		state   string
		timeout bool // ended by a timer rather than by a message
	}{
		{"an INVITE without any response ends after InviteTimeout",
			[]sipMsg{inv(0, 1), inv(500*msec, 1)}, 32 * sec, 32*sec + 500*msec, EndNoFinal, StateNoFinal, true},
		{"a ringing INVITE waits ProceedingTimeout",
			[]sipMsg{inv(0, 1), ringing(sec)}, 2 * time.Minute, 3*time.Minute + sec, EndNoFinal, StateNoFinal, true},
		{"a challenge without retry ends after AuthTimeout as auth_failed",
			[]sipMsg{inv(0, 1), res(sec, "401 Unauthorized", "1 INVITE"), ack(sec+msec, 1, true)}, 2 * time.Minute, 2*time.Minute + sec + msec, EndAuthFailed, StateFailed, true},
		{"an answered call without BYE ends at MaxCallAge",
			[]sipMsg{inv(0, 1), ok(sec), ack(sec+msec, 1, false)}, 3 * time.Hour, 4 * time.Hour, EndNoBye, StateAnswered, true},
		{"a BYE without response ends after InviteTimeout",
			[]sipMsg{inv(0, 1), ok(sec), byeFromCaller(10 * sec)}, 41 * sec, 42 * sec, EndCallerBye, StateAnswered, true},
		{"a BYE answered ends the call at once",
			[]sipMsg{inv(0, 1), ok(sec), byeFromCaller(10 * sec), okToBye(10*sec + msec)}, 10*sec + msec, 10*sec + msec, EndCallerBye, StateAnswered, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(liveConfig())
			feed(t, c, "timer@test", tt.script)
			c.Updates()
			c.Expire(at(tt.quiet))
			if !tt.timeout {
				if c.Stats().TimedOut != 0 {
					t.Errorf("a timer fired")
				}
			} else if u := c.Updates(); len(u) != 0 {
				t.Errorf("Expire(%v) changed %+v", tt.quiet, u)
			}
			c.Expire(at(tt.due))
			var got Call
			if tt.timeout {
				u := c.Updates()
				if len(u) != 1 {
					t.Fatalf("Expire(%v) gave %d updates, want 1", tt.due, len(u))
				}
				got = u[0]
				if want := time.Unix(0, at(tt.due)).UTC(); !got.LastUpdate.Equal(want) {
					t.Errorf("last update %v, want the expiry time %v", got.LastUpdate, want)
				}
				if c.Stats().TimedOut != 1 {
					t.Errorf("timed out %d", c.Stats().TimedOut)
				}
			} else {
				got = only(t, c)
			}
			if !got.Finished || got.EndReason != tt.reason || got.State != tt.state {
				t.Errorf("finished %v reason %q state %q, want true %q %q", got.Finished, got.EndReason, got.State, tt.reason, tt.state)
			}
		})
	}
}

func TestFinishedDialogsLeaveMemoryAfterLinger(t *testing.T) {
	for _, retain := range []bool{false, true} {
		t.Run(fmt.Sprintf("retain=%v", retain), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Retain = retain
			c := New(cfg)
			invite := inv(0, 1)
			invite.sdp = sdpBody("10.0.0.1", 40000)
			answer := ok(sec)
			answer.sdp = sdpBody("10.0.0.2", 50000)
			feed(t, c, "done@test", []sipMsg{invite, answer, byeFromCaller(5 * sec), okToBye(5*sec + msec)})
			end := 5*sec + msec

			c.Expire(at(end + cfg.Linger - msec))
			if n := c.Stats().Held; n != 1 {
				t.Fatalf("held %d before Linger ran out", n)
			}
			// A late retransmission of the 200 still finds the call.
			feed(t, c, "done@test", []sipMsg{okToBye(end + 2*sec)})
			c.Expire(at(end + 2*sec + cfg.Linger))
			if n := c.Stats().Held; n != 0 || c.media.len() != 0 {
				t.Fatalf("held %d dialogs and %d media endpoints after Linger", n, c.media.len())
			}
			u := c.Updates()
			if len(u) != 1 || !u[0].Finished || u[0].Messages != 5 || u[0].Retransmissions != 1 {
				t.Fatalf("updates after the drop: %+v", u)
			}
			if u := c.Updates(); len(u) != 0 {
				t.Errorf("a dropped call was handed out twice: %+v", u)
			}
			calls := c.Calls()
			if retain && (len(calls) != 1 || calls[0].CallID != "done@test") {
				t.Errorf("Retain: Calls() = %+v", calls)
			}
			if !retain && len(calls) != 0 {
				t.Errorf("live: Calls() still returns %d dropped calls", len(calls))
			}
			if id := c.MediaCallID(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:50000")); id != "" {
				t.Errorf("media of a dropped call still bound to %q", id)
			}
		})
	}
}

func TestLateCopiesOfADroppedCallDoNotStartANewOne(t *testing.T) {
	c := New(liveConfig())
	feed(t, c, "late@test", []sipMsg{inv(0, 1), res(sec, "486 Busy Here", "1 INVITE"), ack(sec+msec, 1, true)})
	c.Expire(at(sec + msec + c.cfg.Linger))
	c.Updates()
	feed(t, c, "late@test", []sipMsg{res(40*sec, "486 Busy Here", "1 INVITE"), ack(40*sec+msec, 1, true)})
	if s := c.Stats(); s.Late != 2 || s.Held != 0 || s.CallIDs != 1 {
		t.Errorf("late %d held %d call-ids %d, want 2 0 1", s.Late, s.Held, s.CallIDs)
	}
	if u := c.Updates(); len(u) != 0 {
		t.Errorf("late copies produced %+v", u)
	}
	// A new INVITE with the same Call-ID is a new call.
	feed(t, c, "late@test", []sipMsg{inv(50*sec, 1)})
	if u := c.Updates(); len(u) != 1 || u[0].EndReason != EndInProgress {
		t.Errorf("new INVITE after the drop: %+v", u)
	}
	// Tombstones are forgotten in time: a late copy after that is a
	// (headless) record again.
	c.Expire(at(10 * time.Minute))
	c.Updates()
	feed(t, c, "late@test", []sipMsg{res(11*time.Minute, "486 Busy Here", "1 INVITE")})
	if s := c.Stats(); s.Late != 2 || s.Held != 1 {
		t.Errorf("after the tombstone: late %d held %d, want 2 1", s.Late, s.Held)
	}
}

func TestUpdatesHandOutEachChangeOnce(t *testing.T) {
	c := New(liveConfig())
	var m []string
	step := func(name string, f func()) {
		f()
		var got []string
		for _, u := range c.Updates() {
			got = append(got, fmt.Sprintf("%s %s %d", u.CallID, u.EndReason, u.Messages))
		}
		for _, r := range c.UpdatedRegistrations() {
			got = append(got, fmt.Sprintf("%s reg %d", r.CallID, r.FinalCode))
		}
		m = append(m, fmt.Sprintf("%s: %v", name, got))
	}
	step("INVITE", func() { feed(t, c, "u1@test", []sipMsg{inv(0, 1)}) })
	step("nothing", func() {})
	step("ringing and a second call", func() {
		feed(t, c, "u1@test", []sipMsg{ringing(sec)})
		feed(t, c, "u2@test", []sipMsg{inv(sec, 1)})
	})
	step("a registration", func() {
		feed(t, c, "r1@test", []sipMsg{{at: 2 * sec, start: "REGISTER", cseq: "1 REGISTER"}, res(2*sec+msec, "200 OK", "1 REGISTER")})
	})
	step("an OPTIONS ping is no record", func() {
		feed(t, c, "o1@test", []sipMsg{{at: 2 * sec, start: "OPTIONS", cseq: "1 OPTIONS"}})
	})
	step("expiry ends u2 and drops the registration", func() { c.Expire(at(36 * sec)) })
	want := []string{
		"INVITE: [u1@test in_progress 1]",
		"nothing: []",
		"ringing and a second call: [u1@test in_progress 2 u2@test in_progress 1]",
		"a registration: [r1@test reg 200]",
		"an OPTIONS ping is no record: []",
		"expiry ends u2 and drops the registration: [u2@test no_final 1]",
	}
	if !slices.Equal(m, want) {
		t.Errorf("got\n%q\nwant\n%q", m, want)
	}
	if s := c.Stats(); s.Held != 1 {
		t.Errorf("held %d, want u1 only", s.Held)
	}
}

func TestMaxDialogsEvictsTheLongestIdle(t *testing.T) {
	for _, retain := range []bool{false, true} {
		t.Run(fmt.Sprintf("retain=%v", retain), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxDialogs = 2
			cfg.Retain = retain
			c := New(cfg)
			feed(t, c, "c0@test", []sipMsg{inv(0, 1), res(sec, "486 Busy Here", "1 INVITE")})
			for i := 1; i < 5; i++ {
				play(t, c, fmt.Sprintf("c%d@test", i), base+int64(i)*int64(sec), alice, bob, []sipMsg{inv(0, 1)})
			}
			s := c.Stats()
			if s.Held != 2 || s.Evicted != 3 || s.EvictedActive != 2 || s.CallIDs != 5 {
				t.Errorf("stats %+v", s)
			}
			var ids []string
			for _, call := range c.Calls() {
				ids = append(ids, fmt.Sprintf("%s %s %v", call.CallID, call.EndReason, call.Finished))
			}
			// Evicted calls are retained (Retain) or still owed to Updates (live).
			want := []string{"c0@test busy true", "c1@test no_final true", "c2@test no_final true", "c3@test in_progress false", "c4@test in_progress false"}
			if !slices.Equal(ids, want) {
				t.Errorf("calls %q\nwant %q", ids, want)
			}
			if u := c.Updates(); len(u) != 5 {
				t.Errorf("%d updates, want every call once", len(u))
			}
			if !retain && len(c.Calls()) != 2 {
				t.Errorf("live: %d calls after Updates, want the 2 held", len(c.Calls()))
			}
		})
	}
}

func TestRegistrationRefreshAfterLingerIsANewRecord(t *testing.T) {
	c := New(DefaultConfig())
	reg := func(at time.Duration, cseq int) []sipMsg {
		cs := fmt.Sprintf("%d REGISTER", cseq)
		return []sipMsg{{at: at, start: "REGISTER", cseq: cs, headers: "Contact: <sip:alice@10.0.0.1>;expires=60\r\n"}, res(at+msec, "200 OK", cs)}
	}
	feed(t, c, "r@test", reg(0, 1))
	c.Expire(at(40 * sec))
	feed(t, c, "r@test", reg(50*sec, 2))
	regs := c.Registrations()
	if len(regs) != 2 || regs[0].Attempts != 1 || regs[1].Attempts != 1 || !regs[1].Start.After(regs[0].Start) {
		t.Errorf("registrations %+v", regs)
	}
}

func TestAnAbandonedRegistrationHasFailed(t *testing.T) {
	c := New(liveConfig())
	feed(t, c, "r@test", []sipMsg{{start: "REGISTER", cseq: "1 REGISTER"}})
	c.UpdatedRegistrations()
	c.Expire(at(40 * sec))
	u := c.UpdatedRegistrations()
	if len(u) != 1 || !u[0].Failed || u[0].FinalCode != 0 {
		t.Errorf("updates %+v", u)
	}
}

// TestAppendUpdatesReusesAnEarlierBatch: a live pipeline hands the memory
// of a written batch back to AppendUpdates; the records must be those a
// fresh Updates returns, whatever the reused memory still held.
func TestAppendUpdatesReusesAnEarlierBatch(t *testing.T) {
	fresh, reused := New(liveConfig()), New(liveConfig())
	tr := newTraffic(t, true)
	var (
		calls []Call
		regs  []Registration
	)
	rounds := 0
	for k := range 3 * tr.ticks() / 2 {
		now := base + int64(k)*int64(time.Millisecond)
		tr.tick(k, 1<<30, func(_ int, m *sip.Message, src, dst netip.AddrPort) {
			fresh.HandleSIP(now, src, dst, decode.TransportUDP, m)
			reused.HandleSIP(now, src, dst, decode.TransportUDP, m)
		})
		if k%500 != 499 {
			continue
		}
		fresh.Expire(now)
		reused.Expire(now)
		want, wantRegs := fresh.Updates(), fresh.UpdatedRegistrations()
		calls, regs = reused.AppendUpdates(calls[:0]), reused.AppendUpdatedRegistrations(regs[:0])
		if !reflect.DeepEqual(calls, want) && len(calls)+len(want) > 0 {
			t.Fatalf("tick %d: AppendUpdates over an earlier batch gave %d records differing from Updates' %d", k, len(calls), len(want))
		}
		if !reflect.DeepEqual(regs, wantRegs) && len(regs)+len(wantRegs) > 0 {
			t.Fatalf("tick %d: registrations differ", k)
		}
		if len(want) > 0 {
			rounds++
		}
	}
	if rounds < 10 {
		t.Fatalf("only %d rounds had updates", rounds)
	}
	// Appending keeps what dst already holds.
	before := []Call{{CallID: "kept"}}
	want := fresh.Updates()
	if got := reused.AppendUpdates(before); got[0].CallID != "kept" || !reflect.DeepEqual(got[1:], want) {
		t.Errorf("AppendUpdates onto one record: %d records, first %q; want it and the %d updates", len(got), got[0].CallID, len(want))
	}
}
