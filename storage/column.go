package storage

import (
	"fmt"
	"strings"
)

// ColumnType is a column's SQL type together with the Go type its values
// have in rows handed to an Inserter.
type ColumnType uint8

// Column types. The Go type of a value in an insert row is given for each.
const (
	TypeString   ColumnType = iota + 1 // string
	TypeBytes                          // []byte, stored as String (raw SIP messages)
	TypeUInt8                          // uint8
	TypeUInt16                         // uint16
	TypeUInt32                         // uint32
	TypeUInt64                         // uint64
	TypeInt64                          // int64
	TypeFloat64                        // float64
	TypeDate                           // time.Time at UTC midnight
	TypeDateTime                       // time.Time, whole seconds since the epoch

	// Arrays hold the per-interval and per-event figures of a stream as
	// parallel columns (one array per field, equal lengths), which both
	// ClickHouse 18.16 and chDB read and which SQL can query directly
	// (arrayMin(timeline_mos), has(dtmf_digit, '#')). A row value is never
	// nil: an empty slice is an empty array.
	TypeArrayFloat64 // []float64
	TypeArrayUInt32  // []uint32
	TypeArrayUInt64  // []uint64
	TypeArrayString  // []string
)

// SQL is the ClickHouse type name.
func (t ColumnType) SQL() string {
	switch t {
	case TypeString, TypeBytes:
		return "String"
	case TypeUInt8:
		return "UInt8"
	case TypeUInt16:
		return "UInt16"
	case TypeUInt32:
		return "UInt32"
	case TypeUInt64:
		return "UInt64"
	case TypeInt64:
		return "Int64"
	case TypeFloat64:
		return "Float64"
	case TypeDate:
		return "Date"
	case TypeDateTime:
		return "DateTime"
	case TypeArrayFloat64:
		return "Array(Float64)"
	case TypeArrayUInt32:
		return "Array(UInt32)"
	case TypeArrayUInt64:
		return "Array(UInt64)"
	case TypeArrayString:
		return "Array(String)"
	}
	return fmt.Sprintf("ColumnType(%d)", uint8(t))
}

// Column is one column of a table.
type Column struct {
	Name string
	Type ColumnType
	// LowCardinality marks strings with few distinct values (state, method,
	// transport); it becomes LowCardinality(String) on modern servers.
	LowCardinality bool
	// Compress marks big, compressible values (raw messages); it gets a ZSTD
	// codec on modern servers.
	Compress bool
	// Since is the schema revision that added the column (0 and 1: the
	// first). Migrate adds the columns of later revisions to tables an
	// older sipscope created; SchemaAt recreates an older revision.
	Since int
}

// columnNames joins the names of cols with ", ".
func columnNames(cols []Column) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Name)
	}
	return b.String()
}
