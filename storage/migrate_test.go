package storage

import (
	"strings"
	"testing"
)

// columnsAt is what system.columns would list for tables created by
// SchemaAt(…, rev), under the names given.
func columnsAt(rev int, names map[string]string) tableColumns {
	have := tableColumns{}
	for _, t := range tables() {
		name, ok := names[t.name]
		if !ok {
			continue
		}
		have[name] = map[string]bool{}
		for _, c := range t.columns {
			if c.Since <= rev {
				have[name][c.Name] = true
			}
		}
	}
	return have
}

func allTables(suffix string) map[string]string {
	m := map[string]string{}
	for _, t := range tables() {
		m[t.name] = t.name + suffix
	}
	return m
}

func stmtsOf(as []alteration) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.stmt)
	}
	return out
}

// diagnosisColumns is how revisions 5 (diagnosis), 9 (fax) and 11 (nodes)
// extend an ALTER of calls that ends with info_dtmf.
const diagnosisColumns = ", ADD COLUMN setup_ms Float64 AFTER info_dtmf, ADD COLUMN partial UInt8 AFTER setup_ms, " +
	"ADD COLUMN cancel_seen UInt8 AFTER partial, ADD COLUMN findings Array(String) AFTER cancel_seen, " +
	"ADD COLUMN diagnosis String AFTER findings, ADD COLUMN malformed Array(String) AFTER diagnosis, ADD COLUMN fax String AFTER malformed, ADD COLUMN nodes Array(String) AFTER fax"

func TestMigrationAddsOnlyTheMissingColumnsEachAfterItsPredecessor(t *testing.T) {
	v1816 := ParseServerVersion("18.16.1")
	t.Run("revision 4 tables gain the diagnosis columns of calls", func(t *testing.T) {
		got := migrationDDL(v1816, SchemaConfig{}, columnsAt(revisionInfoDTMF, allTables("")))
		if len(got) != 1 || got[0].stmt != "ALTER TABLE sipscope.calls ADD COLUMN"+diagnosisColumns[len(", ADD COLUMN"):] {
			t.Fatalf("statements %q", stmtsOf(got))
		}
	})
	t.Run("revision 10 tables gain the capture points of calls", func(t *testing.T) {
		got := migrationDDL(v1816, SchemaConfig{}, columnsAt(RevisionTimeOrder, allTables("")))
		if len(got) != 1 || got[0].stmt != "ALTER TABLE sipscope.calls ADD COLUMN nodes Array(String) AFTER fax" {
			t.Fatalf("statements %q", stmtsOf(got))
		}
	})
	t.Run("current tables need nothing", func(t *testing.T) {
		if got := migrationDDL(v1816, SchemaConfig{}, columnsAt(SchemaRevision, allTables(""))); len(got) != 0 {
			t.Errorf("statements for an up-to-date schema: %q", stmtsOf(got))
		}
	})
	t.Run("revision 3 tables gain the INFO DTMF column of calls and the node of messages", func(t *testing.T) {
		got := migrationDDL(v1816, SchemaConfig{}, columnsAt(revisionStreamQuality, allTables("")))
		if len(got) != 2 || got[0].stmt != "ALTER TABLE sipscope.calls ADD COLUMN info_dtmf String AFTER finished"+diagnosisColumns ||
			got[1].stmt != "ALTER TABLE sipscope.sip_messages ADD COLUMN node String AFTER raw" {
			t.Fatalf("statements %q, want one for calls and one for sip_messages", stmtsOf(got))
		}
	})
	t.Run("revision 2 tables gain the stream quality columns and INFO DTMF", func(t *testing.T) {
		got := migrationDDL(v1816, SchemaConfig{}, columnsAt(2, allTables("")))
		if len(got) != 3 || got[0].table != TableCalls || got[1].table != TableMessages || got[2].table != TableStreams {
			t.Fatalf("statements %q, want one each for calls, sip_messages and rtp_streams", stmtsOf(got))
		}
		s := got[2].stmt
		for _, want := range []string{
			"ALTER TABLE sipscope.rtp_streams ADD COLUMN late Int64 AFTER mos, ADD COLUMN effective_lost Int64 AFTER late, ",
			"ADD COLUMN jitter_buffer String AFTER effective_lost, ",
			"ADD COLUMN rtcp_xr_mos_cq Float64 AFTER rtcp_xr_mos_lq, ",
			"ADD COLUMN timeline_mos Array(Float64) AFTER timeline_jitter_buffer_ms, ",
			"ADD COLUMN dtmf_digit Array(String) AFTER dtmf_event, ",
		} {
			if !strings.Contains(s, want) {
				t.Errorf("lacks %q:\n%s", want, s)
			}
		}
		if !strings.HasSuffix(s, "ADD COLUMN dtmf_packets Array(UInt32) AFTER dtmf_start_seen") {
			t.Errorf("does not end with the last DTMF column:\n%s", s)
		}
		if strings.Contains(s, "version") || strings.Contains(s, "LowCardinality") || strings.Contains(s, "IF NOT EXISTS") {
			t.Errorf("adds version, or uses what 18.16 lacks:\n%s", s)
		}
		if n := len(got[2].columns); n != strings.Count(s, "ADD COLUMN") || n != 51 {
			t.Errorf("%d columns named for %d ADD COLUMN clauses, want 51", n, strings.Count(s, "ADD COLUMN"))
		}
	})
	t.Run("revision 1 tables gain the call detail columns too", func(t *testing.T) {
		got := migrationDDL(v1816, SchemaConfig{Database: "voip"}, columnsAt(1, allTables("")))
		var tables []string
		for _, a := range got {
			tables = append(tables, a.table)
		}
		if strings.Join(tables, " ") != "calls registrations sip_messages rtp_streams" {
			t.Fatalf("tables altered %q", tables)
		}
		if !strings.HasPrefix(got[0].stmt, "ALTER TABLE voip.calls ADD COLUMN end_reason String AFTER mos, ") ||
			!strings.HasSuffix(got[0].stmt, "ADD COLUMN finished UInt8 AFTER last_update_us, ADD COLUMN info_dtmf String AFTER finished"+diagnosisColumns) {
			t.Errorf("calls: %s", got[0].stmt)
		}
	})
	t.Run("a modern server gets the column types Schema gives it", func(t *testing.T) {
		got := migrationDDL(ParseServerVersion("26.5.1.1"), SchemaConfig{}, columnsAt(2, allTables("")))
		streams := ""
		for _, a := range got {
			if a.table == TableStreams {
				streams = a.stmt
			}
		}
		if !strings.Contains(streams, "ADD COLUMN jitter_buffer LowCardinality(String) AFTER effective_lost") {
			t.Errorf("statements %q", stmtsOf(got))
		}
	})
	t.Run("a table that does not exist is left to CREATE TABLE", func(t *testing.T) {
		have := columnsAt(SchemaRevision, allTables(""))
		delete(have, TableStreams)
		if got := migrationDDL(v1816, SchemaConfig{}, have); len(got) != 0 {
			t.Errorf("statements %q", stmtsOf(got))
		}
	})
	t.Run("a cluster alters the local table, then the Distributed one, on every node", func(t *testing.T) {
		have := columnsAt(revisionStreamQuality, allTables(LocalSuffix))
		for name, cols := range columnsAt(revisionStreamQuality, allTables("")) {
			have[name] = cols
		}
		got := migrationDDL(v1816, SchemaConfig{Cluster: "sip-cluster"}, have)
		if len(got) != 4 {
			t.Fatalf("statements %q, want four", stmtsOf(got))
		}
		if got[0].stmt != "ALTER TABLE sipscope.calls_local ON CLUSTER `sip-cluster` ADD COLUMN info_dtmf String AFTER finished"+diagnosisColumns ||
			got[1].stmt != "ALTER TABLE sipscope.calls ON CLUSTER `sip-cluster` ADD COLUMN info_dtmf String AFTER finished"+diagnosisColumns ||
			got[2].stmt != "ALTER TABLE sipscope.sip_messages_local ON CLUSTER `sip-cluster` ADD COLUMN node String AFTER raw" ||
			got[3].stmt != "ALTER TABLE sipscope.sip_messages ON CLUSTER `sip-cluster` ADD COLUMN node String AFTER raw" {
			t.Errorf("statements:\n%s", strings.Join(stmtsOf(got), "\n"))
		}
	})
	t.Run("a cluster whose Distributed table was already migrated alters only the local one", func(t *testing.T) {
		have := columnsAt(revisionStreamQuality, allTables(LocalSuffix))
		for name, cols := range columnsAt(SchemaRevision, allTables("")) {
			have[name] = cols
		}
		got := migrationDDL(v1816, SchemaConfig{Cluster: "c"}, have)
		if len(got) != 2 || got[0].table != TableCalls+LocalSuffix || got[1].table != TableMessages+LocalSuffix {
			t.Errorf("statements %q", stmtsOf(got))
		}
	})
}

func TestSchemaAtAnOlderRevisionHasOnlyItsColumns(t *testing.T) {
	cur := strings.Join(Schema("18.16.1", SchemaConfig{}), "\n")
	old := strings.Join(SchemaAt("18.16.1", SchemaConfig{}, 2), "\n")
	first := strings.Join(SchemaAt("18.16.1", SchemaConfig{}, 1), "\n")
	for _, c := range []string{"timeline_mos Array(Float64)", "dtmf_digit Array(String)", "rtcp_xr_mos_lq Float64", "jitter_buffer String"} {
		if !strings.Contains(cur, c) {
			t.Errorf("the current schema lacks %q", c)
		}
		if strings.Contains(old, c) {
			t.Errorf("revision 2 has %q", c)
		}
	}
	if !strings.Contains(old, "end_reason String") || strings.Contains(first, "end_reason") || strings.Contains(first, "contact") {
		t.Errorf("revision 2 lacks, or revision 1 has, the call detail columns")
	}
	if !strings.Contains(first, "msg_hash UInt64") || !strings.Contains(first, "ORDER BY (call_id, ts_us, msg_hash)") {
		t.Errorf("revision 1 is not the first schema keyed by message hash:\n%s", first)
	}
	if got := SchemaAt("18.16.1", SchemaConfig{}, SchemaRevision); strings.Join(got, "\n") != cur {
		t.Errorf("SchemaAt the current revision differs from Schema")
	}
}
