package storetest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
)

// Upgrader is what Upgrade needs of a backend.
type Upgrader struct {
	// Database holds the old tables; the store opens it.
	Database string
	// Version is the backend's SELECT version(), which shapes the DDL.
	Version string
	// Prepare runs stmts, in order, with no store open: the DDL of the old
	// revision and rows as that sipscope wrote them. It returns the
	// columns each of tables then has, in table order.
	Prepare func(t *testing.T, stmts []string, tables []string) map[string][]string
	// Open opens the store on Database, which runs its migration.
	Open func(t *testing.T) Store
	// Columns is the columns table has, in table order, read through the
	// open store s.
	Columns func(t *testing.T, s Store, table string) []string
}

var upgradeTables = []string{storage.TableCalls, storage.TableRegistrations, storage.TableMessages, storage.TableStreams}

// columnNames is the names of the columns of table that revision rev had.
func columnNames(table string, rev int) []string {
	var names []string
	for _, c := range storage.SchemaColumns(table) {
		if c.Since <= rev {
			names = append(names, c.Name)
		}
	}
	return names
}

// Upgrade checks that opening a store on the tables of schema revision rev,
// as an older sipscope created and filled them, adds every column the
// current schema has (in the schema's order), keeps the old rows readable
// with the new fields empty, stores and reads back a record with every
// field, and that opening it again changes nothing.
func Upgrade(t *testing.T, rev int, u Upgrader) {
	if rev < 1 || rev >= storage.SchemaRevision {
		t.Fatalf("revision %d is not an older one (1 to %d)", rev, storage.SchemaRevision-1)
	}
	base := day(12).Add(10 * time.Hour)
	oldID := "old-call@upgrade.example.com"
	stmts := storage.SchemaAt(u.Version, storage.SchemaConfig{Database: u.Database}, rev)
	stmts = append(stmts, oldRows(u.Database, oldID, base, rev)...)
	before := u.Prepare(t, stmts, upgradeTables)
	for _, table := range upgradeTables {
		if want := columnNames(table, rev); !slices.Equal(before[table], want) {
			t.Fatalf("revision %d %s before the upgrade has columns %q, want %q", rev, table, before[table], want)
		}
	}

	s := u.Open(t)
	defer func() {
		if s != nil {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		}
	}()
	for _, table := range upgradeTables {
		if got, want := u.Columns(t, s, table), columnNames(table, storage.SchemaRevision); !slices.Equal(got, want) {
			t.Errorf("%s after the upgrade has columns\n%q\nwant\n%q", table, got, want)
		}
	}

	ctx := context.Background()
	wantOld := correlate.Call{CallID: oldID, FromUser: "olduser", ToUser: "bob", SrcIP: netip.MustParseAddr("192.0.2.7"),
		DstIP: netip.MustParseAddr("192.0.2.8"), State: correlate.StateAnswered, FinalCode: 200,
		Start: base, End: base.Add(time.Minute), Messages: 5, MOS: 4.25}
	wantOldStream := quality.Stream{SSRC: 0x0bad, Src: ap("192.0.2.7:4000"), Dst: ap("192.0.2.8:4002"), PayloadType: 8,
		Payload: "g711A", Start: base.Add(time.Second), End: base.Add(time.Minute), Packets: 2950, Expected: 2960, Lost: 10,
		MinDeltaMs: 19.5, MeanDeltaMs: 20, MaxDeltaMs: 40.5, MinJitterMs: 0.25, MeanJitterMs: 1.5, MaxJitterMs: 7.75,
		MOS: 4.25, CallID: oldID}
	checkOld := func(when string) {
		d, err := s.GetCall(ctx, oldID)
		if err != nil {
			t.Fatalf("%s: the old call: %v", when, err)
		}
		if err := sameCall(d.Call, wantOld); err != nil {
			t.Errorf("%s: the old call: %v", when, err)
		}
		if len(d.Streams) != 1 {
			t.Fatalf("%s: the old call has %d streams, want 1", when, len(d.Streams))
		}
		if err := sameStream(d.Streams[0], wantOldStream); err != nil {
			t.Errorf("%s: the old stream: %v", when, err)
		}
		// A search by Call-ID goes through call_index (revision 10),
		// which the upgrade filled from the old rows.
		page, err := s.ListCalls(ctx, storage.CallFilter{CallID: oldID})
		if err != nil || page.Total != 1 || len(page.Calls) != 1 || page.Calls[0].CallID != oldID {
			t.Errorf("%s: a search for the old Call-ID: %+v, %v; want the old call", when, page, err)
		}
	}
	checkOld("after the upgrade")

	// A record with every field of the current schema.
	id := "new-call@upgrade.example.com"
	call := correlate.Call{CallID: id, FromUser: "alice", ToUser: "carol", State: correlate.StateAnswered, FinalCode: 200,
		Start: base.Add(time.Hour), End: base.Add(time.Hour + 95*time.Second), Messages: 8, MOS: 3.3,
		EndReason: correlate.EndCalleeBye, ByeBy: correlate.SideCallee, Q850Cause: 16, ReasonHeader: "Q.850;cause=16",
		PDDMs: 120.5, RingMs: 900, AnswerMs: 1020.5, DurationMs: 90000, Retransmissions: 1, ReInvites: 1,
		UserAgent: "sipp", XCallID: "x@sbc", LinkedCallIDs: []string{"x@sbc"}, LastUpdate: base.Add(time.Hour + 96*time.Second),
		Finished: true}
	stream := qualityStream(base.Add(time.Hour), 0x0b0b, id)
	msg := correlate.Message{TS: base.Add(time.Hour), Src: ap("192.0.2.7:5060"), Dst: ap("192.0.2.8:5060"),
		Transport: "udp", CallID: id, IsRequest: true, Method: "INVITE", CSeq: 1, CSeqMethod: "INVITE",
		FromUser: "alice", ToUser: "carol", Raw: []byte("INVITE sip:carol@example.com SIP/2.0\r\n\r\n")}
	reg := correlate.Registration{CallID: "reg@upgrade.example.com", AoR: "sip:alice@example.com", FinalCode: 200,
		Start: base, End: base.Add(time.Second), Messages: 2, Contact: "sip:alice@192.0.2.7", Expires: 3600,
		UserAgent: "sipp", Attempts: 2, SucceededAt: base.Add(time.Second)}
	if err := s.Write(ctx, storage.Batch{Calls: []correlate.Call{call}, Streams: []quality.Stream{stream},
		Messages: []correlate.Message{msg}, Registrations: []correlate.Registration{reg}}); err != nil {
		t.Fatalf("a write of the full record after the upgrade: %v", err)
	}
	checkNew := func(when string) {
		d, err := s.GetCall(ctx, id)
		if err != nil {
			t.Fatalf("%s: the new call: %v", when, err)
		}
		if err := sameCall(d.Call, call); err != nil {
			t.Errorf("%s: the new call: %v", when, err)
		}
		if len(d.Streams) != 1 || len(d.Messages) != 1 {
			t.Fatalf("%s: the new call has %d streams and %d messages, want 1 and 1", when, len(d.Streams), len(d.Messages))
		}
		if err := sameStream(d.Streams[0], stream); err != nil {
			t.Errorf("%s: the new stream: %v", when, err)
		}
		if err := sameMessage(d.Messages[0], msg); err != nil {
			t.Errorf("%s: the new message: %v", when, err)
		}
	}
	checkNew("after the upgrade")

	// Opening the upgraded tables again is the ordinary start.
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s = nil
	s = u.Open(t)
	for _, table := range upgradeTables {
		if got, want := u.Columns(t, s, table), columnNames(table, storage.SchemaRevision); !slices.Equal(got, want) {
			t.Errorf("%s after opening again has columns %q, want %q", table, got, want)
		}
	}
	checkOld("after opening again")
	checkNew("after opening again")
}

// oldRows is the INSERTs of one call and its stream with the columns every
// revision has, as the oldest sipscope wrote them. INSERT ... SELECT rather
// than VALUES: over the native protocol an INSERT's VALUES are data the
// client sends apart, and a plain statement would leave the server waiting.
func oldRows(db, id string, base time.Time, rev int) []string {
	q, qu := storage.QuoteString, func(v int64) string { return storage.QuoteUint(uint64(v)) }
	startUS, endUS := base.UnixMicro(), base.Add(time.Minute).UnixMicro()
	date := fmt.Sprintf("toDate(%s)", q(base.Format("2006-01-02")))
	calls := fmt.Sprintf("INSERT INTO %s.%s (date, start_time, start_us, end_us, call_id, from_user, to_user, "+
		"src_ip, dst_ip, state, final_code, messages, mos, version) SELECT %s, toDateTime(%d), %s, %s, %s, %s, %s, "+
		"%s, %s, %s, 200, 5, 4.25, 1",
		db, storage.TableCalls, date, base.Unix(), qu(startUS), qu(endUS), q(id), q("olduser"), q("bob"),
		q("192.0.2.7"), q("192.0.2.8"), q(correlate.StateAnswered))
	sStart := base.Add(time.Second)
	streams := fmt.Sprintf("INSERT INTO %s.%s (date, start_time, start_us, end_us, call_id, ssrc, src_ip, src_port, "+
		"dst_ip, dst_port, payload_type, payload, packets, expected, lost, seq_errors, min_delta_ms, mean_delta_ms, "+
		"max_delta_ms, min_jitter_ms, mean_jitter_ms, max_jitter_ms, mos, version) SELECT %s, toDateTime(%d), %s, %s, "+
		"%s, %d, %s, 4000, %s, 4002, 8, %s, 2950, 2960, 10, 0, 19.5, 20, 40.5, 0.25, 1.5, 7.75, 4.25, 1",
		db, storage.TableStreams, date, sStart.Unix(), qu(sStart.UnixMicro()), qu(endUS), q(id), 0x0bad,
		q("192.0.2.7"), q("192.0.2.8"), q("g711A"))
	out := []string{strings.TrimSpace(calls), strings.TrimSpace(streams)}
	if rev >= storage.RevisionTimeOrder {
		// That sipscope wrote a call's index row with the call.
		out = append(out, fmt.Sprintf("INSERT INTO %s.%s (date, call_id, start_us) SELECT %s, %s, %s",
			db, storage.TableCallIndex, date, q(id), qu(startUS)))
	}
	return out
}
