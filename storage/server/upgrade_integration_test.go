//go:build integration

package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/server/servertest"
	"github.com/sipscope/sipscope/storage/storetest"
)

// rawConn is a plain connection to srv, for what an older sipscope did
// before this one opens the database.
func rawConn(t *testing.T, srv *servertest.Server) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.Native, Addr: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func columnsOf(t *testing.T, q storage.Querier, db, table string) []string {
	t.Helper()
	var names []string
	var name string
	err := q.Query(context.Background(),
		"SELECT name FROM system.columns WHERE database = "+storage.QuoteString(db)+" AND table = "+storage.QuoteString(table),
		[]any{&name}, func() error { names = append(names, name); return nil })
	if err != nil {
		t.Fatalf("columns of %s.%s: %v", db, table, err)
	}
	return names
}

// connQuerier reads through a raw connection.
type connQuerier struct{ conn driver.Conn }

func (c connQuerier) Query(ctx context.Context, query string, dest []any, row func() error) error {
	rows, err := c.conn.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := row(); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (c connQuerier) Exec(ctx context.Context, stmt string) error { return c.conn.Exec(ctx, stmt) }

func TestOpenUpgradesTheTablesOfAnOlderSipscope(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	conn := rawConn(t, srv)
	var version string
	if err := (connQuerier{conn}).Query(context.Background(), "SELECT version()", []any{&version}, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	t.Logf("server %s", version)
	for rev := 1; rev < storage.SchemaRevision; rev++ {
		t.Run(fmt.Sprintf("from revision %d", rev), func(t *testing.T) {
			db := fmt.Sprintf("upgrade_r%d", rev)
			storetest.Upgrade(t, rev, storetest.Upgrader{
				Database: db,
				Version:  version,
				Prepare: func(t *testing.T, stmts []string, tables []string) map[string][]string {
					for _, stmt := range stmts {
						if err := conn.Exec(context.Background(), stmt); err != nil {
							t.Fatalf("%v\n%s", err, stmt)
						}
					}
					cols := map[string][]string{}
					for _, table := range tables {
						cols[table] = columnsOf(t, connQuerier{conn}, db, table)
					}
					return cols
				},
				Open: func(t *testing.T) storetest.Store {
					st, err := Open(context.Background(), Config{Addr: srv.Addr(), Database: db})
					if err != nil {
						t.Fatalf("open: %v\nserver output:\n%s", err, srv.Output())
					}
					return st
				},
				Columns: func(t *testing.T, s storetest.Store, table string) []string {
					return columnsOf(t, querier{s.(*Store)}, db, table)
				},
			})
		})
	}
}

// racingExecer runs every statement twice, as when another collector
// sharing the database migrates at the same moment: the first run is the
// other collector's, the second is ours and fails for real.
type racingExecer struct {
	e      connQuerier
	failed []error
}

func (r *racingExecer) Exec(ctx context.Context, stmt string) error {
	if err := r.e.Exec(ctx, stmt); err != nil {
		return err
	}
	err := r.e.Exec(ctx, stmt)
	r.failed = append(r.failed, err)
	return err
}

func TestAMigrationThatAnotherCollectorRanFirstIsNotAnError(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	conn := rawConn(t, srv)
	ctx := context.Background()
	q := connQuerier{conn}
	var version string
	if err := q.Query(ctx, "SELECT version()", []any{&version}, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	cfg := storage.SchemaConfig{Database: "raced"}
	for _, stmt := range storage.SchemaAt(version, cfg, 1) {
		if err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	r := &racingExecer{e: q}
	ran, err := storage.Migrate(ctx, q, r, version, cfg)
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	// The columns: the rebuild of calls that follows them (revision 10's
	// sort key) runs statements that succeed twice, until its RENAME
	// finds the other collector's done.
	var alters []string
	for _, stmt := range ran {
		if strings.HasPrefix(stmt, "ALTER") {
			alters = append(alters, stmt)
		}
	}
	if len(alters) != 0 {
		t.Errorf("statements reported as ours although the other collector ran them: %q", alters)
	}
	var failed []error
	for _, err := range r.failed {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) != 5 || slices.Contains(r.failed[:4], nil) {
		t.Fatalf("the repeated ALTERs and RENAME did not all fail: %v", r.failed)
	}
	var want []string
	for _, c := range storage.SchemaColumns(storage.TableStreams) {
		want = append(want, c.Name)
	}
	if got := columnsOf(t, q, "raced", storage.TableStreams); !slices.Equal(got, want) {
		t.Errorf("rtp_streams: %q, want %q", got, want)
	}
	if ran, err := storage.Migrate(ctx, q, q, version, cfg); err != nil || len(ran) != 0 {
		t.Errorf("second Migrate ran %q, error %v", ran, err)
	}
}
