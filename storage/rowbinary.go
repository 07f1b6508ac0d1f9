package storage

import (
	"encoding/binary"
	"fmt"
	"math"
)

// RowBinary is ClickHouse's plain binary row format: per row, each column's
// value back to back; String as uvarint length then bytes; integers and
// Float64 little endian; Array as a uvarint element count then the
// elements. The embedded store's queries return it, and calls_by_id keeps
// each call's list row in it (callsbyid.go); inserts go as Native.

// RowBinaryReader decodes RowBinary into the pointers of a Querier dest.
// Every decoded string and []byte is a copy: the input may be a result
// buffer freed after the query.
type RowBinaryReader struct {
	buf []byte
	off int
}

// NewRowBinaryReader reads the rows of buf.
func NewRowBinaryReader(buf []byte) *RowBinaryReader { return &RowBinaryReader{buf: buf} }

// More tells whether a row is left to read.
func (r *RowBinaryReader) More() bool { return r.off < len(r.buf) }

func (r *RowBinaryReader) take(n int) ([]byte, error) {
	if n < 0 || len(r.buf)-r.off < n {
		return nil, fmt.Errorf("%w: RowBinary result truncated at byte %d", ErrBadRow, r.off)
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b, nil
}

func (r *RowBinaryReader) stringBytes() ([]byte, error) {
	n, size := binary.Uvarint(r.buf[r.off:])
	if size <= 0 || n > uint64(len(r.buf)) {
		return nil, fmt.Errorf("%w: bad string length at byte %d", ErrBadRow, r.off)
	}
	r.off += size
	return r.take(int(n))
}

// Row decodes the next row into dest.
func (r *RowBinaryReader) Row(dest []any) error {
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
			return fmt.Errorf("%w: cannot scan into %T", ErrUnsupportedValue, d)
		}
	}
	return nil
}

// arrayLen reads an Array's element count, checking that the result can
// hold that many elements of at least minSize bytes, so that a corrupt
// count cannot make the reader allocate without bound.
func (r *RowBinaryReader) arrayLen(minSize int) (int, error) {
	n, size := binary.Uvarint(r.buf[r.off:])
	if size <= 0 || n > uint64((len(r.buf)-r.off-size)/minSize) {
		return 0, fmt.Errorf("%w: bad array length at byte %d", ErrBadRow, r.off)
	}
	r.off += size
	return int(n), nil
}

// readArray reads an Array of fixed-size elements. The slice is new: the
// caller keeps it.
func readArray[T any](r *RowBinaryReader, size int, decode func([]byte) T) ([]T, error) {
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

// AppendRowBinary appends one row of vals to dst in RowBinary, the
// encoding RowBinaryReader reads into pointers of the same types:
// string, []byte, uint8, uint16, uint32, uint64, int64, float64 and slices
// of float64, uint32, uint64 and string.
func AppendRowBinary(dst []byte, vals []any) ([]byte, error) {
	for _, v := range vals {
		switch x := v.(type) {
		case string:
			dst = binary.AppendUvarint(dst, uint64(len(x)))
			dst = append(dst, x...)
		case []byte:
			dst = binary.AppendUvarint(dst, uint64(len(x)))
			dst = append(dst, x...)
		case uint8:
			dst = append(dst, x)
		case uint16:
			dst = binary.LittleEndian.AppendUint16(dst, x)
		case uint32:
			dst = binary.LittleEndian.AppendUint32(dst, x)
		case uint64:
			dst = binary.LittleEndian.AppendUint64(dst, x)
		case int64:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(x))
		case float64:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(x))
		case []float64:
			dst = binary.AppendUvarint(dst, uint64(len(x)))
			for _, f := range x {
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
			}
		case []uint32:
			dst = binary.AppendUvarint(dst, uint64(len(x)))
			for _, u := range x {
				dst = binary.LittleEndian.AppendUint32(dst, u)
			}
		case []uint64:
			dst = binary.AppendUvarint(dst, uint64(len(x)))
			for _, u := range x {
				dst = binary.LittleEndian.AppendUint64(dst, u)
			}
		case []string:
			dst = binary.AppendUvarint(dst, uint64(len(x)))
			for _, e := range x {
				dst = binary.AppendUvarint(dst, uint64(len(e)))
				dst = append(dst, e...)
			}
		default:
			return dst, fmt.Errorf("%w: cannot encode %T as RowBinary", ErrUnsupportedValue, v)
		}
	}
	return dst, nil
}
