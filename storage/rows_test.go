package storage

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/quality"
)

// goType is the Go type ColumnType documents for insert rows.
func goType(t ColumnType) string {
	switch t {
	case TypeString:
		return "string"
	case TypeBytes:
		return "[]uint8"
	case TypeUInt8:
		return "uint8"
	case TypeUInt16:
		return "uint16"
	case TypeUInt32:
		return "uint32"
	case TypeUInt64:
		return "uint64"
	case TypeInt64:
		return "int64"
	case TypeFloat64:
		return "float64"
	case TypeDate, TypeDateTime:
		return "time.Time"
	}
	return "?"
}

func TestRowsMatchColumns(t *testing.T) {
	cases := []struct {
		table table
		row   []any
	}{
		{callsTable(), callRow(&correlate.Call{}, 1)},
		{registrationsTable(), registrationRow(&correlate.Registration{}, 1)},
		{messagesTable(), messageRow(&correlate.Message{}, 1)},
		{streamsTable(), streamRow(&quality.Stream{}, 1)},
	}
	for _, c := range cases {
		t.Run(c.table.name, func(t *testing.T) {
			if len(c.row) != len(c.table.columns) {
				t.Fatalf("%d values for %d columns", len(c.row), len(c.table.columns))
			}
			for i, col := range c.table.columns {
				if got := fmt.Sprintf("%T", c.row[i]); got != goType(col.Type) {
					t.Errorf("column %s (%s): value of type %s, want %s", col.Name, col.Type.SQL(), got, goType(col.Type))
				}
			}
		})
	}
}

func TestTimesAreStoredAsMicrosecondsAndUTCDays(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	// 2024-03-01 02:00 in India is still 29 February in UTC.
	ts := time.Date(2024, 3, 1, 2, 0, 0, 123456789, ist)
	row := messageRow(&correlate.Message{TS: ts}, 7)
	if got, want := row[0].(time.Time), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("date %v, want %v", got, want)
	}
	if got := row[1].(time.Time); got.Unix() != ts.Unix() || got.Nanosecond() != 0 {
		t.Errorf("ts %v, want whole seconds of %v", got, ts)
	}
	if got, want := row[2].(uint64), uint64(ts.UnixMicro()); got != want {
		t.Errorf("ts_us %d, want %d", got, want)
	}
	if got := timeOfMicros(row[2].(uint64)); !got.Equal(ts.Truncate(time.Microsecond)) || got.Location() != time.UTC {
		t.Errorf("read back %v", got)
	}
	zero := messageRow(&correlate.Message{}, 7)
	if zero[2].(uint64) != 0 || !timeOfMicros(0).IsZero() {
		t.Errorf("the zero time is not stored as 0 and read back as zero")
	}
	if !zero[0].(time.Time).Equal(time.Unix(0, 0)) {
		t.Errorf("the zero time's partition is %v, want the epoch", zero[0])
	}
	before1970 := messageRow(&correlate.Message{TS: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}, 7)
	if before1970[2].(uint64) != 0 {
		t.Errorf("a time before 1970 is stored as %d", before1970[2])
	}
}

func TestOutOfRangeNumbersAreClampedNotWrapped(t *testing.T) {
	row := callRow(&correlate.Call{FinalCode: 70000, Messages: -3}, 1)
	if row[10].(uint16) != 65535 || row[11].(uint32) != 0 {
		t.Errorf("final_code %v messages %v", row[10], row[11])
	}
}

// recorder is an Inserter that keeps what it is given.
type recorder struct {
	heads []string
	rows  [][][]any
	fail  error
}

func (r *recorder) Insert(_ context.Context, head string, _ []Column, rows [][]any) error {
	r.heads = append(r.heads, head)
	r.rows = append(r.rows, rows)
	return r.fail
}

func TestWriteOrdersTablesAndVersionsRecords(t *testing.T) {
	var rec recorder
	var clock VersionClock
	b := Batch{
		Calls:         []correlate.Call{{CallID: "a"}, {CallID: "a"}},
		Registrations: []correlate.Registration{{CallID: "r"}},
		Messages:      []correlate.Message{{CallID: "a", Src: netip.MustParseAddrPort("192.0.2.1:5060")}},
		Streams:       []quality.Stream{{SSRC: 1}},
	}
	if err := Write(context.Background(), &rec, "db", b, &clock); err != nil {
		t.Fatal(err)
	}
	var tables []string
	for _, h := range rec.heads {
		tables = append(tables, strings.Fields(h)[2])
	}
	if want := "db.sip_messages db.rtp_streams db.registrations db.calls"; strings.Join(tables, " ") != want {
		t.Errorf("tables written %q, want %q", tables, want)
	}
	if !strings.HasPrefix(rec.heads[3], "INSERT INTO db.calls (date, start_time, start_us, ") {
		t.Errorf("insert head %q", rec.heads[3])
	}
	calls := rec.rows[3]
	v1, v2 := calls[0][13].(uint64), calls[1][13].(uint64)
	if v2 <= v1 {
		t.Errorf("the later call in a batch has version %d, not above %d", v2, v1)
	}
	if m := rec.rows[0][0][3].(uint64); m >= v1 {
		t.Errorf("messages written first have seq %d, not below the calls' %d", m, v1)
	}

	rec = recorder{fail: errors.New("disk full")}
	err := Write(context.Background(), &rec, "db", b, &clock)
	if err == nil || !strings.Contains(err.Error(), "sip_messages") || len(rec.heads) != 1 {
		t.Errorf("a failed insert: error %v after %d inserts; want it to stop at the first, named", err, len(rec.heads))
	}
}

func TestAnEmptyBatchWritesNothing(t *testing.T) {
	var rec recorder
	if err := Write(context.Background(), &rec, "db", Batch{}, &VersionClock{}); err != nil || len(rec.heads) != 0 {
		t.Errorf("error %v, %d inserts", err, len(rec.heads))
	}
}
