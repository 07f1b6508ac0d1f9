package storage

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
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
	case TypeArrayFloat64:
		return "[]float64"
	case TypeArrayUInt32:
		return "[]uint32"
	case TypeArrayUInt64:
		return "[]uint64"
	case TypeArrayString:
		return "[]string"
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
		{packetsTable(), packetRow(&Packet{})},
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
	row := callRow(&correlate.Call{FinalCode: 70000, Messages: -3, Q850Cause: 1 << 20, Retransmissions: -1}, 1)
	got := map[string]any{}
	for i, c := range callsTable().columns {
		got[c.Name] = row[i]
	}
	if got["final_code"].(uint16) != 65535 || got["messages"].(uint32) != 0 ||
		got["q850_cause"].(uint16) != 65535 || got["retransmissions"].(uint32) != 0 {
		t.Errorf("final_code %v messages %v q850_cause %v retransmissions %v",
			got["final_code"], got["messages"], got["q850_cause"], got["retransmissions"])
	}
}

func TestEveryCallFieldHasAColumn(t *testing.T) {
	c := correlate.Call{
		CallID: "c", FromUser: "f", ToUser: "t", State: "answered", FinalCode: 200, Messages: 7, MOS: 4.1,
		EndReason: correlate.EndCalleeBye, ByeBy: correlate.SideCallee, Q850Cause: 16, ReasonHeader: "Q.850;cause=16",
		PDDMs: 1.5, RingMs: 2.5, AnswerMs: 4, DurationMs: 60000.25, Retransmissions: 3, ReInvites: 2, Hold: true, Forked: true,
		UserAgent: "ua", XCallID: "x", LinkedCallIDs: []string{"l1@h", "l2@h"}, LastUpdate: time.Unix(5, 0), Finished: true,
	}
	row := callRow(&c, 9)
	got := map[string]any{}
	for i, col := range callsTable().columns {
		got[col.Name] = row[i]
	}
	want := map[string]any{
		"end_reason": "callee_bye", "bye_by": "callee", "q850_cause": uint16(16), "reason_header": "Q.850;cause=16",
		"pdd_ms": 1.5, "ring_ms": 2.5, "answer_ms": 4.0, "duration_ms": 60000.25,
		"retransmissions": uint32(3), "re_invites": uint32(2), "hold": uint8(1), "forked": uint8(1),
		"user_agent": "ua", "x_call_id": "x", "linked_call_ids": "l1@h l2@h", "last_update_us": uint64(5e6),
		"finished": uint8(1), "version": uint64(9),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	r := correlate.Registration{CallID: "r", Contact: "sip:a@h", Expires: -1, UserAgent: "z", Attempts: 3,
		SucceededAt: time.Unix(7, 0), Failed: true}
	row = registrationRow(&r, 1)
	got = map[string]any{}
	for i, col := range registrationsTable().columns {
		got[col.Name] = row[i]
	}
	want = map[string]any{"contact": "sip:a@h", "expires": int64(-1), "user_agent": "z", "attempts": uint32(3),
		"succeeded_us": uint64(7e6), "failed": uint8(1)}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("registration %s = %#v, want %#v", k, got[k], v)
		}
	}
}

func TestLinkedCallIDsSurviveTheirColumn(t *testing.T) {
	tests := []struct {
		ids    []string
		stored string
		back   []string
	}{
		{nil, "", nil},
		{[]string{}, "", nil},
		{[]string{"a@h"}, "a@h", []string{"a@h"}},
		{[]string{"a@h", "b/c+d@[2001:db8::1]"}, "a@h b/c+d@[2001:db8::1]", []string{"a@h", "b/c+d@[2001:db8::1]"}},
		{[]string{"bad id", "", "ok"}, "bad ok", []string{"bad", "ok"}},
	}
	for _, tt := range tests {
		s := joinCallIDs(tt.ids)
		if s != tt.stored || !slices.Equal(splitCallIDs(s), tt.back) {
			t.Errorf("%q stored as %q, read back %q", tt.ids, s, splitCallIDs(s))
		}
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
	if want := "db.sip_messages db.rtp_streams db.registrations db.call_index db.calls db.calls_by_id"; strings.Join(tables, " ") != want {
		t.Errorf("tables written %q, want %q", tables, want)
	}
	if !strings.HasPrefix(rec.heads[4], "INSERT INTO db.calls (date, start_time, start_us, ") {
		t.Errorf("insert head %q", rec.heads[4])
	}
	if idx := rec.rows[3]; len(idx) != 2 || idx[0][1] != "a" {
		t.Errorf("the call index rows %v, want one per call written", idx)
	}
	calls := rec.rows[4]
	last := len(callsTable().columns) - 1 // the version
	v1, v2 := calls[0][last].(uint64), calls[1][last].(uint64)
	if v2 <= v1 {
		t.Errorf("the later call in a batch has version %d, not above %d", v2, v1)
	}
	// Each call's packed row decodes to it, at its version, though the
	// packed rows of a batch share one buffer.
	for i, row := range rec.rows[5] {
		c, v, err := packedCall(row[4].([]byte))
		if err != nil || c.CallID != "a" || v != calls[i][last].(uint64) || row[3] != calls[i][last] {
			t.Errorf("packed row %d: %+v at version %d (%v); want call a at %d", i, c, v, err, calls[i][last])
		}
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
