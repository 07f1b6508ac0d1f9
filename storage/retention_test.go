package storage

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRetentionPolicyValidate(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		name string
		p    RetentionPolicy
		want string
	}{
		{"no limits are valid", RetentionPolicy{}, ""},
		{"day limits per table are valid", RetentionPolicy{Calls: 90 * day, Messages: 7 * day, Streams: 30 * day, MaxBytes: 1 << 30}, ""},
		{"an hour limit is refused", RetentionPolicy{Messages: time.Hour}, "Messages"},
		{"a negative limit is refused", RetentionPolicy{Streams: -day}, "Streams"},
		{"a negative disk bound is refused", RetentionPolicy{MaxBytes: -1}, "MaxBytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.Validate()
			if c.want == "" && err != nil || c.want != "" && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("Validate() = %v, want %q", err, c.want)
			}
		})
	}
}

func TestTableRetentionIsATTLPerTableOnlyWhereTheServerHasTTL(t *testing.T) {
	p := RetentionPolicy{Messages: 3 * 24 * time.Hour, Calls: 30 * 24 * time.Hour}
	ddl := func(version, table string) string {
		for _, s := range Schema(version, SchemaConfig{TableRetention: p.TableRetention()}) {
			if strings.HasPrefix(s, "CREATE TABLE IF NOT EXISTS sipscope."+table+" ") {
				return s
			}
		}
		t.Fatalf("no DDL for %s", table)
		return ""
	}
	for table, want := range map[string]string{
		TableMessages: " TTL date + toIntervalDay(3)", TableCalls: " TTL date + toIntervalDay(30)",
		TableRegistrations: " TTL date + toIntervalDay(30)", TableStreams: "",
	} {
		got := ddl("26.5.1.1", table)
		if want == "" && strings.Contains(got, " TTL ") || want != "" && !strings.HasSuffix(got, want) {
			t.Errorf("26.5 %s: %s\nwant TTL %q", table, got, want)
		}
		if old := ddl("18.16.1", table); strings.Contains(old, " TTL ") || !strings.Contains(old, "PARTITION BY toYYYYMMDD(date)") {
			t.Errorf("18.16 %s: %s\nwant daily partitions and no TTL", table, old)
		}
	}
}

// statements records what compactFinishedDays asks an Execer to run.
type statements []string

func (s *statements) Exec(_ context.Context, stmt string) error {
	*s = append(*s, stmt)
	return nil
}

// TestCompactionChoosesFinishedDaysInSeveralPartsNewestFirst: of a store's
// partitions (oldest first, as TablePartitions gives them), a round
// merges those of finished days in more than one part, of the tables it
// compacts, no bigger than MaxCompactBytes, newest first and at most
// MaxCompactPerRound; the real merges are tested on chDB and 18.16.
func TestCompactionChoosesFinishedDaysInSeveralPartsNewestFirst(t *testing.T) {
	p := func(table, day string, parts, bytes int64) Partition {
		return Partition{Table: table, Partition: strings.ReplaceAll(day, "-", ""), MinDate: day, MaxDate: day, Parts: parts, Bytes: bytes}
	}
	kept := []Partition{
		p(TableCalls, "2024-05-01", 2, 1e6),
		p(TableCalls, "2024-05-02", 3, 1e6),
		p(TableMessages, "2024-05-02", 2, MaxCompactBytes+1), // too big
		p(TableCalls, "2024-05-03", 1, 1e6),                  // one part already
		p(TablePackets, "2024-05-03", 4, 1e6),                // not compacted
		p(TableStreams, "2024-05-04", 2, 1e6),
		p(TableRegistrations, "2024-05-05", 2, 1e6),
		p(TableCalls, "2024-05-06", 5, 1e6),                                        // today
		{Table: TableCalls, Partition: "2024-05", MaxDate: "2024-05-05", Parts: 2}, // not a partition key sipscope makes
	}
	var ran statements
	var res RetentionResult
	if err := compactFinishedDays(context.Background(), &ran, "db", compaction{hosts: 1}, kept, time.Date(2024, time.May, 6, 1, 0, 0, 0, time.UTC), &res); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"OPTIMIZE TABLE db.registrations PARTITION 20240505 FINAL",
		"OPTIMIZE TABLE db.rtp_streams PARTITION 20240504 FINAL",
		"OPTIMIZE TABLE db.calls PARTITION 20240502 FINAL",
	}
	if !slices.Equal(ran, want) || len(res.Compacted) != len(want) {
		t.Errorf("ran\n%q\nwant\n%q (compacted %d)", ran, want, len(res.Compacted))
	}
	// Within CompactAfter of midnight, yesterday is not finished yet.
	ran = nil
	if err := compactFinishedDays(context.Background(), &ran, "db", compaction{hosts: 1}, kept, time.Date(2024, time.May, 6, 0, 59, 0, 0, time.UTC), &res); err != nil {
		t.Fatal(err)
	}
	if len(ran) == 0 || strings.Contains(ran[0], "20240505") {
		t.Errorf("at 00:59 the round ran %q: the day before is still open", ran)
	}
	// In a cluster of two servers the parts are counted over both: two
	// can be one on each, three cannot.
	local := func(table, day string, parts int64) Partition { return p(table+LocalSuffix, day, parts, 1e6) }
	ran = nil
	kept = []Partition{local(TableCalls, "2024-05-01", 3), local(TableCalls, "2024-05-02", 2), local(TablePackets, "2024-05-02", 5)}
	if err := compactFinishedDays(context.Background(), &ran, "db", compaction{cluster: "c", hosts: 2}, kept, time.Date(2024, time.May, 6, 1, 0, 0, 0, time.UTC), &res); err != nil {
		t.Fatal(err)
	}
	if want := []string{"OPTIMIZE TABLE db.calls_local ON CLUSTER `c` PARTITION 20240501 FINAL"}; !slices.Equal(ran, want) {
		t.Errorf("in a cluster of two the round ran\n%q\nwant\n%q", ran, want)
	}
}
