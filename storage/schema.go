package storage

import (
	"fmt"
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

	LocalSuffix = "_local"
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
	// version names the ReplacingMergeTree version column; empty means a
	// plain MergeTree (append-only table) unless dedupe is set.
	version string
	// dedupe makes a table without a version a ReplacingMergeTree: rows
	// with the same key are the same record written twice (re-import).
	dedupe bool
	// shardKey spreads rows over the shards of a cluster.
	shardKey string
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
			{Name: "end_reason", Type: TypeString, LowCardinality: true},
			{Name: "bye_by", Type: TypeString, LowCardinality: true},
			{Name: "q850_cause", Type: TypeUInt16},
			{Name: "reason_header", Type: TypeString},
			{Name: "pdd_ms", Type: TypeFloat64},
			{Name: "ring_ms", Type: TypeFloat64},
			{Name: "answer_ms", Type: TypeFloat64},
			{Name: "duration_ms", Type: TypeFloat64},
			{Name: "retransmissions", Type: TypeUInt32},
			{Name: "re_invites", Type: TypeUInt32},
			{Name: "hold", Type: TypeUInt8},
			{Name: "forked", Type: TypeUInt8},
			{Name: "user_agent", Type: TypeString, LowCardinality: true},
			{Name: "x_call_id", Type: TypeString},
			// The other legs' Call-IDs separated by single spaces, which a
			// Call-ID cannot contain (RFC 3261 §25.1 word): a String
			// rather than an Array keeps both backends' row codecs simple.
			{Name: "linked_call_ids", Type: TypeString},
			{Name: "last_update_us", Type: TypeUInt64},
			{Name: "finished", Type: TypeUInt8},
			{Name: "version", Type: TypeUInt64},
		},
		// Keyed by Call-ID alone: every update of a call must collapse
		// into one row even if a later version saw an earlier first message.
		orderBy:  "call_id",
		version:  "version",
		shardKey: "cityHash64(call_id)",
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
			{Name: "contact", Type: TypeString},
			{Name: "expires", Type: TypeInt64}, // -1 when unknown
			{Name: "user_agent", Type: TypeString, LowCardinality: true},
			{Name: "attempts", Type: TypeUInt32},
			{Name: "succeeded_us", Type: TypeUInt64},
			{Name: "failed", Type: TypeUInt8},
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
	return []table{callsTable(), registrationsTable(), messagesTable(), streamsTable()}
}

// Schema returns the DDL that creates the database and the tables for a
// server that reported version (the text of SELECT version()). Every
// statement is idempotent (IF NOT EXISTS), so running it on every start is
// how the schema gets created. The base schema is valid on ClickHouse 18.16:
// no Nullable, no DateTime64, times as DateTime plus microseconds in UInt64.
// TTL, CODEC and LowCardinality are added only for versions from 20.3 on.
//
// The configuration is assumed valid (Config.Validate); names are not
// escaped here.
func Schema(version string, cfg SchemaConfig) []string {
	v := ParseServerVersion(version)
	db := cfg.Database
	if db == "" {
		db = DefaultDatabase
	}
	onCluster := ""
	if cfg.Cluster != "" {
		onCluster = " ON CLUSTER `" + cfg.Cluster + "`"
	}
	stmts := []string{"CREATE DATABASE IF NOT EXISTS " + db + onCluster}
	for _, t := range tables() {
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

func createTable(v ServerVersion, cfg SchemaConfig, db, name, onCluster string, t table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s.%s%s (", db, name, onCluster)
	for i, c := range t.columns {
		if i > 0 {
			b.WriteString(", ")
		}
		typ := c.Type.SQL()
		if c.LowCardinality && v.modern() {
			typ = "LowCardinality(" + typ + ")"
		}
		b.WriteString(c.Name + " " + typ)
		if c.Compress && v.modern() {
			b.WriteString(" CODEC(ZSTD(1))")
		}
	}
	b.WriteString(") ENGINE = ")
	b.WriteString(engine(cfg, db, name, t))
	b.WriteString(" PARTITION BY toYYYYMM(date) ORDER BY (" + t.orderBy + ")")
	if cfg.Retention > 0 && v.modern() {
		days := int64((cfg.Retention + 24*time.Hour - 1) / (24 * time.Hour))
		fmt.Fprintf(&b, " TTL date + toIntervalDay(%d)", days)
	}
	return b.String()
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
