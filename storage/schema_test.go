package storage

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSchemaFor1816IsThePlainBaseSchema(t *testing.T) {
	stmts := Schema("18.16.1", SchemaConfig{Retention: 30 * 24 * time.Hour})
	if want := 1 + len(tables()); len(stmts) != want {
		t.Fatalf("%d statements, want %d:\n%s", len(stmts), want, strings.Join(stmts, "\n"))
	}
	if stmts[0] != "CREATE DATABASE IF NOT EXISTS sipscope" {
		t.Errorf("first statement %q", stmts[0])
	}
	wantCalls := "CREATE TABLE IF NOT EXISTS sipscope.calls (date Date, start_time DateTime, start_us UInt64, " +
		"end_us UInt64, call_id String, from_user String, to_user String, src_ip String, dst_ip String, " +
		"state String, final_code UInt16, messages UInt32, mos Float64, " +
		"end_reason String, bye_by String, q850_cause UInt16, reason_header String, " +
		"pdd_ms Float64, ring_ms Float64, answer_ms Float64, duration_ms Float64, " +
		"retransmissions UInt32, re_invites UInt32, hold UInt8, forked UInt8, user_agent String, " +
		"x_call_id String, linked_call_ids String, last_update_us UInt64, finished UInt8, info_dtmf String, " +
		"setup_ms Float64, partial UInt8, cancel_seen UInt8, findings Array(String), diagnosis String, malformed Array(String), fax String, nodes Array(String), version UInt64) " +
		"ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMMDD(date) ORDER BY (start_us, call_id)"
	if stmts[1] != wantCalls {
		t.Errorf("calls DDL:\n%s\nwant\n%s", stmts[1], wantCalls)
	}
	all := strings.Join(stmts, "\n")
	// 18.16 has none of these; Retention must be dropped, not break the DDL.
	for _, absent := range []string{"LowCardinality", "CODEC", "TTL", "Nullable", "DateTime64", "ON CLUSTER", "Replicated"} {
		if strings.Contains(all, absent) {
			t.Errorf("18.16 schema uses %s:\n%s", absent, all)
		}
	}
	for _, want := range []string{
		"sipscope.registrations (", "ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMMDD(date) ORDER BY (call_id, start_us)",
		"sipscope.sip_messages (", "raw String", "ts DateTime, ts_us UInt64", "src_port UInt16",
		"ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMMDD(date) ORDER BY (call_id, ts_us, msg_hash)",
		"sipscope.rtp_streams (", "ORDER BY (ssrc, src_ip, src_port, dst_ip, dst_port, start_us)",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("18.16 schema lacks %q", want)
		}
	}
}

func TestSchemaForModernServersAddsLowCardinalityCodecAndTTL(t *testing.T) {
	cases := []struct {
		name      string
		retention time.Duration
		ttl       string
	}{
		{"no retention means no TTL", 0, ""},
		{"thirty days", 30 * 24 * time.Hour, " TTL date + toIntervalDay(30)"},
		{"a part of a day rounds up", 36 * time.Hour, " TTL date + toIntervalDay(2)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stmts := Schema("26.5.1.1", SchemaConfig{Database: "voip", Retention: c.retention})
			all := strings.Join(stmts, "\n")
			for _, want := range []string{
				"CREATE DATABASE IF NOT EXISTS voip",
				"state LowCardinality(String)", "transport LowCardinality(String)", "payload LowCardinality(String)",
				"end_reason LowCardinality(String)", "linked_call_ids String,",
				"raw String CODEC(ZSTD(1))",
			} {
				if !strings.Contains(all, want) {
					t.Errorf("lacks %q", want)
				}
			}
			for _, s := range stmts[1:] {
				if strings.Contains(s, ".users (") || strings.Contains(s, ".api_tokens (") {
					// Accounts do not expire with the traffic.
					if strings.Contains(s, "TTL") {
						t.Errorf("TTL on an auth table: %s", s)
					}
					continue
				}
				if c.ttl == "" && strings.Contains(s, "TTL") {
					t.Errorf("unexpected TTL: %s", s)
				}
				// The TTL closes the statement, but for the settings.
				head, _, _ := strings.Cut(s, " SETTINGS ")
				if c.ttl != "" && !strings.HasSuffix(head, c.ttl) {
					t.Errorf("statement does not end in %q: %s", c.ttl, s)
				}
			}
		})
	}
}

func TestSchemaForAClusterIsReplicatedBehindDistributed(t *testing.T) {
	stmts := Schema("18.16.1", SchemaConfig{Cluster: "sip-cluster"})
	// The database, then a local and a Distributed table per table.
	if want := 1 + 2*len(tables()); len(stmts) != want {
		t.Fatalf("%d statements, want %d:\n%s", len(stmts), want, strings.Join(stmts, "\n"))
	}
	if stmts[0] != "CREATE DATABASE IF NOT EXISTS sipscope ON CLUSTER `sip-cluster`" {
		t.Errorf("database: %s", stmts[0])
	}
	wantPrefix := "CREATE TABLE IF NOT EXISTS sipscope.calls_local ON CLUSTER `sip-cluster` (date Date, "
	wantEngine := " ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sipscope/calls_local', '{replica}', version)" +
		" PARTITION BY toYYYYMMDD(date) ORDER BY (start_us, call_id)"
	if !strings.HasPrefix(stmts[1], wantPrefix) || !strings.HasSuffix(stmts[1], wantEngine) {
		t.Errorf("calls_local:\n%s", stmts[1])
	}
	wantDist := "CREATE TABLE IF NOT EXISTS sipscope.calls ON CLUSTER `sip-cluster` AS sipscope.calls_local " +
		"ENGINE = Distributed('sip-cluster', 'sipscope', 'calls_local', cityHash64(call_id))"
	if stmts[2] != wantDist {
		t.Errorf("calls:\n%s\nwant\n%s", stmts[2], wantDist)
	}
	msgs := stmts[5]
	if !strings.Contains(msgs, "sipscope.sip_messages_local ON CLUSTER") ||
		!strings.Contains(msgs, "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sipscope/sip_messages_local', '{replica}')") {
		t.Errorf("sip_messages_local:\n%s", msgs)
	}
	// Streams are sharded by their identity, so that the versions of one
	// stream meet on one shard and FINAL can collapse them.
	if !strings.HasSuffix(stmts[8], "cityHash64(ssrc, src_ip, src_port, dst_ip, dst_port, start_us))") {
		t.Errorf("rtp_streams sharding:\n%s", stmts[8])
	}
	for i, s := range stmts {
		if !strings.Contains(s, " ON CLUSTER `sip-cluster`") {
			t.Errorf("statement %d is not ON CLUSTER: %s", i, s)
		}
	}
}

func TestSchemaReplicaPathTemplate(t *testing.T) {
	stmts := Schema("18.16.1", SchemaConfig{Cluster: "c", Database: "db", ReplicaPath: "/ch/{shard}/{database}.{table}"})
	if !strings.Contains(stmts[1], "ReplicatedReplacingMergeTree('/ch/{shard}/db.calls_local', '{replica}', version)") {
		t.Errorf("replica path not applied:\n%s", stmts[1])
	}
}

func TestUnreadableVersionGivesTheBaseSchema(t *testing.T) {
	if got, want := Schema("", SchemaConfig{}), Schema("18.16.1", SchemaConfig{}); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("schema for an unknown version differs from the 18.16 one")
	}
}

func TestAuthTablesAreUnpartitionedAndNewInRevision5(t *testing.T) {
	stmts := Schema("18.16.1", SchemaConfig{})
	wantUsers := "CREATE TABLE IF NOT EXISTS sipscope.users (name String, role String, password_hash String, " +
		"created_us UInt64, updated_us UInt64, deleted UInt8, version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY (name)"
	wantTokens := "CREATE TABLE IF NOT EXISTS sipscope.api_tokens (id String, token_hash String, owner String, name String, " +
		"created_us UInt64, deleted UInt8, version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY (id)"
	if stmts[5] != wantUsers || stmts[6] != wantTokens {
		t.Errorf("auth DDL:\n%s\n%s", stmts[5], stmts[6])
	}
	if got := SchemaAt("18.16.1", SchemaConfig{}, revisionInfoDTMF); len(got) != 5 || strings.Contains(strings.Join(got, "\n"), "users") {
		t.Errorf("revision 4 schema has auth tables:\n%s", strings.Join(got, "\n"))
	}
}

func TestAlertsTableIsNewInRevision7AndPartitionedByItsStartDay(t *testing.T) {
	stmts := Schema("18.16.1", SchemaConfig{})
	want := "CREATE TABLE IF NOT EXISTS sipscope.alerts (date Date, start_time DateTime, start_us UInt64, end_us UInt64, " +
		"id String, rule String, severity String, key String, state String, summary String, " +
		"figure_names Array(String), figure_values Array(Float64), threshold_names Array(String), threshold_values Array(Float64), " +
		"offender_kinds Array(String), offender_values Array(String), offender_counts Array(UInt64), sample_call_ids Array(String), " +
		"version UInt64) ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMMDD(date) ORDER BY (id)"
	if !slices.Contains(stmts, want) {
		t.Errorf("no alerts DDL for 18.16 as\n%s\nin\n%s", want, strings.Join(stmts, "\n"))
	}
	if got := strings.Join(SchemaAt("18.16.1", SchemaConfig{}, revisionAuth), "\n"); strings.Contains(got, ".alerts") {
		t.Errorf("revision 6 schema has the alerts table:\n%s", got)
	}
}

func TestSchemaBeforeRevision10SortsCallsByCallIDAndHasNoIndex(t *testing.T) {
	for _, rev := range []int{9, 10} {
		stmts := SchemaAt("26.5.1", SchemaConfig{}, rev)
		var calls, index string
		for _, s := range stmts {
			if strings.Contains(s, "sipscope.calls (") {
				calls = s
			}
			if strings.Contains(s, "sipscope.call_index (") {
				index = s
			}
		}
		wantKey, wantIndex := " ORDER BY (call_id)", false
		if rev >= 10 {
			wantKey, wantIndex = " ORDER BY (start_us, call_id)", true
		}
		if !strings.Contains(calls, wantKey) {
			t.Errorf("revision %d calls: %s\nwant%s", rev, calls, wantKey)
		}
		if (index != "") != wantIndex {
			t.Errorf("revision %d call_index DDL %q, want it: %v", rev, index, wantIndex)
		}
	}
}

func TestSortedByReadsTheSortingKeyOfEngineFull(t *testing.T) {
	for _, tc := range []struct {
		name, full, key string
		want            bool
	}{
		{"an 18.16 table sorted by the Call-ID alone", "ReplacingMergeTree(version) PARTITION BY toYYYYMMDD(date) ORDER BY call_id SETTINGS index_granularity = 8192", "call_id", true},
		{"a table sorted by start and Call-ID is not sorted by the Call-ID", "ReplacingMergeTree(version) PARTITION BY toYYYYMMDD(date) ORDER BY (start_us, call_id) SETTINGS index_granularity = 8192", "call_id", false},
		{"a table sorted by start and Call-ID", "ReplacingMergeTree(version) PARTITION BY toYYYYMMDD(date) ORDER BY (start_us, call_id) SETTINGS index_granularity = 8192", "start_us, call_id", true},
		{"an old table is not sorted by start and Call-ID", "ReplacingMergeTree(version) PARTITION BY toYYYYMMDD(date) ORDER BY call_id SETTINGS index_granularity = 8192", "start_us, call_id", false},
		{"a longer column name is another key", "MergeTree ORDER BY call_id_x", "call_id", false},
		{"a key at the end of the text", "MergeTree ORDER BY call_id", "call_id", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sortedBy(tc.full, tc.key); got != tc.want {
				t.Errorf("sortedBy(%q, %q) = %v", tc.full, tc.key, got)
			}
		})
	}
}
