package embedded

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/sipscope/sipscope/storage"
)

func TestRowBinaryEncodesEachTypeAsClickHouseReadsIt(t *testing.T) {
	cases := []struct {
		name string
		typ  storage.ColumnType
		v    any
		want []byte
	}{
		{"a string is a uvarint length and its bytes", storage.TypeString, "ab", []byte{2, 'a', 'b'}},
		{"a 200-byte string has a two-byte length", storage.TypeString, string(make([]byte, 200)), append([]byte{0xc8, 0x01}, make([]byte, 200)...)},
		{"bytes are written verbatim", storage.TypeBytes, []byte{0, 0xff, '\n'}, []byte{3, 0, 0xff, '\n'}},
		{"UInt16 is little endian", storage.TypeUInt16, uint16(0x0102), []byte{2, 1}},
		{"UInt32 is little endian", storage.TypeUInt32, uint32(0x01020304), []byte{4, 3, 2, 1}},
		{"Int64 is two's complement", storage.TypeInt64, int64(-2), []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"Float64 is IEEE little endian", storage.TypeFloat64, 1.0, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}},
		{"a Date is days since the epoch", storage.TypeDate, time.Date(1970, 1, 3, 0, 0, 0, 0, time.UTC), []byte{2, 0}},
		{"a DateTime is seconds since the epoch", storage.TypeDateTime, time.Unix(258, 0), []byte{2, 1, 0, 0}},
		{"a DateTime before 1970 is clamped to 0", storage.TypeDateTime, time.Unix(-5, 0), []byte{0, 0, 0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := bufio.NewWriter(&buf)
			err := encodeRowBinary(w, []storage.Column{{Name: "c", Type: c.typ}}, [][]any{{c.v}})
			if err != nil {
				t.Fatal(err)
			}
			w.Flush()
			if !bytes.Equal(buf.Bytes(), c.want) {
				t.Errorf("got % x, want % x", buf.Bytes(), c.want)
			}
		})
	}
}

func TestRowBinaryRejectsAValueOfTheWrongType(t *testing.T) {
	w := bufio.NewWriter(&bytes.Buffer{})
	err := encodeRowBinary(w, []storage.Column{{Name: "c", Type: storage.TypeUInt16}}, [][]any{{int(5)}})
	if !errors.Is(err, storage.ErrUnsupportedValue) {
		t.Errorf("error %v, want ErrUnsupportedValue", err)
	}
}

func TestRowBinaryDecodesWhatItEncodes(t *testing.T) {
	cols := []storage.Column{
		{Name: "s", Type: storage.TypeString}, {Name: "b", Type: storage.TypeBytes},
		{Name: "u8", Type: storage.TypeUInt8}, {Name: "u16", Type: storage.TypeUInt16},
		{Name: "u32", Type: storage.TypeUInt32}, {Name: "u64", Type: storage.TypeUInt64},
		{Name: "i64", Type: storage.TypeInt64}, {Name: "f", Type: storage.TypeFloat64},
	}
	rows := [][]any{
		{"x'\\\x00", []byte{0, 0xff}, uint8(7), uint16(65535), uint32(1 << 31), uint64(math.MaxUint64), int64(math.MinInt64), math.Inf(-1)},
		{"", []byte{}, uint8(0), uint16(0), uint32(0), uint64(0), int64(0), 0.1},
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := encodeRowBinary(w, cols, rows); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	var (
		s   string
		b   []byte
		u8  uint8
		u16 uint16
		u32 uint32
		u64 uint64
		i64 int64
		f   float64
	)
	dest := []any{&s, &b, &u8, &u16, &u32, &u64, &i64, &f}
	r := storage.NewRowBinaryReader(buf.Bytes())
	for i, want := range rows {
		if !r.More() {
			t.Fatalf("row %d missing", i)
		}
		if err := r.Row(dest); err != nil {
			t.Fatal(err)
		}
		got := []any{s, b, u8, u16, u32, u64, i64, f}
		for j := range want {
			if jb, ok := want[j].([]byte); ok {
				if !bytes.Equal(jb, b) {
					t.Errorf("row %d bytes: % x, want % x", i, b, jb)
				}
				continue
			}
			if got[j] != want[j] {
				t.Errorf("row %d column %d: %v, want %v", i, j, got[j], want[j])
			}
		}
	}
	if r.More() {
		t.Error("bytes left over")
	}
}

func TestRowBinaryReportsATruncatedResult(t *testing.T) {
	var s string
	var u uint64
	for _, in := range [][]byte{{5, 'a'}, {0, 1, 2}, {0x80}} {
		r := storage.NewRowBinaryReader(in)
		if err := r.Row([]any{&s, &u}); !errors.Is(err, storage.ErrBadRow) {
			t.Errorf("% x: error %v, want ErrBadRow", in, err)
		}
	}
}

func TestRowBinaryArraysAreACountThenTheElements(t *testing.T) {
	cases := []struct {
		name string
		typ  storage.ColumnType
		v    any
		want []byte
	}{
		{"an empty array is a zero count", storage.TypeArrayFloat64, []float64{}, []byte{0}},
		{"Float64 elements are IEEE little endian", storage.TypeArrayFloat64, []float64{1, -2},
			[]byte{2, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0}},
		{"UInt32 elements are little endian", storage.TypeArrayUInt32, []uint32{0x01020304}, []byte{1, 4, 3, 2, 1}},
		{"UInt64 elements are little endian", storage.TypeArrayUInt64, []uint64{1}, []byte{1, 1, 0, 0, 0, 0, 0, 0, 0}},
		{"String elements are length-prefixed", storage.TypeArrayString, []string{"#", "", "12"}, []byte{3, 1, '#', 0, 2, '1', '2'}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := bufio.NewWriter(&buf)
			if err := encodeRowBinary(w, []storage.Column{{Name: "c", Type: c.typ}}, [][]any{{c.v}}); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			if !bytes.Equal(buf.Bytes(), c.want) {
				t.Errorf("got % x, want % x", buf.Bytes(), c.want)
			}
		})
	}
}

func TestRowBinaryArraysDecodeToWhatWasEncoded(t *testing.T) {
	long := make([]string, 300) // a count of two varint bytes
	for i := range long {
		long[i] = string(rune('a' + i%26))
	}
	cols := []storage.Column{{Name: "f", Type: storage.TypeArrayFloat64}, {Name: "u32", Type: storage.TypeArrayUInt32},
		{Name: "u64", Type: storage.TypeArrayUInt64}, {Name: "s", Type: storage.TypeArrayString}}
	rows := [][]any{
		{[]float64{math.Inf(1), 0.1, -0}, []uint32{math.MaxUint32, 0}, []uint64{math.MaxUint64}, long},
		{[]float64{}, []uint32{}, []uint64{}, []string{}},
		{[]float64{4.4}, []uint32{7}, []uint64{1 << 40}, []string{"x'\\\x00"}},
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := encodeRowBinary(w, cols, rows); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	r := storage.NewRowBinaryReader(buf.Bytes())
	var kept [][]float64
	for i, want := range rows {
		var (
			f   []float64
			u32 []uint32
			u64 []uint64
			s   []string
		)
		if err := r.Row([]any{&f, &u32, &u64, &s}); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		got := []any{f, u32, u64, s}
		for j := range want {
			if fmt.Sprint(got[j]) != fmt.Sprint(want[j]) || reflect.ValueOf(got[j]).Len() != reflect.ValueOf(want[j]).Len() {
				t.Errorf("row %d column %s: %v, want %v", i, cols[j].Name, got[j], want[j])
			}
		}
		kept = append(kept, f)
	}
	if r.More() {
		t.Error("bytes left over")
	}
	// Each row's slices are its own: the result buffer is freed after the query.
	if kept[0][1] != 0.1 || kept[2][0] != 4.4 {
		t.Errorf("kept slices changed: %v", kept)
	}
}

func TestRowBinaryRejectsAnArrayLongerThanTheResult(t *testing.T) {
	for _, in := range [][]byte{
		{0xff, 0xff, 0xff, 0xff, 0x0f},    // 4 G elements
		{2, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, // two announced, one there
		{0x80},                            // a count cut short
	} {
		var f []float64
		r := storage.NewRowBinaryReader(in)
		if err := r.Row([]any{&f}); !errors.Is(err, storage.ErrBadRow) {
			t.Errorf("% x: error %v, want ErrBadRow", in, err)
		}
	}
	var s []string
	r := storage.NewRowBinaryReader([]byte{3, 1, 'a'})
	if err := r.Row([]any{&s}); !errors.Is(err, storage.ErrBadRow) {
		t.Errorf("a string array cut short: %v, want ErrBadRow", err)
	}
}
