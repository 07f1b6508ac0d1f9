package storage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Retention: how long each table keeps its rows and how much disk all of
// them may use. The rules are applied by dropping whole partitions, which
// every server version can do (18.16 has no TTL) and which costs no
// rewrite; new tables are partitioned by day (partitionKey), so a day is
// the granularity of both rules. Tables an older sipscope created by month
// keep their months and lose them a month at a time. On servers with TTL
// the age rules are also a table TTL (SchemaConfig.TableRetention), set
// when the table is created.

// RetentionPolicy is how long each table keeps its rows and how much disk
// all of them may use; zero means no limit.
type RetentionPolicy struct {
	Calls         time.Duration // calls and registrations
	Messages      time.Duration // SIP messages
	Streams       time.Duration // RTP streams
	MaxBytes      int64         // all data tables together (in a cluster: on all its servers)
	Registrations time.Duration // default: Calls
	Packets       time.Duration // captured frames (store_rtp); the biggest table
}

// Validate names the first unusable field.
func (p RetentionPolicy) Validate() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"Calls", p.Calls}, {"Messages", p.Messages}, {"Streams", p.Streams}, {"Registrations", p.Registrations}, {"Packets", p.Packets}} {
		if f.d < 0 || f.d > 0 && f.d < 24*time.Hour {
			return fmt.Errorf("%w: retention %s: %v, want 0 (keep) or at least a day", ErrInvalidConfig, f.name, f.d)
		}
	}
	if p.MaxBytes < 0 {
		return fmt.Errorf("%w: retention MaxBytes: negative", ErrInvalidConfig)
	}
	return nil
}

// Enabled tells whether any rule is set.
func (p RetentionPolicy) Enabled() bool {
	return p.Calls+p.Messages+p.Streams+p.Registrations+p.Packets > 0 || p.MaxBytes > 0
}

// byTable is the age limit of each table.
func (p RetentionPolicy) byTable() map[string]time.Duration {
	reg := p.Registrations
	if reg == 0 {
		reg = p.Calls
	}
	return map[string]time.Duration{TableCalls: p.Calls, TableCallIndex: p.Calls, TableCallsByID: p.Calls, TableRegistrations: reg, TableMessages: p.Messages, TableStreams: p.Streams, TablePackets: p.Packets}
}

// TableRetention is the policy's age limits as SchemaConfig.TableRetention
// takes them (a TTL per table on servers that have TTL).
func (p RetentionPolicy) TableRetention() map[string]time.Duration { return p.byTable() }

// Partition is one partition of a sipscope table.
type Partition struct {
	Table     string `json:"table"`
	Partition string `json:"partition"` // the partition key's value, e.g. 20240501
	MinDate   string `json:"min_date"`  // YYYY-MM-DD
	MaxDate   string `json:"max_date"`
	Bytes     int64  `json:"bytes"` // on disk, active parts
	Rows      int64  `json:"rows"`
	Parts     int64  `json:"parts"`            // active parts (in a cluster, on every server together)
	Reason    string `json:"reason,omitempty"` // why it was dropped: "age" or "size"
}

// RetentionResult is what one EnforceRetention did.
type RetentionResult struct {
	Dropped     []Partition      `json:"dropped"`
	TableBytes  map[string]int64 `json:"table_bytes"` // after the drops, per table
	BytesBefore int64            `json:"bytes_before"`
	BytesAfter  int64            `json:"bytes_after"`
	// OverBound is set when the disk bound could not be met without
	// dropping today's partitions, which the live writer is filling.
	OverBound bool `json:"over_bound"`
	// Compacted is the finished days' partitions merged into one part
	// (see compactFinishedDays).
	Compacted []Partition `json:"compacted,omitempty"`
}

// retentionTables maps the tables that hold data (the _local ones in a
// cluster) to the schema table they are; the unpartitioned ones (users,
// API tokens) are not data and are left out.
func retentionTables(cluster string) map[string]string {
	out := map[string]string{}
	for _, t := range tables() {
		if t.unpartitioned { // users and tokens: not data, never dropped
			continue
		}
		name := t.name
		if cluster != "" {
			name += LocalSuffix
		}
		out[name] = t.name
	}
	return out
}

// TablePartitions lists the partitions of the sipscope data tables in db,
// oldest first. In a cluster they are the _local tables' partitions on
// every server of the cluster (cluster table function), summed: a shard
// may hold a day another lacks, and the sizes are the cluster's, replicas
// included.
func TablePartitions(ctx context.Context, q Querier, db, cluster string) ([]Partition, error) {
	names := retentionTables(cluster)
	quoted := make([]string, 0, len(names))
	for n := range names {
		quoted = append(quoted, QuoteString(n))
	}
	slices.Sort(quoted)
	var p Partition
	var bytes, rows, n uint64
	var out []Partition
	err := q.Query(ctx, "SELECT table, partition, toString(min(min_date)), toString(max(max_date)), sum(bytes_on_disk), sum(rows), count()"+
		" FROM "+partsSource(cluster)+" WHERE active AND database = "+QuoteString(db)+" AND table IN ("+strings.Join(quoted, ", ")+")"+
		" GROUP BY table, partition",
		[]any{&p.Table, &p.Partition, &p.MinDate, &p.MaxDate, &bytes, &rows, &n}, func() error {
			p.Bytes, p.Rows, p.Parts = int64(bytes), int64(rows), int64(n)
			out = append(out, p)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("storage: read partitions of %s: %w", db, err)
	}
	slices.SortFunc(out, func(a, b Partition) int {
		return cmp.Or(cmp.Compare(a.MaxDate, b.MaxDate), cmp.Compare(a.Table, b.Table), cmp.Compare(a.Partition, b.Partition))
	})
	return out, nil
}

func partsSource(cluster string) string {
	if cluster == "" {
		return "system.parts"
	}
	return "cluster(" + QuoteString(cluster) + ", system, parts)"
}

// EnforceRetention drops the partitions the policy no longer keeps: first
// every partition whose newest row is older than its table's age limit,
// then, while the tables together use more than MaxBytes, the partitions
// of the oldest day left, all tables at once (a call without its messages
// is of no use), but never a partition holding today (UTC) or later. now
// is the clock the ages are measured on. In a cluster the drops are ON
// CLUSTER on the _local tables and MaxBytes bounds the whole cluster's
// disk use, replicas included (see TablePartitions).
func EnforceRetention(ctx context.Context, q Querier, ex Execer, db, cluster string, p RetentionPolicy, now time.Time) (RetentionResult, error) {
	res := RetentionResult{TableBytes: map[string]int64{}}
	parts, err := TablePartitions(ctx, q, db, cluster)
	if err != nil {
		return res, err
	}
	for _, pt := range parts {
		res.BytesBefore += pt.Bytes
	}
	names := retentionTables(cluster)
	limits := p.byTable()
	today := now.UTC().Format(time.DateOnly)
	onCluster := SchemaConfig{Cluster: cluster}.onCluster()
	drop := func(pt Partition, reason string) error {
		// The value is the text of the partition key: digits for every key
		// sipscope creates (toYYYYMM, toYYYYMMDD). Anything else is not
		// ours to drop, and would not be safe to put into the statement.
		if pt.Partition == "" || strings.Trim(pt.Partition, "0123456789") != "" {
			return fmt.Errorf("storage: partition %q of %s is not a sipscope partition key", pt.Partition, pt.Table)
		}
		stmt := "ALTER TABLE " + db + "." + pt.Table + onCluster + " DROP PARTITION " + pt.Partition
		if err := ex.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("storage: retention: %w\n%s", err, stmt)
		}
		pt.Reason = reason
		res.Dropped = append(res.Dropped, pt)
		return nil
	}
	var kept []Partition
	for _, pt := range parts {
		limit := limits[names[pt.Table]]
		if limit > 0 && pt.MaxDate < now.UTC().Add(-limit).Format(time.DateOnly) {
			if err := drop(pt, "age"); err != nil {
				return res, err
			}
			continue
		}
		kept = append(kept, pt)
	}
	total := int64(0)
	for _, pt := range kept {
		total += pt.Bytes
	}
	if p.MaxBytes > 0 {
		// kept is oldest first: drop whole days from its front.
		for len(kept) > 0 && total > p.MaxBytes {
			day := kept[0].MaxDate
			if day >= today {
				res.OverBound = true
				break
			}
			for len(kept) > 0 && kept[0].MaxDate == day {
				if err := drop(kept[0], "size"); err != nil {
					return res, err
				}
				total -= kept[0].Bytes
				kept = kept[1:]
			}
		}
	}
	for _, pt := range kept {
		res.TableBytes[names[pt.Table]] += pt.Bytes
	}
	res.BytesAfter = total
	hosts := 1
	if cluster != "" {
		if hosts, err = clusterHosts(ctx, q, cluster); err != nil {
			return res, err
		}
	}
	if err := compactFinishedDays(ctx, ex, db, compaction{cluster: cluster, hosts: hosts}, kept, now, &res); err != nil {
		return res, err
	}
	return res, nil
}

// compactTables are the tables whose finished days are merged into one
// part: those read with FINAL, and those a call's detail looks up by
// Call-ID in every part (call_index, sip_messages).
var compactTables = map[string]bool{TableCalls: true, TableStreams: true, TableRegistrations: true, TableCallIndex: true, TableCallsByID: true, TableMessages: true}

// MaintenanceExecer is an Execer that runs long statements (OPTIMIZE)
// apart from the writes, when the backend has such a lane (the embedded
// store serialises its writes on one connection; an OPTIMIZE there would
// hold them for minutes).
type MaintenanceExecer interface {
	ExecMaintenance(ctx context.Context, stmt string) error
}

// MaxCompactPerRound bounds the partitions one retention round merges,
// so that a store's first round does not rewrite every day it holds at
// once.
const MaxCompactPerRound = 3

// MaxCompactBytes bounds the partitions a round merges: OPTIMIZE FINAL
// ignores the engine's own bound on a merge's size (150 GB by default),
// and a day bigger than this is left to the engine's background merges.
const MaxCompactBytes = 20e9

// CompactAfter is how long after its midnight (UTC) a day counts as
// finished for compaction: the rows of calls still open at midnight (a
// call's rows carry its start's day) trickle in for a while after it.
const CompactAfter = time.Hour

// compactFinishedDays merges each finished day (CompactAfter past its
// end, UTC) of compactTables into one part, newest days first, at most
// MaxCompactPerRound a round: OPTIMIZE ... PARTITION ... FINAL. FINAL
// merges the versions of a row across the parts it reads, and a lookup by
// Call-ID reads every part; the engine leaves a day in as many parts as
// its inserts and merges made (at 10 M calls: 6 parts a day, and counting
// the calls FINAL took 190 ms against 4 ms in one part). A day that later
// gets a late row after that (a call that ran past the hour) is merged
// again.
// The statements go through ex's maintenance lane when it has one.
//
// In a cluster a partition's parts are counted over every server
// (TablePartitions), so a partition is merged when it has more parts
// than the cluster has servers: then at least one server holds it in
// several. The OPTIMIZE is ON CLUSTER (the DDL queue runs it on each
// shard; a server whose partition is one part already rewrites it once).
func compactFinishedDays(ctx context.Context, ex Execer, db string, c compaction, kept []Partition, now time.Time, res *RetentionResult) error {
	// A day before this one has been over for CompactAfter.
	open := now.UTC().Add(-CompactAfter).Format(time.DateOnly)
	exec := ex.Exec
	if m, ok := ex.(MaintenanceExecer); ok {
		exec = m.ExecMaintenance
	}
	n := 0
	for i := len(kept) - 1; i >= 0 && n < MaxCompactPerRound; i-- {
		pt := kept[i]
		if pt.MaxDate >= open || pt.Parts <= int64(max(c.hosts, 1)) || pt.Bytes > MaxCompactBytes || !compactTables[strings.TrimSuffix(pt.Table, LocalSuffix)] ||
			pt.Partition == "" || strings.Trim(pt.Partition, "0123456789") != "" {
			continue
		}
		stmt := "OPTIMIZE TABLE " + db + "." + pt.Table + SchemaConfig{Cluster: c.cluster}.onCluster() + " PARTITION " + pt.Partition + " FINAL"
		if err := exec(ctx, stmt); err != nil {
			return fmt.Errorf("storage: compact: %w\n%s", err, stmt)
		}
		res.Compacted = append(res.Compacted, pt)
		n++
	}
	return nil
}

// compaction is where compactFinishedDays runs: a cluster's name and how
// many servers it has, or "" and 1.
type compaction struct {
	cluster string
	hosts   int
}

// clusterHosts is how many servers (replicas of every shard) cluster has,
// as the server q reads knows it.
func clusterHosts(ctx context.Context, q Querier, cluster string) (int, error) {
	var n uint64
	err := q.Query(ctx, "SELECT count() FROM system.clusters WHERE cluster = "+QuoteString(cluster), []any{&n}, func() error { return nil })
	if err != nil {
		return 0, fmt.Errorf("storage: count the servers of cluster %s: %w", cluster, err)
	}
	return int(n), nil
}
