package embedded

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/storage"
)

// BenchmarkEngineInsertCeiling measures what the engine alone can take:
// one prepared file of 100,000 sip_messages rows of about 600 bytes
// (benchMessages, as storage.Write builds them) inserted again and again
// with INSERT ... FROM INFILE, no Go row building in the loop. It reports
// rows per CPU second of the whole process (all engine threads) and per
// wall second, for three files:
//
//   - native: Native with LowCardinality dictionaries, as Insert sends it
//     (here the engine's own export of the same rows);
//   - native-string: Native with the LowCardinality columns as String,
//     which the engine then casts;
//   - rowbinary: the format inserts used before;
//
// into two tables:
//
//   - null: a Null-engine copy of sip_messages: parsing and type
//     conversion only, nothing stored;
//   - mergetree: a copy of sip_messages (same engine, order, codecs) with
//     background merges stopped, so the figure is the insert itself
//     (parse, sort by call_id, ts_us, msg_hash, compress, write a part);
//     merges cost more CPU later.
//
// Each with optimize_on_insert = 0, as Insert runs, and with the engine's
// default (/optimize-on-insert: the ReplacingMergeTree collapse of every
// new block, what inserts did before).
func BenchmarkEngineInsertCeiling(b *testing.B) {
	const rows = 100_000
	s := open(b, b.TempDir())
	defer s.Close()
	e := engine{s}
	ctx := context.Background()
	if err := s.Write(ctx, storage.Batch{Messages: benchMessages(rows)}); err != nil {
		b.Fatal(err)
	}
	db := storage.DefaultDatabase
	src := db + "." + storage.TableMessages
	// The LowCardinality columns, for the native-string file.
	var lc []string
	var name, typ string
	err := e.Query(ctx, "SELECT name, type FROM system.columns WHERE database = "+storage.QuoteString(db)+
		" AND table = "+storage.QuoteString(storage.TableMessages)+" ORDER BY position",
		[]any{&name, &typ}, func() error {
			if strings.HasPrefix(typ, "LowCardinality(") {
				lc = append(lc, name)
			}
			return nil
		})
	if err != nil || len(lc) == 0 {
		b.Fatalf("columns: %v, LowCardinality %v", err, lc)
	}
	asString := make([]string, len(lc))
	for i, c := range lc {
		asString[i] = "CAST(" + c + " AS String) AS " + c
	}
	dir := b.TempDir()
	files := []struct{ name, format, query string }{
		{"native", "Native", "SELECT * FROM " + src},
		{"native-string", "Native", "SELECT * REPLACE (" + strings.Join(asString, ", ") + ") FROM " + src},
		{"rowbinary", "RowBinary", "SELECT * FROM " + src},
	}
	for i, f := range files {
		path := filepath.Join(dir, f.name)
		if err := e.exec(ctx, f.query+" INTO OUTFILE "+storage.QuoteString(path)+" FORMAT "+f.format); err != nil {
			b.Fatal(err)
		}
		files[i].query = path
	}
	tables := []struct{ name, create string }{
		{"null", "CREATE TABLE " + db + ".ceiling_null AS " + src + " ENGINE = Null"},
		{"mergetree", "CREATE TABLE " + db + ".ceiling_mergetree AS " + src},
	}
	for _, t := range tables {
		if err := e.exec(ctx, t.create); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.exec(ctx, "SYSTEM STOP MERGES "+db+".ceiling_mergetree"); err != nil {
		b.Fatal(err)
	}
	for _, t := range tables {
		for _, f := range files {
			for _, set := range []string{" SETTINGS optimize_on_insert = 0", ""} {
				name := fmt.Sprintf("%s/%s", t.name, f.name)
				if set == "" {
					name += "/optimize-on-insert"
				}
				b.Run(name, func(b *testing.B) {
					stmt := "INSERT INTO " + db + ".ceiling_" + t.name + " FROM INFILE " + storage.QuoteString(f.query) + set + " FORMAT " + f.format
					start, cpu0 := time.Now(), cpuTime(b)
					n := 0
					for b.Loop() {
						if err := e.exec(ctx, stmt); err != nil {
							b.Fatal(err)
						}
						n += rows
					}
					b.ReportMetric(float64(n)/(cpuTime(b)-cpu0).Seconds(), "rows/cpu-s")
					b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
				})
			}
		}
	}
}
