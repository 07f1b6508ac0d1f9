package correlate

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestB2BUALegsAreLinked(t *testing.T) {
	sbc := netip.MustParseAddrPort("10.0.0.254:5060")
	carrier := netip.MustParseAddrPort("203.0.113.1:5060")
	phone := party{"+4930123456", netip.MustParseAddrPort("10.0.0.1:5060"), "p1"}
	sbcIn := party{"030123456", sbc, "s1"}
	sbcOut := party{"004930123456", sbc, "s2"}
	dest := party{"+4940987654", carrier, "d1"}
	destIn := party{"040987654", sbc, "d2"}
	withHeader := func(h string) []sipMsg {
		m := inv(0, 1)
		m.headers = h
		return []sipMsg{m}
	}

	type leg struct {
		callID         string
		start          time.Duration
		caller, callee party
		script         []sipMsg
	}
	tests := []struct {
		name   string
		cfg    func(*Config)
		legs   []leg
		linked map[string][]string
	}{
		{"X-CID naming the first leg links both",
			nil,
			[]leg{{"a@x", 0, phone, destIn, withHeader("")}, {"b@x", 40 * msec, sbcOut, dest, withHeader("X-CID: a@x\r\n")}},
			map[string][]string{"a@x": {"b@x"}, "b@x": {"a@x"}}},
		{"the second leg seen first is linked when the first arrives",
			nil,
			[]leg{{"b@x", 0, sbcOut, dest, withHeader("X-Call-ID: a@x\r\n")}, {"a@x", 10 * msec, phone, destIn, withHeader("")}},
			map[string][]string{"a@x": {"b@x"}, "b@x": {"a@x"}}},
		{"legs sharing a correlation token are linked",
			nil,
			[]leg{{"a@x", 0, phone, destIn, withHeader("X-Orig-Call-ID: token-77\r\n")}, {"b@x", 30 * sec, sbcOut, dest, withHeader("X-Orig-Call-ID: token-77\r\n")}},
			map[string][]string{"a@x": {"b@x"}, "b@x": {"a@x"}}},
		{"a configured header replaces the default list",
			func(c *Config) { c.LegHeaders = []string{"X-Leg"} },
			[]leg{{"a@x", 0, phone, destIn, withHeader("X-CID: zzz\r\n")}, {"b@x", 5 * sec, sbcOut, dest, withHeader("X-CID: a@x\r\nx-leg: a@x\r\n")}},
			map[string][]string{"a@x": {"b@x"}, "b@x": {"a@x"}}},
		{"numbers in other spellings within the window link the legs",
			nil,
			[]leg{{"a@x", 0, phone, destIn, withHeader("")}, {"b@x", 1500 * msec, sbcOut, dest, withHeader("")}},
			map[string][]string{"a@x": {"b@x"}, "b@x": {"a@x"}}},
		{"the same numbers after the window are another call",
			nil,
			[]leg{{"a@x", 0, phone, destIn, withHeader("")}, {"b@x", 2500 * msec, sbcOut, dest, withHeader("")}},
			map[string][]string{"a@x": nil, "b@x": nil}},
		{"the same numbers on the same path are a redial",
			nil,
			[]leg{{"a@x", 0, phone, destIn, withHeader("")}, {"b@x", 500 * msec, phone, destIn, withHeader("")}},
			map[string][]string{"a@x": nil, "b@x": nil}},
		{"a zero window turns the number fallback off",
			func(c *Config) { c.LegWindow = 0 },
			[]leg{{"a@x", 0, phone, destIn, withHeader("")}, {"b@x", 100 * msec, sbcOut, dest, withHeader("")}},
			map[string][]string{"a@x": nil, "b@x": nil}},
		{"three legs through two B2BUAs chain",
			nil,
			[]leg{{"a@x", 0, phone, destIn, withHeader("")}, {"b@x", 50 * msec, sbcOut, dest, withHeader("X-CID: a@x\r\n")},
				{"c@x", 90 * msec, sbcIn, dest, withHeader("X-CID: b@x\r\n")}},
			map[string][]string{"a@x": {"b@x"}, "b@x": {"a@x", "c@x"}, "c@x": {"b@x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			c := New(cfg)
			for _, l := range tt.legs {
				play(t, c, l.callID, base+int64(l.start), l.caller, l.callee, l.script)
			}
			got := map[string][]string{}
			for _, call := range c.Calls() {
				got[call.CallID] = call.LinkedCallIDs
			}
			for id, want := range tt.linked {
				if !slices.Equal(got[id], want) {
					t.Errorf("%s linked to %q, want %q", id, got[id], want)
				}
			}
		})
	}
}

func TestLinkingAnEarlierLegEmitsItAgain(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Retain = false
	c := New(cfg)
	play(t, c, "a@x", base, alice, bob, []sipMsg{inv(0, 1)})
	c.Updates()
	b := inv(0, 1)
	b.headers = "X-CID: a@x\r\n"
	play(t, c, "b@x", base+int64(100*msec), party{"alice", netip.MustParseAddrPort("10.0.0.254:5060"), "s"}, bob, []sipMsg{b})
	var ids []string
	for _, u := range c.Updates() {
		ids = append(ids, u.CallID+"→"+u.XCallID)
	}
	if !slices.Equal(ids, []string{"a@x→", "b@x→a@x"}) {
		t.Errorf("updates %q", ids)
	}
}
