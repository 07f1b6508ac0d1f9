package embedded

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
)

// packedRows is calls_by_id's rows, by Call-ID.
func packedRows(t *testing.T, e engine) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var id string
	var row []byte
	err := e.Query(context.Background(), "SELECT call_id, row FROM sipscope.calls_by_id FINAL", []any{&id, &row},
		func() error { out[id] = row; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The rows sipscope packs are byte for byte what the engine's formatRow
// packs from calls when an upgrade fills calls_by_id; until it is filled,
// a Call-ID search and a call's detail read calls instead.
func TestPackedRowsAreWhatTheEngineFormats(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	start := time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.UTC)
	calls := []correlate.Call{
		{CallID: "every-field@example.com", FromUser: "alice", ToUser: "bob",
			SrcIP: netip.MustParseAddr("192.0.2.10"), DstIP: netip.MustParseAddr("2001:db8::20"),
			State: correlate.StateAnswered, FinalCode: 200, Start: start, End: start.Add(95 * time.Second),
			Messages: 6, MOS: 4.0918273645, EndReason: correlate.EndCalleeBye, ByeBy: correlate.SideCallee,
			Q850Cause: 16, ReasonHeader: `Q.850;cause=16;text="Normal call clearing"`,
			PDDMs: 340.125, RingMs: 2160.5, AnswerMs: 2500.625, DurationMs: 92500.001,
			Retransmissions: 2, ReInvites: 1, Hold: true, Forked: true, UserAgent: "Linphone/5.2",
			XCallID: "leg-a@sbc", LinkedCallIDs: []string{"leg-a@sbc", "leg-c@sbc"}, InfoDTMF: "12#*",
			LastUpdate: start.Add(96 * time.Second), Finished: true, SetupMs: 17846.036, Partial: true, CancelSeen: true,
			Findings: []string{"one_way_audio:callee_to_caller", "partial"}, Malformed: []string{"bad_content_length"},
			Diagnosis: "Seen mid-call: \"no audio\" from the callee.\x00\xff", Fax: correlate.FaxT38,
			Nodes: []string{"hep:2001/edge-1", "eth0"}},
		// Nothing but a Call-ID and a start: empty strings and arrays.
		{CallID: "bare@example.com", Start: start.Add(time.Hour)},
	}
	s := open(t, dir)
	if err := s.Write(ctx, storage.Batch{Calls: calls}); err != nil {
		t.Fatal(err)
	}
	written := packedRows(t, engine{s})
	if len(written) != len(calls) {
		t.Fatalf("calls_by_id holds %d calls, want %d", len(written), len(calls))
	}
	// An older sipscope wrote calls and call_index only.
	if err := (engine{s}).Exec(ctx, "TRUNCATE TABLE sipscope.calls_by_id"); err != nil {
		t.Fatal(err)
	}
	for _, c := range calls {
		page, err := s.ListCalls(ctx, storage.CallFilter{CallID: c.CallID})
		if err != nil || page.Total != 1 || page.Calls[0].CallID != c.CallID {
			t.Fatalf("Call-ID search with calls_by_id empty: %+v, %v", page, err)
		}
		if d, err := s.GetCall(ctx, c.CallID); err != nil || d.Call.FinalCode != c.FinalCode || !d.Call.Start.Equal(c.Start) {
			t.Fatalf("detail with calls_by_id empty: %+v, %v", d.Call, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir) // the upgrade: Migrate fills calls_by_id
	defer s.Close()
	filled := packedRows(t, engine{s})
	for id, row := range written {
		if !bytes.Equal(filled[id], row) {
			t.Errorf("%s: the engine packed\n%q\nsipscope packed\n%q", id, filled[id], row)
		}
	}
	for _, c := range calls {
		page, err := s.ListCalls(ctx, storage.CallFilter{CallID: c.CallID})
		if err != nil || page.Total != 1 || page.Calls[0].Diagnosis != c.Diagnosis || page.Calls[0].MOS != c.MOS {
			t.Errorf("Call-ID search from the filled table: %+v, %v", page, err)
		}
	}
	// A second start fills nothing: the table is no longer empty.
	ran, err := storage.Migrate(ctx, engine{s}, engine{s}, s.ServerVersion(), storage.SchemaConfig{})
	if err != nil || len(ran) != 0 {
		t.Errorf("migrating a filled store ran %q (%v)", ran, err)
	}
}

// A Call-ID that began again after the upgrade has one start in
// calls_by_id and one only in call_index: the search lists both.
func TestACallIDWithAStartOnlyInTheIndexIsReadFromCalls(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	defer s.Close()
	first := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	old := correlate.Call{CallID: "again@example.com", Start: first, FinalCode: 486}
	if err := s.Write(ctx, storage.Batch{Calls: []correlate.Call{old}}); err != nil {
		t.Fatal(err)
	}
	if err := (engine{s}).Exec(ctx, "TRUNCATE TABLE sipscope.calls_by_id"); err != nil {
		t.Fatal(err)
	}
	again := correlate.Call{CallID: old.CallID, Start: first.Add(time.Minute), FinalCode: 200}
	if err := s.Write(ctx, storage.Batch{Calls: []correlate.Call{again}}); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListCalls(ctx, storage.CallFilter{CallID: old.CallID})
	if err != nil || page.Total != 2 || page.Calls[0].FinalCode != 200 || page.Calls[1].FinalCode != 486 {
		t.Fatalf("search: %+v, %v; want the 200 then the 486", page, err)
	}
	page, err = s.ListCalls(ctx, storage.CallFilter{CallID: old.CallID, Ascending: true, Limit: 1})
	if err != nil || page.Total != 2 || len(page.Calls) != 1 || page.Calls[0].FinalCode != 486 {
		t.Fatalf("oldest first, one a page: %+v, %v", page, err)
	}
}
