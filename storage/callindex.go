package storage

import (
	"context"
	"fmt"
	"strings"

	"github.com/sipscope/sipscope/correlate"
)

// TableCallIndex maps each Call-ID to the start of its call. The calls
// table is sorted by start (revision 10), so a Call-ID alone no longer
// finds its granules there; this narrow table, sorted by Call-ID, does,
// on every server version (18.16 has no skip indexes or projections).
const TableCallIndex = "call_index"

// RevisionTimeOrder sorted calls by (start_us, call_id) and added
// call_index: from it on, every write of a call writes its index row
// first.
const RevisionTimeOrder = 10

func callIndexTable() table {
	return table{
		name: TableCallIndex,
		columns: []Column{
			{Name: "date", Type: TypeDate},
			{Name: "call_id", Type: TypeString},
			{Name: "start_us", Type: TypeUInt64},
		},
		// Every write of a call writes its index row again: the copies
		// collapse on merge, and until then a lookup reads them all as one
		// set of starts (no FINAL needed).
		orderBy:  "call_id, start_us",
		dedupe:   true,
		shardKey: "cityHash64(call_id)",
		since:    RevisionTimeOrder,
	}
}

// callIndexRow is a call's row of call_index.
func callIndexRow(c *correlate.Call) []any {
	return []any{dateOf(c.Start), c.CallID, microsOf(c.Start)}
}

// callStarts is the starts the call_index holds for callID: usually one,
// more when the same Call-ID began again (a capture imported from its
// middle, then from its beginning). Empty for a Call-ID never written, or
// written by a sipscope older than revision 10 into a table that was not
// rekeyed (a cluster: see rekey).
func callStarts(ctx context.Context, q Querier, db, callID string) ([]uint64, error) {
	var starts []uint64
	var us uint64
	err := q.Query(ctx, "SELECT DISTINCT start_us FROM "+db+"."+TableCallIndex+" WHERE call_id = "+QuoteString(callID),
		[]any{&us}, func() error {
			starts = append(starts, us)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("storage: look up call %q: %w", callID, err)
	}
	return starts, nil
}

// indexComplete tells whether call_index holds every call of q's store,
// so that a Call-ID it lacks is no call at all: true unless q says it
// serves a cluster (a Clustered method), whose calls from before revision
// 10 may have no index row (rekey leaves clusters as they are). Every
// write puts a call's index row before the call.
func indexComplete(q Querier) bool {
	c, ok := q.(interface{ Clustered() bool })
	return !ok || !c.Clustered()
}

// callKeyCond is the WHERE condition that selects callID's rows in the
// calls table: by its starts, the table's sort key prefix, when the index
// knows them, else by the Call-ID alone (a scan: correct, only slower).
func callKeyCond(starts []uint64, callID string) string {
	cond := "call_id = " + QuoteString(callID)
	if len(starts) == 0 {
		return cond
	}
	in := make([]string, len(starts))
	for i, s := range starts {
		in[i] = QuoteUint(s)
	}
	return "start_us IN (" + strings.Join(in, ", ") + ") AND " + cond
}

// rekey rebuilds the tables whose sorting key an older revision made
// different (calls before revision 10): CREATE the table anew under a
// temporary name, copy the rows, fill call_index from them, swap the names
// with RENAME and drop the old table. ClickHouse cannot change a sort key
// in place. It runs once, at the first start of the new sipscope, while no
// other writer uses the store: a copy made while another collector writes
// would miss its rows. Clusters are left as they are (their tables and
// shards are the operator's to rebuild, ON CLUSTER); reads there find a
// Call-ID without the index (callKeyCond).
func rekey(ctx context.Context, q Querier, ex Execer, v ServerVersion, cfg SchemaConfig) ([]string, error) {
	if cfg.Cluster != "" {
		return nil, nil
	}
	db := cfg.database()
	keys := map[string]string{}
	var name, engineFull string
	err := q.Query(ctx, "SELECT name, engine_full FROM system.tables WHERE database = "+QuoteString(db),
		[]any{&name, &engineFull}, func() error {
			keys[name] = engineFull
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("storage: read the tables of %s: %w", db, err)
	}
	var ran []string
	for _, t := range tables() {
		full, ok := keys[t.name]
		if !ok || t.formerOrderBy == "" || sortedBy(full, t.orderBy) {
			continue
		}
		tmp, old := t.name+"_rekey", t.name+"_before_rekey"
		cols := columnNames(t.columns)
		stmts := []string{
			// Schema creates the index; Migrate may run without it.
			createTable(v, cfg, db, TableCallIndex, "", callIndexTable()),
			"DROP TABLE IF EXISTS " + db + "." + tmp,
			createTable(v, cfg, db, tmp, "", t),
			"INSERT INTO " + db + "." + tmp + " (" + cols + ") SELECT " + cols + " FROM " + db + "." + t.name,
		}
		if t.name == TableCalls {
			stmts = append(stmts, "INSERT INTO "+db+"."+TableCallIndex+" (date, call_id, start_us) SELECT date, call_id, start_us FROM "+db+"."+t.name)
		}
		stmts = append(stmts, "RENAME TABLE "+db+"."+t.name+" TO "+db+"."+old+", "+db+"."+tmp+" TO "+db+"."+t.name)
		for _, stmt := range stmts {
			if err := ex.Exec(ctx, stmt); err != nil {
				// Another sipscope starting on the same database at the
				// same moment may have swapped the tables first.
				if done, _ := tableSortedBy(ctx, q, db, t.name, t.orderBy); done {
					break
				}
				return ran, fmt.Errorf("storage: rekey %s.%s: %w\n%s", db, t.name, err, stmt)
			}
			ran = append(ran, stmt)
		}
		drop := "DROP TABLE IF EXISTS " + db + "." + old
		if err := ex.Exec(ctx, drop); err != nil {
			return ran, fmt.Errorf("storage: rekey %s.%s: %w\n%s", db, t.name, err, drop)
		}
		ran = append(ran, drop)
	}
	return ran, nil
}

// tableSortedBy tells whether db.table exists sorted by key.
func tableSortedBy(ctx context.Context, q Querier, db, table, key string) (bool, error) {
	var full string
	found := false
	err := q.Query(ctx, "SELECT engine_full FROM system.tables WHERE database = "+QuoteString(db)+" AND name = "+QuoteString(table),
		[]any{&full}, func() error { found = true; return nil })
	return found && sortedBy(full, key), err
}

// sortedBy tells whether a table's engine_full (system.tables) has the
// sorting key key, as the schema writes it: "ORDER BY (a, b)", or
// "ORDER BY a" for one column.
func sortedBy(engineFull, key string) bool {
	want := "ORDER BY (" + key + ")"
	if !strings.Contains(key, ",") {
		want = "ORDER BY " + key
	}
	i := strings.Index(engineFull, want)
	if i < 0 {
		return false
	}
	// "ORDER BY call_id" must not match "ORDER BY call_id_x".
	rest := engineFull[i+len(want):]
	return rest == "" || rest[0] == ' '
}
