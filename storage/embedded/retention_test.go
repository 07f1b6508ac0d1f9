package embedded

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/storetest"
)

func retentionDay(n int) time.Time { return storetest.RetentionDay(n) }

func writeDays(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Write(t.Context(), storetest.RetentionBatch()); err != nil {
		t.Fatal(err)
	}
}

// daysOf is table → the dates of its partitions, from the store.
func daysOf(t *testing.T, s *Store) (map[string][]string, []storage.Partition) {
	t.Helper()
	parts, err := storage.TablePartitions(t.Context(), engine{s}, storage.DefaultDatabase, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, p := range parts {
		if p.MinDate != p.MaxDate {
			t.Errorf("%s partition %s spans %s to %s: partitions are by day", p.Table, p.Partition, p.MinDate, p.MaxDate)
		}
		out[p.Table] = append(out[p.Table], p.MaxDate[8:])
	}
	return out, parts
}

func mayDays(from, to int) string {
	var d []string
	for i := from; i <= to; i++ {
		d = append(d, fmt.Sprintf("%02d", i))
	}
	return strings.Join(d, ",")
}

// TestRetentionDropsByAgePerTableAndThenBySize writes ten days of calls,
// messages, streams and registrations into chDB, then applies per-table
// age limits (messages 3 days, calls 5, streams 8) and a disk bound: each
// table loses exactly the days its limit no longer keeps, then the oldest
// days go, all tables at once, until the bound is met, and today's data is
// never dropped for size.
func TestRetentionDropsByAgePerTableAndThenBySize(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	writeDays(t, s)
	ctx := t.Context()
	// Users and tokens are not data: no rule may drop them.
	admin := storage.User{Name: "admin", Role: "admin", PasswordHash: "$2a$10$x", Created: retentionDay(1), Updated: retentionDay(1)}
	if err := s.PutUser(ctx, admin); err != nil {
		t.Fatal(err)
	}
	before, _ := daysOf(t, s)
	for _, table := range []string{storage.TableCalls, storage.TableMessages, storage.TableStreams, storage.TableRegistrations} {
		if got := strings.Join(before[table], ","); got != mayDays(1, 10) {
			t.Fatalf("%s holds days %s before retention, want 01 to 10", table, got)
		}
	}

	reg := prometheus.NewRegistry()
	policy := storage.RetentionPolicy{Messages: 3 * 24 * time.Hour, Calls: 5 * 24 * time.Hour, Streams: 8 * 24 * time.Hour}
	ret, err := storage.NewRetainer(s, policy, time.Hour, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ret.Once(ctx, retentionDay(11))
	if err != nil {
		t.Fatal(err)
	}
	after, parts := daysOf(t, s)
	want := map[string]string{
		storage.TableMessages:      mayDays(8, 10),
		storage.TableCalls:         mayDays(6, 10),
		storage.TableRegistrations: mayDays(6, 10), // follows calls
		storage.TableStreams:       mayDays(3, 10),
		storage.TableCallIndex:     mayDays(6, 10), // follows calls
		storage.TableCallsByID:     mayDays(6, 10), // follows calls
	}
	for table, days := range want {
		if got := strings.Join(after[table], ","); got != days {
			t.Errorf("after the age rules %s holds days %s, want %s", table, got, days)
		}
	}
	if len(res.Dropped) != 7+5+5+5+5+2 {
		t.Errorf("%d partitions dropped for age, want 29", len(res.Dropped))
	}
	// What the API reads agrees: the old call is gone, a call whose
	// messages expired has none left, a recent one is whole.
	if _, err := s.GetCall(ctx, "call-05@example.com"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("call of May 5: %v, want not found", err)
	}
	if d, err := s.GetCall(ctx, "call-07@example.com"); err != nil || len(d.Messages) != 0 || len(d.Streams) != 1 {
		t.Errorf("call of May 7: %v, %d messages, %d streams; want 0 and 1", err, len(d.Messages), len(d.Streams))
	}
	if d, err := s.GetCall(ctx, "call-09@example.com"); err != nil || len(d.Messages) != 3 || len(d.Streams) != 1 {
		t.Errorf("call of May 9: %v, %d messages, %d streams; want 3 and 1", err, len(d.Messages), len(d.Streams))
	}

	// The bound is what May 8 to 10 use: May 3 to 7 must go, oldest first.
	var keep int64
	for _, p := range parts {
		if p.MaxDate >= "2024-05-08" {
			keep += p.Bytes
		}
	}
	sized, err := storage.NewRetainer(s, storage.RetentionPolicy{MaxBytes: keep}, time.Hour, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err = sized.Once(ctx, retentionDay(11))
	if err != nil {
		t.Fatal(err)
	}
	after, _ = daysOf(t, s)
	for _, table := range []string{storage.TableCalls, storage.TableMessages, storage.TableStreams, storage.TableRegistrations} {
		if got := strings.Join(after[table], ","); got != mayDays(8, 10) {
			t.Errorf("after the size rule %s holds days %s, want 08 to 10", table, got)
		}
	}
	if res.BytesAfter != keep || res.BytesAfter > res.BytesBefore || res.OverBound {
		t.Errorf("size rule: %d bytes before, %d after, bound %d, over bound %v", res.BytesBefore, res.BytesAfter, keep, res.OverBound)
	}
	for _, p := range res.Dropped {
		if p.Reason != "size" || p.MaxDate >= "2024-05-08" {
			t.Errorf("dropped %s %s for %s", p.Table, p.MaxDate, p.Reason)
		}
	}

	if _, err := s.GetUser(ctx, "admin"); err != nil {
		t.Errorf("the size rule took the users with it: %v", err)
	}

	// A bound below today's data drops every earlier day but not today.
	tiny, err := storage.NewRetainer(s, storage.RetentionPolicy{MaxBytes: 1}, time.Hour, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err = tiny.Once(ctx, retentionDay(10)); err != nil {
		t.Fatal(err)
	}
	after, _ = daysOf(t, s)
	if got := strings.Join(after[storage.TableMessages], ","); got != "10" || !res.OverBound {
		t.Errorf("with a 1-byte bound on May 10: messages of days %s, over bound %v; want 10 kept and over bound", got, res.OverBound)
	}

	// The first retainer's status and metrics show the disk use per table.
	st := ret.Status()
	if st.Dropped["age"] != 29 || st.TableBytes[storage.TableMessages] <= 0 || st.LastRun == "" {
		t.Errorf("retainer status %+v", st)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		seen[mf.GetName()] = true
	}
	for _, name := range []string{"sipscope_store_table_bytes", "sipscope_store_retention_dropped_partitions_total", "sipscope_store_retention_freed_bytes_total"} {
		if !seen[name] {
			t.Errorf("metric %s missing", name)
		}
	}
}

// TestNewTablesGetATTLPerTableWhereTheEngineHasTTL: chDB (26.5) creates
// each table with its own TTL from the policy.
func TestNewTablesGetATTLPerTableWhereTheEngineHasTTL(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), dir, WithRetentionPolicy(storage.RetentionPolicy{Messages: 3 * 24 * time.Hour, Calls: 30 * 24 * time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var table, ddl string
	got := map[string]string{}
	err = engine{s}.Query(t.Context(), "SELECT name, create_table_query FROM system.tables WHERE database = 'sipscope'",
		[]any{&table, &ddl}, func() error { got[table] = ddl; return nil })
	if err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]string{
		storage.TableMessages: "TTL date + toIntervalDay(3)", storage.TableCalls: "TTL date + toIntervalDay(30)",
		storage.TableRegistrations: "TTL date + toIntervalDay(30)",
	} {
		if !strings.Contains(got[table], want) || !strings.Contains(got[table], "PARTITION BY toYYYYMMDD(date)") {
			t.Errorf("%s: %s\nwant %s and daily partitions", table, got[table], want)
		}
	}
	if strings.Contains(got[storage.TableStreams], "TTL") {
		t.Errorf("streams have no age limit but a TTL: %s", got[storage.TableStreams])
	}
}

// TestRetentionRoundsMergeFinishedDaysIntoOnePart: ten days of calls,
// streams and registrations written twice (a second version of every
// record: two parts a day, call_index too), then retention rounds without
// any limit at "now" = day 11: each round merges MaxCompactPerRound
// finished days' partitions into one part, newest days first; a partition
// already in one part (the messages, written once) and today's are left,
// nothing is dropped, and every read gives the second version.
func TestRetentionRoundsMergeFinishedDaysIntoOnePart(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	first := storetest.RetentionBatch()
	second := storetest.RetentionBatch()
	for i := range second.Calls {
		second.Calls[i].State, second.Calls[i].FinalCode = correlate.StateFailed, 486
	}
	// Today: two versions of a call of day 11, which no round merges.
	today := first.Calls[0]
	today.CallID, today.Start, today.End = "today@example.com", retentionDay(11), retentionDay(11).Add(time.Minute)
	first.Calls = append(first.Calls, today)
	second.Calls = append(second.Calls, today)
	for _, b := range []storage.Batch{first, {Calls: second.Calls, Streams: second.Streams, Registrations: second.Registrations}} {
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	parts := func() map[string]int64 { // "table day" → parts
		_, ps := daysOf(t, s)
		out := map[string]int64{}
		for _, p := range ps {
			out[p.Table+" "+p.MaxDate[8:]] = p.Parts
		}
		return out
	}
	before := parts()
	for _, table := range []string{storage.TableCalls, storage.TableStreams, storage.TableRegistrations} {
		for d := 1; d <= 10; d++ {
			if n := before[fmt.Sprintf("%s %02d", table, d)]; n != 2 {
				t.Fatalf("%s day %d in %d parts before the rounds, want 2", table, d, n)
			}
		}
	}
	reg := prometheus.NewRegistry()
	ret, err := storage.NewRetainer(s, storage.RetentionPolicy{}, time.Hour, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	merged := map[string]bool{}
	last := "99"
	for round := 1; round <= 4; round++ {
		res, err := ret.Once(ctx, retentionDay(11))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Dropped) != 0 || len(res.Compacted) != storage.MaxCompactPerRound {
			t.Fatalf("round %d: dropped %v, merged %d partitions, want %d", round, res.Dropped, len(res.Compacted), storage.MaxCompactPerRound)
		}
		for _, p := range res.Compacted {
			day := p.MaxDate[8:]
			merged[p.Table+" "+day] = true
			// Newest days first, round after round.
			if day > last || p.Parts != 2 {
				t.Errorf("round %d merged %s of day %s (%d parts) after day %s", round, p.Table, day, p.Parts, last)
			}
			last = day
		}
	}
	after := parts()
	// What is left in two parts is older than what was merged.
	for key, n := range after {
		if n == 2 && !strings.HasSuffix(key, " 11") && key[strings.LastIndexByte(key, ' ')+1:] > last {
			t.Errorf("%s left in 2 parts, newer than day %s which was merged", key, last)
		}
	}
	for key, n := range after {
		want := before[key]
		if merged[key] {
			want = 1
		}
		if n != want {
			t.Errorf("%s: %d parts after the rounds, want %d", key, n, want)
		}
	}
	if after[storage.TableCalls+" 11"] != 2 || after[storage.TableMessages+" 10"] != before[storage.TableMessages+" 10"] {
		t.Errorf("today's calls in %d parts, day 10's messages in %d (before %d): neither is merged",
			after[storage.TableCalls+" 11"], after[storage.TableMessages+" 10"], before[storage.TableMessages+" 10"])
	}
	page, err := s.ListCalls(ctx, storage.CallFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 11 {
		t.Fatalf("%d calls after the rounds, want 11", page.Total)
	}
	for _, c := range page.Calls {
		if c.CallID != "today@example.com" && c.FinalCode != 486 {
			t.Errorf("call %s reads as its first version (%d)", c.CallID, c.FinalCode)
		}
	}
	if got := ret.Status().Compacted; got != 4*storage.MaxCompactPerRound {
		t.Errorf("status: %d partitions merged, want %d", got, 4*storage.MaxCompactPerRound)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var counted float64 = -1
	for _, mf := range mfs {
		if mf.GetName() == "sipscope_store_compacted_partitions_total" {
			counted = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if counted != 4*storage.MaxCompactPerRound {
		t.Errorf("sipscope_store_compacted_partitions_total %v, want %d", counted, 4*storage.MaxCompactPerRound)
	}
	// Settling merges the rest at once: ten finished days of calls,
	// call_index, calls_by_id, streams and registrations, less the
	// rounds' twelve.
	if n, err := storage.SettleMerges(ctx, s, retentionDay(11)); err != nil || n != 50-4*storage.MaxCompactPerRound {
		t.Errorf("settling merged %d partitions (%v), want %d", n, err, 50-4*storage.MaxCompactPerRound)
	}
	for key, n := range parts() {
		if n != 1 && !strings.HasSuffix(key, " 11") {
			t.Errorf("%s in %d parts after settling", key, n)
		}
	}
}
