package correlate

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
)

// FuzzHandleSIP feeds arbitrary message sequences (messages separated by
// a NUL byte) to a small live correlator, expiring and draining it on the
// way. The invariants: no panic, never more than MaxDialogs held, and a
// finished call always has an end reason.
func FuzzHandleSIP(f *testing.F) {
	for _, script := range [][]sipMsg{
		{inv(0, 1), ringing(sec), ok(2 * sec), ack(2*sec+msec, 1, false), byeFromCaller(5 * sec), okToBye(5*sec + msec)},
		{inv(0, 1), res(sec, "407 Proxy Authentication Required", "1 INVITE"), ack(sec, 1, true), inv(2*sec, 2), cancel(3 * sec)},
		{{start: "REGISTER", cseq: "1 REGISTER", headers: "Contact: *\r\nExpires: 0\r\n"}, res(sec, "401 Unauthorized", "1 REGISTER")},
		{{start: "OPTIONS", cseq: "1 OPTIONS"}, {at: 3 * sec, start: "INVITE", cseq: "2 INVITE", toTag: "b1", sdp: sdpBody("0.0.0.0", 0, "a=inactive")}},
	} {
		var in []byte
		for _, e := range script {
			in = append(in, buildMsg("fuzz@test", alice, bob, e)...)
			in = append(in, 0)
		}
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg := DefaultConfig()
		cfg.Retain = false
		cfg.MaxDialogs = 4
		cfg.MaxRegistrations = 2
		cfg.MaxMedia = 8
		c := New(cfg)
		var m sip.Message
		ts := base
		for i, part := range bytes.Split(in, []byte{0}) {
			if i > 64 {
				break
			}
			ts += int64(i%7) * int64(10*time.Second)
			if m.Unmarshal(part) == nil {
				c.HandleSIP(ts, alice.addr, bob.addr, decode.TransportUDP, &m)
				c.HandleSIP(ts, bob.addr, alice.addr, decode.TransportTCP, &m)
			}
			if i%3 == 2 {
				c.Expire(ts)
			}
			if c.dialogs.len() > cfg.MaxDialogs {
				t.Fatalf("%d dialogs held", c.dialogs.len())
			}
			checkRegistrationList(t, c, cfg.MaxRegistrations)
			c.BindMedia(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:50001"))
		}
		for _, call := range append(c.Updates(), c.Calls()...) {
			if call.EndReason == "" || call.Finished && call.EndReason == EndInProgress {
				t.Fatalf("call %+v", call)
			}
		}
		c.UpdatedRegistrations()
		c.Registrations()
		c.Stats()
		c.Expire(ts + int64(5*time.Hour))
		checkRegistrationList(t, c, 0)
		if c.Stats().Held != 0 || c.media.len() != 0 {
			t.Fatalf("held %d, media %d after expiring everything", c.Stats().Held, c.media.len())
		}
	})
}

// checkRegistrationList checks the registrations' idle list against the
// dialog table: every registration held on it once, in both directions,
// and no more than max of them.
func checkRegistrationList(t *testing.T, c *Correlator, max int) {
	t.Helper()
	n := 0
	var prev *dialog
	for d := c.rhead; d != nil; d = d.reg.rnext {
		if d.kind != kindRegistration || d.removed || d.reg.rprev != prev || c.dialogs.getString(d.hash, d.callID) != d {
			t.Fatalf("registration list entry %d (%q) is inconsistent", n, d.callID)
		}
		prev = d
		n++
	}
	if prev != c.rtail || n != c.nregs || n > max {
		t.Fatalf("registration list: %d entries, count %d, limit %d", n, c.nregs, max)
	}
	held := 0
	for _, sl := range c.dialogs.slots {
		if sl.d != nil && sl.d.kind == kindRegistration {
			held++
		}
	}
	if held != n {
		t.Fatalf("%d registrations in the table, %d on the list", held, n)
	}
}
