//go:build integration

package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/server/servertest"
	"github.com/sipscope/sipscope/storage/storetest"
)

// TestRetentionOnServer1816 applies the same per-table age limits and
// disk bound as the embedded test on ClickHouse 18.16, which has no TTL:
// the partitions are dropped all the same, and the schema has no TTL.
func TestRetentionOnServer1816(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	ctx := context.Background()
	policy := storage.RetentionPolicy{Messages: 3 * 24 * time.Hour, Calls: 5 * 24 * time.Hour, Streams: 8 * 24 * time.Hour}
	st, err := Open(ctx, Config{Addr: srv.Addr(), Database: "ret", Policy: policy})
	if err != nil {
		t.Fatalf("open: %v\n%s", err, srv.Output())
	}
	defer st.Close()
	if err := st.Write(ctx, storetest.RetentionBatch()); err != nil {
		t.Fatal(err)
	}
	days := func() map[string]string {
		parts, err := storage.TablePartitions(ctx, querier{st}, "ret", "")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, p := range parts {
			if out[p.Table] != "" {
				out[p.Table] += ","
			}
			out[p.Table] += p.MaxDate[8:]
		}
		return out
	}
	if got := days()[storage.TableMessages]; got != "01,02,03,04,05,06,07,08,09,10" {
		t.Fatalf("messages of days %s before retention", got)
	}
	if _, err := st.EnforceRetention(ctx, policy, storetest.RetentionDay(11)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		storage.TableMessages: "08,09,10", storage.TableCalls: "06,07,08,09,10",
		storage.TableRegistrations: "06,07,08,09,10", storage.TableStreams: "03,04,05,06,07,08,09,10",
	}
	got := days()
	for table, w := range want {
		if got[table] != w {
			t.Errorf("after the age rules %s holds days %s, want %s", table, got[table], w)
		}
	}
	res, err := st.EnforceRetention(ctx, storage.RetentionPolicy{MaxBytes: 1}, storetest.RetentionDay(10))
	if err != nil {
		t.Fatal(err)
	}
	got = days()
	for table := range want {
		if got[table] != "10" {
			t.Errorf("after the size rule %s holds days %s, want only today's (10)", table, got[table])
		}
	}
	if !res.OverBound || res.BytesAfter <= 0 || res.BytesAfter != res.TableBytes[storage.TableCalls]+res.TableBytes[storage.TableMessages]+
		res.TableBytes[storage.TableStreams]+res.TableBytes[storage.TableRegistrations]+res.TableBytes[storage.TableCallIndex]+
		res.TableBytes[storage.TableCallsByID] {
		t.Errorf("size rule result %+v", res)
	}
	var ddl string
	if err := (querier{st}).Query(ctx, "SELECT create_table_query FROM system.tables WHERE database = 'ret' AND name = 'sip_messages'",
		[]any{&ddl}, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ddl, "TTL") || !strings.Contains(ddl, "toYYYYMMDD(date)") {
		t.Errorf("18.16 table: %s\nwant daily partitions and no TTL", ddl)
	}
}

// TestRetentionMergesFinishedDaysOnServer1816: the calls of ten days
// written twice (two parts a day) are merged by retention rounds into one
// part a day on ClickHouse 18.16 too (OPTIMIZE ... PARTITION ... FINAL),
// and read as their second version.
func TestRetentionMergesFinishedDaysOnServer1816(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	ctx := context.Background()
	st, err := Open(ctx, Config{Addr: srv.Addr(), Database: "compact"})
	if err != nil {
		t.Fatalf("open: %v\n%s", err, srv.Output())
	}
	defer st.Close()
	b := storetest.RetentionBatch()
	if err := st.Write(ctx, storage.Batch{Calls: b.Calls}); err != nil {
		t.Fatal(err)
	}
	for i := range b.Calls {
		b.Calls[i].FinalCode = 486
	}
	if err := st.Write(ctx, storage.Batch{Calls: b.Calls}); err != nil {
		t.Fatal(err)
	}
	callParts := func() (n int64) {
		parts, err := storage.TablePartitions(ctx, querier{st}, "compact", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			if p.Table == storage.TableCalls {
				n += p.Parts
			}
		}
		return n
	}
	if n := callParts(); n != 20 {
		t.Fatalf("calls in %d parts before the rounds, want 20", n)
	}
	merged := 0
	for range 10 {
		res, err := st.EnforceRetention(ctx, storage.RetentionPolicy{}, storetest.RetentionDay(11))
		if err != nil {
			t.Fatal(err)
		}
		merged += len(res.Compacted)
		if len(res.Compacted) == 0 {
			break
		}
	}
	// calls, call_index and calls_by_id, ten days each.
	if n := callParts(); n != 10 || merged != 30 {
		t.Errorf("calls in %d parts after the rounds (want 10), %d partitions merged (want 30)", n, merged)
	}
	page, err := st.ListCalls(ctx, storage.CallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range page.Calls {
		if c.FinalCode != 486 {
			t.Errorf("call %s reads as its first version", c.CallID)
		}
	}
	if page.Total != 10 {
		t.Errorf("%d calls, want 10", page.Total)
	}
}
