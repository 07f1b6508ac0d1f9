package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
)

// Store is what the suite exercises: the methods both backends have.
type Store interface {
	Write(ctx context.Context, b storage.Batch) error
	ListCalls(ctx context.Context, f storage.CallFilter) (storage.CallPage, error)
	GetCall(ctx context.Context, callID string) (storage.CallDetail, error)
	Close() error
}

// Run runs the suite. open must return a store over the same data every
// time it is called: the suite closes the store and calls open again to
// check that what was written survives a restart. The data must start
// empty.
func Run(t *testing.T, open func(t *testing.T) Store) {
	h := &harness{open: open, store: open(t)}
	t.Cleanup(func() {
		if h.store != nil {
			if err := h.store.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		}
	})
	t.Run("a call written before a restart reads back whole", h.roundTripAfterRestart)
	t.Run("filters select exactly the matching calls", h.filters)
	t.Run("paging walks all calls newest first with a stable total", h.paging)
	t.Run("limit defaults to 50 and is capped at 1000", h.limits)
	t.Run("invalid filters are rejected", h.invalidFilters)
	t.Run("a later write of a call or stream replaces the earlier one", h.updates)
	t.Run("a page of the newest calls is whole when superseded versions crowd its bound", h.crowdedPage)
	t.Run("an unknown call is not found", h.notFound)
	t.Run("hostile strings are stored and matched literally", h.hostileStrings)
	t.Run("the search's prefixes, classes, findings, ranges, wildcards and sorts", h.search)
}

type harness struct {
	open  func(t *testing.T) Store
	store Store
}

func (h *harness) restart(t *testing.T) {
	t.Helper()
	if err := h.store.Close(); err != nil {
		t.Fatalf("close before restart: %v", err)
	}
	h.store = nil
	h.store = h.open(t)
}

// Every subtest lives on its own UTC days (filters uses days 2 and 3) so
// that time-range filters keep the subtests' calls apart.
func day(n int) time.Time { return time.Date(2024, time.March, n, 0, 0, 0, 0, time.UTC) }

func dayFilter(n int) storage.CallFilter {
	return storage.CallFilter{From: day(n), To: day(n + 1)}
}

func (h *harness) write(t *testing.T, b storage.Batch) {
	t.Helper()
	if err := h.store.Write(context.Background(), b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func (h *harness) list(t *testing.T, f storage.CallFilter) storage.CallPage {
	t.Helper()
	p, err := h.store.ListCalls(context.Background(), f)
	if err != nil {
		t.Fatalf("list %+v: %v", f, err)
	}
	return p
}

func (h *harness) get(t *testing.T, id string) storage.CallDetail {
	t.Helper()
	d, err := h.store.GetCall(context.Background(), id)
	if err != nil {
		t.Fatalf("get %q: %v", id, err)
	}
	return d
}

// hostileBytes holds every byte value plus the characters that break naive
// quoting or text formats.
func hostileBytes() []byte {
	b := []byte("INVITE sip:bob@example.com SIP/2.0\r\nX-Quote: 'single' \"double\" `back`\r\nX-Escape: \\ \\\\ \\' \\n\r\n\tfolded\r\n\r\n")
	for i := 0; i < 256; i++ {
		b = append(b, byte(i))
	}
	return append(b, 0x00, 0xff, '\t', '\n', '\'', '\\', 0x00)
}

// bigMessage is 64 KiB of deterministic pseudo-random bytes.
func bigMessage() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func (h *harness) roundTripAfterRestart(t *testing.T) {
	base := day(1).Add(10 * time.Hour)
	id := "roundtrip-1@example.com"
	us := time.Microsecond
	call := correlate.Call{
		CallID: id, FromUser: "alice", ToUser: "bob",
		SrcIP: netip.MustParseAddr("192.0.2.10"), DstIP: netip.MustParseAddr("2001:db8::20"),
		State: correlate.StateAnswered, FinalCode: 200,
		Start: base, End: base.Add(95*time.Second + 123*us), Messages: 6, MOS: 4.0918273645,
		EndReason: correlate.EndCalleeBye, ByeBy: correlate.SideCallee,
		Q850Cause: 16, ReasonHeader: `Q.850;cause=16;text="Normal call clearing"`,
		PDDMs: 340.125, RingMs: 2160.5, AnswerMs: 2500.625, DurationMs: 92500.001,
		Retransmissions: 2, ReInvites: 1, Hold: true, Forked: true, UserAgent: "Linphone/5.2 (belle-sip/5.2)",
		XCallID: "leg-a@sbc", LinkedCallIDs: []string{"leg-a@sbc", "leg-c/x+y@[2001:db8::30]"}, InfoDTMF: "12#*",
		LastUpdate: base.Add(95*time.Second + 124*us), Finished: true,
		SetupMs: 17846.036, Partial: true, CancelSeen: true,
		Findings:  []string{"one_way_audio:callee_to_caller", "nat_mismatch:caller", "partial"},
		Malformed: []string{"bad_content_length", "missing_to_tag_on_2xx"},
		Diagnosis: `Seen mid-call: alice at 192.0.2.10 called bob; "no audio" from the callee, 13.4 % lost.`,
		Fax:       correlate.FaxT38,
		Nodes:     []string{"hep:2001/edge-1", "eth0"},
	}
	msg := func(ts time.Time, req bool, method string, code int, raw []byte) correlate.Message {
		m := correlate.Message{
			TS: ts, Src: ap("192.0.2.10:5060"), Dst: ap("[2001:db8::20]:5062"), Transport: "udp",
			CallID: id, IsRequest: req, Method: method, StatusCode: code, CSeq: 101, CSeqMethod: "INVITE",
			FromUser: "alice", ToUser: "bob", Raw: raw, Node: "hep:2001/edge-1",
		}
		if !req {
			m.Src, m.Dst = m.Dst, m.Src
			m.Reason = "Reason 'quoted' \\ back"
		}
		return m
	}
	same := base.Add(5 * time.Millisecond)
	// Written in this order; read back by time, then by write order.
	written := []correlate.Message{
		msg(base, true, "INVITE", 0, hostileBytes()),
		msg(same, false, "INVITE", 100, []byte("SIP/2.0 100 Trying\r\n\r\n")),
		msg(same, false, "INVITE", 180, []byte("SIP/2.0 180 Ringing\r\n\r\n")),
		msg(base.Add(2*time.Second+7*us), false, "INVITE", 200, bigMessage()),
		msg(base.Add(1*time.Second), false, "INVITE", 183, []byte{}),
		msg(same, false, "INVITE", 181, []byte("SIP/2.0 181 Forwarded\r\n\r\n")),
	}
	want := []correlate.Message{written[0], written[1], written[2], written[5], written[4], written[3]}
	streams := []quality.Stream{
		{SSRC: 0xdeadbeef, Src: ap("192.0.2.10:40000"), Dst: ap("[2001:db8::20]:50000"), PayloadType: 8,
			Payload: "g711A", Start: base.Add(3 * time.Second), End: base.Add(90 * time.Second),
			Packets: 4350, Expected: 4349, Lost: -1, SeqErrors: 2,
			MinDeltaMs: 0.012, MeanDeltaMs: 20.000123, MaxDeltaMs: 61.5, MinJitterMs: 0, MeanJitterMs: 0.37, MaxJitterMs: 2.125,
			MOS: 4.409, CallID: id},
		{SSRC: 7, Src: ap("[2001:db8::20]:50000"), Dst: ap("192.0.2.10:40000"), PayloadType: 96,
			Payload: "RTPType-96", Start: base.Add(3*time.Second + 500*us), End: base.Add(89 * time.Second),
			Packets: 10, Expected: 12, Lost: 2, MeanDeltaMs: 20, MOS: 1.5, CallID: id},
		// Every quality figure: listener's view, RTCP, timeline, DTMF.
		qualityStream(base, 0x51, id),
	}
	reg := correlate.Registration{CallID: "reg-1@example.com", AoR: "sip:alice@example.com", Challenged: true,
		FinalCode: 200, Start: base, End: base.Add(time.Second), Messages: 4, SrcIP: netip.MustParseAddr("192.0.2.10")}

	h.write(t, storage.Batch{Calls: []correlate.Call{call}, Messages: written, Streams: streams,
		Registrations: []correlate.Registration{reg}})
	h.restart(t)

	got := h.get(t, id)
	if err := sameCall(got.Call, call); err != nil {
		t.Errorf("call: %v", err)
	}
	if len(got.Messages) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got.Messages), len(want))
	}
	for i := range want {
		if err := sameMessage(got.Messages[i], want[i]); err != nil {
			t.Errorf("message %d: %v", i, err)
		}
	}
	if len(got.Streams) != len(streams) {
		t.Fatalf("got %d streams, want %d", len(got.Streams), len(streams))
	}
	for i := range streams {
		if err := sameStream(got.Streams[i], streams[i]); err != nil {
			t.Errorf("stream %d: %v", i, err)
		}
	}
	page := h.list(t, dayFilter(1))
	if page.Total != 1 || len(page.Calls) != 1 {
		t.Fatalf("list after restart: total %d, %d calls; want 1, 1", page.Total, len(page.Calls))
	}
	if err := sameCall(page.Calls[0], call); err != nil {
		t.Errorf("listed call: %v", err)
	}
	// A Call-ID alone is answered from calls_by_id's packed row.
	page = h.list(t, storage.CallFilter{CallID: id})
	if page.Total != 1 || len(page.Calls) != 1 {
		t.Fatalf("Call-ID search after restart: total %d, %d calls; want 1, 1", page.Total, len(page.Calls))
	}
	if err := sameCall(page.Calls[0], call); err != nil {
		t.Errorf("call found by its Call-ID: %v", err)
	}
}

func (h *harness) filters(t *testing.T) {
	const d = 2
	at := func(hh, mm int) time.Time {
		return day(d).Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	}
	reasons := map[string]string{correlate.StateAnswered: correlate.EndCallerBye, correlate.StateCancelled: correlate.EndCancelled,
		correlate.StateNoFinal: correlate.EndNoFinal}
	mk := func(id, from, to, src, dst, state string, code int, start time.Time) correlate.Call {
		reason := reasons[state]
		switch code {
		case 486:
			reason = correlate.EndBusy
		case 404:
			reason = correlate.EndRejected
		}
		return correlate.Call{CallID: id, FromUser: from, ToUser: to,
			SrcIP: netip.MustParseAddr(src), DstIP: netip.MustParseAddr(dst),
			State: state, FinalCode: code, Start: start, End: start.Add(time.Minute), Messages: 3, EndReason: reason}
	}
	calls := []correlate.Call{
		mk("f-1", "Alice", "bob", "10.0.0.1", "10.0.0.2", correlate.StateAnswered, 200, at(0, 0)),
		mk("f-2", "alice2", "carol", "10.0.0.3", "10.0.0.1", correlate.StateFailed, 486, at(1, 0)),
		mk("f-3", "dave", "BOBBY", "10.0.0.4", "10.0.0.5", correlate.StateCancelled, 487, at(2, 0)),
		mk("f-4", "erin", "frank", "2001:db8::1", "10.0.0.5", correlate.StateNoFinal, 0, at(3, 0)),
		mk("f-5", "100%_user", "grace", "10.0.0.6", "2001:db8::1", correlate.StateFailed, 404, at(4, 0)),
		mk("f-10", "heidi", "ivan", "10.0.0.7", "10.0.0.8", correlate.StateAnswered, 200, at(23, 59)),
		// Outside the day: only the time range keeps them out.
		mk("f-before", "alice", "bob", "10.0.0.1", "10.0.0.2", correlate.StateAnswered, 200, day(d).Add(-time.Microsecond)),
		mk("f-after", "alice", "bob", "10.0.0.1", "10.0.0.2", correlate.StateAnswered, 200, day(d+1)),
	}
	h.write(t, storage.Batch{Calls: calls})

	with := func(mod func(*storage.CallFilter)) storage.CallFilter {
		f := dayFilter(d)
		mod(&f)
		return f
	}
	cases := []struct {
		name string
		f    storage.CallFilter
		want []string // newest first
	}{
		{"the day's range holds its first and last microsecond but not the next day", dayFilter(d),
			[]string{"f-10", "f-5", "f-4", "f-3", "f-2", "f-1"}},
		{"a range from 01:00 to 03:00 excludes 03:00", with(func(f *storage.CallFilter) { f.From, f.To = at(1, 0), at(3, 0) }),
			[]string{"f-3", "f-2"}},
		// Other subtests' calls live on other days; the free text "f-" keeps
		// them out of the open-ended ranges.
		{"an open-ended From takes everything after it", storage.CallFilter{From: at(4, 0), Query: "f-"},
			[]string{"f-after", "f-10", "f-5"}},
		{"an open-ended To takes everything before it", storage.CallFilter{To: at(0, 0).Add(time.Microsecond), Query: "f-"},
			[]string{"f-1", "f-before"}},
		{"from user matches a substring regardless of case", with(func(f *storage.CallFilter) { f.FromUser = "ALIce" }),
			[]string{"f-2", "f-1"}},
		{"to user matches a substring", with(func(f *storage.CallFilter) { f.ToUser = "bob" }),
			[]string{"f-3", "f-1"}},
		{"percent and underscore in a user filter are literal", with(func(f *storage.CallFilter) { f.FromUser = "%_" }),
			[]string{"f-5"}},
		{"call id matches exactly, not as a prefix", with(func(f *storage.CallFilter) { f.CallID = "f-1" }),
			[]string{"f-1"}},
		{"an IPv4 address matches caller or callee", with(func(f *storage.CallFilter) { f.IP = netip.MustParseAddr("10.0.0.1") }),
			[]string{"f-2", "f-1"}},
		{"an IPv6 address matches caller or callee", with(func(f *storage.CallFilter) { f.IP = netip.MustParseAddr("2001:db8::1") }),
			[]string{"f-5", "f-4"}},
		{"state matches exactly", with(func(f *storage.CallFilter) { f.State = correlate.StateFailed }),
			[]string{"f-5", "f-2"}},
		{"final code matches exactly", with(func(f *storage.CallFilter) { f.FinalCode = 487 }),
			[]string{"f-3"}},
		{"end reason matches exactly", with(func(f *storage.CallFilter) { f.EndReason = correlate.EndBusy }),
			[]string{"f-2"}},
		{"end reason and state combine", with(func(f *storage.CallFilter) { f.State, f.EndReason = correlate.StateAnswered, correlate.EndCallerBye }),
			[]string{"f-10", "f-1"}},
		{"free text finds the call id", with(func(f *storage.CallFilter) { f.Query = "F-1" }),
			[]string{"f-10", "f-1"}},
		{"free text finds from or to users", with(func(f *storage.CallFilter) { f.Query = "bob" }),
			[]string{"f-3", "f-1"}},
		{"filters combine with AND", with(func(f *storage.CallFilter) {
			f.FromUser, f.State, f.FinalCode = "alice", correlate.StateFailed, 486
		}), []string{"f-2"}},
		{"a filter nothing matches gives an empty page and zero total", with(func(f *storage.CallFilter) { f.ToUser = "nobody" }),
			nil},
		{"an empty time range is empty", with(func(f *storage.CallFilter) { f.From, f.To = at(1, 0), at(1, 0) }),
			nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := h.list(t, c.f)
			if got := ids(p.Calls); !slices.Equal(got, c.want) {
				t.Errorf("calls %q, want %q", got, c.want)
			}
			if p.Total != len(c.want) {
				t.Errorf("total %d, want %d", p.Total, len(c.want))
			}
		})
	}
	// The listed records are whole, not just their IDs.
	p := h.list(t, with(func(f *storage.CallFilter) { f.CallID = "f-5" }))
	if len(p.Calls) == 1 {
		if err := sameCall(p.Calls[0], calls[4]); err != nil {
			t.Errorf("listed f-5: %v", err)
		}
	}
}

func (h *harness) paging(t *testing.T) {
	const d = 4
	var calls []correlate.Call
	for i := range 23 {
		// Pairs share a start so that the Call-ID tie-break is exercised.
		start := day(d).Add(time.Duration(i/2) * time.Minute)
		calls = append(calls, correlate.Call{CallID: fmt.Sprintf("p-%02d", i), State: correlate.StateAnswered,
			FinalCode: 200, Start: start, End: start.Add(time.Second)})
	}
	h.write(t, storage.Batch{Calls: calls})
	want := ids(calls)
	slices.SortFunc(want, func(a, b string) int {
		ai, bi := slices.Index(ids(calls), a), slices.Index(ids(calls), b)
		if c := calls[bi].Start.Compare(calls[ai].Start); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var got []string
	for _, off := range []int{0, 10, 20, 30} {
		f := dayFilter(d)
		f.Limit, f.Offset = 10, off
		p := h.list(t, f)
		if p.Total != 23 {
			t.Errorf("offset %d: total %d, want 23", off, p.Total)
		}
		wantLen := min(max(23-off, 0), 10)
		if len(p.Calls) != wantLen {
			t.Errorf("offset %d: %d calls, want %d", off, len(p.Calls), wantLen)
		}
		got = append(got, ids(p.Calls)...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages joined: %q\nwant %q", got, want)
	}
}

func (h *harness) limits(t *testing.T) {
	const d = 6
	var calls []correlate.Call
	for i := range storage.MaxLimit + 5 {
		start := day(d).Add(time.Duration(i) * time.Second)
		calls = append(calls, correlate.Call{CallID: fmt.Sprintf("l-%04d", i), Start: start, End: start})
	}
	h.write(t, storage.Batch{Calls: calls})
	p := h.list(t, dayFilter(d))
	if len(p.Calls) != storage.DefaultLimit || p.Total != len(calls) {
		t.Errorf("no limit: %d calls of %d, want %d of %d", len(p.Calls), p.Total, storage.DefaultLimit, len(calls))
	}
	f := dayFilter(d)
	f.Limit = 1 << 30
	p = h.list(t, f)
	if len(p.Calls) != storage.MaxLimit || p.Total != len(calls) {
		t.Errorf("huge limit: %d calls of %d, want %d of %d", len(p.Calls), p.Total, storage.MaxLimit, len(calls))
	}
}

func (h *harness) invalidFilters(t *testing.T) {
	cases := []struct {
		name string
		f    storage.CallFilter
	}{
		{"negative limit", storage.CallFilter{Limit: -1}},
		{"negative offset", storage.CallFilter{Offset: -1}},
		{"range ending before it starts", storage.CallFilter{From: day(2), To: day(1)}},
		{"final code beyond UInt16", storage.CallFilter{FinalCode: 70000}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.store.ListCalls(context.Background(), c.f)
			if !errors.Is(err, storage.ErrInvalidFilter) {
				t.Errorf("error %v, want storage.ErrInvalidFilter", err)
			}
		})
	}
}

func (h *harness) updates(t *testing.T) {
	const d = 8
	start := day(d).Add(12 * time.Hour)
	id := "update-1@example.com"
	early := correlate.Call{CallID: id, FromUser: "alice", ToUser: "bob", State: correlate.StateNoFinal,
		Start: start, End: start.Add(time.Second), Messages: 1}
	late := early
	late.State, late.FinalCode, late.End, late.Messages, late.MOS = correlate.StateAnswered, 200, start.Add(time.Minute), 7, 4.2
	stream := quality.Stream{SSRC: 42, Src: ap("192.0.2.1:4000"), Dst: ap("192.0.2.2:4002"), Payload: "g711U",
		Start: start.Add(time.Second), End: start.Add(2 * time.Second), Packets: 50, Expected: 50, CallID: id}
	stream.MOSTimeline = []quality.IntervalMOS{{DurationMs: 5000, Packets: 50, LossPct: 0, BurstR: 1, MOS: 4.4}}
	streamLate := stream
	streamLate.End, streamLate.Packets, streamLate.Expected, streamLate.MOS = start.Add(time.Minute), 2900, 2950, 4.1
	// The later version's arrays replace the earlier ones, whatever their lengths.
	streamLate.MOSTimeline = []quality.IntervalMOS{
		{DurationMs: 5000, Packets: 250, MOS: 4.4, BurstR: 1},
		{StartMs: 5000, DurationMs: 5000, Packets: 240, Lost: 10, LossPct: 4, BurstR: 1.5, MOS: 3.5},
	}
	streamLate.DTMF = []quality.DTMFEvent{{Event: 5, Digit: "5", Start: start.Add(30 * time.Second), DurationMs: 80, Ended: true, Packets: 4}}
	streamLate.RTCP = quality.RTCPReport{SSRC: 42, Reports: 2, ReceiverReports: 2, FractionLostPct: 1.5}

	h.write(t, storage.Batch{Calls: []correlate.Call{early}, Streams: []quality.Stream{stream}})
	h.write(t, storage.Batch{Calls: []correlate.Call{late}, Streams: []quality.Stream{streamLate}})

	got := h.get(t, id)
	if err := sameCall(got.Call, late); err != nil {
		t.Errorf("detail after update: %v", err)
	}
	if len(got.Streams) != 1 {
		t.Fatalf("%d streams after update, want 1", len(got.Streams))
	}
	if err := sameStream(got.Streams[0], streamLate); err != nil {
		t.Errorf("stream after update: %v", err)
	}
	// The superseded version must not match a filter on its old values.
	f := dayFilter(d)
	f.State = correlate.StateNoFinal
	if p := h.list(t, f); p.Total != 0 || len(p.Calls) != 0 {
		t.Errorf("old state still listed: total %d, calls %q", p.Total, ids(p.Calls))
	}
	f.State = correlate.StateAnswered
	if p := h.list(t, f); p.Total != 1 || len(p.Calls) != 1 {
		t.Errorf("new state: total %d, calls %q; want the one call", p.Total, ids(p.Calls))
	}
	if p := h.list(t, dayFilter(d)); p.Total != 1 {
		t.Errorf("two versions of one call counted as %d", p.Total)
	}
	// A Call-ID search (read without FINAL) lists the newest version
	// once; with another condition the superseded one matches nothing.
	if p := h.list(t, storage.CallFilter{CallID: id}); p.Total != 1 || len(p.Calls) != 1 || sameCall(p.Calls[0], late) != nil {
		t.Errorf("Call-ID search after update: total %d, calls %+v", p.Total, p.Calls)
	}
	if p := h.list(t, storage.CallFilter{CallID: id, State: correlate.StateNoFinal}); p.Total != 0 {
		t.Errorf("Call-ID search with the old state: total %d", p.Total)
	}

	// Within one batch the later record wins too.
	id2 := "update-2@example.com"
	a := correlate.Call{CallID: id2, State: correlate.StateNoFinal, Start: start.Add(time.Hour), End: start.Add(time.Hour)}
	b := a
	b.State, b.FinalCode = correlate.StateFailed, 503
	h.write(t, storage.Batch{Calls: []correlate.Call{a, b}})
	if got := h.get(t, id2); got.Call.State != correlate.StateFailed || got.Call.FinalCode != 503 {
		t.Errorf("same-batch update: state %q code %d, want failed 503", got.Call.State, got.Call.FinalCode)
	}
	if p := h.list(t, storage.CallFilter{CallID: id2}); len(p.Calls) != 1 || p.Calls[0].FinalCode != 503 {
		t.Errorf("same-batch update, Call-ID search: %+v", p.Calls)
	}

	// A stream first written unbound and later bound to its call is one stream.
	unbound := stream
	unbound.SSRC, unbound.CallID = 43, ""
	bound := unbound
	bound.CallID, bound.Packets = id2, 60
	h.write(t, storage.Batch{Streams: []quality.Stream{unbound}})
	h.write(t, storage.Batch{Streams: []quality.Stream{bound}})
	if got := h.get(t, id2); len(got.Streams) != 1 || got.Streams[0].Packets != 60 {
		t.Errorf("late-bound stream: %+v", got.Streams)
	}
	// Survives merges: after a restart the answer is the same.
	h.restart(t)
	if got := h.get(t, id); got.Call.State != correlate.StateAnswered || len(got.Streams) != 1 {
		t.Errorf("after restart: state %q, %d streams", got.Call.State, len(got.Streams))
	}
}

func (h *harness) notFound(t *testing.T) {
	_, err := h.store.GetCall(context.Background(), "never-written@example.com")
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("error %v, want storage.ErrNotFound", err)
	}
}

func (h *harness) hostileStrings(t *testing.T) {
	const d = 10
	hostile := []string{
		`it's`, `back\slash`, `trailing\`, `\'`, `''`, "nul\x00byte", "new\nline", "tab\tand\r",
		`' OR 1=1 --`, `%`, `_`, "caf\u00e9 \u65e5\u672c", "bad utf8 \xff\xfe", `\x41`, "{name:String}", "?",
	}
	var calls []correlate.Call
	for i, s := range hostile {
		start := day(d).Add(time.Duration(i) * time.Minute)
		calls = append(calls, correlate.Call{CallID: "h" + s, FromUser: "u" + s, ToUser: s,
			State: s, EndReason: s, ReasonHeader: s, UserAgent: s, XCallID: s, Start: start, End: start})
	}
	h.write(t, storage.Batch{Calls: calls, Messages: []correlate.Message{{
		TS: day(d), CallID: calls[0].CallID, Transport: "udp", Method: `B'Y\E`, Reason: "r\x00", Raw: []byte(hostile[5]),
	}}})
	for i, s := range hostile {
		c := calls[i]
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) {
			f := dayFilter(d)
			f.CallID = c.CallID
			p := h.list(t, f)
			if len(p.Calls) != 1 || p.Total != 1 {
				t.Fatalf("by call id: %d calls, total %d; want 1", len(p.Calls), p.Total)
			}
			if err := sameCall(p.Calls[0], c); err != nil {
				t.Errorf("by call id: %v", err)
			}
			f = dayFilter(d)
			f.State = s
			if p := h.list(t, f); !slices.Equal(ids(p.Calls), []string{c.CallID}) {
				t.Errorf("by state: %q", ids(p.Calls))
			}
			f = dayFilter(d)
			f.EndReason = s
			if p := h.list(t, f); !slices.Equal(ids(p.Calls), []string{c.CallID}) {
				t.Errorf("by end reason: %q", ids(p.Calls))
			}
			if got := h.get(t, c.CallID); got.Call.CallID != c.CallID || got.Call.ToUser != s {
				t.Errorf("detail: %+v", got.Call)
			}
		})
	}
	got := h.get(t, calls[0].CallID)
	if len(got.Messages) != 1 || got.Messages[0].Method != `B'Y\E` || got.Messages[0].Reason != "r\x00" {
		t.Errorf("message with hostile fields: %+v", got.Messages)
	}
}

func ids(calls []correlate.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.CallID)
	}
	return out
}

// Stores keep microseconds; compare at that precision and in UTC.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

func sameCall(got, want correlate.Call) error {
	got.Start, got.End, got.LastUpdate = norm(got.Start), norm(got.End), norm(got.LastUpdate)
	want.Start, want.End, want.LastUpdate = norm(want.Start), norm(want.End), norm(want.LastUpdate)
	if len(want.LinkedCallIDs) == 0 {
		want.LinkedCallIDs = nil // stored as an empty list, read back as none
	}
	if len(want.Findings) == 0 && len(got.Findings) == 0 {
		want.Findings, got.Findings = nil, nil // an empty array either way
	}
	if len(want.Malformed) == 0 && len(got.Malformed) == 0 {
		want.Malformed, got.Malformed = nil, nil
	}
	if len(want.Nodes) == 0 && len(got.Nodes) == 0 {
		want.Nodes, got.Nodes = nil, nil
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("got %+v\nwant %+v", got, want)
	}
	return nil
}

func sameMessage(got, want correlate.Message) error {
	if !bytes.Equal(got.Raw, want.Raw) {
		return fmt.Errorf("raw differs: %d bytes, want %d (first difference at %d)",
			len(got.Raw), len(want.Raw), firstDiff(got.Raw, want.Raw))
	}
	got.Raw, want.Raw = nil, nil
	got.TS, want.TS = norm(got.TS), norm(want.TS)
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("got %+v\nwant %+v", got, want)
	}
	return nil
}

// sameStream compares a stream read back with the one written, as far as
// storage keeps it (storedStream).
func sameStream(got, want quality.Stream) error {
	got.Start, got.End = norm(got.Start), norm(got.End)
	want = storedStream(want)
	want.Start, want.End = norm(want.Start), norm(want.End)
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("got %+v\nwant %+v", got, want)
	}
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// crowdedPage checks the bound a page sorted by start gets (storage's
// boundByStart): the newest calls are written again and again, so that
// superseded versions, until merged, fill the rows the bound is taken
// from, and the newest call's last version leaves the filtered state.
func (h *harness) crowdedPage(t *testing.T) {
	const d = 24
	base := day(d).Add(9 * time.Hour)
	var calls []correlate.Call
	for i := range 8 {
		calls = append(calls, correlate.Call{CallID: fmt.Sprintf("crowd-%d@example.com", i), FromUser: "crowd",
			State: correlate.StateAnswered, FinalCode: 200, Start: base.Add(time.Duration(i) * time.Minute),
			End: base.Add(time.Duration(i)*time.Minute + time.Second), Messages: 7})
	}
	h.write(t, storage.Batch{Calls: calls})
	for range 3 {
		h.write(t, storage.Batch{Calls: calls[5:]})
	}
	failed := calls[7]
	failed.State, failed.FinalCode = correlate.StateFailed, 486
	h.write(t, storage.Batch{Calls: []correlate.Call{failed}})

	for _, tc := range []struct {
		name  string
		f     storage.CallFilter
		want  []string
		total int
	}{
		{"the newest three", storage.CallFilter{Limit: 3}, []string{"crowd-7", "crowd-6", "crowd-5"}, 8},
		{"the second page of three", storage.CallFilter{Limit: 3, Offset: 3}, []string{"crowd-4", "crowd-3", "crowd-2"}, 8},
		{"the newest three answered", storage.CallFilter{Limit: 3, State: correlate.StateAnswered}, []string{"crowd-6", "crowd-5", "crowd-4"}, 7},
		{"the oldest two", storage.CallFilter{Limit: 2, Ascending: true}, []string{"crowd-0", "crowd-1"}, 8},
	} {
		f := tc.f
		f.From, f.To, f.FromUser = day(d), day(d+1), "crowd"
		p := h.list(t, f)
		var got []string
		for _, c := range p.Calls {
			got = append(got, strings.TrimSuffix(c.CallID, "@example.com"))
		}
		if !slices.Equal(got, tc.want) || p.Total != tc.total {
			t.Errorf("%s: %q of %d, want %q of %d", tc.name, got, p.Total, tc.want, tc.total)
		}
	}
}
