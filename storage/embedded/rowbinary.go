package embedded

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/sipscope/sipscope/storage"
)

// RowBinary is ClickHouse's plain binary row format: per row, each column's
// value back to back; String as uvarint length then bytes; integers and
// Float64 little endian; Array as a uvarint element count then the
// elements. Queries return it (Query); inserts go as Native (native.go).

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
