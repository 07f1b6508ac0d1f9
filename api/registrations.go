package api

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
)

// RegistrationStore lists registrations. GetRegistration returns an error
// wrapping storage.ErrNotFound for an unknown Call-ID. The Store handed to
// New is used as one when it has these methods (both backends do).
type RegistrationStore interface {
	ListRegistrations(ctx context.Context, f storage.RegistrationFilter) (storage.RegistrationPage, error)
	GetRegistration(ctx context.Context, callID string) (storage.RegistrationDetail, error)
}

// StreamStore lists RTP streams, bound to a call or not.
type StreamStore interface {
	ListStreams(ctx context.Context, f storage.StreamFilter) (storage.StreamPage, error)
}

// RegistrationView is one REGISTER exchange. result is "ok" (the last
// final answer was 2xx), "failed", or "pending" (no final answer yet);
// expires is -1 when unknown.
type RegistrationView struct {
	CallID     string `json:"call_id"`
	AoR        string `json:"aor"`
	Contact    string `json:"contact"`
	SrcIP      string `json:"src_ip"`
	UserAgent  string `json:"user_agent"`
	Result     string `json:"result"`
	FinalCode  int    `json:"final_code"`
	Attempts   int    `json:"attempts"`
	Challenged bool   `json:"challenged"`
	Expires    int    `json:"expires"`
	Start      string `json:"start"`
	End        string `json:"end"`
	Succeeded  string `json:"succeeded"`
	Messages   int    `json:"messages"`
}

// NewRegistrationView converts a correlated registration.
func NewRegistrationView(r correlate.Registration) RegistrationView {
	result := "pending"
	switch {
	case r.Failed:
		result = "failed"
	case r.FinalCode >= 200 && r.FinalCode < 300:
		result = "ok"
	}
	return RegistrationView{
		CallID: r.CallID, AoR: r.AoR, Contact: r.Contact, SrcIP: formatAddr(r.SrcIP), UserAgent: r.UserAgent,
		Result: result, FinalCode: r.FinalCode, Attempts: r.Attempts, Challenged: r.Challenged, Expires: r.Expires,
		Start: FormatTime(r.Start), End: FormatTime(r.End), Succeeded: FormatTime(r.SucceededAt), Messages: r.Messages,
	}
}

// RegistrationListView is the body of GET /api/v1/registrations.
type RegistrationListView struct {
	Registrations []RegistrationView `json:"registrations"`
	Total         int                `json:"total"`
}

// RegistrationDetailView is the body of GET /api/v1/registrations/:id:
// every exchange of the Call-ID (refreshes reuse it) and its SIP messages.
type RegistrationDetailView struct {
	Registrations []RegistrationView `json:"registrations"`
	Messages      []MessageView      `json:"messages"`
}

// StreamListView is the body of GET /api/v1/streams.
type StreamListView struct {
	Streams []StreamView `json:"streams"`
	Total   int          `json:"total"`
}

// registrationFilterParams are the query parameters ParseRegistrationFilter reads.
var registrationFilterParams = []param{
	{name: "from", in: "query", typ: "string", format: "date-time", desc: "exchanges that started at or after this RFC 3339 time", bad: "today"},
	{name: "to", in: "query", typ: "string", format: "date-time", desc: "exchanges that started before this RFC 3339 time", bad: "1"},
	{name: "aor", in: "query", typ: "string", desc: "substring of the address of record (case-insensitive, at most 256 bytes)", bad: longParam},
	{name: "contact", in: "query", typ: "string", desc: "substring of the Contact URI (at most 256 bytes)", bad: longParam},
	{name: "user_agent", in: "query", typ: "string", desc: "substring of the User-Agent (at most 256 bytes)", bad: longParam},
	{name: "ip", in: "query", typ: "string", format: "ip", desc: "source address of the REGISTERs", bad: "1.2.3"},
	{name: "result", in: "query", typ: "string", desc: "ok or failed", enum: []string{"ok", "failed"}, bad: "maybe"},
	{name: "challenged", in: "query", typ: "boolean", desc: "a 401/407 was seen", bad: "perhaps"},
	{name: "final_code", in: "query", typ: "integer", min: 100, max: 699, desc: "last final response code", bad: "700"},
	{name: "limit", in: "query", typ: "integer", min: 1, max: 1000, desc: "page size (default 50)", bad: "1001"},
	{name: "offset", in: "query", typ: "integer", min: 0, max: 1<<31 - 1, desc: "exchanges to skip", bad: "x"},
}

// ParseRegistrationFilter turns the query of GET /api/v1/registrations into
// a storage filter; a bad value is an error wrapping ErrInvalidParam.
func ParseRegistrationFilter(q url.Values) (storage.RegistrationFilter, error) {
	var f storage.RegistrationFilter
	var err error
	if f.From, f.To, err = timeRange(q); err != nil {
		return f, err
	}
	if f.AoR, err = textParam(q, "aor", maxTextParam); err != nil {
		return f, err
	}
	if f.Contact, err = textParam(q, "contact", maxTextParam); err != nil {
		return f, err
	}
	if f.UserAgent, err = textParam(q, "user_agent", maxTextParam); err != nil {
		return f, err
	}
	if f.IP, err = ipParam(q, "ip"); err != nil {
		return f, err
	}
	switch v := q.Get("result"); v {
	case "":
	case "ok", "failed":
		failed := v == "failed"
		f.Failed = &failed
	default:
		return f, badParam("result", "%q is not ok or failed", v)
	}
	if v := q.Get("challenged"); v != "" {
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			return f, badParam("challenged", "%q is not true or false", v)
		}
		f.Challenged = &b
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

// streamFilterParams are the query parameters ParseStreamFilter reads.
var streamFilterParams = []param{
	{name: "from", in: "query", typ: "string", format: "date-time", desc: "streams that started at or after this RFC 3339 time", bad: "now"},
	{name: "to", in: "query", typ: "string", format: "date-time", desc: "streams that started before this RFC 3339 time", bad: "later"},
	{name: "ip", in: "query", typ: "string", format: "ip", desc: "source or destination address", bad: "::g"},
	{name: "port", in: "query", typ: "integer", min: 1, max: 65535, desc: "source or destination port", bad: "65536"},
	{name: "ssrc", in: "query", typ: "string", desc: "SSRC, decimal or 0x-prefixed hex", bad: "0x1ffffffff"},
	{name: "codec", in: "query", typ: "string", desc: "payload name as shown (g711U, g711A, g722...)", bad: longParam},
	{name: "mos_below", in: "query", typ: "number", desc: "streams with a MOS under this (1-5)", bad: "6"},
	{name: "loss_above", in: "query", typ: "number", desc: "streams that lost more than this percentage (0-100)", bad: "-1"},
	{name: "call_id", in: "query", typ: "string", desc: "streams of this call (exact Call-ID)", bad: string(make([]byte, maxCallIDSize+1))},
	{name: "unbound", in: "query", typ: "boolean", desc: "only streams no SDP explained", bad: "sometimes"},
	{name: "limit", in: "query", typ: "integer", min: 1, max: 1000, desc: "page size (default 50)", bad: "0"},
	{name: "offset", in: "query", typ: "integer", min: 0, max: 1<<31 - 1, desc: "streams to skip", bad: "-5"},
}

// ParseStreamFilter turns the query of GET /api/v1/streams into a storage
// filter; a bad value is an error wrapping ErrInvalidParam.
func ParseStreamFilter(q url.Values) (storage.StreamFilter, error) {
	var f storage.StreamFilter
	var err error
	if f.From, f.To, err = timeRange(q); err != nil {
		return f, err
	}
	if f.IP, err = ipParam(q, "ip"); err != nil {
		return f, err
	}
	if f.Port, err = intParam(q, "port", 1, 65535); err != nil {
		return f, err
	}
	if v := q.Get("ssrc"); v != "" {
		n, perr := strconv.ParseUint(v, 0, 32)
		if perr != nil {
			return f, badParam("ssrc", "%q is not a 32-bit number (decimal or 0x hex)", v)
		}
		f.SSRC, f.HasSSRC = uint32(n), true
	}
	if f.Codec, err = textParam(q, "codec", 64); err != nil {
		return f, err
	}
	if f.MOSBelow, err = floatParam(q, "mos_below", 1, 5); err != nil {
		return f, err
	}
	if f.LossAbove, err = floatParam(q, "loss_above", 0, 100); err != nil {
		return f, err
	}
	if f.CallID, err = textParam(q, "call_id", maxCallIDSize); err != nil {
		return f, err
	}
	if v := q.Get("unbound"); v != "" {
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			return f, badParam("unbound", "%q is not true or false", v)
		}
		f.Unbound = b
	}
	if f.Unbound && f.CallID != "" {
		return f, badParam("unbound", "unbound streams have no call_id")
	}
	if f.Limit, err = intParam(q, "limit", 1, storage.MaxLimit); err != nil {
		return f, err
	}
	if f.Offset, err = intParam(q, "offset", 0, 1<<31-1); err != nil {
		return f, err
	}
	return f, nil
}

func timeRange(q url.Values) (from, to time.Time, err error) {
	if from, err = timeParam(q, "from"); err != nil {
		return
	}
	if to, err = timeParam(q, "to"); err != nil {
		return
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		err = badParam("to", "must be after from")
	}
	return
}

func ipParam(q url.Values, name string) (netip.Addr, error) {
	v := q.Get(name)
	if v == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Addr{}, badParam(name, "%q is not an IPv4 or IPv6 address", v)
	}
	return a.Unmap().WithZone(""), nil
}

// floatParam parses an optional finite number in [lo, hi]; absent means 0.
func floatParam(q url.Values, name string, lo, hi float64) (float64, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || !(x >= lo && x <= hi) {
		return 0, badParam(name, "%q is not a number from %g to %g", v, lo, hi)
	}
	return x, nil
}

func (s *Server) listRegistrations(c *gin.Context) {
	f, err := ParseRegistrationFilter(c.Request.URL.Query())
	if err != nil {
		s.badRequest(c, err)
		return
	}
	st, ok := s.store.(RegistrationStore)
	if !ok {
		c.JSON(http.StatusNotImplemented, gin.H{"error": "this store keeps no registrations"})
		return
	}
	p, err := st.ListRegistrations(c.Request.Context(), f)
	if err != nil {
		s.storeFailed(c, "list registrations", err)
		return
	}
	v := RegistrationListView{Registrations: make([]RegistrationView, 0, len(p.Registrations)), Total: p.Total}
	for _, r := range p.Registrations {
		v.Registrations = append(v.Registrations, NewRegistrationView(r))
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) getRegistration(c *gin.Context) {
	st, ok := s.store.(RegistrationStore)
	if !ok {
		c.JSON(http.StatusNotImplemented, gin.H{"error": "this store keeps no registrations"})
		return
	}
	id, err := url.PathUnescape(c.Param("id"))
	switch {
	case err != nil:
		s.badRequest(c, badParam("id", "bad percent-encoding"))
		return
	case id == "":
		s.badRequest(c, badParam("id", "empty Call-ID"))
		return
	case len(id) > maxCallIDSize:
		s.badRequest(c, badParam("id", "longer than %d bytes", maxCallIDSize))
		return
	}
	d, err := st.GetRegistration(c.Request.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		c.JSON(http.StatusNotFound, gin.H{"error": "registration not found", "call_id": id})
		return
	}
	if err != nil {
		s.storeFailed(c, "get registration", err)
		return
	}
	v := RegistrationDetailView{
		Registrations: make([]RegistrationView, 0, len(d.Registrations)),
		Messages:      make([]MessageView, 0, len(d.Messages)),
	}
	for _, r := range d.Registrations {
		v.Registrations = append(v.Registrations, NewRegistrationView(r))
	}
	for _, m := range d.Messages {
		v.Messages = append(v.Messages, NewMessageView(m))
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) listStreams(c *gin.Context) {
	f, err := ParseStreamFilter(c.Request.URL.Query())
	if err != nil {
		s.badRequest(c, err)
		return
	}
	st, ok := s.store.(StreamStore)
	if !ok {
		c.JSON(http.StatusNotImplemented, gin.H{"error": "this store keeps no stream list"})
		return
	}
	p, err := st.ListStreams(c.Request.Context(), f)
	if err != nil {
		s.storeFailed(c, "list streams", err)
		return
	}
	v := StreamListView{Streams: make([]StreamView, 0, len(p.Streams)), Total: p.Total}
	for _, x := range p.Streams {
		v.Streams = append(v.Streams, NewStreamView(x))
	}
	c.JSON(http.StatusOK, v)
}
