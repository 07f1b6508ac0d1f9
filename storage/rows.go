package storage

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/sipscope/sipscope/correlate"
)

// Inserter is the write half of a backend.
type Inserter interface {
	// Insert appends rows to one table. insert is the statement head,
	// "INSERT INTO db.table (c1, c2, ...)" with an explicit column list
	// (ClickHouse 18.16 needs it for native batches); columns describes the
	// values of every row, in order, with the Go types ColumnType documents.
	Insert(ctx context.Context, insert string, columns []Column, rows [][]any) error
}

// Write stores a batch through ins into database db. Calls, registrations
// and streams get a fresh version from clock, so this write replaces what
// earlier writes stored for the same records; messages get their insertion
// sequence from it. Tables are written messages first and calls last, so a
// reader that sees a call also sees the messages written with it.
func Write(ctx context.Context, ins Inserter, db string, b Batch, clock *VersionClock) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(b.Messages) > 0 {
		t := messagesTable()
		v := clock.Reserve(len(b.Messages))
		if ci, ok := ins.(ColumnInserter); ok {
			if err := insertColumns(ctx, ci, db, t, messageColumns(b.Messages, v), len(b.Messages)); err != nil {
				return err
			}
		} else if err := insert(ctx, ins, db, t, messageRows(b.Messages, v, len(t.columns))); err != nil {
			return err
		}
	}
	if len(b.Packets) > 0 {
		rows := make([][]any, len(b.Packets))
		for i := range b.Packets {
			rows[i] = packetRow(&b.Packets[i])
		}
		if err := insert(ctx, ins, db, packetsTable(), rows); err != nil {
			return err
		}
	}
	if len(b.Streams) > 0 {
		t := streamsTable()
		rows := make([][]any, len(b.Streams))
		v := clock.Reserve(len(rows))
		for i := range b.Streams {
			rows[i] = streamRow(&b.Streams[i], v+uint64(i))
		}
		if err := insert(ctx, ins, db, t, rows); err != nil {
			return err
		}
	}
	if len(b.Registrations) > 0 {
		t := registrationsTable()
		rows := make([][]any, len(b.Registrations))
		v := clock.Reserve(len(rows))
		for i := range b.Registrations {
			rows[i] = registrationRow(&b.Registrations[i], v+uint64(i))
		}
		if err := insert(ctx, ins, db, t, rows); err != nil {
			return err
		}
	}
	if len(b.Calls) > 0 {
		// The index first: a reader that finds a call through it may
		// miss the call for a moment, never the reverse.
		idx := make([][]any, len(b.Calls))
		for i := range b.Calls {
			idx[i] = callIndexRow(&b.Calls[i])
		}
		if err := insert(ctx, ins, db, callIndexTable(), idx); err != nil {
			return err
		}
		t := callsTable()
		rows := make([][]any, len(b.Calls))
		v := clock.Reserve(len(rows))
		for i := range b.Calls {
			rows[i] = callRow(&b.Calls[i], v+uint64(i))
		}
		byID, err := callsByIDRows(rows)
		if err != nil {
			return err
		}
		if err := insert(ctx, ins, db, t, rows); err != nil {
			return err
		}
		// After the calls: a call a Call-ID lookup finds is in the list.
		if err := insert(ctx, ins, db, callsByIDTable(), byID); err != nil {
			return err
		}
	}
	return nil
}

// messageRows is the rows of msgs, the first with sequence number seq, in
// one backing array of values: one allocation instead of one a message.
func messageRows(msgs []correlate.Message, seq uint64, columns int) [][]any {
	rows := make([][]any, len(msgs))
	vals := make([]any, 0, len(msgs)*columns)
	for i := range msgs {
		vals = appendMessageRow(vals, &msgs[i], seq+uint64(i))
		rows[i] = vals[len(vals)-columns:]
	}
	return rows
}

func insert(ctx context.Context, ins Inserter, db string, t table, rows [][]any) error {
	head := "INSERT INTO " + db + "." + t.name + " (" + columnNames(t.columns) + ")"
	if err := ins.Insert(ctx, head, t.columns, rows); err != nil {
		return fmt.Errorf("storage: insert %d rows into %s: %w", len(rows), t.name, err)
	}
	return nil
}

// The row builders below must list values in the order of their table's
// columns; TestRowsMatchColumns checks count and Go types.

func callRow(c *correlate.Call, version uint64) []any {
	return []any{
		dateOf(c.Start), secondsOf(c.Start), microsOf(c.Start), microsOf(c.End),
		c.CallID, c.FromUser, c.ToUser, addrString(c.SrcIP), addrString(c.DstIP),
		c.State, clampUint16(c.FinalCode), clampUint32(c.Messages), c.MOS,
		c.EndReason, c.ByeBy, clampUint16(c.Q850Cause), c.ReasonHeader,
		c.PDDMs, c.RingMs, c.AnswerMs, c.DurationMs,
		clampUint32(c.Retransmissions), clampUint32(c.ReInvites), flag(c.Hold), flag(c.Forked),
		c.UserAgent, c.XCallID, joinCallIDs(c.LinkedCallIDs), microsOf(c.LastUpdate), flag(c.Finished),
		c.InfoDTMF, c.SetupMs, flag(c.Partial), flag(c.CancelSeen), nonNil(c.Findings), c.Diagnosis, nonNil(c.Malformed), c.Fax, nonNil(c.Nodes), version,
	}
}

// nonNil is ss, or an empty slice for nil: an array value is never nil.
func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

func registrationRow(r *correlate.Registration, version uint64) []any {
	return []any{
		dateOf(r.Start), secondsOf(r.Start), microsOf(r.Start), microsOf(r.End),
		r.CallID, r.AoR, flag(r.Challenged), clampUint16(r.FinalCode), clampUint32(r.Messages),
		addrString(r.SrcIP), r.Contact, int64(r.Expires), r.UserAgent, clampUint32(r.Attempts),
		microsOf(r.SucceededAt), flag(r.Failed), version,
	}
}

func flag(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// joinCallIDs and splitCallIDs store a list of Call-IDs in one String
// column. Call-IDs never contain white space; any that would is cut there.
func joinCallIDs(ids []string) string {
	var b strings.Builder
	for _, id := range ids {
		if i := strings.IndexAny(id, " \t\r\n"); i >= 0 {
			id = id[:i]
		}
		if id == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(id)
	}
	return b.String()
}

func splitCallIDs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

func messageRow(m *correlate.Message, seq uint64) []any {
	return appendMessageRow(nil, m, seq)
}

// appendMessageRow appends the values of messageRow to vals.
func appendMessageRow(vals []any, m *correlate.Message, seq uint64) []any {
	isRequest := uint8(0)
	if m.IsRequest {
		isRequest = 1
	}
	raw := m.Raw
	if raw == nil {
		raw = []byte{}
	}
	return append(vals,
		dateOf(m.TS), secondsOf(m.TS), microsOf(m.TS), seq, messageHash(m),
		m.CallID, addrString(m.Src.Addr()), m.Src.Port(), addrString(m.Dst.Addr()), m.Dst.Port(),
		m.Transport, isRequest, m.Method, clampUint16(m.StatusCode), m.Reason,
		m.CSeq, m.CSeqMethod, m.FromUser, m.ToUser, raw, m.Node,
	)
}

// Times are stored as microseconds since the epoch, 0 for the zero time (and
// for anything before 1970, which DateTime cannot hold either).
func microsOf(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	us := t.UnixMicro()
	if us < 0 {
		return 0
	}
	return uint64(us)
}

// timeOfMicros inverts microsOf.
func timeOfMicros(us uint64) time.Time {
	if us == 0 || us > math.MaxInt64 {
		return time.Time{}
	}
	return time.UnixMicro(int64(us)).UTC()
}

// maxDateTime is the last second DateTime (UInt32) can hold.
const maxDateTime = math.MaxUint32

func secondsOf(t time.Time) time.Time {
	s := int64(microsOf(t) / 1e6)
	if s > maxDateTime {
		s = maxDateTime
	}
	return time.Unix(s, 0).UTC()
}

// dateOf is the UTC day of t, the partition key. Date (UInt16 days) ends in
// 2149; later times are clamped so they land in the last partition rather
// than wrap around.
func dateOf(t time.Time) time.Time {
	s := int64(microsOf(t) / 1e6)
	if s > math.MaxUint16*86400 {
		s = math.MaxUint16 * 86400
	}
	return time.Unix(s-s%86400, 0).UTC()
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func parseAddr(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: address %q: %w", ErrBadRow, s, err)
	}
	return a, nil
}

func clampUint16(v int) uint16 {
	switch {
	case v < 0:
		return 0
	case v > math.MaxUint16:
		return math.MaxUint16
	}
	return uint16(v)
}

func clampUint32(v int) uint32 {
	switch {
	case v < 0:
		return 0
	case int64(v) > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(v)
}

// messageHash identifies a message's content for deduplication: endpoints,
// transport and bytes (FNV-1a, stable across runs and machines). It is
// hash/fnv's New64a over the endpoints' MarshalBinary, the transport and
// the raw bytes, computed inline so that it allocates nothing (it runs for
// every stored message).
func messageHash(m *correlate.Message) uint64 {
	var ep [2 * (16 + 32 + 2)]byte // two AddrPorts: address, zone, port
	b := ep[:0]
	b, _ = m.Src.AppendBinary(b)
	b, _ = m.Dst.AppendBinary(b)
	h := uint64(fnvOffset64)
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime64
	}
	for i := 0; i < len(m.Transport); i++ {
		h = (h ^ uint64(m.Transport[i])) * fnvPrime64
	}
	for _, c := range m.Raw {
		h = (h ^ uint64(c)) * fnvPrime64
	}
	return h
}

// FNV-1a's 64-bit parameters (as hash/fnv).
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)
