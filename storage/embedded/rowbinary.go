package embedded

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/sipscope/sipscope/storage"
)

// RowBinary is ClickHouse's plain binary row format: per row, each column's
// value back to back; String as uvarint length then bytes; integers and
// Float64 little endian; Date as UInt16 days and DateTime as UInt32 seconds
// since the epoch; Array as a uvarint element count then the elements.
// LowCardinality(String) is written and read as String.

// encodeRowBinary writes rows of cols to w.
func encodeRowBinary(w *bufio.Writer, cols []storage.Column, rows [][]any) error {
	var scratch [binary.MaxVarintLen64]byte
	for r, row := range rows {
		if len(row) != len(cols) {
			return fmt.Errorf("%w: row %d has %d values for %d columns", storage.ErrUnsupportedValue, r, len(row), len(cols))
		}
		for i, c := range cols {
			if err := encodeValue(w, scratch[:], c.Type, row[i]); err != nil {
				return fmt.Errorf("row %d column %s: %w", r, c.Name, err)
			}
		}
	}
	return nil
}

func encodeValue(w *bufio.Writer, scratch []byte, t storage.ColumnType, v any) error {
	var err error
	switch t {
	case storage.TypeString:
		s, ok := v.(string)
		if !ok {
			break
		}
		n := binary.PutUvarint(scratch, uint64(len(s)))
		if _, err = w.Write(scratch[:n]); err == nil {
			_, err = w.WriteString(s)
		}
		return err
	case storage.TypeBytes:
		b, ok := v.([]byte)
		if !ok {
			break
		}
		n := binary.PutUvarint(scratch, uint64(len(b)))
		if _, err = w.Write(scratch[:n]); err == nil {
			_, err = w.Write(b)
		}
		return err
	case storage.TypeUInt8:
		x, ok := v.(uint8)
		if !ok {
			break
		}
		return w.WriteByte(x)
	case storage.TypeUInt16:
		x, ok := v.(uint16)
		if !ok {
			break
		}
		_, err = w.Write(binary.LittleEndian.AppendUint16(scratch[:0], x))
		return err
	case storage.TypeUInt32:
		x, ok := v.(uint32)
		if !ok {
			break
		}
		_, err = w.Write(binary.LittleEndian.AppendUint32(scratch[:0], x))
		return err
	case storage.TypeUInt64:
		x, ok := v.(uint64)
		if !ok {
			break
		}
		_, err = w.Write(binary.LittleEndian.AppendUint64(scratch[:0], x))
		return err
	case storage.TypeInt64:
		x, ok := v.(int64)
		if !ok {
			break
		}
		_, err = w.Write(binary.LittleEndian.AppendUint64(scratch[:0], uint64(x)))
		return err
	case storage.TypeFloat64:
		x, ok := v.(float64)
		if !ok {
			break
		}
		_, err = w.Write(binary.LittleEndian.AppendUint64(scratch[:0], math.Float64bits(x)))
		return err
	case storage.TypeDate:
		x, ok := v.(time.Time)
		if !ok {
			break
		}
		days := max(x.Unix()/86400, 0)
		_, err = w.Write(binary.LittleEndian.AppendUint16(scratch[:0], uint16(min(days, math.MaxUint16))))
		return err
	case storage.TypeDateTime:
		x, ok := v.(time.Time)
		if !ok {
			break
		}
		secs := max(x.Unix(), 0)
		_, err = w.Write(binary.LittleEndian.AppendUint32(scratch[:0], uint32(min(secs, math.MaxUint32))))
		return err
	case storage.TypeArrayFloat64:
		x, ok := v.([]float64)
		if !ok {
			break
		}
		return writeArray(w, scratch, x, func(b []byte, f float64) []byte {
			return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
		})
	case storage.TypeArrayUInt32:
		x, ok := v.([]uint32)
		if !ok {
			break
		}
		return writeArray(w, scratch, x, binary.LittleEndian.AppendUint32)
	case storage.TypeArrayUInt64:
		x, ok := v.([]uint64)
		if !ok {
			break
		}
		return writeArray(w, scratch, x, binary.LittleEndian.AppendUint64)
	case storage.TypeArrayString:
		x, ok := v.([]string)
		if !ok {
			break
		}
		return writeArray(w, scratch, x, func(b []byte, s string) []byte {
			return append(binary.AppendUvarint(b, uint64(len(s))), s...)
		})
	}
	return fmt.Errorf("%w: %T for %s", storage.ErrUnsupportedValue, v, t.SQL())
}

// writeArray writes an Array: the element count as a uvarint, then each
// element as appendElem encodes it.
func writeArray[T any](w *bufio.Writer, scratch []byte, xs []T, appendElem func([]byte, T) []byte) error {
	n := binary.PutUvarint(scratch, uint64(len(xs)))
	if _, err := w.Write(scratch[:n]); err != nil {
		return err
	}
	buf := scratch[:0]
	for _, x := range xs {
		buf = appendElem(buf[:0], x)
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// rowBinaryReader decodes a RowBinary result into the pointers of a
// storage.Querier dest. Every decoded string and []byte is a copy: the
// input is chDB's result buffer, freed after the query.
type rowBinaryReader struct {
	buf []byte
	off int
}

func (r *rowBinaryReader) more() bool { return r.off < len(r.buf) }

func (r *rowBinaryReader) take(n int) ([]byte, error) {
	if n < 0 || len(r.buf)-r.off < n {
		return nil, fmt.Errorf("%w: RowBinary result truncated at byte %d", storage.ErrBadRow, r.off)
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b, nil
}

func (r *rowBinaryReader) stringBytes() ([]byte, error) {
	n, size := binary.Uvarint(r.buf[r.off:])
	if size <= 0 || n > uint64(len(r.buf)) {
		return nil, fmt.Errorf("%w: bad string length at byte %d", storage.ErrBadRow, r.off)
	}
	r.off += size
	return r.take(int(n))
}

// row decodes one row into dest.
func (r *rowBinaryReader) row(dest []any) error {
	for _, d := range dest {
		switch p := d.(type) {
		case *string:
			b, err := r.stringBytes()
			if err != nil {
				return err
			}
			*p = string(b)
		case *[]byte:
			b, err := r.stringBytes()
			if err != nil {
				return err
			}
			*p = append(make([]byte, 0, len(b)), b...)
		case *uint8:
			b, err := r.take(1)
			if err != nil {
				return err
			}
			*p = b[0]
		case *uint16:
			b, err := r.take(2)
			if err != nil {
				return err
			}
			*p = binary.LittleEndian.Uint16(b)
		case *uint32:
			b, err := r.take(4)
			if err != nil {
				return err
			}
			*p = binary.LittleEndian.Uint32(b)
		case *uint64:
			b, err := r.take(8)
			if err != nil {
				return err
			}
			*p = binary.LittleEndian.Uint64(b)
		case *int64:
			b, err := r.take(8)
			if err != nil {
				return err
			}
			*p = int64(binary.LittleEndian.Uint64(b))
		case *float64:
			b, err := r.take(8)
			if err != nil {
				return err
			}
			*p = math.Float64frombits(binary.LittleEndian.Uint64(b))
		case *[]float64:
			xs, err := readArray(r, 8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) })
			if err != nil {
				return err
			}
			*p = xs
		case *[]uint32:
			xs, err := readArray(r, 4, binary.LittleEndian.Uint32)
			if err != nil {
				return err
			}
			*p = xs
		case *[]uint64:
			xs, err := readArray(r, 8, binary.LittleEndian.Uint64)
			if err != nil {
				return err
			}
			*p = xs
		case *[]string:
			n, err := r.arrayLen(1)
			if err != nil {
				return err
			}
			xs := make([]string, n)
			for i := range xs {
				b, err := r.stringBytes()
				if err != nil {
					return err
				}
				xs[i] = string(b)
			}
			*p = xs
		default:
			return fmt.Errorf("%w: cannot scan into %T", storage.ErrUnsupportedValue, d)
		}
	}
	return nil
}

// arrayLen reads an Array's element count, checking that the result can
// hold that many elements of at least minSize bytes, so that a corrupt
// count cannot make the reader allocate without bound.
func (r *rowBinaryReader) arrayLen(minSize int) (int, error) {
	n, size := binary.Uvarint(r.buf[r.off:])
	if size <= 0 || n > uint64((len(r.buf)-r.off-size)/minSize) {
		return 0, fmt.Errorf("%w: bad array length at byte %d", storage.ErrBadRow, r.off)
	}
	r.off += size
	return int(n), nil
}

// readArray reads an Array of fixed-size elements. The slice is new: the
// caller keeps it.
func readArray[T any](r *rowBinaryReader, size int, decode func([]byte) T) ([]T, error) {
	n, err := r.arrayLen(size)
	if err != nil {
		return nil, err
	}
	b, err := r.take(n * size)
	if err != nil {
		return nil, err
	}
	xs := make([]T, n)
	for i := range xs {
		xs[i] = decode(b[i*size:])
	}
	return xs, nil
}
