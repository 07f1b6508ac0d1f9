package embedded

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/sipscope/sipscope/storage"
)

// Native is ClickHouse's own columnar format, the one the engine keeps its
// blocks in, so it parses in about half the CPU of RowBinary (issue 11: a
// 100,000-row sip_messages batch in 0.34–0.41 s against 0.72–0.76 s).
// A file holds blocks; each block is
//
//	uvarint column count, uvarint row count,
//	per column: its name and its type (as Strings), then all its values:
//	  fixed-size numbers little endian back to back (Date UInt16 days,
//	  DateTime UInt32 seconds), String a uvarint length and the bytes each,
//	  Array(T) one UInt64 per row (the running total of elements), then
//	  all elements as a column of T.
//
// A LowCardinality(String) column is sent as such, dictionary-encoded:
// UInt64 1 (the key version), UInt64 flags (the index width: 0 UInt8,
// 1 UInt16, 2 UInt32; 1<<9 the keys follow; 1<<10 they form a new
// dictionary), UInt64 key count, the keys as a String column with the
// empty string first, UInt64 row count, one index per row. Sent as String
// instead, the engine would cast the column and the insert would take 40 %
// more engine CPU (BenchmarkEngineInsertCeiling: 173 k against 248 k
// sip_messages rows per CPU second).

// nativeFlushAt is the buffered size at which the encoder hands its bytes
// to the writer.
const nativeFlushAt = 256 << 10

// nativeEncoder appends a block's bytes to buf and writes them to w in
// chunks, so that encoding a batch needs one small buffer whatever its size.
type nativeEncoder struct {
	w   io.Writer
	buf []byte
	err error
}

func newNativeEncoder(w io.Writer) *nativeEncoder {
	return &nativeEncoder{w: w, buf: make([]byte, 0, nativeFlushAt+64<<10)}
}

// maybeFlush writes the buffer out once it is big enough.
func (e *nativeEncoder) maybeFlush() {
	if len(e.buf) >= nativeFlushAt {
		e.flush()
	}
}

func (e *nativeEncoder) flush() {
	if e.err == nil && len(e.buf) > 0 {
		_, e.err = e.w.Write(e.buf)
	}
	e.buf = e.buf[:0]
}

func (e *nativeEncoder) str(s string) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	e.buf = append(e.buf, s...)
	e.maybeFlush()
}

func (e *nativeEncoder) bytes(b []byte) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(b)))
	e.buf = append(e.buf, b...)
	e.maybeFlush()
}

// encodeNative writes rows of cols to w as one Native block.
func encodeNative(w io.Writer, cols []storage.Column, rows [][]any) error {
	for r, row := range rows {
		if len(row) != len(cols) {
			return fmt.Errorf("%w: row %d has %d values for %d columns", storage.ErrUnsupportedValue, r, len(row), len(cols))
		}
	}
	values := make([]any, len(cols))
	for i, c := range cols {
		v, r, err := columnOf(c.Type, rows, i)
		if err != nil {
			return fmt.Errorf("row %d column %s: %w", r, c.Name, err)
		}
		values[i] = v
	}
	return encodeNativeColumns(w, cols, values, len(rows))
}

// encodeNativeColumns writes a batch given column by column as one Native
// block: values[i] is the slice of column i's values, of the Go type its
// ColumnType documents ([]string for String, []time.Time for Date, ...),
// each n long.
func encodeNativeColumns(w io.Writer, cols []storage.Column, values []any, n int) error {
	if len(values) != len(cols) {
		return fmt.Errorf("%w: %d value columns for %d columns", storage.ErrUnsupportedValue, len(values), len(cols))
	}
	for i, c := range cols {
		if err := checkColumn(c.Type, values[i], n); err != nil {
			return fmt.Errorf("column %s: %w", c.Name, err)
		}
	}
	e := newNativeEncoder(w)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(cols)))
	e.buf = binary.AppendUvarint(e.buf, uint64(n))
	for i, c := range cols {
		e.str(c.Name)
		if c.LowCardinality && c.Type == storage.TypeString {
			e.str("LowCardinality(String)")
			e.lowCardinality(values[i].([]string))
		} else {
			e.str(c.Type.SQL())
			e.column(c.Type, values[i])
		}
		if e.err != nil {
			return e.err
		}
	}
	e.flush()
	return e.err
}

// columnOf gathers column i of rows into a slice of its Go type; on a
// value of the wrong type it returns that row's index and
// ErrUnsupportedValue.
func columnOf(t storage.ColumnType, rows [][]any, i int) (any, int, error) {
	switch t {
	case storage.TypeString:
		return gather[string](t, rows, i)
	case storage.TypeBytes:
		return gather[[]byte](t, rows, i)
	case storage.TypeUInt8:
		return gather[uint8](t, rows, i)
	case storage.TypeUInt16:
		return gather[uint16](t, rows, i)
	case storage.TypeUInt32:
		return gather[uint32](t, rows, i)
	case storage.TypeUInt64:
		return gather[uint64](t, rows, i)
	case storage.TypeInt64:
		return gather[int64](t, rows, i)
	case storage.TypeFloat64:
		return gather[float64](t, rows, i)
	case storage.TypeDate, storage.TypeDateTime:
		return gather[time.Time](t, rows, i)
	case storage.TypeArrayFloat64:
		return gather[[]float64](t, rows, i)
	case storage.TypeArrayUInt32:
		return gather[[]uint32](t, rows, i)
	case storage.TypeArrayUInt64:
		return gather[[]uint64](t, rows, i)
	case storage.TypeArrayString:
		return gather[[]string](t, rows, i)
	}
	if len(rows) > 0 {
		return nil, 0, badValue(rows[0][i], t)
	}
	return nil, 0, fmt.Errorf("%w: column type %s", storage.ErrUnsupportedValue, t.SQL())
}

func gather[T any](t storage.ColumnType, rows [][]any, i int) (any, int, error) {
	out := make([]T, len(rows))
	for r, row := range rows {
		x, ok := row[i].(T)
		if !ok {
			return nil, r, badValue(row[i], t)
		}
		out[r] = x
	}
	return out, 0, nil
}

// checkColumn tells whether v is a slice of n values of t's Go type.
func checkColumn(t storage.ColumnType, v any, n int) error {
	var l int
	ok := true
	switch t {
	case storage.TypeString:
		l, ok = lenOf[string](v)
	case storage.TypeBytes:
		l, ok = lenOf[[]byte](v)
	case storage.TypeUInt8:
		l, ok = lenOf[uint8](v)
	case storage.TypeUInt16:
		l, ok = lenOf[uint16](v)
	case storage.TypeUInt32:
		l, ok = lenOf[uint32](v)
	case storage.TypeUInt64:
		l, ok = lenOf[uint64](v)
	case storage.TypeInt64:
		l, ok = lenOf[int64](v)
	case storage.TypeFloat64:
		l, ok = lenOf[float64](v)
	case storage.TypeDate, storage.TypeDateTime:
		l, ok = lenOf[time.Time](v)
	case storage.TypeArrayFloat64:
		l, ok = lenOf[[]float64](v)
	case storage.TypeArrayUInt32:
		l, ok = lenOf[[]uint32](v)
	case storage.TypeArrayUInt64:
		l, ok = lenOf[[]uint64](v)
	case storage.TypeArrayString:
		l, ok = lenOf[[]string](v)
	default:
		ok = false
	}
	if !ok {
		return fmt.Errorf("%w: %T for %s", storage.ErrUnsupportedValue, v, t.SQL())
	}
	if l != n {
		return fmt.Errorf("%w: %d values for %d rows", storage.ErrUnsupportedValue, l, n)
	}
	return nil
}

func lenOf[T any](v any) (int, bool) {
	xs, ok := v.([]T)
	return len(xs), ok
}

// column writes one column's values, v, checked by checkColumn.
func (e *nativeEncoder) column(t storage.ColumnType, v any) {
	switch t {
	case storage.TypeString:
		for _, s := range v.([]string) {
			e.str(s)
		}
	case storage.TypeBytes:
		for _, b := range v.([][]byte) {
			e.bytes(b)
		}
	case storage.TypeUInt8:
		fixed(e, v.([]uint8), func(b []byte, x uint8) []byte { return append(b, x) })
	case storage.TypeUInt16:
		fixed(e, v.([]uint16), binary.LittleEndian.AppendUint16)
	case storage.TypeUInt32:
		fixed(e, v.([]uint32), binary.LittleEndian.AppendUint32)
	case storage.TypeUInt64:
		fixed(e, v.([]uint64), binary.LittleEndian.AppendUint64)
	case storage.TypeInt64:
		fixed(e, v.([]int64), func(b []byte, x int64) []byte { return binary.LittleEndian.AppendUint64(b, uint64(x)) })
	case storage.TypeFloat64:
		fixed(e, v.([]float64), appendFloat64)
	case storage.TypeDate:
		fixed(e, v.([]time.Time), func(b []byte, x time.Time) []byte {
			days := max(x.Unix()/86400, 0)
			return binary.LittleEndian.AppendUint16(b, uint16(min(days, math.MaxUint16)))
		})
	case storage.TypeDateTime:
		fixed(e, v.([]time.Time), func(b []byte, x time.Time) []byte {
			secs := max(x.Unix(), 0)
			return binary.LittleEndian.AppendUint32(b, uint32(min(secs, math.MaxUint32)))
		})
	case storage.TypeArrayFloat64:
		array(e, v.([][]float64), func(e *nativeEncoder, xs []float64) {
			fixed(e, xs, appendFloat64)
		})
	case storage.TypeArrayUInt32:
		array(e, v.([][]uint32), func(e *nativeEncoder, xs []uint32) {
			fixed(e, xs, binary.LittleEndian.AppendUint32)
		})
	case storage.TypeArrayUInt64:
		array(e, v.([][]uint64), func(e *nativeEncoder, xs []uint64) {
			fixed(e, xs, binary.LittleEndian.AppendUint64)
		})
	case storage.TypeArrayString:
		array(e, v.([][]string), func(e *nativeEncoder, xs []string) {
			for _, x := range xs {
				e.str(x)
			}
		})
	}
}

func appendFloat64(b []byte, x float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
}

func badValue(v any, t storage.ColumnType) error {
	return fmt.Errorf("%w: %T for %s", storage.ErrUnsupportedValue, v, t.SQL())
}

// fixed writes fixed-size values.
func fixed[T any](e *nativeEncoder, xs []T, appendValue func([]byte, T) []byte) {
	for _, x := range xs {
		e.buf = appendValue(e.buf, x)
		if len(e.buf) >= nativeFlushAt {
			e.flush()
		}
	}
}

// array writes an Array column: the offsets (running element totals), then
// every row's elements through elems.
func array[T any](e *nativeEncoder, rows [][]T, elems func(*nativeEncoder, []T)) {
	var total uint64
	for _, xs := range rows {
		total += uint64(len(xs))
		e.buf = binary.LittleEndian.AppendUint64(e.buf, total)
		e.maybeFlush()
	}
	for _, xs := range rows {
		elems(e, xs)
	}
}

// lowCardinality writes a column of strings as a LowCardinality column
// with a dictionary of its distinct values. The dictionary is as large as
// the batch at most: the batch bounds it.
func (e *nativeEncoder) lowCardinality(vals []string) {
	dict := map[string]uint32{"": 0}
	keys := []string{""}
	idx := make([]uint32, len(vals))
	for r, s := range vals {
		k, seen := dict[s]
		if !seen {
			k = uint32(len(keys))
			dict[s] = k
			keys = append(keys, s)
		}
		idx[r] = k
	}
	const hasKeys, newDict = 1 << 9, 1 << 10
	width := uint64(0)
	switch {
	case len(keys) > 1<<16:
		width = 2
	case len(keys) > 1<<8:
		width = 1
	}
	e.buf = binary.LittleEndian.AppendUint64(e.buf, 1)
	e.buf = binary.LittleEndian.AppendUint64(e.buf, width|hasKeys|newDict)
	e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
	}
	e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(len(vals)))
	for _, k := range idx {
		switch width {
		case 0:
			e.buf = append(e.buf, uint8(k))
		case 1:
			e.buf = binary.LittleEndian.AppendUint16(e.buf, uint16(k))
		default:
			e.buf = binary.LittleEndian.AppendUint32(e.buf, k)
		}
		e.maybeFlush()
	}
}
