package storage

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Table names, the same in both backends. In cluster mode these are the
// Distributed tables and the data lives in the same names with LocalSuffix.
const (
	TableCalls         = "calls"
	TableRegistrations = "registrations"
	TableMessages      = "sip_messages"
	TableStreams       = "rtp_streams"
	TableUsers         = "users"
	TableTokens        = "api_tokens"

	LocalSuffix = "_local"
)

// Schema revisions. Revision 1 is the first schema with SIP messages
// identified by their content hash; each later one added columns to tables
// that existed before, which Migrate adds to tables an older sipscope
// created. Sort keys and engines are the same in every revision.
const (
	// revisionCallDetail added end reasons, timings, legs and user agents
	// of calls and contacts and attempts of registrations.
	revisionCallDetail = 2
	// revisionStreamQuality added what the listener got (late packets,
	// jitter buffer, R), the RTCP summary, the MOS timeline and the DTMF
	// events of streams.
	revisionStreamQuality = 3
	// revisionInfoDTMF added the digits calls sent in SIP INFO and the
	// capture node of each SIP message.
	revisionInfoDTMF = 4
	// revisionDiagnosis added what diagnose says about a call (findings,
	// diagnosis), whether its INVITE was captured, whether the caller
	// cancelled and the post-dial delay from the first INVITE.
	revisionDiagnosis = 5
	// revisionAuth added the users and api_tokens tables.
	revisionAuth = 6
	// revisionAlerts added the alerts table.
	revisionAlerts = 7

	// revisionPackets (packets.go) = 8 added the packets table; revision 7
	// is the alerts table's.

	// revisionFax added how a call carried fax (T.38 or G.711).
	revisionFax = 9

	// RevisionTimeOrder (callindex.go) = 10 sorted calls by (start_us,
	// call_id) instead of call_id and added the call_index table that
	// finds a Call-ID's start.

	// revisionNodes added the capture points that carried each call.
	revisionNodes = 11

	// revisionCallsByID (callsbyid.go) = 12 added calls_by_id, the list
	// rows of calls sorted by Call-ID.

	// SchemaRevision is the revision Schema creates and Migrate brings
	// older tables to.
	SchemaRevision = revisionCallsByID
)

// SchemaConfig shapes the DDL Schema returns.
type SchemaConfig struct {
	Database string // default DefaultDatabase; must be a ValidIdentifier

	// Cluster, when set, makes every statement ON CLUSTER, the data tables
	// Replicated*MergeTree named <table>_local and the query tables
	// Distributed over them, sharded by the same key that deduplicates rows
	// so that all versions of a record meet on one shard.
	Cluster string
	// ReplicaPath is the ZooKeeper path of a replicated table; {database}
	// and {table} are filled in here, {shard} and {replica} are server
	// macros. Default "/clickhouse/tables/{shard}/{database}/{table}".
	ReplicaPath string

	// Retention, when positive, adds a TTL on the date column (modern
	// servers only).
	Retention time.Duration
	// TableRetention overrides Retention per table (Table* names); see
	// RetentionPolicy.TableRetention.
	TableRetention map[string]time.Duration
}

// table is one table of the schema. Its insert column list and the DDL come
// from the same slice, so they cannot disagree.
type table struct {
	name    string
	columns []Column
	// orderBy is the sorting key; for ReplacingMergeTree tables it is also
	// the identity of a record: rows with the same key collapse to the one
	// with the largest version.
	orderBy string
	// formerOrderBy, when set, is the sorting key the table had before
	// schema revision keySince; Migrate rebuilds such a table (rekey.go).
	formerOrderBy string
	keySince      int
	// version names the ReplacingMergeTree version column; empty means a
	// plain MergeTree (append-only table) unless dedupe is set.
	version string
	// dedupe makes a table without a version a ReplacingMergeTree: rows
	// with the same key are the same record written twice (re-import).
	dedupe bool
	// shardKey spreads rows over the shards of a cluster.
	shardKey string
	// unpartitioned tables have no date column: they hold a few
	// long-lived records (users, tokens) whose versions must collapse
	// whenever they were written, and ReplacingMergeTree only collapses
	// rows within one partition. They get no retention TTL either.
	unpartitioned bool
	// since is the schema revision that added the table (0: the first).
	since int
	// granularity, when set, is the table's index_granularity (rows per
	// granule) instead of the engine's 8,192.
	granularity int
}

func callsTable() table {
	return table{
		name: TableCalls,
		columns: []Column{
			{Name: "date", Type: TypeDate},
			{Name: "start_time", Type: TypeDateTime},
			{Name: "start_us", Type: TypeUInt64},
			{Name: "end_us", Type: TypeUInt64},
			{Name: "call_id", Type: TypeString},
			{Name: "from_user", Type: TypeString},
			{Name: "to_user", Type: TypeString},
			{Name: "src_ip", Type: TypeString},
			{Name: "dst_ip", Type: TypeString},
			{Name: "state", Type: TypeString, LowCardinality: true},
			{Name: "final_code", Type: TypeUInt16},
			{Name: "messages", Type: TypeUInt32},
			{Name: "mos", Type: TypeFloat64},
			{Name: "end_reason", Type: TypeString, LowCardinality: true, Since: revisionCallDetail},
			{Name: "bye_by", Type: TypeString, LowCardinality: true, Since: revisionCallDetail},
			{Name: "q850_cause", Type: TypeUInt16, Since: revisionCallDetail},
			{Name: "reason_header", Type: TypeString, Since: revisionCallDetail},
			{Name: "pdd_ms", Type: TypeFloat64, Since: revisionCallDetail},
			{Name: "ring_ms", Type: TypeFloat64, Since: revisionCallDetail},
			{Name: "answer_ms", Type: TypeFloat64, Since: revisionCallDetail},
			{Name: "duration_ms", Type: TypeFloat64, Since: revisionCallDetail},
			{Name: "retransmissions", Type: TypeUInt32, Since: revisionCallDetail},
			{Name: "re_invites", Type: TypeUInt32, Since: revisionCallDetail},
			{Name: "hold", Type: TypeUInt8, Since: revisionCallDetail},
			{Name: "forked", Type: TypeUInt8, Since: revisionCallDetail},
			{Name: "user_agent", Type: TypeString, LowCardinality: true, Since: revisionCallDetail},
			{Name: "x_call_id", Type: TypeString, Since: revisionCallDetail},
			// The other legs' Call-IDs separated by single spaces, which a
			// Call-ID cannot contain (RFC 3261 §25.1 word): a String
			// rather than an Array keeps both backends' row codecs simple.
			{Name: "linked_call_ids", Type: TypeString, Since: revisionCallDetail},
			{Name: "last_update_us", Type: TypeUInt64, Since: revisionCallDetail},
			{Name: "finished", Type: TypeUInt8, Since: revisionCallDetail},
			{Name: "info_dtmf", Type: TypeString, Since: revisionInfoDTMF},
			{Name: "setup_ms", Type: TypeFloat64, Since: revisionDiagnosis},
			{Name: "partial", Type: TypeUInt8, Since: revisionDiagnosis},
			{Name: "cancel_seen", Type: TypeUInt8, Since: revisionDiagnosis},
			// Finding codes as an array: has(findings, 'no_media') in SQL.
			{Name: "findings", Type: TypeArrayString, Since: revisionDiagnosis},
			{Name: "diagnosis", Type: TypeString, Since: revisionDiagnosis},
			{Name: "malformed", Type: TypeArrayString, Since: revisionDiagnosis},
			{Name: "fax", Type: TypeString, LowCardinality: true, Since: revisionFax},
			// Capture points (interfaces, HEP agents) of the call's
			// messages: shown in the call list; the node filter still
			// reads the messages, which calls stored before revision 11
			// need.
			{Name: "nodes", Type: TypeArrayString, Since: revisionNodes},
			{Name: "version", Type: TypeUInt64},
		},
		// Sorted by start so that the newest page and a time range read
		// only their own granules (ordering by Call-ID made every list
		// scan and FINAL-merge the whole table). The identity is the
		// Call-ID with its start, which the correlator sets once, at the
		// call's first message; call_index finds a Call-ID's start. Until
		// revision 10 the key was the Call-ID alone.
		orderBy:       "start_us, call_id",
		formerOrderBy: "call_id",
		keySince:      RevisionTimeOrder,
		version:       "version",
		shardKey:      "cityHash64(call_id)",
	}
}

func registrationsTable() table {
	return table{
		name: TableRegistrations,
		columns: []Column{
			{Name: "date", Type: TypeDate},
			{Name: "start_time", Type: TypeDateTime},
			{Name: "start_us", Type: TypeUInt64},
			{Name: "end_us", Type: TypeUInt64},
			{Name: "call_id", Type: TypeString},
			{Name: "aor", Type: TypeString},
			{Name: "challenged", Type: TypeUInt8},
			{Name: "final_code", Type: TypeUInt16},
			{Name: "messages", Type: TypeUInt32},
			{Name: "src_ip", Type: TypeString},
			{Name: "contact", Type: TypeString, Since: revisionCallDetail},
			{Name: "expires", Type: TypeInt64, Since: revisionCallDetail}, // -1 when unknown
			{Name: "user_agent", Type: TypeString, LowCardinality: true, Since: revisionCallDetail},
			{Name: "attempts", Type: TypeUInt32, Since: revisionCallDetail},
			{Name: "succeeded_us", Type: TypeUInt64, Since: revisionCallDetail},
			{Name: "failed", Type: TypeUInt8, Since: revisionCallDetail},
			{Name: "version", Type: TypeUInt64},
		},
		// Refreshes reuse the Call-ID (RFC 3261 10.2), so one exchange is a
		// Call-ID plus its start.
		orderBy:  "call_id, start_us",
		version:  "version",
		shardKey: "cityHash64(call_id)",
	}
}

func messagesTable() table {
	return table{
		name: TableMessages,
		columns: []Column{
			{Name: "date", Type: TypeDate},
			{Name: "ts", Type: TypeDateTime},
			{Name: "ts_us", Type: TypeUInt64},
			{Name: "seq", Type: TypeUInt64},
			{Name: "msg_hash", Type: TypeUInt64},
			{Name: "call_id", Type: TypeString},
			{Name: "src_ip", Type: TypeString},
			{Name: "src_port", Type: TypeUInt16},
			{Name: "dst_ip", Type: TypeString},
			{Name: "dst_port", Type: TypeUInt16},
			{Name: "transport", Type: TypeString, LowCardinality: true},
			{Name: "is_request", Type: TypeUInt8},
			{Name: "method", Type: TypeString, LowCardinality: true},
			{Name: "status_code", Type: TypeUInt16},
			{Name: "reason", Type: TypeString},
			{Name: "cseq", Type: TypeUInt32},
			{Name: "cseq_method", Type: TypeString, LowCardinality: true},
			{Name: "from_user", Type: TypeString},
			{Name: "to_user", Type: TypeString},
			{Name: "raw", Type: TypeBytes, Compress: true},
			{Name: "node", Type: TypeString, LowCardinality: true, Since: revisionInfoDTMF},
		},
		// A message is identified by its call, time and content hash, so
		// importing a capture twice stores each message once; seq, the
		// store's insertion order, breaks ties between messages of the same
		// microsecond when reading.
		orderBy:  "call_id, ts_us, msg_hash",
		dedupe:   true,
		shardKey: "cityHash64(call_id)",
	}
}

func streamsTable() table {
	return table{
		name: TableStreams,
		columns: []Column{
			{Name: "date", Type: TypeDate},
			{Name: "start_time", Type: TypeDateTime},
			{Name: "start_us", Type: TypeUInt64},
			{Name: "end_us", Type: TypeUInt64},
			{Name: "call_id", Type: TypeString},
			{Name: "ssrc", Type: TypeUInt32},
			{Name: "src_ip", Type: TypeString},
			{Name: "src_port", Type: TypeUInt16},
			{Name: "dst_ip", Type: TypeString},
			{Name: "dst_port", Type: TypeUInt16},
			{Name: "payload_type", Type: TypeUInt8},
			{Name: "payload", Type: TypeString, LowCardinality: true},
			{Name: "packets", Type: TypeInt64},
			{Name: "expected", Type: TypeInt64},
			{Name: "lost", Type: TypeInt64},
			{Name: "seq_errors", Type: TypeInt64},
			{Name: "min_delta_ms", Type: TypeFloat64},
			{Name: "mean_delta_ms", Type: TypeFloat64},
			{Name: "max_delta_ms", Type: TypeFloat64},
			{Name: "min_jitter_ms", Type: TypeFloat64},
			{Name: "mean_jitter_ms", Type: TypeFloat64},
			{Name: "max_jitter_ms", Type: TypeFloat64},
			{Name: "mos", Type: TypeFloat64},
			// What the listener got (quality.StreamQuality.Fill).
			{Name: "late", Type: TypeInt64, Since: revisionStreamQuality},
			{Name: "effective_lost", Type: TypeInt64, Since: revisionStreamQuality},
			{Name: "jitter_buffer", Type: TypeString, LowCardinality: true, Since: revisionStreamQuality},
			{Name: "jitter_buffer_ms", Type: TypeFloat64, Since: revisionStreamQuality},
			{Name: "burst_r", Type: TypeFloat64, Since: revisionStreamQuality},
			{Name: "rtt_ms", Type: TypeFloat64, Since: revisionStreamQuality},
			{Name: "r_factor", Type: TypeFloat64, Since: revisionStreamQuality},
			// What RTCP said about the SSRC: the figures an operator
			// compares with the captured ones (see streamRow for what is
			// left out). rtcp_reports = 0: no RTCP.
			{Name: "rtcp_reports", Type: TypeUInt32, Since: revisionStreamQuality},
			{Name: "rtcp_cname", Type: TypeString, Since: revisionStreamQuality},
			{Name: "rtcp_bye", Type: TypeUInt8, Since: revisionStreamQuality},
			{Name: "rtcp_sender_reports", Type: TypeUInt32, Since: revisionStreamQuality},
			{Name: "rtcp_sender_packets", Type: TypeUInt32, Since: revisionStreamQuality},
			{Name: "rtcp_sender_octets", Type: TypeUInt32, Since: revisionStreamQuality},
			{Name: "rtcp_receiver_reports", Type: TypeUInt32, Since: revisionStreamQuality},
			{Name: "rtcp_fraction_lost_pct", Type: TypeFloat64, Since: revisionStreamQuality},
			{Name: "rtcp_max_fraction_lost_pct", Type: TypeFloat64, Since: revisionStreamQuality},
			{Name: "rtcp_cumulative_lost", Type: TypeInt64, Since: revisionStreamQuality},
			{Name: "rtcp_jitter_ms", Type: TypeFloat64, Since: revisionStreamQuality},
			{Name: "rtcp_max_jitter_ms", Type: TypeFloat64, Since: revisionStreamQuality},
			{Name: "rtcp_rtt_ms", Type: TypeFloat64, Since: revisionStreamQuality},
			{Name: "rtcp_mean_rtt_ms", Type: TypeFloat64, Since: revisionStreamQuality},
			{Name: "rtcp_max_rtt_ms", Type: TypeFloat64, Since: revisionStreamQuality},
			{Name: "rtcp_rtt_samples", Type: TypeUInt32, Since: revisionStreamQuality},
			// RFC 3611 VoIP metrics; -1 is "unavailable" as the reporter sent it.
			{Name: "rtcp_xr_reports", Type: TypeUInt32, Since: revisionStreamQuality},
			{Name: "rtcp_xr_loss_rate_pct", Type: TypeFloat64, Since: revisionStreamQuality},
			{Name: "rtcp_xr_discard_rate_pct", Type: TypeFloat64, Since: revisionStreamQuality},
			{Name: "rtcp_xr_rtt_ms", Type: TypeInt64, Since: revisionStreamQuality},
			{Name: "rtcp_xr_end_system_delay_ms", Type: TypeInt64, Since: revisionStreamQuality},
			{Name: "rtcp_xr_r_factor", Type: TypeInt64, Since: revisionStreamQuality},
			{Name: "rtcp_xr_mos_lq", Type: TypeFloat64, Since: revisionStreamQuality},
			{Name: "rtcp_xr_mos_cq", Type: TypeFloat64, Since: revisionStreamQuality},
			{Name: "rtcp_xr_jb_nominal_ms", Type: TypeInt64, Since: revisionStreamQuality},
			{Name: "rtcp_xr_jb_max_ms", Type: TypeInt64, Since: revisionStreamQuality},
			// The MOS timeline as parallel arrays, element i of each
			// being interval i: queryable in SQL on every server version
			// (arrayMin(timeline_mos) < 3.1), which a JSON string is not
			// on 18.16.
			{Name: "timeline_start_ms", Type: TypeArrayFloat64, Since: revisionStreamQuality},
			{Name: "timeline_duration_ms", Type: TypeArrayFloat64, Since: revisionStreamQuality},
			{Name: "timeline_packets", Type: TypeArrayUInt32, Since: revisionStreamQuality},
			{Name: "timeline_lost", Type: TypeArrayUInt32, Since: revisionStreamQuality},
			{Name: "timeline_late", Type: TypeArrayUInt32, Since: revisionStreamQuality},
			{Name: "timeline_loss_pct", Type: TypeArrayFloat64, Since: revisionStreamQuality},
			{Name: "timeline_burst_r", Type: TypeArrayFloat64, Since: revisionStreamQuality},
			{Name: "timeline_jitter_buffer_ms", Type: TypeArrayFloat64, Since: revisionStreamQuality},
			{Name: "timeline_mos", Type: TypeArrayFloat64, Since: revisionStreamQuality},
			// RFC 4733 events, parallel arrays likewise (has(dtmf_digit, '#')).
			{Name: "dtmf_event", Type: TypeArrayUInt32, Since: revisionStreamQuality},
			{Name: "dtmf_digit", Type: TypeArrayString, Since: revisionStreamQuality},
			{Name: "dtmf_start_us", Type: TypeArrayUInt64, Since: revisionStreamQuality},
			{Name: "dtmf_timestamp", Type: TypeArrayUInt32, Since: revisionStreamQuality},
			{Name: "dtmf_duration_ms", Type: TypeArrayFloat64, Since: revisionStreamQuality},
			{Name: "dtmf_volume", Type: TypeArrayUInt32, Since: revisionStreamQuality},
			{Name: "dtmf_ended", Type: TypeArrayUInt32, Since: revisionStreamQuality},
			{Name: "dtmf_start_seen", Type: TypeArrayUInt32, Since: revisionStreamQuality},
			{Name: "dtmf_packets", Type: TypeArrayUInt32, Since: revisionStreamQuality},
			{Name: "version", Type: TypeUInt64},
		},
		// A stream is one SSRC between two transport addresses, started at
		// one time (sipp and friends reuse SSRCs call after call). The
		// Call-ID is not part of the identity: a stream may be bound to
		// its call only in a later version.
		orderBy:  "ssrc, src_ip, src_port, dst_ip, dst_port, start_us",
		version:  "version",
		shardKey: "cityHash64(ssrc, src_ip, src_port, dst_ip, dst_port, start_us)",
	}
}

func tables() []table {
	return []table{callsTable(), registrationsTable(), messagesTable(), streamsTable(), usersTable(), tokensTable(),
		alertsTable(), packetsTable(), callIndexTable(), callsByIDTable(),
	}
}

// SchemaColumns is the columns of table (one of the Table* names) in the
// current schema, in order; nil for any other name.
func SchemaColumns(table string) []Column {
	for _, t := range tables() {
		if t.name == table {
			return t.columns
		}
	}
	return nil
}

// Schema returns the DDL that creates the database and the tables for a
// server that reported version (the text of SELECT version()). Every
// statement is idempotent (IF NOT EXISTS), so running it on every start is
// how the schema gets created; tables that already exist are left as they
// are, and Migrate then adds the columns they lack. The base schema is
// valid on ClickHouse 18.16: no Nullable, no DateTime64, no Map or JSON,
// times as DateTime plus microseconds in UInt64. TTL, CODEC and
// LowCardinality are added only for versions from 20.3 on.
//
// The configuration is assumed valid (Config.Validate); names are not
// escaped here.
func Schema(version string, cfg SchemaConfig) []string {
	return SchemaAt(version, cfg, SchemaRevision)
}

// SchemaAt is Schema as schema revision rev (1 to SchemaRevision) created
// it: the tables with only the columns that revision had. It recreates the
// tables of an older sipscope, to test upgrades.
func SchemaAt(version string, cfg SchemaConfig, rev int) []string {
	v := ParseServerVersion(version)
	db := cfg.database()
	onCluster := cfg.onCluster()
	stmts := []string{"CREATE DATABASE IF NOT EXISTS " + db + onCluster}
	for _, t := range tables() {
		if t.since > rev {
			continue
		}
		t.columns = slices.DeleteFunc(t.columns, func(c Column) bool { return c.Since > rev })
		if t.formerOrderBy != "" && rev < t.keySince {
			t.orderBy = t.formerOrderBy
		}
		local := t.name
		if cfg.Cluster != "" {
			local = t.name + LocalSuffix
		}
		stmts = append(stmts, createTable(v, cfg, db, local, onCluster, t))
		if cfg.Cluster != "" {
			stmts = append(stmts, fmt.Sprintf(
				"CREATE TABLE IF NOT EXISTS %s.%s%s AS %s.%s ENGINE = Distributed(%s, %s, %s, %s)",
				db, t.name, onCluster, db, local,
				QuoteString(cfg.Cluster), QuoteString(db), QuoteString(local), t.shardKey))
		}
	}
	return stmts
}

func (cfg SchemaConfig) database() string {
	if cfg.Database == "" {
		return DefaultDatabase
	}
	return cfg.Database
}

func (cfg SchemaConfig) onCluster() string {
	if cfg.Cluster == "" {
		return ""
	}
	return " ON CLUSTER `" + cfg.Cluster + "`"
}

func createTable(v ServerVersion, cfg SchemaConfig, db, name, onCluster string, t table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s.%s%s (", db, name, onCluster)
	for i, c := range t.columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(columnDDL(v, c))
	}
	b.WriteString(") ENGINE = ")
	b.WriteString(engine(cfg, db, name, t))
	if !t.unpartitioned {
		b.WriteString(" PARTITION BY " + partitionKey)
	}
	b.WriteString(" ORDER BY (" + t.orderBy + ")")
	if keep := cfg.retention(t.name); keep > 0 && v.modern() && !t.unpartitioned {
		days := int64((keep + 24*time.Hour - 1) / (24 * time.Hour))
		fmt.Fprintf(&b, " TTL date + toIntervalDay(%d)", days)
	}
	if t.granularity > 0 {
		fmt.Fprintf(&b, " SETTINGS index_granularity = %d", t.granularity)
	}
	return b.String()
}

// columnDDL is a column's definition as CREATE TABLE and ALTER TABLE ADD
// COLUMN take it: name, type and, on modern servers, codec.
func columnDDL(v ServerVersion, c Column) string {
	typ := c.Type.SQL()
	if c.LowCardinality && v.modern() {
		typ = "LowCardinality(" + typ + ")"
	}
	d := c.Name + " " + typ
	if c.Compress && v.modern() {
		d += " CODEC(ZSTD(1))"
	}
	return d
}

func engine(cfg SchemaConfig, db, name string, t table) string {
	kind := "MergeTree"
	if t.version != "" || t.dedupe {
		kind = "ReplacingMergeTree"
	}
	if cfg.Cluster == "" {
		if t.version != "" {
			return kind + "(" + t.version + ")"
		}
		return kind + "()"
	}
	path := cfg.ReplicaPath
	if path == "" {
		path = "/clickhouse/tables/{shard}/{database}/{table}"
	}
	path = strings.NewReplacer("{database}", db, "{table}", name).Replace(path)
	args := QuoteString(path) + ", '{replica}'"
	if t.version != "" {
		args += ", " + t.version
	}
	return "Replicated" + kind + "(" + args + ")"
}

// Retention (see retention.go): partitions by day, so that the size rule
// can drop a day at a time and an age limit in days drops whole
// partitions. Tables created by month before keep their months.
const partitionKey = "toYYYYMMDD(date)"

// retention is the age limit of table: its TableRetention, else Retention.
func (cfg SchemaConfig) retention(table string) time.Duration {
	if d, ok := cfg.TableRetention[table]; ok && d > 0 {
		return d
	}
	return cfg.Retention
}
