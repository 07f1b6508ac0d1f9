package api

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
)

// Bounds on query values. A bad request is refused here with the
// parameter's name instead of being silently clamped further down.
const (
	maxTextParam  = 256  // from_user, to_user, q: longer is never a real SIP user
	maxCallIDSize = 1024 // generous: RFC 3261 sets no limit, real ones are < 100
)

// paramError names the query or path parameter that was refused.
type paramError struct {
	param  string
	reason string
}

func (e *paramError) Error() string {
	return fmt.Sprintf("invalid parameter %s: %s", e.param, e.reason)
}

func (e *paramError) Unwrap() error { return ErrInvalidParam }

func badParam(param, format string, args ...any) error {
	return &paramError{param: param, reason: fmt.Sprintf(format, args...)}
}

// ParseCallFilter turns the query string of GET /api/v1/calls into a
// storage filter. Unknown parameters are ignored; a bad value is an error
// wrapping ErrInvalidParam whose text names the parameter.
func ParseCallFilter(q url.Values) (storage.CallFilter, error) {
	var f storage.CallFilter
	var err error

	if f.From, err = timeParam(q, "from"); err != nil {
		return f, err
	}
	if f.To, err = timeParam(q, "to"); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return f, badParam("to", "must be after from")
	}
	if f.FromUser, err = callUserParam(q, "from_user"); err != nil {
		return f, err
	}
	if f.ToUser, err = callUserParam(q, "to_user"); err != nil {
		return f, err
	}
	if f.CallID, err = textParam(q, "call_id", maxCallIDSize); err != nil {
		return f, err
	}
	if f.Query, err = textParam(q, "q", maxTextParam); err != nil {
		return f, err
	}
	if v := q.Get("ip"); strings.Contains(v, "/") {
		p, perr := netip.ParsePrefix(v)
		if perr != nil || p.Addr().Is4In6() {
			return f, badParam("ip", "%q is not an IPv4 or IPv6 address or CIDR prefix", v)
		}
		if p.IsSingleIP() {
			f.IP = p.Addr()
		} else {
			f.IPPrefix = p.Masked()
		}
	} else if v != "" {
		a, perr := netip.ParseAddr(v)
		if perr != nil {
			return f, badParam("ip", "%q is not an IPv4 or IPv6 address or CIDR prefix", v)
		}
		f.IP = a.Unmap().WithZone("")
	}
	if v := q.Get("state"); v != "" {
		switch v {
		case correlate.StateAnswered, correlate.StateFailed, correlate.StateCancelled, correlate.StateNoFinal:
			f.State = v
		default:
			return f, badParam("state", "%q is not one of answered, failed, cancelled, no_final", v)
		}
	}
	if v := q.Get("end_reason"); v != "" {
		if !validEndReason(v) {
			return f, badParam("end_reason", "%q is not one of %s", v, endReasonList)
		}
		f.EndReason = v
	}
	if f.FinalCode, err = intParam(q, "final_code", 100, 699); err != nil {
		return f, err
	}
	if err := parseSearchExtensions(q, &f); err != nil {
		return f, err
	}
	if f.Limit, err = intParam(q, "limit", 1, storage.MaxLimit); err != nil {
		return f, err
	}
	if f.Offset, err = intParam(q, "offset", 0, 1<<31-1); err != nil {
		return f, err
	}
	if v := q.Get("cursor"); v != "" {
		k, ok := DecodeCursor(v)
		switch {
		case !ok:
			return f, badParam("cursor", "not a cursor this API gave (next_cursor of a page)")
		case f.Offset != 0:
			return f, badParam("cursor", "cannot be combined with offset")
		case f.Sort != "" && f.Sort != storage.SortStart:
			return f, badParam("cursor", "pages the start order only (sort=start)")
		}
		f.After = &k
	}
	return f, nil
}

// cursorPrefix versions the cursor's form.
const cursorPrefix = "c1."

// EncodeCursor is the opaque cursor of a call's place in the start order:
// "c1." and the base64url of "<start µs>:<Call-ID>".
func EncodeCursor(k storage.CallKey) string {
	return cursorPrefix + base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(k.Start.UnixMicro(), 10)+":"+k.CallID))
}

// DecodeCursor reads what EncodeCursor wrote; anything else is not ok.
func DecodeCursor(v string) (storage.CallKey, bool) {
	rest, ok := strings.CutPrefix(v, cursorPrefix)
	if !ok || len(rest) > 2*maxCallIDSize {
		return storage.CallKey{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return storage.CallKey{}, false
	}
	us, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || n < 0 || id == "" || len(id) > maxCallIDSize {
		return storage.CallKey{}, false
	}
	return storage.CallKey{Start: time.UnixMicro(n).UTC(), CallID: id}, true
}

// endReasonList names the values the end_reason filter accepts.
const endReasonList = correlate.EndCallerBye + ", " + correlate.EndCalleeBye + ", " + correlate.EndNoBye + ", " +
	correlate.EndBusy + ", " + correlate.EndNoAnswer + ", " + correlate.EndCancelled + ", " + correlate.EndRejected + ", " +
	correlate.EndAuthFailed + ", " + correlate.EndInProgress + ", " + correlate.EndNoFinal + ", " +
	correlate.EndCaptureEnded + ", " + correlate.EndTimeout + ", " + correlate.EndBye

func validEndReason(v string) bool {
	switch v {
	case correlate.EndCallerBye, correlate.EndCalleeBye, correlate.EndNoBye,
		correlate.EndBusy, correlate.EndNoAnswer, correlate.EndCancelled, correlate.EndRejected,
		correlate.EndAuthFailed, correlate.EndInProgress, correlate.EndNoFinal,
		correlate.EndCaptureEnded, correlate.EndTimeout, correlate.EndBye:
		return true
	}
	return false
}

func timeParam(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badParam(name, "%q is not an RFC 3339 time such as 2024-05-01T12:00:00Z", v)
	}
	return t.UTC(), nil
}

func textParam(q url.Values, name string, max int) (string, error) {
	v := q.Get(name)
	if len(v) > max {
		return "", badParam(name, "longer than %d bytes", max)
	}
	return v, nil
}

// intParam parses an optional integer in [lo, hi]; absent means 0.
func intParam(q url.Values, name string, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badParam(name, "%q is not an integer from %d to %d", v, lo, hi)
	}
	return n, nil
}

// callUserParam reads a caller or callee filter: a user part, a whole SIP or
// tel URI (its user part is taken), or an E.164 number with or without
// '+'; '*' is a wildcard (storage.CallFilter.FromUser).
func callUserParam(q url.Values, name string) (string, error) {
	v, err := textParam(q, name, maxTextParam)
	if err != nil || v == "" {
		return v, err
	}
	lower := strings.ToLower(v)
	for _, scheme := range []string{"sip:", "sips:", "tel:"} {
		if strings.HasPrefix(lower, scheme) {
			v = v[len(scheme):]
			if at := strings.LastIndexByte(v, '@'); at >= 0 {
				v = v[:at]
			}
			if semi := strings.IndexByte(v, ';'); semi >= 0 {
				v = v[:semi]
			}
			if v == "" {
				return "", badParam(name, "the URI has no user part")
			}
			break
		}
	}
	return v, nil
}

// maxTextFilterSize bounds the user_agent and node filters: a User-Agent
// header is rarely longer than a few hundred bytes.
const maxTextFilterSize = 256

// printableParam is textParam without control characters, which no
// User-Agent or capture node name has.
func printableParam(q url.Values, name string, max int) (string, error) {
	v, err := textParam(q, name, max)
	if err != nil {
		return "", err
	}
	if strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return "", badParam(name, "has control characters")
	}
	return v, nil
}

// maxFindingSize bounds a finding code ("rejected:404" and the like).
const maxFindingSize = 64

// parseSearchExtensions reads final_class, finding, the duration and MOS
// ranges, partial, has_rtp, sort and order.
func parseSearchExtensions(q url.Values, f *storage.CallFilter) error {
	if v := q.Get("final_class"); v != "" {
		d := strings.TrimSuffix(strings.ToLower(v), "xx")
		if len(d) != 1 || d[0] < '1' || d[0] > '6' {
			return badParam("final_class", "%q is not one of 1xx to 6xx", v)
		}
		f.FinalClass = int(d[0] - '0')
	}
	if v := q.Get("finding"); v != "" {
		if len(v) > maxFindingSize || strings.IndexFunc(v, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == ':')
		}) >= 0 {
			return badParam("finding", "%q is not a finding code (lower-case letters, digits, '_' and ':')", v)
		}
		f.Finding = v
	}
	var err error
	var minDur, maxDur float64
	if minDur, err = floatParam(q, "min_duration", 0, 1e7); err != nil {
		return err
	}
	if maxDur, err = floatParam(q, "max_duration", 0, 1e7); err != nil {
		return err
	}
	if maxDur != 0 && minDur > maxDur {
		return badParam("max_duration", "below min_duration")
	}
	f.MinDurationMs, f.MaxDurationMs = minDur*1000, maxDur*1000
	if f.MinMOS, err = floatParam(q, "min_mos", 0, 5); err != nil {
		return err
	}
	if f.MaxMOS, err = floatParam(q, "max_mos", 0, 5); err != nil {
		return err
	}
	if f.MaxMOS != 0 && f.MinMOS > f.MaxMOS {
		return badParam("max_mos", "below min_mos")
	}
	if f.Partial, err = boolParam(q, "partial"); err != nil {
		return err
	}
	if f.HasRTP, err = boolParam(q, "has_rtp"); err != nil {
		return err
	}
	if f.UserAgent, err = printableParam(q, "user_agent", maxTextFilterSize); err != nil {
		return err
	}
	if f.Node, err = printableParam(q, "node", maxTextFilterSize); err != nil {
		return err
	}
	switch v := q.Get("sort"); v {
	case "", storage.SortStart, storage.SortDuration, storage.SortMOS, storage.SortPDD:
		f.Sort = v
	default:
		return badParam("sort", "%q is not one of start, duration, mos, pdd", v)
	}
	switch v := q.Get("order"); v {
	case "", "desc":
	case "asc":
		f.Ascending = true
	default:
		return badParam("order", "%q is not asc or desc", v)
	}
	return nil
}

// boolParam parses an optional true/false (or 1/0); absent is nil.
func boolParam(q url.Values, name string) (*bool, error) {
	var b bool
	switch v := q.Get(name); v {
	case "":
		return nil, nil
	case "true", "1":
		b = true
	case "false", "0":
	default:
		return nil, badParam(name, "%q is not true or false", v)
	}
	return &b, nil
}
