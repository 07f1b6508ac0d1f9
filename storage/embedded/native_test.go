package embedded

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/storage"
)

func TestNativeEncodesABlockAsClickHouseDocumentsIt(t *testing.T) {
	cols := []storage.Column{{Name: "a", Type: storage.TypeUInt16}, {Name: "s", Type: storage.TypeArrayString}}
	rows := [][]any{{uint16(0x0102), []string{"x"}}, {uint16(3), []string{}}}
	want := []byte{2, 2} // columns, rows
	want = append(want, 1, 'a', 6)
	want = append(want, "UInt16"...)
	want = append(want, 2, 1, 3, 0)
	want = append(want, 1, 's', 13)
	want = append(want, "Array(String)"...)
	want = append(want, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0) // offsets: running totals
	want = append(want, 1, 'x')
	var buf bytes.Buffer
	if err := encodeNative(&buf, cols, rows); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("got  % x\nwant % x", buf.Bytes(), want)
	}
}

func TestNativeRejectsWhatItCannotEncode(t *testing.T) {
	cols := []storage.Column{{Name: "c", Type: storage.TypeUInt16}}
	cases := []struct {
		name string
		cols []storage.Column
		rows [][]any
	}{
		{"a value of the wrong Go type", cols, [][]any{{uint16(1)}, {int(5)}}},
		{"a row with a value missing", cols, [][]any{{uint16(1)}, {}}},
		{"an array of the wrong element type", []storage.Column{{Name: "a", Type: storage.TypeArrayUInt32}}, [][]any{{[]uint64{1}}}},
		{"a column type it does not know", []storage.Column{{Name: "x", Type: storage.ColumnType(200)}}, [][]any{{1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := encodeNative(&bytes.Buffer{}, c.cols, c.rows); !errors.Is(err, storage.ErrUnsupportedValue) {
				t.Errorf("error %v, want ErrUnsupportedValue", err)
			}
		})
	}
}

// allTypes has a column of every type storage.Column can have, plus the
// two variants the schema uses (LowCardinality, a compressed String), and
// an id to order by.
var allTypes = []storage.Column{
	{Name: "id", Type: storage.TypeUInt32},
	{Name: "s", Type: storage.TypeString}, {Name: "lc", Type: storage.TypeString, LowCardinality: true},
	{Name: "b", Type: storage.TypeBytes, Compress: true},
	{Name: "u8", Type: storage.TypeUInt8}, {Name: "u16", Type: storage.TypeUInt16},
	{Name: "u32", Type: storage.TypeUInt32}, {Name: "u64", Type: storage.TypeUInt64},
	{Name: "i64", Type: storage.TypeInt64}, {Name: "f", Type: storage.TypeFloat64},
	{Name: "d", Type: storage.TypeDate}, {Name: "dt", Type: storage.TypeDateTime},
	{Name: "af", Type: storage.TypeArrayFloat64}, {Name: "au32", Type: storage.TypeArrayUInt32},
	{Name: "au64", Type: storage.TypeArrayUInt64}, {Name: "as", Type: storage.TypeArrayString},
}

// createAllTypes makes a MergeTree table of allTypes named name.
func createAllTypes(t *testing.T, e engine, name string) {
	t.Helper()
	defs := make([]string, len(allTypes))
	for i, c := range allTypes {
		typ := c.Type.SQL()
		if c.LowCardinality {
			typ = "LowCardinality(" + typ + ")"
		}
		if c.Compress {
			typ += " CODEC(ZSTD(1))"
		}
		defs[i] = c.Name + " " + typ
	}
	stmt := "CREATE TABLE " + name + " (" + strings.Join(defs, ", ") + ") ENGINE = MergeTree ORDER BY id"
	if err := e.exec(context.Background(), stmt); err != nil {
		t.Fatal(err)
	}
}

// insertRowBinary stores rows the way inserts worked before Native.
func insertRowBinary(t *testing.T, e engine, table string, rows [][]any) {
	t.Helper()
	f, err := os.CreateTemp(e.s.insertDir, "rows-*.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriter(f)
	if err := encodeRowBinary(w, allTypes, rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := e.exec(context.Background(), "INSERT INTO "+table+" ("+names(allTypes)+") FROM INFILE "+
		storage.QuoteString(f.Name())+" FORMAT RowBinary"); err != nil {
		t.Fatal(err)
	}
}

func names(cols []storage.Column) string {
	ns := make([]string, len(cols))
	for i, c := range cols {
		ns[i] = c.Name
	}
	return strings.Join(ns, ", ")
}

// stored is a table's rows as the engine returns them, in RowBinary.
func stored(t *testing.T, e engine, table string) []byte {
	t.Helper()
	var out []byte
	err := e.read(context.Background(), "SELECT "+names(allTypes)+" FROM "+table+" ORDER BY id", "RowBinary",
		func(b []byte) error { out = append(out, b...); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkStoredAsGiven decodes a table's RowBinary and compares each value
// with the row given to the insert (Date as days, DateTime as seconds).
func checkStoredAsGiven(t *testing.T, out []byte, rows [][]any) {
	t.Helper()
	r := storage.NewRowBinaryReader(out)
	for i, want := range rows {
		var (
			id, u32 uint32
			s, lc   string
			b       []byte
			u8      uint8
			u16, d  uint16
			u64     uint64
			i64     int64
			f       float64
			dt      uint32
			af      []float64
			au32    []uint32
			au64    []uint64
			as      []string
		)
		if err := r.Row([]any{&id, &s, &lc, &b, &u8, &u16, &u32, &u64, &i64, &f, &d, &dt, &af, &au32, &au64, &as}); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		wd := uint16(min(max(want[10].(time.Time).Unix()/86400, 0), math.MaxUint16))
		wdt := uint32(min(max(want[11].(time.Time).Unix(), 0), math.MaxUint32))
		got := []any{id, s, lc, b, u8, u16, u32, u64, i64, math.Float64bits(f), d, dt, floatBits(af), au32, au64, as}
		exp := []any{want[0], want[1], want[2], want[3], want[4], want[5], want[6], want[7], want[8],
			math.Float64bits(want[9].(float64)), wd, wdt, floatBits(want[12].([]float64)), want[13], want[14], want[15]}
		for j := range got {
			if !reflect.DeepEqual(got[j], exp[j]) {
				t.Errorf("row %d column %s: %v, want %v", i, allTypes[j].Name, got[j], exp[j])
			}
		}
	}
	if r.More() {
		t.Error("more rows stored than inserted")
	}
}

func floatBits(fs []float64) []uint64 {
	out := make([]uint64, len(fs))
	for i, f := range fs {
		out[i] = math.Float64bits(f)
	}
	return out
}

// checkNativeStoresWhatRowBinaryStores inserts rows through Insert
// (Native) into one table and as RowBinary into another, and requires both
// tables to hold the rows exactly as given.
func checkNativeStoresWhatRowBinaryStores(t *testing.T, e engine, rows [][]any, n int) {
	t.Helper()
	native, rowBinary := fmt.Sprintf("native_%d", n), fmt.Sprintf("rowbinary_%d", n)
	createAllTypes(t, e, native)
	createAllTypes(t, e, rowBinary)
	if err := e.Insert(context.Background(), "INSERT INTO "+native+" ("+names(allTypes)+")", allTypes, rows); err != nil {
		t.Fatal(err)
	}
	insertRowBinary(t, e, rowBinary, rows)
	got, want := stored(t, e, native), stored(t, e, rowBinary)
	if !bytes.Equal(got, want) {
		t.Errorf("the Native insert stored %d bytes of rows, the RowBinary one %d; they differ", len(got), len(want))
	}
	checkStoredAsGiven(t, got, rows)
}

func TestNativeInsertStoresEveryColumnTypeAsRowBinaryDoes(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	rows := [][]any{
		{uint32(0), "x'\\\x00é", "INVITE", []byte{0, 0xff, '\n'}, uint8(255), uint16(65535), uint32(math.MaxUint32),
			uint64(math.MaxUint64), int64(math.MinInt64), math.Inf(-1), day, day.Add(13*time.Hour + 7*time.Second),
			[]float64{math.NaN(), math.Copysign(0, -1), 4.4}, []uint32{math.MaxUint32, 0}, []uint64{1 << 40}, []string{"#", "", strings.Repeat("z", 300)}},
		{uint32(1), "", "", []byte{}, uint8(0), uint16(0), uint32(0), uint64(0), int64(0), 0.0,
			time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC(), []float64{}, []uint32{}, []uint64{}, []string{}},
		{uint32(2), strings.Repeat("a", 200), "BYE", bytes.Repeat([]byte("SIP/2.0 200 OK\r\n"), 40), uint8(1), uint16(5060),
			uint32(1 << 31), uint64(1), int64(-1), 0.1, time.Unix(-86400*3, 0), time.Unix(-5, 0),
			[]float64{1}, []uint32{7}, []uint64{}, []string{"1", "2"}},
	}
	checkNativeStoresWhatRowBinaryStores(t, engine{s}, rows, 0)
}

// randomRows makes n rows of allTypes with values chosen to hit the
// encoders' edges: empty and long strings (multi-byte lengths, over the
// encoder's flush size in total), NUL bytes, extreme integers, NaN and
// -0, empty and long arrays, times before 1970 and past 2106.
func randomRows(rng *rand.Rand, n int) [][]any {
	str := func() string {
		b := make([]byte, []int{0, 1, 127, 128, 300, 20000}[rng.IntN(6)])
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	lc := []string{"INVITE", "BYE", "", "ACK", "udp", "tcp"}
	u64s := []uint64{0, 1, math.MaxUint64, 1 << 63, 1<<32 - 1}
	floats := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64, math.MaxFloat64, 4.4}
	times := []time.Time{time.Unix(0, 0), time.Unix(-1, 0), time.Unix(math.MaxUint32+10, 0),
		time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), time.Unix(rng.Int64N(1<<32), 0)}
	rows := make([][]any, n)
	for i := range rows {
		pick := func() uint64 {
			if rng.IntN(2) == 0 {
				return u64s[rng.IntN(len(u64s))]
			}
			return rng.Uint64()
		}
		af := make([]float64, rng.IntN(70))
		for k := range af {
			af[k] = floats[rng.IntN(len(floats))]
		}
		au32 := make([]uint32, rng.IntN(5))
		for k := range au32 {
			au32[k] = uint32(pick())
		}
		au64 := make([]uint64, rng.IntN(5))
		for k := range au64 {
			au64[k] = pick()
		}
		as := make([]string, rng.IntN(4))
		for k := range as {
			as[k] = str()
		}
		rows[i] = []any{uint32(i), str(), lc[rng.IntN(len(lc))], []byte(str()), uint8(pick()), uint16(pick()),
			uint32(pick()), pick(), int64(pick()), floats[rng.IntN(len(floats))],
			times[rng.IntN(len(times))], times[rng.IntN(len(times))], af, au32, au64, as}
	}
	return rows
}

func TestNativeInsertStoresRandomRowsAsRowBinaryDoes(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 11))
		checkNativeStoresWhatRowBinaryStores(t, engine{s}, randomRows(rng, 1+rng.IntN(300)), int(seed))
	}
}

// lowCardinalityRows is m rows (id, c) whose c takes distinct values
// 0..n-1 as strings, every seventh row the empty string.
func lowCardinalityRows(m, n int) [][]any {
	rows := make([][]any, m)
	for i := range rows {
		c := fmt.Sprint(i % n)
		if i%7 == 0 {
			c = ""
		}
		rows[i] = []any{uint32(i), c}
	}
	return rows
}

// A LowCardinality column's dictionary needs 8, 16 or 32 bits per index by
// its size; each width must be written as the engine itself writes it and
// store the values given.
func TestNativeLowCardinalityIsWrittenAsTheEngineWritesIt(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	e := engine{s}
	ctx := context.Background()
	cols := []storage.Column{{Name: "id", Type: storage.TypeUInt32}, {Name: "c", Type: storage.TypeString, LowCardinality: true}}
	cases := []struct {
		name    string
		m, n    int
		idxSize int
	}{
		{"a few values have 8-bit indexes", 50, 4, 1},
		{"300 values have 16-bit indexes", 1000, 300, 2},
		{"77,000 values have 32-bit indexes", 100_000, 90_000, 4},
	}
	for k, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows := lowCardinalityRows(c.m, c.n)
			// The engine's own Native for the same column, built the
			// same way: the values in row order.
			path := filepath.Join(t.TempDir(), "engine.native")
			q := fmt.Sprintf("SELECT toUInt32(number) AS id, CAST(if(number %% 7 = 0, '', toString(number %% %d)) AS LowCardinality(String)) AS c "+
				"FROM numbers(%d) INTO OUTFILE %s FORMAT Native SETTINGS max_block_size = 1000000", c.n, c.m, storage.QuoteString(path))
			if err := e.exec(ctx, q); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := encodeNative(&got, cols, rows); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("encoded %d bytes, the engine wrote %d; they differ", got.Len(), len(want))
			}
			// The index width: the flags' low byte, after the type name
			// and the key version.
			flags := bytes.Index(got.Bytes(), []byte("LowCardinality(String)")) + len("LowCardinality(String)") + 8
			if w := []int{1, 2, 4, 8}[got.Bytes()[flags]&3]; w != c.idxSize {
				t.Errorf("indexes of %d bytes, want %d", w, c.idxSize)
			}
			table := fmt.Sprintf("lc_%d", k)
			if err := e.exec(ctx, "CREATE TABLE "+table+" (id UInt32, c LowCardinality(String)) ENGINE = MergeTree ORDER BY id"); err != nil {
				t.Fatal(err)
			}
			if err := e.Insert(ctx, "INSERT INTO "+table+" (id, c)", cols, rows); err != nil {
				t.Fatal(err)
			}
			var id uint32
			var v string
			n := 0
			err = e.Query(ctx, "SELECT id, c FROM "+table+" ORDER BY id", []any{&id, &v}, func() error {
				if want := rows[n]; id != want[0] || v != want[1] {
					return fmt.Errorf("row %d: (%d, %q), want %v", n, id, v, want)
				}
				n++
				return nil
			})
			if err != nil || n != c.m {
				t.Errorf("%v; %d rows read, want %d", err, n, c.m)
			}
		})
	}
}

func TestNativeColumnsRejectWhatTheyCannotEncode(t *testing.T) {
	cols := []storage.Column{{Name: "a", Type: storage.TypeUInt16}, {Name: "s", Type: storage.TypeString, LowCardinality: true}}
	cases := []struct {
		name   string
		values []any
		rows   int
	}{
		{"a column of the wrong Go type", []any{[]uint32{1}, []string{"x"}}, 1},
		{"a column shorter than the batch", []any{[]uint16{1}, []string{}}, 1},
		{"a column missing", []any{[]uint16{1}}, 1},
		{"rows given as values", []any{uint16(1), "x"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := encodeNativeColumns(&bytes.Buffer{}, cols, c.values, c.rows); !errors.Is(err, storage.ErrUnsupportedValue) {
				t.Errorf("error %v, want ErrUnsupportedValue", err)
			}
		})
	}
}
