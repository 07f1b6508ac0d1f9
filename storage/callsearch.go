package storage

import (
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// userMatch is the SQL of a caller or callee filter. A leading '+' is
// ignored on both sides, so that an E.164 number matches with or without
// it. Without '*' the value is a case-insensitive substring (the filter's
// original meaning); with '*' it is a wildcard pattern over the whole user
// part, '*' standing for any run of characters.
func userMatch(column, v string) string {
	col := "replaceRegexpOne(" + column + ", '^\\\\+', '')"
	v = strings.TrimPrefix(v, "+")
	if !strings.Contains(v, "*") {
		return "positionCaseInsensitive(" + col + ", " + QuoteString(v) + ") > 0"
	}
	return "lower(" + col + ") LIKE " + QuoteString(likePattern(strings.ToLower(v)))
}

// textMatch is userMatch without the E.164 rule: a case-insensitive
// substring, or a '*' wildcard pattern over the whole value.
func textMatch(column, v string) string {
	if !strings.Contains(v, "*") {
		return "positionCaseInsensitive(" + column + ", " + QuoteString(v) + ") > 0"
	}
	return "lower(" + column + ") LIKE " + QuoteString(likePattern(strings.ToLower(v)))
}

// likePattern turns a '*' wildcard into a LIKE pattern: LIKE's own
// metacharacters are escaped so that they match themselves.
func likePattern(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch r {
		case '*':
			b.WriteByte('%')
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MatchUser is userMatch in Go, for filters applied outside the store
// (the API's live events): the same '+' and '*' rules, ASCII case folded.
func MatchUser(user, v string) bool {
	return MatchText(strings.TrimPrefix(user, "+"), strings.TrimPrefix(v, "+"))
}

// MatchText is textMatch in Go: a case-insensitive substring, or a '*'
// wildcard over all of s (ASCII case folded).
func MatchText(user, v string) bool {
	user, v = strings.ToLower(user), strings.ToLower(v)
	if !strings.Contains(v, "*") {
		return strings.Contains(user, v)
	}
	parts := strings.Split(v, "*")
	if !strings.HasPrefix(user, parts[0]) {
		return false
	}
	user = user[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(user, p)
		if i < 0 {
			return false
		}
		user = user[i+len(p):]
	}
	return len(user) >= len(last) && strings.HasSuffix(user, last)
}

// prefixMatch is the SQL of "column holds an address inside p". Addresses
// are stored as text, so the text is turned into a number (IPv4) or 16
// bytes (IPv6) and compared with the prefix's first and last address.
// Newer servers refuse text of the other family (or empty) with an error
// in the plain conversions, so they get the OrDefault forms; 18.16 has
// only the plain ones, which read such text as zero.
func prefixMatch(column string, p netip.Prefix, modern bool) string {
	p = p.Masked()
	lo, hi := p.Addr(), lastAddr(p)
	suffix := ""
	if modern {
		suffix = "OrDefault"
	}
	if lo.Is4() {
		l4, h4 := lo.As4(), hi.As4()
		return "(position(" + column + ", '.') > 0 AND position(" + column + ", ':') = 0 AND " +
			"toUInt32(IPv4StringToNum" + suffix + "(" + column + ")) BETWEEN " +
			QuoteUint(uint64(be32(l4))) + " AND " + QuoteUint(uint64(be32(h4))) + ")"
	}
	l16, h16 := lo.As16(), hi.As16()
	return "(position(" + column + ", ':') > 0 AND " +
		"IPv6StringToNum" + suffix + "(" + column + ") BETWEEN " +
		"toFixedString(unhex(" + QuoteString(hex.EncodeToString(l16[:])) + "), 16) AND toFixedString(unhex(" +
		QuoteString(hex.EncodeToString(h16[:])) + "), 16))"
}

// modernSQL tells whether q runs on a server newer than 18.16 (one that
// has the OrDefault conversions); a Querier says so with a Modern method.
func modernSQL(q Querier) bool {
	m, ok := q.(interface{ Modern() bool })
	return ok && m.Modern()
}

func be32(b [4]byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// lastAddr is the highest address of p (p masked).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// finiteRange checks an inclusive range of the filter.
func finiteRange(name string, lo, hi float64) error {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || lo < 0 || hi < 0 {
		return fmt.Errorf("%w: %s range [%v, %v]", ErrInvalidFilter, name, lo, hi)
	}
	if hi != 0 && lo > hi {
		return fmt.Errorf("%w: %s range [%v, %v] is empty", ErrInvalidFilter, name, lo, hi)
	}
	return nil
}

// extendedCallConds are the conditions of the search's later filters and
// the ORDER BY of the page.
func extendedCallConds(db string, f CallFilter, modern bool) (conds []string, order string, err error) {
	if f.IPPrefix.IsValid() {
		conds = append(conds, "("+prefixMatch("src_ip", f.IPPrefix, modern)+" OR "+prefixMatch("dst_ip", f.IPPrefix, modern)+")")
	}
	if f.FinalClass != 0 {
		if f.FinalClass < 1 || f.FinalClass > 6 {
			return nil, "", fmt.Errorf("%w: final class %d", ErrInvalidFilter, f.FinalClass)
		}
		conds = append(conds, "final_code >= "+QuoteInt(int64(f.FinalClass*100))+" AND final_code < "+QuoteInt(int64(f.FinalClass*100+100)))
	}
	if f.Finding != "" {
		conds = append(conds, "has(findings, "+QuoteString(f.Finding)+")")
	}
	if err := finiteRange("duration", f.MinDurationMs, f.MaxDurationMs); err != nil {
		return nil, "", err
	}
	if err := finiteRange("MOS", f.MinMOS, f.MaxMOS); err != nil {
		return nil, "", err
	}
	for _, r := range []struct {
		col   string
		bound float64
		op    string
	}{{"duration_ms", f.MinDurationMs, " >= "}, {"duration_ms", f.MaxDurationMs, " <= "}, {"mos", f.MinMOS, " >= "}, {"mos", f.MaxMOS, " <= "}} {
		if r.bound != 0 {
			conds = append(conds, r.col+r.op+QuoteFloat(r.bound))
		}
	}
	if f.Partial != nil {
		conds = append(conds, "partial = "+boolSQL(*f.Partial))
	}
	if f.UserAgent != "" {
		conds = append(conds, textMatch("user_agent", f.UserAgent))
	}
	if f.Node != "" {
		conds = append(conds, "call_id GLOBAL IN (SELECT call_id FROM "+db+"."+TableMessages+" WHERE node = "+QuoteString(f.Node)+")")
	}
	if f.HasRTP != nil {
		withRTP := "(mos > 0 OR call_id GLOBAL IN (SELECT call_id FROM " + db + "." + TableStreams + " WHERE call_id != ''))"
		if *f.HasRTP {
			conds = append(conds, withRTP)
		} else {
			conds = append(conds, "NOT "+withRTP)
		}
	}
	dir := " DESC"
	if f.Ascending {
		dir = " ASC"
	}
	switch f.Sort {
	case "", SortStart:
		order = "start_us" + dir + ", call_id"
	case SortDuration:
		order = "duration_ms" + dir + ", start_us DESC, call_id"
	case SortMOS:
		order = "mos" + dir + ", start_us DESC, call_id"
	case SortPDD:
		order = "pdd_ms" + dir + ", start_us DESC, call_id"
	default:
		return nil, "", fmt.Errorf("%w: sort %q", ErrInvalidFilter, f.Sort)
	}
	return conds, order, nil
}

func boolSQL(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// QuoteFloat formats a finite float as a SQL literal (callers check
// finiteness: NaN and infinities have no literal on every server).
func QuoteFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
