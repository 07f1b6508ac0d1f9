package embedded

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded/libchdb"
	"github.com/sipscope/sipscope/storage/storetest"
)

// rawSession runs use on a chDB session over dir with no Store open, as an
// older sipscope would have had it, through the same connect and lock.
func rawSession(t *testing.T, dir string, use func(e engine)) {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !session.TryLock() {
		t.Fatal("a chDB session is already open")
	}
	conn, err := connect(abs)
	if err != nil {
		session.Unlock()
		t.Fatal(err)
	}
	// One connection serves writes and reads, one statement at a time.
	s := &Store{write: conn, reads: make(chan *libchdb.Conn, 1), dataDir: abs}
	s.reads <- conn
	defer func() {
		conn.Close()
		session.Unlock()
	}()
	use(engine{s})
}

func tableColumns(t *testing.T, e engine, db, table string) []string {
	t.Helper()
	var names []string
	var name string
	err := e.Query(context.Background(),
		"SELECT name FROM system.columns WHERE database = "+storage.QuoteString(db)+" AND table = "+storage.QuoteString(table),
		[]any{&name}, func() error { names = append(names, name); return nil })
	if err != nil {
		t.Fatalf("columns of %s.%s: %v", db, table, err)
	}
	return names
}

func engineVersion(t *testing.T) string {
	s := open(t, t.TempDir())
	defer s.Close()
	return s.ServerVersion()
}

func TestOpenUpgradesTheTablesOfAnOlderSipscope(t *testing.T) {
	version := engineVersion(t)
	for rev := 1; rev < storage.SchemaRevision; rev++ {
		t.Run(fmt.Sprintf("from revision %d", rev), func(t *testing.T) {
			dir := t.TempDir()
			storetest.Upgrade(t, rev, storetest.Upgrader{
				Database: storage.DefaultDatabase,
				Version:  version,
				Prepare: func(t *testing.T, stmts []string, tables []string) map[string][]string {
					cols := map[string][]string{}
					rawSession(t, dir, func(e engine) {
						for _, stmt := range stmts {
							if err := e.exec(context.Background(), stmt); err != nil {
								t.Fatalf("%v\n%s", err, stmt)
							}
						}
						for _, table := range tables {
							cols[table] = tableColumns(t, e, storage.DefaultDatabase, table)
						}
					})
					return cols
				},
				Open: func(t *testing.T) storetest.Store { return open(t, dir) },
				Columns: func(t *testing.T, s storetest.Store, table string) []string {
					return tableColumns(t, engine{s.(*Store)}, storage.DefaultDatabase, table)
				},
			})
		})
	}
}

// racingExecer runs every statement twice, as when another collector
// sharing the database migrates at the same moment: the first run is the
// other collector's, the second is ours and fails for real.
type racingExecer struct {
	e      engine
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
	dir := t.TempDir()
	version := engineVersion(t)
	cfg := storage.SchemaConfig{Database: storage.DefaultDatabase}
	rawSession(t, dir, func(e engine) {
		ctx := context.Background()
		for _, stmt := range storage.SchemaAt(version, cfg, 1) {
			if err := e.exec(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
		r := &racingExecer{e: e}
		ran, err := storage.Migrate(ctx, e, r, version, cfg)
		if err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		// The columns: the rebuild of calls that follows them (revision
		// 10's sort key) runs statements that succeed twice, until its
		// RENAME finds the other collector's done.
		var alters []string
		for _, stmt := range ran {
			if strings.HasPrefix(stmt, "ALTER") {
				alters = append(alters, stmt)
			}
		}
		if len(alters) != 0 {
			t.Errorf("statements reported as ours although the other collector ran them: %q", alters)
		}
		// calls, registrations, sip_messages and rtp_streams each lacked
		// columns, then the second RENAME of the rebuild fails.
		var failed []error
		for _, err := range r.failed {
			if err != nil {
				failed = append(failed, err)
			}
		}
		if len(failed) != 5 || slices.Contains(r.failed[:4], nil) {
			t.Fatalf("the repeated ALTERs and RENAME did not all fail: %v", r.failed)
		}
		for _, table := range []string{storage.TableCalls, storage.TableStreams} {
			var want []string
			for _, c := range storage.SchemaColumns(table) {
				want = append(want, c.Name)
			}
			if got := tableColumns(t, e, cfg.Database, table); !slices.Equal(got, want) {
				t.Errorf("%s: %q, want %q", table, got, want)
			}
		}
		// With nothing missing, nothing runs.
		if ran, err := storage.Migrate(ctx, e, e, version, cfg); err != nil || len(ran) != 0 {
			t.Errorf("second Migrate ran %q, error %v", ran, err)
		}
		// A failure that leaves columns missing is reported: here the
		// statements go to a closed store.
		if err := e.exec(ctx, "ALTER TABLE sipscope.rtp_streams DROP COLUMN timeline_mos"); err != nil {
			t.Fatal(err)
		}
		closed := engine{&Store{closed: true}}
		_, err = storage.Migrate(ctx, e, closed, version, cfg)
		if !errors.Is(err, storage.ErrClosed) || !strings.Contains(err.Error(), "rtp_streams") ||
			!strings.Contains(err.Error(), "ADD COLUMN timeline_mos Array(Float64) AFTER timeline_jitter_buffer_ms") {
			t.Errorf("a failed ALTER: %v", err)
		}
	})
}
