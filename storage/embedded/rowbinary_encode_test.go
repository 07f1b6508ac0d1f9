package embedded

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/sipscope/sipscope/storage"
)

// encodeRowBinary writes rows of cols to w as RowBinary: per row, each
// column's value back to back; String as uvarint length then bytes;
// integers and Float64 little endian; Date as UInt16 days and DateTime as
// UInt32 seconds since the epoch; Array as a uvarint element count then the
// elements; LowCardinality(String) as String. Inserts used it before the
// Native encoder; the tests keep it as the second, row-wise encoder that
// the Native encoder's output must store identically.
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
