package storage

import (
	"context"
	"fmt"
	"strings"
)

// Execer runs one statement that returns no rows (DDL).
type Execer interface {
	Exec(ctx context.Context, stmt string) error
}

// Migrate brings the tables of cfg's database up to the current schema:
// it reads system.columns and adds, with ALTER TABLE ... ADD COLUMN, every
// column the schema has that a table lacks. CREATE TABLE IF NOT EXISTS
// leaves a table an older sipscope created as it was, and inserts name
// every column, so without this an upgrade could not write. Existing rows
// read the new columns as their type's default (0, "", []), which every
// record type takes as "not measured".
//
// Run it after Schema's statements, at every start; when nothing is
// missing it runs nothing and returns no statements. A column is added
// AFTER the one the schema puts before it, so a migrated table has the
// column order of a new one. ClickHouse 18.16 has no ADD COLUMN IF NOT
// EXISTS, so columns are checked first; when an ALTER fails, the columns
// are read again and the failure counts only if some are still missing
// (another collector sharing the database may have added them meanwhile).
// In cluster mode every ALTER is ON CLUSTER, the local table first and the
// Distributed table over it second, both as seen on the server q reads.
// Columns are migrated, and a changed sort key by a rebuild of the
// table (rekey); a changed type or engine is not.
//
// It returns the statements it ran.
func Migrate(ctx context.Context, q Querier, ex Execer, version string, cfg SchemaConfig) ([]string, error) {
	db := cfg.database()
	have, err := readColumns(ctx, q, db)
	if err != nil {
		return nil, err
	}
	var ran []string
	for _, a := range migrationDDL(ParseServerVersion(version), cfg, have) {
		if err := ex.Exec(ctx, a.stmt); err != nil {
			now, rerr := readColumns(ctx, q, db)
			if rerr != nil || now.lacksAny(a.table, a.columns) {
				return ran, fmt.Errorf("storage: migrate %s.%s: %w\n%s", db, a.table, err, a.stmt)
			}
			continue
		}
		ran = append(ran, a.stmt)
	}
	rekeyed, err := rekey(ctx, q, ex, ParseServerVersion(version), cfg)
	ran = append(ran, rekeyed...)
	if err != nil {
		return ran, err
	}
	filled, err := fillCallsByID(ctx, q, ex, ParseServerVersion(version), cfg)
	ran = append(ran, filled...)
	return ran, err
}

// tableColumns is the columns each table of a database has.
type tableColumns map[string]map[string]bool

func (tc tableColumns) lacksAny(table string, cols []string) bool {
	for _, c := range cols {
		if !tc[table][c] {
			return true
		}
	}
	return false
}

func readColumns(ctx context.Context, q Querier, db string) (tableColumns, error) {
	have := tableColumns{}
	var table, name string
	err := q.Query(ctx, "SELECT table, name FROM system.columns WHERE database = "+QuoteString(db),
		[]any{&table, &name}, func() error {
			if have[table] == nil {
				have[table] = map[string]bool{}
			}
			have[table][name] = true
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("storage: read the columns of %s: %w", db, err)
	}
	return have, nil
}

// alteration is one ALTER TABLE adding columns to one table.
type alteration struct {
	table   string
	columns []string
	stmt    string
}

// migrationDDL is the ALTER TABLE statements that give every table in have
// the columns of the schema it lacks, one statement per table. Tables not
// in have (not created) are left alone.
func migrationDDL(v ServerVersion, cfg SchemaConfig, have tableColumns) []alteration {
	db := cfg.database()
	var out []alteration
	for _, t := range tables() {
		names := []string{t.name}
		if cfg.Cluster != "" {
			// The data first: a Distributed table may not name a column
			// its local tables lack.
			names = []string{t.name + LocalSuffix, t.name}
		}
		for _, name := range names {
			cols, ok := have[name]
			if !ok {
				continue
			}
			var adds, added []string
			for i, c := range t.columns {
				if cols[c.Name] {
					continue
				}
				add := "ADD COLUMN " + columnDDL(v, c)
				if i > 0 {
					add += " AFTER " + t.columns[i-1].Name
				}
				adds = append(adds, add)
				added = append(added, c.Name)
			}
			if len(adds) == 0 {
				continue
			}
			out = append(out, alteration{
				table:   name,
				columns: added,
				stmt:    "ALTER TABLE " + db + "." + name + cfg.onCluster() + " " + strings.Join(adds, ", "),
			})
		}
	}
	return out
}
