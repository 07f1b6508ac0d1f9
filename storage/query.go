package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"golang.org/x/sync/errgroup"
)

// Querier is the read half of a backend.
type Querier interface {
	// Query runs one SELECT. For each result row it stores the row's columns
	// into dest, whose elements are pointers matching the selected columns
	// in order (*string, *[]byte, *uint8, *uint16, *uint32, *uint64, *int64,
	// *float64, and for arrays *[]float64, *[]uint32, *[]uint64, *[]string),
	// then calls row. A *[]byte must receive a slice of its own for every
	// row: row keeps it.
	Query(ctx context.Context, query string, dest []any, row func() error) error
}

// Paging limits of ListCalls.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// ListCalls runs the call list for f against database db: the page of calls,
// newest first (ties by Call-ID, so pages are stable), and how many matched
// (-1 when f.NoTotal left that uncounted).
func ListCalls(ctx context.Context, q Querier, db string, f CallFilter) (CallPage, error) {
	if _, _, err := listCallsSQL(db, f, false); err != nil { // checked before any lookup
		return CallPage{}, err
	}
	if onlyCallID(f) {
		calls, ok, err := callsOfID(ctx, q, db, f.CallID, f.Ascending)
		if err != nil || ok {
			return pageOf(f, calls), err
		}
	}
	if f.CallID != "" && modernSQL(q) {
		// One query: the index's starts as an IN subquery, which a
		// modern engine uses on the calls' sort key. What it does not
		// find is no call, unless the index may lack it (a cluster's
		// calls from before revision 10): then the lookup below, which
		// falls back to the Call-ID alone.
		page, err := listCalls(ctx, q, db, f)
		if err != nil || len(page.Calls) > 0 || indexComplete(q) {
			return page, err
		}
	}
	if err := resolveCallID(ctx, q, db, &f); err != nil {
		return CallPage{}, err
	}
	if f.callStarts != nil && len(*f.callStarts) == 0 && indexComplete(q) {
		return CallPage{}, nil // not in the index: no such call
	}
	return listCalls(ctx, q, db, f)
}

func listCalls(ctx context.Context, q Querier, db string, f CallFilter) (CallPage, error) {
	list, count, err := listCallsSQL(db, f, modernSQL(q))
	if err != nil {
		return CallPage{}, err
	}
	if f.After != nil {
		// The total is the filter's, wherever the cursor stands.
		whole := f
		whole.After = nil
		if _, count, err = listCallsSQL(db, whole, modernSQL(q)); err != nil {
			return CallPage{}, err
		}
	}
	var page CallPage
	// A first page that is not full holds every match: its length is the
	// total, and the count query (a second pass over the same rows) is
	// not needed. A Call-ID search is always such a page.
	total := func() (CallPage, error) {
		if f.Offset == 0 && f.After == nil && len(page.Calls) < min(cmp.Or(f.Limit, DefaultLimit), MaxLimit) {
			page.Total = len(page.Calls)
			return page, nil
		}
		if f.NoTotal {
			page.Total = -1
			return page, nil
		}
		var n uint64
		if err := q.Query(ctx, count, []any{&n}, func() error { return nil }); err != nil {
			return CallPage{}, fmt.Errorf("storage: count calls: %w", err)
		}
		page.Total = int(n)
		return page, nil
	}
	read := func(list string) error {
		page.Calls = page.Calls[:0]
		var s callScan
		err := q.Query(ctx, list, s.dest(), func() error {
			c, err := s.call()
			if err != nil {
				return err
			}
			page.Calls = append(page.Calls, c)
			return nil
		})
		if err != nil {
			return fmt.Errorf("storage: list calls: %w", err)
		}
		return nil
	}
	bounded, want, err := boundByStart(ctx, q, db, f, list)
	if err != nil {
		return CallPage{}, err
	}
	if bounded != "" {
		if err := read(bounded); err != nil {
			return CallPage{}, err
		}
		if len(page.Calls) >= want {
			return total()
		}
		// Rows of superseded versions moved the bound too far: the
		// whole range after all.
	}
	if err := read(list); err != nil {
		return CallPage{}, err
	}
	return total()
}

// resolveCallID looks up the starts of f's Call-ID in call_index, for
// callsWhere. A Call-ID the index lacks (a cluster's calls from before
// revision 10) is then searched by the Call-ID alone.
func resolveCallID(ctx context.Context, q Querier, db string, f *CallFilter) error {
	if f.CallID == "" {
		return nil
	}
	starts, err := callStarts(ctx, q, db, f.CallID)
	if err != nil {
		return err
	}
	f.callStarts = &starts
	return nil
}

// boundByStart narrows a page sorted by start to the starts it can hold.
// FINAL merges every row the WHERE selects before it sorts, so without a
// bound the newest 50 calls of ten million read all ten million. Without
// FINAL the engine reads the table in its sort order and stops at the
// LIMIT: that finds the start of the page's last row among all rows,
// superseded versions included. The rows at or beyond that start hold the
// whole page whenever the bounded FINAL query returns a full page (want
// rows); when it returns fewer, the caller runs the unbounded list. It
// returns "" when no bound applies: another sort, or fewer rows than the
// page.
func boundByStart(ctx context.Context, q Querier, db string, f CallFilter, list string) (bounded string, want int, err error) {
	if f.Sort != "" && f.Sort != SortStart || f.CallID != "" { // a Call-ID's rows are few
		return "", 0, nil
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	where, _, err := callsWhere(db, f, modernSQL(q))
	if err != nil {
		return "", 0, err
	}
	dir, op := " DESC", " >= "
	if f.Ascending {
		dir, op = " ASC", " <= "
	}
	var edge uint64
	found := false
	err = q.Query(ctx, "SELECT start_us FROM "+db+"."+TableCalls+where+" ORDER BY start_us"+dir+
		" LIMIT "+QuoteInt(int64(f.Offset+limit-1))+", 1", []any{&edge}, func() error {
		found = true
		return nil
	})
	if err != nil {
		return "", 0, fmt.Errorf("storage: list calls: %w", err)
	}
	if !found {
		return "", 0, nil
	}
	cond := "start_us" + op + QuoteUint(edge)
	if where == "" {
		cond = " WHERE " + cond
	} else {
		cond = where + " AND " + cond
	}
	// The list is "SELECT ... FROM t FINAL<where> ORDER BY ...": the
	// bound joins its WHERE.
	head := "SELECT " + callSelect + " FROM " + db + "." + TableCalls + " FINAL" + where + " ORDER BY "
	if !strings.HasPrefix(list, head) {
		return "", 0, nil
	}
	return "SELECT " + callSelect + " FROM " + db + "." + TableCalls + " FINAL" + cond + " ORDER BY " + list[len(head):], limit, nil
}

// CountCalls counts the calls f selects per state and per final code
// (its paging and sort do not matter), for the UI's count strip.
func CountCalls(ctx context.Context, q Querier, db string, f CallFilter) (CallCounts, error) {
	f.Limit, f.Offset, f.After = 0, 0, nil
	if _, _, err := listCallsSQL(db, f, false); err != nil { // the same checks as the list
		return CallCounts{}, err
	}
	c := CallCounts{State: map[string]int{}, FinalCode: map[int]int{}}
	byID := f
	byID.Sort = "" // counts have no order
	if onlyCallID(byID) {
		// The count strip of a Call-ID search: the calls the list reads.
		calls, ok, err := callsOfID(ctx, q, db, f.CallID, false)
		if err != nil {
			return CallCounts{}, err
		}
		if ok {
			for _, call := range calls {
				c.Total++
				c.State[call.State]++
				c.FinalCode[call.FinalCode]++
			}
			return c, nil
		}
	}
	if err := resolveCallID(ctx, q, db, &f); err != nil {
		return CallCounts{}, err
	}
	where, _, err := callsWhere(db, f, modernSQL(q))
	if err != nil {
		return CallCounts{}, err
	}
	var (
		state string
		code  uint16
		n     uint64
	)
	err = q.Query(ctx, "SELECT state, final_code, count() FROM "+db+"."+TableCalls+" FINAL"+where+" GROUP BY state, final_code",
		[]any{&state, &code, &n}, func() error {
			c.Total += int(n)
			c.State[state] += int(n)
			c.FinalCode[int(code)] += int(n)
			return nil
		})
	if err != nil {
		return CallCounts{}, fmt.Errorf("storage: count calls: %w", err)
	}
	return c, nil
}

// MaxCallMessagesIDs bounds the Call-IDs of one CallMessages query.
const MaxCallMessagesIDs = MaxLimit

// CallMessages reads the SIP messages of several calls in one query, in
// capture order (then insertion order): what a multi-call export needs,
// without a query per call. Unknown Call-IDs add nothing. Once the
// messages weigh more than maxBytes (0: no bound) reading stops with
// ErrTooLarge, so that memory stays bounded.
func CallMessages(ctx context.Context, q Querier, db string, callIDs []string, maxBytes int64) ([]correlate.Message, error) {
	if len(callIDs) == 0 {
		return nil, nil
	}
	if len(callIDs) > MaxCallMessagesIDs {
		return nil, fmt.Errorf("%w: %d Call-IDs, at most %d", ErrInvalidFilter, len(callIDs), MaxCallMessagesIDs)
	}
	var in strings.Builder
	for i, id := range callIDs {
		if i > 0 {
			in.WriteString(", ")
		}
		in.WriteString(QuoteString(id))
	}
	var out []correlate.Message
	var size int64
	err := readMessages(ctx, q, db, "call_id IN ("+in.String()+")", func(m correlate.Message) error {
		size += int64(len(m.Raw))
		if maxBytes > 0 && size > maxBytes {
			return fmt.Errorf("%w: messages over %d bytes", ErrTooLarge, maxBytes)
		}
		out = append(out, m)
		return nil
	})
	if errors.Is(err, ErrTooLarge) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("storage: call messages: %w", err)
	}
	return out, nil
}

// GetCall reads one call with its messages (capture order, then insertion
// order) and streams (by start). A call that was never written gives
// ErrNotFound.
//
// Its three reads run at once, each on a connection of its own: on a
// store of millions of calls each costs a few milliseconds of planning
// and per-column reads whatever it returns, so in a row they add up to
// the detail's latency (30 ms at 5 M calls) and side by side to the
// slowest of them. The messages need nothing; the call's row and its
// streams need the call's starts, which one lookup (lookupByID) reads
// with the call's packed row.
func GetCall(ctx context.Context, q Querier, db, callID string) (CallDetail, error) {
	id := QuoteString(callID)
	var (
		d     CallDetail
		found bool
		g     errgroup.Group
	)
	g.Go(func() error {
		err := readMessages(ctx, q, db, "call_id = "+id, func(m correlate.Message) error {
			d.Messages = append(d.Messages, m)
			return nil
		})
		if err != nil {
			return fmt.Errorf("storage: get call messages: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		b, err := lookupByID(ctx, q, db, callID)
		starts := b.starts
		if err != nil || len(starts) == 0 && indexComplete(q) {
			return err // no error: not in the index, no such call
		}
		var side errgroup.Group
		side.Go(func() error {
			// Of several starts (the Call-ID began again), the newest
			// write wins.
			if b.complete() {
				d.Call, found = b.newest(), true
				return nil
			}
			var cs callScan
			err := q.Query(ctx,
				"SELECT "+callSelect+" FROM "+db+"."+TableCalls+" FINAL WHERE "+callKeyCond(starts, callID)+
					" ORDER BY version DESC LIMIT 1",
				cs.dest(), func() error {
					c, err := cs.call()
					d.Call, found = c, true
					return err
				})
			if err != nil {
				return fmt.Errorf("storage: get call: %w", err)
			}
			return nil
		})
		side.Go(func() error {
			// Streams are sorted by SSRC and addresses, not by call: the
			// date bound keeps the scan to the days from the call's
			// earliest start (less one: a clock skew between capture
			// points) instead of every day stored.
			var first time.Time
			if len(starts) > 0 {
				first = timeOfMicros(slices.Min(starts))
			}
			var ss streamScan
			names, dest := ss.columns()
			err := q.Query(ctx,
				"SELECT "+names+" FROM "+db+"."+TableStreams+" FINAL WHERE "+streamDayCond(first)+"call_id = "+id+
					" ORDER BY start_us, ssrc, src_ip, src_port",
				dest, func() error {
					s, err := ss.stream()
					d.Streams = append(d.Streams, s)
					return err
				})
			if err != nil {
				return fmt.Errorf("storage: get call streams: %w", err)
			}
			return nil
		})
		return side.Wait()
	})
	if err := g.Wait(); err != nil {
		return CallDetail{}, err
	}
	if !found {
		return CallDetail{}, fmt.Errorf("%w: call %q", ErrNotFound, callID)
	}
	return d, nil
}

// streamDayCond bounds the streams of a call that started at start to
// the partitions from the day before that start on (nothing for a call
// without a start).
func streamDayCond(start time.Time) string {
	if start.IsZero() {
		return ""
	}
	return "date >= " + QuoteString(dateOf(start).Add(-24*time.Hour).Format(time.DateOnly)) + " AND "
}

// readMessages reads the SIP messages that where selects in capture order
// (then insertion order). No FINAL: with it the engine merges whole parts
// of the table instead of using its sort key (30 ms against 5 ms for one
// call of 480,000 messages); the copies a re-import left are dropped here
// by the table's identity (call_id, ts_us, msg_hash), the first kept.
func readMessages(ctx context.Context, q Querier, db, where string, fn func(correlate.Message) error) error {
	type identity struct {
		callID     string
		tsUS, hash uint64
	}
	var (
		ms   messageScan
		hash uint64
		seen = map[identity]bool{}
	)
	return q.Query(ctx, "SELECT "+messageSelect+", msg_hash FROM "+db+"."+TableMessages+" WHERE "+where+" ORDER BY ts_us, seq",
		append(ms.dest(), &hash), func() error {
			id := identity{ms.callID, ms.tsUS, hash}
			if seen[id] {
				return nil
			}
			seen[id] = true
			m, err := ms.message()
			if err != nil {
				return err
			}
			return fn(m)
		})
}

// listCallsSQL builds the page and count statements for f. Every value from
// f goes through QuoteString or an integer formatter.
func listCallsSQL(db string, f CallFilter, modern bool) (list, count string, err error) {
	if f.Limit < 0 {
		return "", "", fmt.Errorf("%w: negative limit %d", ErrInvalidFilter, f.Limit)
	}
	if f.Offset < 0 {
		return "", "", fmt.Errorf("%w: negative offset %d", ErrInvalidFilter, f.Offset)
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return "", "", fmt.Errorf("%w: time range ends (%s) before it starts (%s)", ErrInvalidFilter, f.To, f.From)
	}
	if f.FinalCode < 0 || f.FinalCode > 65535 {
		return "", "", fmt.Errorf("%w: final code %d", ErrInvalidFilter, f.FinalCode)
	}
	if f.After != nil && (f.Offset != 0 || f.Sort != "" && f.Sort != SortStart) {
		return "", "", fmt.Errorf("%w: a cursor pages the start order from its call, without an offset", ErrInvalidFilter)
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	where, order, err := callsWhere(db, f, modern)
	if err != nil {
		return "", "", err
	}
	from := " FROM " + db + "." + TableCalls + " FINAL"
	count = "SELECT count()" + from + where
	// LIMIT offset, count: the form 18.16 understands.
	list = "SELECT " + callSelect + from + where +
		" ORDER BY " + order + " LIMIT " + QuoteInt(int64(f.Offset)) + ", " + QuoteInt(int64(limit))
	return list, count, nil
}

// callsWhere is the WHERE clause (with its keyword, or empty) of f's
// conditions, and the ORDER BY of its pages. Every value is quoted.
func callsWhere(db string, f CallFilter, modern bool) (where, order string, err error) {
	var conds []string
	if !f.From.IsZero() {
		conds = append(conds, "start_us >= "+QuoteUint(microsOf(f.From)))
	}
	if !f.To.IsZero() {
		conds = append(conds, "start_us < "+QuoteUint(microsOf(f.To)))
	}
	if f.FromUser != "" {
		conds = append(conds, userMatch("from_user", f.FromUser))
	}
	if f.ToUser != "" {
		conds = append(conds, userMatch("to_user", f.ToUser))
	}
	switch {
	case f.CallID != "" && f.callStarts != nil:
		conds = append(conds, callKeyCond(*f.callStarts, f.CallID))
	case f.CallID != "":
		// The index gives the starts, the prefix of the calls' sort key.
		id := QuoteString(f.CallID)
		conds = append(conds, "start_us GLOBAL IN (SELECT start_us FROM "+db+"."+TableCallIndex+" WHERE call_id = "+id+")",
			"call_id = "+id)
	}
	if f.IP.IsValid() {
		ip := QuoteString(f.IP.String())
		conds = append(conds, "(src_ip = "+ip+" OR dst_ip = "+ip+")")
	}
	if f.State != "" {
		conds = append(conds, "state = "+QuoteString(f.State))
	}
	if f.EndReason != "" {
		conds = append(conds, "end_reason = "+QuoteString(f.EndReason))
	}
	if f.FinalCode != 0 {
		conds = append(conds, "final_code = "+QuoteInt(int64(f.FinalCode)))
	}
	if f.Query != "" {
		conds = append(conds, "("+contains("call_id", f.Query)+" OR "+contains("from_user", f.Query)+
			" OR "+contains("to_user", f.Query)+")")
	}
	if f.After != nil {
		// The pages run "start_us DESC|ASC, call_id": after a call come the
		// later (ASC) or earlier (DESC) starts, and its start's greater
		// Call-IDs.
		at, op := QuoteUint(microsOf(f.After.Start)), " < "
		if f.Ascending {
			op = " > "
		}
		conds = append(conds, "(start_us"+op+at+" OR (start_us = "+at+" AND call_id > "+QuoteString(f.After.CallID)+"))")
	}
	more, order, err := extendedCallConds(db, f, modern)
	if err != nil {
		return "", "", err
	}
	conds = append(conds, more...)
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return where, order, nil
}

// contains is a case-insensitive (ASCII) substring test. position() rather
// than LIKE, so that % and _ in user input mean themselves.
func contains(column, sub string) string {
	return "positionCaseInsensitive(" + column + ", " + QuoteString(sub) + ") > 0"
}

// The scans below pair a SELECT column list with the Go fields it is read
// into; the order in the string and in dest() must match.

const callSelect = "call_id, from_user, to_user, src_ip, dst_ip, state, final_code, start_us, end_us, messages, mos, " +
	"end_reason, bye_by, q850_cause, reason_header, pdd_ms, ring_ms, answer_ms, duration_ms, " +
	"retransmissions, re_invites, hold, forked, user_agent, x_call_id, linked_call_ids, last_update_us, finished, info_dtmf, " +
	"setup_ms, partial, cancel_seen, findings, diagnosis, malformed, fax, nodes, " +
	// ClickHouse 18.16 cannot read a Distributed table FINAL unless the
	// version column is selected ("Cannot find column version").
	"version"

type callScan struct {
	callID, fromUser, toUser, srcIP, dstIP, state string
	finalCode                                     uint16
	startUS, endUS                                uint64
	messages                                      uint32
	mos                                           float64
	endReason, byeBy                              string
	q850                                          uint16
	reasonHeader                                  string
	pdd, ring, answer, duration                   float64
	retrans, reInvites                            uint32
	hold, forked                                  uint8
	userAgent, xCallID, linked                    string
	lastUpdateUS                                  uint64
	finished                                      uint8
	infoDTMF                                      string
	setup                                         float64
	partial, cancelSeen                           uint8
	findings                                      []string
	diagnosis                                     string
	malformed                                     []string
	fax                                           string
	nodes                                         []string
	version                                       uint64 // read only for FINAL over Distributed
}

func (s *callScan) dest() []any {
	return []any{&s.callID, &s.fromUser, &s.toUser, &s.srcIP, &s.dstIP, &s.state,
		&s.finalCode, &s.startUS, &s.endUS, &s.messages, &s.mos,
		&s.endReason, &s.byeBy, &s.q850, &s.reasonHeader, &s.pdd, &s.ring, &s.answer, &s.duration,
		&s.retrans, &s.reInvites, &s.hold, &s.forked, &s.userAgent, &s.xCallID, &s.linked,
		&s.lastUpdateUS, &s.finished, &s.infoDTMF, &s.setup, &s.partial, &s.cancelSeen, &s.findings, &s.diagnosis, &s.malformed, &s.fax, &s.nodes, &s.version}
}

func (s *callScan) call() (correlate.Call, error) {
	src, err := parseAddr(s.srcIP)
	if err != nil {
		return correlate.Call{}, err
	}
	dst, err := parseAddr(s.dstIP)
	if err != nil {
		return correlate.Call{}, err
	}
	return correlate.Call{
		CallID: s.callID, FromUser: s.fromUser, ToUser: s.toUser,
		SrcIP: src, DstIP: dst, State: s.state, FinalCode: int(s.finalCode),
		Start: timeOfMicros(s.startUS), End: timeOfMicros(s.endUS),
		Messages: int(s.messages), MOS: s.mos,
		EndReason: s.endReason, ByeBy: s.byeBy, Q850Cause: int(s.q850), ReasonHeader: s.reasonHeader,
		PDDMs: s.pdd, RingMs: s.ring, AnswerMs: s.answer, DurationMs: s.duration,
		Retransmissions: int(s.retrans), ReInvites: int(s.reInvites), Hold: s.hold != 0, Forked: s.forked != 0,
		UserAgent: s.userAgent, XCallID: s.xCallID, LinkedCallIDs: splitCallIDs(s.linked),
		LastUpdate: timeOfMicros(s.lastUpdateUS), Finished: s.finished != 0, InfoDTMF: s.infoDTMF,
		SetupMs: s.setup, Partial: s.partial != 0, CancelSeen: s.cancelSeen != 0, Findings: s.findings, Diagnosis: s.diagnosis,
		Malformed: s.malformed, Fax: s.fax, Nodes: s.nodes,
	}, nil
}

const messageSelect = "ts_us, call_id, src_ip, src_port, dst_ip, dst_port, transport, is_request, method, " +
	"status_code, reason, cseq, cseq_method, from_user, to_user, raw, node"

type messageScan struct {
	tsUS                         uint64
	callID, srcIP                string
	srcPort                      uint16
	dstIP                        string
	dstPort                      uint16
	transport                    string
	isRequest                    uint8
	method                       string
	statusCode                   uint16
	reason                       string
	cseq                         uint32
	cseqMethod, fromUser, toUser string
	raw                          []byte
	node                         string
}

func (s *messageScan) dest() []any {
	return []any{&s.tsUS, &s.callID, &s.srcIP, &s.srcPort, &s.dstIP, &s.dstPort, &s.transport,
		&s.isRequest, &s.method, &s.statusCode, &s.reason, &s.cseq, &s.cseqMethod,
		&s.fromUser, &s.toUser, &s.raw, &s.node}
}

func (s *messageScan) message() (correlate.Message, error) {
	src, err := addrPort(s.srcIP, s.srcPort)
	if err != nil {
		return correlate.Message{}, err
	}
	dst, err := addrPort(s.dstIP, s.dstPort)
	if err != nil {
		return correlate.Message{}, err
	}
	return correlate.Message{
		TS: timeOfMicros(s.tsUS), Src: src, Dst: dst, Transport: s.transport,
		CallID: s.callID, IsRequest: s.isRequest != 0, Method: s.method,
		StatusCode: int(s.statusCode), Reason: s.reason, CSeq: s.cseq,
		CSeqMethod: s.cseqMethod, FromUser: s.fromUser, ToUser: s.toUser, Raw: s.raw, Node: s.node,
	}, nil
}

func addrPort(ip string, port uint16) (netip.AddrPort, error) {
	a, err := parseAddr(ip)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if !a.IsValid() && port == 0 {
		return netip.AddrPort{}, nil
	}
	return netip.AddrPortFrom(a, port), nil
}
