package storage

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/sipscope/sipscope/quality"
)

// StreamFilter selects RTP streams, bound to a call or not. Zero values
// mean "any".
type StreamFilter struct {
	From, To  time.Time  // stream start within [From, To)
	IP        netip.Addr // source or destination address
	Port      int        // source or destination port, 1-65535
	SSRC      uint32
	HasSSRC   bool    // SSRC is set (0 is a valid SSRC)
	Codec     string  // payload name as stored ("g711U"), case-insensitive
	MOSBelow  float64 // MOS under this; streams without a MOS (0) are not counted as under
	LossAbove float64 // lost packets above this percentage of the expected ones
	CallID    string  // exact
	Unbound   bool    // only streams no SDP explained (no Call-ID)
	Limit     int     // default 50, max 1000
	Offset    int
}

// StreamPage is one page of streams, newest first, with the total that
// matched.
type StreamPage struct {
	Streams []quality.Stream
	Total   int
}

// ListStreams runs the stream list for f against database db.
func ListStreams(ctx context.Context, q Querier, db string, f StreamFilter) (StreamPage, error) {
	where, limit, err := streamWhere(f)
	if err != nil {
		return StreamPage{}, err
	}
	from := " FROM " + db + "." + TableStreams + " FINAL"
	var page StreamPage
	var total uint64
	if err := q.Query(ctx, "SELECT count()"+from+where, []any{&total}, func() error { return nil }); err != nil {
		return StreamPage{}, fmt.Errorf("storage: count streams: %w", err)
	}
	page.Total = int(total)
	var s streamScan
	names, dest := s.columns()
	err = q.Query(ctx, "SELECT "+names+from+where+
		" ORDER BY start_us DESC, ssrc, src_ip, src_port, dst_ip, dst_port LIMIT "+
		QuoteInt(int64(f.Offset))+", "+QuoteInt(int64(limit)),
		dest, func() error {
			st, err := s.stream()
			page.Streams = append(page.Streams, st)
			return err
		})
	if err != nil {
		return StreamPage{}, fmt.Errorf("storage: list streams: %w", err)
	}
	return page, nil
}

func streamWhere(f StreamFilter) (where string, limit int, err error) {
	switch {
	case f.Limit < 0 || f.Offset < 0:
		return "", 0, fmt.Errorf("%w: negative limit or offset", ErrInvalidFilter)
	case !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From):
		return "", 0, fmt.Errorf("%w: time range ends before it starts", ErrInvalidFilter)
	case f.Port < 0 || f.Port > 65535:
		return "", 0, fmt.Errorf("%w: port %d", ErrInvalidFilter, f.Port)
	case math.IsNaN(f.MOSBelow) || math.IsInf(f.MOSBelow, 0) || math.IsNaN(f.LossAbove) || math.IsInf(f.LossAbove, 0):
		return "", 0, fmt.Errorf("%w: MOS or loss bound is not a number", ErrInvalidFilter)
	case f.Unbound && f.CallID != "":
		return "", 0, fmt.Errorf("%w: unbound streams have no Call-ID", ErrInvalidFilter)
	}
	limit = f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var conds []string
	if !f.From.IsZero() {
		conds = append(conds, "start_us >= "+QuoteUint(microsOf(f.From)))
	}
	if !f.To.IsZero() {
		conds = append(conds, "start_us < "+QuoteUint(microsOf(f.To)))
	}
	if f.IP.IsValid() {
		ip := QuoteString(f.IP.String())
		conds = append(conds, "(src_ip = "+ip+" OR dst_ip = "+ip+")")
	}
	if f.Port != 0 {
		p := QuoteInt(int64(f.Port))
		conds = append(conds, "(src_port = "+p+" OR dst_port = "+p+")")
	}
	if f.HasSSRC {
		conds = append(conds, "ssrc = "+QuoteUint(uint64(f.SSRC)))
	}
	if f.Codec != "" {
		conds = append(conds, "lower(payload) = lower("+QuoteString(f.Codec)+")")
	}
	if f.MOSBelow > 0 {
		conds = append(conds, "mos > 0 AND mos < "+quoteFloat(f.MOSBelow))
	}
	if f.LossAbove > 0 {
		conds = append(conds, "expected > 0 AND lost * 100 > "+quoteFloat(f.LossAbove)+" * expected")
	}
	if f.CallID != "" {
		conds = append(conds, "call_id = "+QuoteString(f.CallID))
	}
	if f.Unbound {
		conds = append(conds, "call_id = ''")
	}
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return where, limit, nil
}

// quoteFloat is a finite float as a SQL literal, parenthesised when
// negative (as QuoteInt).
func quoteFloat(v float64) string {
	s := fmt.Sprintf("%g", v)
	if strings.ContainsAny(s, "e") {
		s = fmt.Sprintf("%f", v)
	}
	if v < 0 {
		return "(" + s + ")"
	}
	return s
}
