package libchdb

import (
	"errors"
	"strings"
	"testing"

	chdbpurego "github.com/chdb-io/chdb-go/chdb-purego"
)

// TestQueryAgreesWithChdbGo runs the same statements through this binding
// and through chdb-go (the reference client, linked only into this test)
// on one data directory, one connection after the other as the engine
// requires, and expects byte-identical output.
func TestQueryAgreesWithChdbGo(t *testing.T) {
	dir := t.TempDir()
	stmts := []struct{ query, format string }{
		{"SELECT version()", "CSV"},
		{"SELECT number, toString(number * 7), number % 3 = 0 FROM system.numbers LIMIT 5", "RowBinary"},
		{"SELECT 'a\\tb', 'quote''s', 1.5", "TSV"},
	}

	ref, err := chdbpurego.NewConnectionFromConnString(dir)
	if err != nil {
		t.Fatalf("chdb-go connect: %v", err)
	}
	var want []string
	for _, s := range stmts {
		res, err := ref.Query(s.query, s.format)
		if err != nil {
			t.Fatalf("chdb-go %q: %v", s.query, err)
		}
		want = append(want, string(res.Buf()))
		res.Free()
	}
	ref.Close()

	c, err := Connect("--path=" + dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, s := range stmts {
		res, err := c.Query(s.query, s.format)
		if err != nil {
			t.Fatalf("%q: %v", s.query, err)
		}
		if got := string(res.Bytes()); got != want[i] {
			t.Errorf("%q: got %q, chdb-go %q", s.query, got, want[i])
		}
		res.Free()
	}
}

func TestQueryErrors(t *testing.T) {
	c, err := Connect("--path=" + t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tests := []struct {
		name, query, want string
	}{
		{"an unknown table is the engine's error message", "SELECT * FROM no_such_table_here", "no_such_table_here"},
		{"a NUL byte is refused before it can cut the statement", "SELECT 'a\x00b'", "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Query(tt.query, "CSV")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	c.Close()
	if _, err := c.Query("SELECT 1", "CSV"); !errors.Is(err, ErrConnect) {
		t.Errorf("query after Close: %v", err)
	}
}

// The store's read connections rely on this: a second connection to the
// directory the engine runs on sees what the first one wrote, and the
// first goes on working after the second is closed.
func TestTwoConnectionsShareOneDirectory(t *testing.T) {
	dir := t.TempDir()
	a, err := Connect("--path=" + dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Connect("--path=" + dir)
	if err != nil {
		t.Fatalf("a second connection to the same directory: %v", err)
	}
	run := func(c *Conn, q string) string {
		t.Helper()
		res, err := c.Query(q, "CSV")
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		defer res.Free()
		return strings.TrimSpace(string(res.Bytes()))
	}
	run(a, "CREATE TABLE t (x UInt64) ENGINE = MergeTree ORDER BY x")
	run(a, "INSERT INTO t SELECT number FROM numbers(1000)")
	if got := run(b, "SELECT count(), sum(x) FROM t"); got != "1000,499500" {
		t.Errorf("the second connection reads %q, want 1000,499500", got)
	}
	b.Close()
	run(a, "INSERT INTO t VALUES (1000)")
	if got := run(a, "SELECT count() FROM t"); got != "1001" {
		t.Errorf("after the second connection closed the first reads %q, want 1001", got)
	}
}
