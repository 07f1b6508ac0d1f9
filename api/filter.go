package api

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
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
	if f.FromUser, err = textParam(q, "from_user", maxTextParam); err != nil {
		return f, err
	}
	if f.ToUser, err = textParam(q, "to_user", maxTextParam); err != nil {
		return f, err
	}
	if f.CallID, err = textParam(q, "call_id", maxCallIDSize); err != nil {
		return f, err
	}
	if f.Query, err = textParam(q, "q", maxTextParam); err != nil {
		return f, err
	}
	if v := q.Get("ip"); v != "" {
		a, perr := netip.ParseAddr(v)
		if perr != nil {
			return f, badParam("ip", "%q is not an IPv4 or IPv6 address", v)
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
	if f.Limit, err = intParam(q, "limit", 1, storage.MaxLimit); err != nil {
		return f, err
	}
	if f.Offset, err = intParam(q, "offset", 0, 1<<31-1); err != nil {
		return f, err
	}
	return f, nil
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
