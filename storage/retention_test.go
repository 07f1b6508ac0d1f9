package storage

import (
	"errors"
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
