package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
)

// search checks the later filters of the call search (address prefixes,
// final class, finding, ranges, partial, RTP, wildcards and E.164, sort)
// and the counts of a filter.
func (h *harness) search(t *testing.T) {
	const d = 20
	at := func(hh int) time.Time { return day(d).Add(time.Duration(hh) * time.Hour) }
	mk := func(id, from, to, src, dst, state string, code int, start time.Time, durMs, mos, pddMs float64, findings ...string) correlate.Call {
		return correlate.Call{CallID: id, FromUser: from, ToUser: to, SrcIP: netip.MustParseAddr(src), DstIP: netip.MustParseAddr(dst),
			State: state, FinalCode: code, Start: start, End: start.Add(time.Minute), Messages: 3, EndReason: correlate.EndCallerBye,
			DurationMs: durMs, MOS: mos, PDDMs: pddMs, Findings: findings}
	}
	calls := []correlate.Call{
		mk("s-1", "+4930123456", "alice", "192.0.2.10", "198.51.100.1", correlate.StateAnswered, 200, at(1), 60000, 4.3, 120),
		mk("s-2", "4930999", "bob", "192.0.2.200", "198.51.100.1", correlate.StateAnswered, 200, at(2), 5000, 2.9, 900, "poor_audio"),
		mk("s-3", "0301234", "carol", "203.0.113.7", "2001:db8:1::5", correlate.StateFailed, 486, at(3), 0, 0, 300, "busy"),
		mk("s-4", "alice", "+4989777", "2001:db8:1::9", "2001:db8:2::1", correlate.StateFailed, 404, at(4), 0, 0, 0, "rejected:404"),
		mk("s-5", "a_b%c", "dave", "10.1.2.3", "192.0.2.10", correlate.StateFailed, 503, at(5), 0, 0, 50),
		mk("s-6", "zed", "erin", "192.0.2.129", "10.9.9.9", correlate.StateAnswered, 200, at(6), 30000, 0, 200),
	}
	calls[5].Partial = true
	calls[0].UserAgent, calls[2].UserAgent, calls[3].UserAgent = "Zoiper rv2.10", "friendly-scanner", "Linphone/5.2 (belle-sip)"
	// s-6 has no MOS but a stream: it has RTP.
	stream := quality.Stream{SSRC: 7, Src: netip.MustParseAddrPort("192.0.2.129:4000"), Dst: netip.MustParseAddrPort("10.9.9.9:5000"),
		Start: at(6), End: at(6).Add(time.Second), Packets: 50, Expected: 50, CallID: "s-6", Payload: "g711U"}
	msg := func(id string, at time.Time, method string) correlate.Message {
		return correlate.Message{TS: at, Src: netip.MustParseAddrPort("192.0.2.10:5060"), Dst: netip.MustParseAddrPort("198.51.100.1:5060"),
			Transport: "udp", CallID: id, IsRequest: true, Method: method, CSeq: 1, CSeqMethod: method,
			Raw: []byte(method + " sip:x@y SIP/2.0\r\nCall-ID: " + id + "\r\n\r\n")}
	}
	msgs := []correlate.Message{
		msg("s-1", at(1), "INVITE"), msg("s-2", at(1).Add(time.Second), "INVITE"),
		msg("s-1", at(1).Add(2*time.Second), "BYE"), msg("s-2", at(1).Add(3*time.Second), "BYE"),
	}
	// s-2's BYE was captured by a HEP agent, its INVITE on eth0.
	msgs[1].Node, msgs[3].Node = "eth0", "hep:7/edge-b"
	h.write(t, storage.Batch{Calls: calls, Streams: []quality.Stream{stream}, Messages: msgs})

	yes, no := true, false
	with := func(mod func(*storage.CallFilter)) storage.CallFilter {
		f := dayFilter(d)
		mod(&f)
		return f
	}
	cases := []struct {
		name string
		f    storage.CallFilter
		want []string
	}{
		{"an IPv4 /24 matches caller or callee inside it", with(func(f *storage.CallFilter) { f.IPPrefix = netip.MustParsePrefix("192.0.2.0/24") }),
			[]string{"s-6", "s-5", "s-2", "s-1"}},
		{"an IPv4 /25 cuts at .128", with(func(f *storage.CallFilter) { f.IPPrefix = netip.MustParsePrefix("192.0.2.128/25") }),
			[]string{"s-6", "s-2"}},
		{"an IPv6 /48 matches IPv6 ends only", with(func(f *storage.CallFilter) { f.IPPrefix = netip.MustParsePrefix("2001:db8:1::/48") }),
			[]string{"s-4", "s-3"}},
		{"0.0.0.0/0 matches every IPv4 call and no IPv6-only one", with(func(f *storage.CallFilter) { f.IPPrefix = netip.MustParsePrefix("0.0.0.0/0") }),
			[]string{"s-6", "s-5", "s-3", "s-2", "s-1"}},
		{"final class 4 is every 4xx", with(func(f *storage.CallFilter) { f.FinalClass = 4 }), []string{"s-4", "s-3"}},
		{"final class 5 is every 5xx", with(func(f *storage.CallFilter) { f.FinalClass = 5 }), []string{"s-5"}},
		{"a finding matches an element of the findings, not a substring", with(func(f *storage.CallFilter) { f.Finding = "rejected:404" }),
			[]string{"s-4"}},
		{"a finding's prefix is not a finding", with(func(f *storage.CallFilter) { f.Finding = "rejected" }), nil},
		{"a duration range is inclusive", with(func(f *storage.CallFilter) { f.MinDurationMs, f.MaxDurationMs = 5000, 30000 }),
			[]string{"s-6", "s-2"}},
		{"a MOS floor", with(func(f *storage.CallFilter) { f.MinMOS = 3 }), []string{"s-1"}},
		{"a MOS ceiling includes calls without MOS", with(func(f *storage.CallFilter) { f.MaxMOS = 3 }),
			[]string{"s-6", "s-5", "s-4", "s-3", "s-2"}},
		{"partial calls", with(func(f *storage.CallFilter) { f.Partial = &yes }), []string{"s-6"}},
		{"calls that are not partial", with(func(f *storage.CallFilter) { f.Partial = &no }), []string{"s-5", "s-4", "s-3", "s-2", "s-1"}},
		{"calls with RTP: a MOS or a stream", with(func(f *storage.CallFilter) { f.HasRTP = &yes }), []string{"s-6", "s-2", "s-1"}},
		{"calls without RTP", with(func(f *storage.CallFilter) { f.HasRTP = &no }), []string{"s-5", "s-4", "s-3"}},
		{"an E.164 number matches with or without '+'", with(func(f *storage.CallFilter) { f.FromUser = "4930" }), []string{"s-2", "s-1"}},
		{"a '+' in the filter is ignored", with(func(f *storage.CallFilter) { f.FromUser = "+4930" }), []string{"s-2", "s-1"}},
		{"a wildcard is anchored at both ends", with(func(f *storage.CallFilter) { f.FromUser = "49*6" }), []string{"s-1"}},
		{"a wildcard in the middle", with(func(f *storage.CallFilter) { f.FromUser = "*30*" }), []string{"s-3", "s-2", "s-1"}},
		{"a wildcard's other characters are literal", with(func(f *storage.CallFilter) { f.FromUser = "a_b%*" }), []string{"s-5"}},
		{"LIKE's underscore is not a wildcard", with(func(f *storage.CallFilter) { f.FromUser = "a_*" }), []string{"s-5"}},
		{"a callee wildcard with '+'", with(func(f *storage.CallFilter) { f.ToUser = "+4989*" }), []string{"s-4"}},
		{"a user agent is a case-insensitive substring", with(func(f *storage.CallFilter) { f.UserAgent = "zoiper" }), []string{"s-1"}},
		{"a user agent wildcard is anchored at both ends", with(func(f *storage.CallFilter) { f.UserAgent = "*belle-sip)" }), []string{"s-4"}},
		{"a user agent wildcard's LIKE characters are literal", with(func(f *storage.CallFilter) { f.UserAgent = "friendly_*" }), nil},
		{"a capture node selects the calls it saw a message of", with(func(f *storage.CallFilter) { f.Node = "hep:7/edge-b" }), []string{"s-2"}},
		{"a capture node is matched exactly", with(func(f *storage.CallFilter) { f.Node = "eth" }), nil},
		{"sort by duration, longest first", with(func(f *storage.CallFilter) { f.Sort, f.FinalClass = storage.SortDuration, 2 }),
			[]string{"s-1", "s-6", "s-2"}},
		{"sort by MOS ascending", with(func(f *storage.CallFilter) { f.Sort, f.Ascending, f.HasRTP = storage.SortMOS, true, &yes }),
			[]string{"s-6", "s-2", "s-1"}},
		{"sort by PDD, longest first", with(func(f *storage.CallFilter) { f.Sort = storage.SortPDD; f.Limit = 3 }),
			[]string{"s-2", "s-3", "s-6"}},
		{"sort by start ascending", with(func(f *storage.CallFilter) { f.Sort, f.Ascending, f.Limit = storage.SortStart, true, 2 }),
			[]string{"s-1", "s-2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := h.list(t, c.f)
			if got := ids(p.Calls); !slices.Equal(got, c.want) {
				t.Errorf("calls %q, want %q", got, c.want)
			}
		})
	}
	t.Run("a cursor pages on after its call in either order, ties broken by Call-ID, the total kept", func(t *testing.T) {
		const cd = 33
		start := day(cd).Add(time.Hour)
		var cs []correlate.Call
		for i, off := range []int{0, 1, 1, 1, 2, 3, 3} { // three calls share a start, two another
			cs = append(cs, mk(fmt.Sprintf("cur-%d", i), "u", "v", "192.0.2.1", "192.0.2.2", correlate.StateAnswered, 200,
				start.Add(time.Duration(off)*time.Second), 1000, 0, 0))
		}
		h.write(t, storage.Batch{Calls: cs})
		for _, asc := range []bool{false, true} {
			all := dayFilter(cd)
			all.Ascending, all.Limit = asc, 100
			want := ids(h.list(t, all).Calls)
			var got []string
			f := dayFilter(cd)
			f.Ascending, f.Limit = asc, 3
			for range 10 {
				p := h.list(t, f)
				if p.Total != len(cs) {
					t.Errorf("ascending %v: total %d after %v, want %d", asc, p.Total, f.After, len(cs))
				}
				got = append(got, ids(p.Calls)...)
				if len(p.Calls) < f.Limit {
					break
				}
				last := p.Calls[len(p.Calls)-1]
				f.After = &storage.CallKey{Start: last.Start, CallID: last.CallID}
			}
			if !slices.Equal(got, want) {
				t.Errorf("ascending %v: cursor pages %q, want the one page %q", asc, got, want)
			}
		}
		bad := dayFilter(cd)
		bad.After, bad.Offset = &storage.CallKey{Start: start, CallID: "cur-0"}, 3
		if _, err := h.store.ListCalls(context.Background(), bad); !errors.Is(err, storage.ErrInvalidFilter) {
			t.Errorf("a cursor with an offset: %v, want ErrInvalidFilter", err)
		}
	})
	t.Run("the counts of a filter are per state and per final code", func(t *testing.T) {
		cs, ok := h.store.(interface {
			CountCalls(ctx context.Context, f storage.CallFilter) (storage.CallCounts, error)
		})
		if !ok {
			t.Fatal("the store has no CountCalls")
		}
		c, err := cs.CountCalls(context.Background(), dayFilter(d))
		if err != nil {
			t.Fatal(err)
		}
		wantState := map[string]int{correlate.StateAnswered: 3, correlate.StateFailed: 3}
		wantCode := map[int]int{200: 3, 486: 1, 404: 1, 503: 1}
		if c.Total != 6 || !mapsEqual(c.State, wantState) || !mapsEqual(c.FinalCode, wantCode) {
			t.Errorf("counts %+v, want total 6, states %v, codes %v", c, wantState, wantCode)
		}
		c, err = cs.CountCalls(context.Background(), with(func(f *storage.CallFilter) { f.FinalClass = 4 }))
		if err != nil {
			t.Fatal(err)
		}
		if c.Total != 2 || c.State[correlate.StateFailed] != 2 || c.FinalCode[486] != 1 || c.FinalCode[404] != 1 {
			t.Errorf("counts of 4xx %+v", c)
		}
		// A Call-ID alone is counted from its packed row; another
		// condition beside it from calls.
		c, err = cs.CountCalls(context.Background(), storage.CallFilter{CallID: "s-3", Sort: storage.SortMOS})
		if err != nil || c.Total != 1 || c.State[correlate.StateFailed] != 1 || c.FinalCode[486] != 1 {
			t.Errorf("counts of Call-ID s-3 %+v (%v), want one failed call, 486", c, err)
		}
		c, err = cs.CountCalls(context.Background(), storage.CallFilter{CallID: "s-3", FinalClass: 2})
		if err != nil || c.Total != 0 {
			t.Errorf("counts of Call-ID s-3 among the 2xx %+v (%v), want none", c, err)
		}
		c, err = cs.CountCalls(context.Background(), storage.CallFilter{CallID: "no-such-call"})
		if err != nil || c.Total != 0 || len(c.State) != 0 {
			t.Errorf("counts of an unknown Call-ID %+v (%v), want none", c, err)
		}
	})
	t.Run("the messages of several calls come in capture order", func(t *testing.T) {
		cm, ok := h.store.(interface {
			CallMessages(ctx context.Context, callIDs []string, maxBytes int64) ([]correlate.Message, error)
		})
		if !ok {
			t.Fatal("the store has no CallMessages")
		}
		got, err := cm.CallMessages(context.Background(), []string{"s-2", "s-1", "no-such-call"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, m := range got {
			order = append(order, m.CallID+" "+m.Method)
		}
		if want := []string{"s-1 INVITE", "s-2 INVITE", "s-1 BYE", "s-2 BYE"}; !slices.Equal(order, want) {
			t.Errorf("messages %q, want %q", order, want)
		}
		if _, err := cm.CallMessages(context.Background(), make([]string, storage.MaxCallMessagesIDs+1), 0); !errors.Is(err, storage.ErrInvalidFilter) {
			t.Errorf("too many Call-IDs: %v", err)
		}
		// Each message is about 50 bytes: a bound of 120 stops at the third.
		if _, err := cm.CallMessages(context.Background(), []string{"s-1", "s-2"}, 120); !errors.Is(err, storage.ErrTooLarge) {
			t.Errorf("over the byte bound: %v, want ErrTooLarge", err)
		}
	})
	t.Run("bad ranges, classes and sorts are refused", func(t *testing.T) {
		for _, f := range []storage.CallFilter{
			{MinMOS: 4, MaxMOS: 3}, {MinDurationMs: math.NaN()}, {MaxMOS: math.Inf(1)}, {MinDurationMs: -1},
			{FinalClass: 7}, {FinalClass: -1}, {Sort: "start_us; DROP TABLE calls"},
		} {
			if _, err := h.store.ListCalls(context.Background(), f); !errors.Is(err, storage.ErrInvalidFilter) {
				t.Errorf("%+v: error %v, want ErrInvalidFilter", f, err)
			}
		}
	})
}

func mapsEqual[K comparable](a, b map[K]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
