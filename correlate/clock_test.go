package correlate

import (
	"slices"
	"testing"
	"time"
)

// TestEachSourceKeepsItsOwnClock: two HEP agents each send a ringing call,
// one with a clock in step with the collector, one lagging by lag. Live
// expiry (ExpireAt on the collector's clock) ends each call when ITS
// source's clock passes ProceedingTimeout after the 180, never when the
// other source's later time does.
func TestEachSourceKeepsItsOwnClock(t *testing.T) {
	for _, tc := range []struct {
		name string
		lag  time.Duration
	}{
		{"an agent 10 minutes behind keeps its ringing call in progress for 3 minutes of its own time", 10 * time.Minute},
		{"an agent 2 hours behind keeps its ringing call in progress for 3 minutes of its own time", 2 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(liveConfig())
			wall0 := base
			ringingCall := []sipMsg{inv(0, 1), ringing(sec)}
			// In step: capture time = arrival time.
			c.SetNode("hep:1/in-step")
			c.SetArrival(wall0 + int64(sec))
			feed(t, c, "in-step@test", ringingCall)
			// Lagging: both messages arrive at wall0+2s, stamped lag earlier.
			c.SetNode("hep:2/lagging")
			c.SetArrival(wall0 + 2*int64(sec))
			play(t, c, "lagging@test", wall0+int64(sec)-int64(tc.lag), alice, bob, ringingCall)

			state := map[string]Call{}
			expireAt := func(after time.Duration) {
				c.ExpireAt(wall0 + int64(after))
				for _, u := range c.Updates() {
					state[u.CallID] = u
				}
			}
			inProgress := func(id string) bool {
				u := state[id]
				return !u.Finished && u.EndReason == EndInProgress && u.State == StateNoFinal
			}
			cfg := liveConfig()
			expireAt(10 * time.Second)
			if !inProgress("in-step@test") || !inProgress("lagging@test") {
				t.Fatalf("10 s after the INVITEs: %+v", state)
			}
			// The in-step call's 180 was at wall0+1s: due at +3m1s on its clock.
			expireAt(cfg.ProceedingTimeout + sec)
			if inProgress("in-step@test") || state["in-step@test"].EndReason != EndNoFinal {
				t.Errorf("the in-step call is %s/%s after ProceedingTimeout", state["in-step@test"].State, state["in-step@test"].EndReason)
			}
			if !inProgress("lagging@test") {
				t.Errorf("the lagging call ended on the other source's clock: %+v", state["lagging@test"])
			}
			// The lagging call's 180 arrived at wall0+2s: due at +3m2s of
			// the collector's time passed, whatever its stamps say.
			expireAt(cfg.ProceedingTimeout + 2*sec - msec)
			if !inProgress("lagging@test") {
				t.Errorf("the lagging call ended before its own ProceedingTimeout: %+v", state["lagging@test"])
			}
			expireAt(cfg.ProceedingTimeout + 2*sec)
			if u := state["lagging@test"]; u.EndReason != EndNoFinal || !u.Finished {
				t.Errorf("the lagging call is %s/%s (finished %v) after its own ProceedingTimeout", u.State, u.EndReason, u.Finished)
			}
			if got := c.Stats().TimedOut; got != 2 {
				t.Errorf("%d dialogs timed out, want 2", got)
			}
		})
	}
}

// TestCallNodesAreTheCapturePointsThatCarriedIt: Call.Nodes lists each
// capture point of a call's messages once, first seen first; a file's
// unnamed source is none, and a call past maxCallNodes points keeps the
// first ones and counts the rest.
func TestCallNodesAreTheCapturePointsThatCarriedIt(t *testing.T) {
	c := New(liveConfig())
	step := func(callID, node string, m sipMsg) {
		c.SetNode(node)
		feed(t, c, callID, []sipMsg{m})
	}
	// Seen on both sides of an SBC, then on the first again.
	step("two@test", "eth0", inv(0, 1))
	step("two@test", "hep:7/edge-b", ringing(sec))
	step("two@test", "eth0", res(2*sec, "486 Busy Here", "1 INVITE"))
	// The same two points in the same order: the same set.
	step("same@test", "eth0", inv(0, 1))
	step("same@test", "hep:7/edge-b", ringing(sec))
	// A file has no node name.
	step("file@test", "", inv(0, 1))
	step("file@test", "", ringing(sec))
	// Five points: the fifth is left out and counted.
	for i, node := range []string{"a", "b", "", "c", "d"} {
		m := ringing(time.Duration(i+1) * sec)
		if i == 0 {
			m = inv(0, 1)
		}
		step("five@test", node, m)
	}
	got := map[string][]string{}
	for _, u := range c.Updates() {
		got[u.CallID] = u.Nodes
	}
	want := map[string][]string{
		"two@test":  {"eth0", "hep:7/edge-b"},
		"same@test": {"eth0", "hep:7/edge-b"},
		"file@test": nil,
		"five@test": {"a", "b", "c"}, // "" took the third place and has no name
	}
	for id, w := range want {
		if !slices.Equal(got[id], w) {
			t.Errorf("%s: nodes %q, want %q", id, got[id], w)
		}
	}
	if n := c.Stats().CallNodesDropped; n != 1 {
		t.Errorf("CallNodesDropped %d, want 1 (five@test's fifth point)", n)
	}
	// Calls with one set share its names: a record holds no copy.
	if &got["two@test"][0] != &got["same@test"][0] {
		t.Errorf("two calls with the same capture points hold two copies of their names")
	}
}
