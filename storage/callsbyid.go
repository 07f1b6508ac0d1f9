package storage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/sipscope/sipscope/correlate"
)

// TableCallsByID holds each call's list row once more, sorted by Call-ID:
// the columns the list reads (callSelect), packed into one RowBinary
// value. A Call-ID lookup in calls reads one granule of each of its 38
// columns, about 10 ms on two cores however few rows match; here it reads
// one small granule of one column (3–4 ms). call_index still gives the
// starts of calls written before this table existed (see lookupByID).
const TableCallsByID = "calls_by_id"

// revisionCallsByID added calls_by_id.
const revisionCallsByID = 12

// callsByIDGranularity is calls_by_id's index granularity. A packed row
// is about 330 bytes, so the default 8,192 rows make a granule of 2.7 MB
// to decompress for one row; 256 make one of 85 KB.
const callsByIDGranularity = 256

func callsByIDTable() table {
	return table{
		name: TableCallsByID,
		columns: []Column{
			{Name: "date", Type: TypeDate},
			{Name: "call_id", Type: TypeString},
			{Name: "start_us", Type: TypeUInt64},
			{Name: "version", Type: TypeUInt64},
			{Name: "row", Type: TypeBytes, Compress: true},
		},
		orderBy:     "call_id, start_us",
		version:     "version",
		shardKey:    "cityHash64(call_id)",
		granularity: callsByIDGranularity,
		since:       revisionCallsByID,
	}
}

// packedCallColumns maps each column of callSelect to its position in a
// calls row (callRow), so that a packed row holds what the list would
// read from calls, in its order.
var packedCallColumns = func() []int {
	pos := map[string]int{}
	for i, c := range callsTable().columns {
		pos[c.Name] = i
	}
	var out []int
	for _, name := range strings.Split(callSelect, ", ") {
		i, ok := pos[name]
		if !ok {
			panic("storage: callSelect names " + name + ", which calls lacks")
		}
		out = append(out, i)
	}
	return out
}()

// callsByIDRows is the rows of calls_by_id for rows of calls (callRow):
// each packs the columns of callSelect, in its order. The packed values
// share chunks of packChunk bytes: one allocation per few thousand calls,
// and no copying of a buffer that grows.
func callsByIDRows(rows [][]any) ([][]any, error) {
	out := make([][]any, len(rows))
	vals := make([]any, len(packedCallColumns))
	cells := make([]any, 0, 5*len(rows))
	var buf []byte
	for i, r := range rows {
		for j, p := range packedCallColumns {
			vals[j] = r[p]
		}
		if cap(buf)-len(buf) < packChunk/16 {
			buf = make([]byte, 0, packChunk)
		}
		from := len(buf)
		var err error
		if buf, err = AppendRowBinary(buf, vals); err != nil {
			return nil, err
		}
		// date, call_id, start_us and version lead both rows.
		cells = append(cells, r[0], r[4], r[2], r[len(r)-1], buf[from:len(buf):len(buf)])
		out[i] = cells[len(cells)-5:]
	}
	return out, nil
}

// packChunk is the size of the buffers packed rows share.
const packChunk = 1 << 20

// packedCall decodes a packed row of calls_by_id.
func packedCall(row []byte) (correlate.Call, uint64, error) {
	var s callScan
	r := NewRowBinaryReader(row)
	if err := r.Row(s.dest()); err != nil {
		return correlate.Call{}, 0, err
	}
	if r.More() {
		return correlate.Call{}, 0, fmt.Errorf("%w: %d bytes after a packed call", ErrBadRow, len(row)-r.off)
	}
	c, err := s.call()
	return c, s.version, err
}

// byID is what the store knows of one Call-ID: the starts call_index
// holds and the newest packed row of each start calls_by_id holds.
type byID struct {
	starts  []uint64
	calls   map[uint64]correlate.Call
	version map[uint64]uint64
}

// complete tells whether calls_by_id has a row for every start: then the
// calls themselves need not be read.
func (b byID) complete() bool {
	for _, s := range b.starts {
		if _, ok := b.calls[s]; !ok {
			return false
		}
	}
	return len(b.starts) > 0
}

// newest is the call written last, of every start (GetCall's choice).
func (b byID) newest() correlate.Call {
	var best uint64
	var c correlate.Call
	for s, v := range b.version {
		if v >= best {
			best, c = v, b.calls[s]
		}
	}
	return c
}

// sorted is the calls, in the list's start order (newest first unless
// ascending); ties cannot occur, the start being the key.
func (b byID) sorted(ascending bool) []correlate.Call {
	out := make([]correlate.Call, 0, len(b.calls))
	for _, c := range b.calls {
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y correlate.Call) int {
		if ascending {
			return x.Start.Compare(y.Start)
		}
		return y.Start.Compare(x.Start)
	})
	return out
}

// lookupByID reads, in one query, the starts of callID from call_index
// and its packed rows from calls_by_id. A call written before calls_by_id
// existed (on a server too old to fill it from calls, or on a cluster)
// has a start without a row, which complete reports.
func lookupByID(ctx context.Context, q Querier, db, callID string) (byID, error) {
	id := QuoteString(callID)
	b := byID{calls: map[uint64]correlate.Call{}, version: map[uint64]uint64{}}
	var (
		start, version uint64
		row            []byte
	)
	err := q.Query(ctx, "SELECT start_us, version, row FROM "+db+"."+TableCallsByID+" FINAL WHERE call_id = "+id+
		" UNION ALL SELECT start_us, toUInt64(0), '' FROM "+db+"."+TableCallIndex+" WHERE call_id = "+id,
		[]any{&start, &version, &row}, func() error {
			if !slices.Contains(b.starts, start) {
				b.starts = append(b.starts, start)
			}
			if len(row) == 0 {
				return nil
			}
			c, v, err := packedCall(row)
			if err != nil {
				return err
			}
			if old, ok := b.version[start]; !ok || v > old {
				b.calls[start], b.version[start] = c, v
			}
			return nil
		})
	if err != nil {
		return byID{}, fmt.Errorf("storage: look up call %q: %w", callID, err)
	}
	return b, nil
}

// callsOfID is every call of callID in start order, from calls_by_id,
// and whether that is the whole answer: false when some call of the
// Call-ID has no packed row (then calls must be read), or when a Call-ID
// the index lacks may still be a call (a cluster's older calls).
func callsOfID(ctx context.Context, q Querier, db, callID string, ascending bool) ([]correlate.Call, bool, error) {
	b, err := lookupByID(ctx, q, db, callID)
	switch {
	case err != nil:
		return nil, false, err
	case b.complete():
		return b.sorted(ascending), true, nil
	case len(b.starts) == 0 && indexComplete(q):
		return nil, true, nil // not in the index: no such call
	}
	return nil, false, nil
}

// onlyCallID tells whether f selects by its Call-ID alone, in start
// order, without a cursor: a list lookupByID can answer (pageOf).
func onlyCallID(f CallFilter) bool {
	// A negative limit or offset goes the other way, to be refused.
	if f.CallID == "" || cmp.Or(f.Sort, SortStart) != SortStart || f.Limit < 0 || f.Offset < 0 {
		return false
	}
	return f == CallFilter{CallID: f.CallID, Limit: f.Limit, Offset: f.Offset, Sort: f.Sort, Ascending: f.Ascending, NoTotal: f.NoTotal}
}

// pageOf is the page f asks for out of every call of its Call-ID.
func pageOf(f CallFilter, calls []correlate.Call) CallPage {
	limit := min(cmp.Or(f.Limit, DefaultLimit), MaxLimit)
	from := min(f.Offset, len(calls))
	to := min(from+limit, len(calls))
	return CallPage{Calls: calls[from:to], Total: len(calls)}
}

// fillCallsByID packs the rows of calls into calls_by_id when the table is
// new to a store that holds calls (the first start after an upgrade to
// revision 12), so that lookups of older calls are as fast as of new
// ones. The engine packs them itself (formatRow, from ClickHouse 21.1;
// TestPackedRowsAreWhatTheEngineFormats holds the two encodings equal),
// about 10 s a million calls on two cores. Older servers and clusters are
// left as they are: their older calls are read from calls (lookupByID).
func fillCallsByID(ctx context.Context, q Querier, ex Execer, v ServerVersion, cfg SchemaConfig) ([]string, error) {
	if cfg.Cluster != "" || !v.AtLeast(21, 1) {
		return nil, nil
	}
	db := cfg.database()
	create := createTable(v, cfg, db, TableCallsByID, "", callsByIDTable())
	if err := ex.Exec(ctx, create); err != nil {
		return nil, fmt.Errorf("storage: create %s.%s: %w", db, TableCallsByID, err)
	}
	count := func(table string) (uint64, error) {
		var n uint64
		err := q.Query(ctx, "SELECT count() FROM "+db+"."+table, []any{&n}, func() error { return nil })
		return n, err
	}
	packed, err := count(TableCallsByID)
	if err != nil || packed > 0 {
		return nil, err
	}
	if calls, err := count(TableCalls); err != nil || calls == 0 {
		return nil, err
	}
	fill := "INSERT INTO " + db + "." + TableCallsByID + " (" + columnNames(callsByIDTable().columns) + ")" +
		" SELECT date, call_id, start_us, version, formatRow('RowBinary', " + callSelect + ") FROM " + db + "." + TableCalls
	if err := ex.Exec(ctx, fill); err != nil {
		return nil, fmt.Errorf("storage: fill %s.%s: %w\n%s", db, TableCallsByID, err, fill)
	}
	return []string{create, fill}, nil
}
