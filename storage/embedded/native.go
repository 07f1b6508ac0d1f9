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
	e := newNativeEncoder(w)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(cols)))
	e.buf = binary.AppendUvarint(e.buf, uint64(len(rows)))
	for i, c := range cols {
		e.str(c.Name)
		var (
			r   int
			err error
		)
		if c.LowCardinality && c.Type == storage.TypeString {
			e.str("LowCardinality(String)")
			r, err = e.lowCardinality(rows, i)
		} else {
			e.str(c.Type.SQL())
			r, err = e.column(c.Type, rows, i)
		}
		if err != nil {
			return fmt.Errorf("row %d column %s: %w", r, c.Name, err)
		}
		if e.err != nil {
			return e.err
		}
	}
	e.flush()
	return e.err
}

// column writes the values of column i of every row; on a value of the
// wrong Go type it returns that row's index and ErrUnsupportedValue.
func (e *nativeEncoder) column(t storage.ColumnType, rows [][]any, i int) (int, error) {
	switch t {
	case storage.TypeString:
		for r, row := range rows {
			s, ok := row[i].(string)
			if !ok {
				return r, badValue(row[i], t)
			}
			e.str(s)
		}
	case storage.TypeBytes:
		for r, row := range rows {
			b, ok := row[i].([]byte)
			if !ok {
				return r, badValue(row[i], t)
			}
			e.bytes(b)
		}
	case storage.TypeUInt8:
		return fixed(e, rows, i, t, func(b []byte, x uint8) []byte { return append(b, x) })
	case storage.TypeUInt16:
		return fixed(e, rows, i, t, binary.LittleEndian.AppendUint16)
	case storage.TypeUInt32:
		return fixed(e, rows, i, t, binary.LittleEndian.AppendUint32)
	case storage.TypeUInt64:
		return fixed(e, rows, i, t, binary.LittleEndian.AppendUint64)
	case storage.TypeInt64:
		return fixed(e, rows, i, t, func(b []byte, x int64) []byte { return binary.LittleEndian.AppendUint64(b, uint64(x)) })
	case storage.TypeFloat64:
		return fixed(e, rows, i, t, appendFloat64)
	case storage.TypeDate:
		return fixed(e, rows, i, t, func(b []byte, x time.Time) []byte {
			days := max(x.Unix()/86400, 0)
			return binary.LittleEndian.AppendUint16(b, uint16(min(days, math.MaxUint16)))
		})
	case storage.TypeDateTime:
		return fixed(e, rows, i, t, func(b []byte, x time.Time) []byte {
			secs := max(x.Unix(), 0)
			return binary.LittleEndian.AppendUint32(b, uint32(min(secs, math.MaxUint32)))
		})
	case storage.TypeArrayFloat64:
		return array(e, rows, i, t, func(e *nativeEncoder, xs []float64) {
			for _, x := range xs {
				e.buf = appendFloat64(e.buf, x)
			}
			e.maybeFlush()
		})
	case storage.TypeArrayUInt32:
		return array(e, rows, i, t, func(e *nativeEncoder, xs []uint32) {
			for _, x := range xs {
				e.buf = binary.LittleEndian.AppendUint32(e.buf, x)
			}
			e.maybeFlush()
		})
	case storage.TypeArrayUInt64:
		return array(e, rows, i, t, func(e *nativeEncoder, xs []uint64) {
			for _, x := range xs {
				e.buf = binary.LittleEndian.AppendUint64(e.buf, x)
			}
			e.maybeFlush()
		})
	case storage.TypeArrayString:
		return array(e, rows, i, t, func(e *nativeEncoder, xs []string) {
			for _, x := range xs {
				e.str(x)
			}
		})
	default:
		if len(rows) > 0 {
			return 0, badValue(rows[0][i], t)
		}
	}
	return 0, nil
}

func appendFloat64(b []byte, x float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
}

func badValue(v any, t storage.ColumnType) error {
	return fmt.Errorf("%w: %T for %s", storage.ErrUnsupportedValue, v, t.SQL())
}

// fixed writes a column of fixed-size values of Go type T.
func fixed[T any](e *nativeEncoder, rows [][]any, i int, t storage.ColumnType, appendValue func([]byte, T) []byte) (int, error) {
	for r, row := range rows {
		x, ok := row[i].(T)
		if !ok {
			return r, badValue(row[i], t)
		}
		e.buf = appendValue(e.buf, x)
		e.maybeFlush()
	}
	return 0, nil
}

// array writes an Array column: the offsets (running element totals), then
// every row's elements through elems.
func array[T any](e *nativeEncoder, rows [][]any, i int, t storage.ColumnType, elems func(*nativeEncoder, []T)) (int, error) {
	var total uint64
	for r, row := range rows {
		xs, ok := row[i].([]T)
		if !ok {
			return r, badValue(row[i], t)
		}
		total += uint64(len(xs))
		e.buf = binary.LittleEndian.AppendUint64(e.buf, total)
		e.maybeFlush()
	}
	for _, row := range rows {
		elems(e, row[i].([]T))
	}
	return 0, nil
}

// lowCardinality writes column i of rows, strings, as a LowCardinality
// column with a dictionary of its distinct values. The dictionary is as
// large as the batch at most: the batch bounds it.
func (e *nativeEncoder) lowCardinality(rows [][]any, i int) (int, error) {
	dict := map[string]uint32{"": 0}
	keys := []string{""}
	idx := make([]uint32, len(rows))
	for r, row := range rows {
		s, ok := row[i].(string)
		if !ok {
			return r, badValue(row[i], storage.TypeString)
		}
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
	e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(len(rows)))
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
	return 0, nil
}
