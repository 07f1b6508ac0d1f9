package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
)

// Defaults of EventsConfig.
const (
	DefaultEventClients   = 64
	DefaultEventBuffer    = 1024
	DefaultEventHeartbeat = 15 * time.Second
	// eventWriteTimeout bounds one write to an event client: a peer that
	// stops reading is cut instead of holding its handler forever.
	eventWriteTimeout = 10 * time.Second
)

// Kinds of live events, the values of the kinds parameter and the SSE
// event names.
const (
	EventCall         = "call"
	EventRegistration = "registration"
	EventAlert        = "alert"
)

// EventsConfig bounds the live event hub. Zero fields take the defaults.
type EventsConfig struct {
	// MaxClients bounds the clients connected at once; one more is refused
	// with 503.
	MaxClients int
	// Buffer is how many events may wait for one client. A client that
	// lets that many pile up is too slow for the feed: it is disconnected
	// and counted (sipscope_api_events_dropped_clients_total) so that it
	// never slows the store writer or costs unbounded memory.
	Buffer int
	// Heartbeat is how often an idle stream gets a comment line, so that
	// proxies keep it open and the client sees it is alive.
	Heartbeat time.Duration
	// Registerer, when set, receives the hub's metrics.
	Registerer prometheus.Registerer
}

// Validate reports the first negative field.
func (c EventsConfig) Validate() error {
	if c.MaxClients < 0 || c.Buffer < 0 || c.Heartbeat < 0 {
		return fmt.Errorf("%w: events MaxClients, Buffer and Heartbeat must not be negative", ErrInvalidConfig)
	}
	return nil
}

func (c EventsConfig) withDefaults() EventsConfig {
	if c.MaxClients == 0 {
		c.MaxClients = DefaultEventClients
	}
	if c.Buffer == 0 {
		c.Buffer = DefaultEventBuffer
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultEventHeartbeat
	}
	return c
}

// Events is the hub of GET /api/v1/events: the live runner publishes each
// batch once it is stored (Publish), the alert engine each alert (Alert,
// an alert.Sink), and every connected client whose filter matches gets the
// record as a Server-Sent Event. Publishing never blocks: records are
// encoded once, and a client whose buffer is full is dropped.
type Events struct {
	cfg EventsConfig
	m   *eventMetrics

	mu      sync.Mutex
	clients map[*eventClient]struct{}
	seq     uint64 // id of the last event published
}

// NewEvents builds a hub; cfg is assumed valid (see EventsConfig.Validate).
func NewEvents(cfg EventsConfig) *Events {
	cfg = cfg.withDefaults()
	return &Events{cfg: cfg, m: newEventMetrics(cfg.Registerer), clients: map[*eventClient]struct{}{}}
}

// eventClient is one connected stream.
type eventClient struct {
	filter eventFilter
	ch     chan []byte   // encoded SSE frames
	gone   chan struct{} // closed when the hub dropped the client
}

// eventFilter is what a client asked for: the call search's filter and
// the kinds of record.
type eventFilter struct {
	calls      storage.CallFilter
	kinds      map[string]bool
	callOnly   bool   // a filter that only calls have is set
	fromL, toL string // lower-case FromUser / ToUser / Query
	qL         string
}

// parseEventFilter reads the query of GET /api/v1/events: the call search's
// parameters (ParseCallFilter; limit and offset mean nothing here) and
// kinds, a comma-separated subset of calls, registrations, alerts (all
// three by default).
func parseEventFilter(q url.Values) (eventFilter, error) {
	cf, err := ParseCallFilter(q)
	if err != nil {
		return eventFilter{}, err
	}
	if cf.Node != "" {
		// A live call's record does not say which capture points saw it.
		return eventFilter{}, badParam("node", "not a filter of live events")
	}
	f := eventFilter{calls: cf, kinds: map[string]bool{}}
	if v := q.Get("kinds"); v != "" {
		for _, k := range strings.Split(v, ",") {
			switch strings.TrimSpace(k) {
			case "calls":
				f.kinds[EventCall] = true
			case "registrations":
				f.kinds[EventRegistration] = true
			case "alerts":
				f.kinds[EventAlert] = true
			default:
				return eventFilter{}, badParam("kinds", "%q is not a list of calls, registrations, alerts", v)
			}
		}
	} else {
		f.kinds[EventCall], f.kinds[EventRegistration], f.kinds[EventAlert] = true, true, true
	}
	f.callOnly = cf.State != "" || cf.EndReason != "" || cf.FinalCode != 0 || cf.CallID != "" || cf.FinalClass != 0 ||
		cf.Finding != "" || cf.MinDurationMs != 0 || cf.MaxDurationMs != 0 || cf.MinMOS != 0 || cf.MaxMOS != 0 ||
		cf.Partial != nil || cf.HasRTP != nil || cf.UserAgent != ""
	f.fromL, f.toL, f.qL = strings.ToLower(cf.FromUser), strings.ToLower(cf.ToUser), strings.ToLower(cf.Query)
	return f, nil
}

// containsFold is the store's positionCaseInsensitive(...) > 0 for the
// ASCII case folding SIP user parts use.
func containsFold(s, lowerSub string) bool {
	return lowerSub == "" || strings.Contains(strings.ToLower(s), lowerSub)
}

// matchCall applies the filter as the store's search does.
func (f *eventFilter) matchCall(c *correlate.Call) bool {
	cf := &f.calls
	switch {
	case !f.kinds[EventCall],
		!cf.From.IsZero() && c.Start.Before(cf.From),
		!cf.To.IsZero() && !c.Start.Before(cf.To),
		cf.FromUser != "" && !storage.MatchUser(c.FromUser, cf.FromUser),
		cf.ToUser != "" && !storage.MatchUser(c.ToUser, cf.ToUser),
		cf.CallID != "" && c.CallID != cf.CallID,
		cf.IP.IsValid() && c.SrcIP.Unmap() != cf.IP && c.DstIP.Unmap() != cf.IP,
		cf.IPPrefix.IsValid() && !cf.IPPrefix.Contains(c.SrcIP.Unmap()) && !cf.IPPrefix.Contains(c.DstIP.Unmap()),
		cf.FinalClass != 0 && c.FinalCode/100 != cf.FinalClass,
		cf.Finding != "" && !slices.Contains(c.Findings, cf.Finding),
		cf.MinDurationMs != 0 && c.DurationMs < cf.MinDurationMs,
		cf.MaxDurationMs != 0 && c.DurationMs > cf.MaxDurationMs,
		cf.MinMOS != 0 && c.MOS < cf.MinMOS,
		cf.MaxMOS != 0 && c.MOS > cf.MaxMOS,
		cf.Partial != nil && c.Partial != *cf.Partial,
		// Streams are not in a call's record: live, has_rtp goes by MOS.
		cf.HasRTP != nil && (c.MOS > 0) != *cf.HasRTP,
		cf.UserAgent != "" && !storage.MatchText(c.UserAgent, cf.UserAgent),
		cf.State != "" && c.State != cf.State,
		cf.EndReason != "" && c.EndReason != cf.EndReason,
		cf.FinalCode != 0 && c.FinalCode != cf.FinalCode:
		return false
	}
	return f.qL == "" || containsFold(c.CallID, f.qL) || containsFold(c.FromUser, f.qL) || containsFold(c.ToUser, f.qL)
}

// matchRegistration: a registration has a source address, an AoR and a
// start; from_user, to_user and q look into the AoR. A filter that only
// calls have (state, end_reason, final_code, call_id) excludes
// registrations.
func (f *eventFilter) matchRegistration(r *correlate.Registration) bool {
	cf := &f.calls
	switch {
	case !f.kinds[EventRegistration], f.callOnly,
		!cf.From.IsZero() && r.Start.Before(cf.From),
		!cf.To.IsZero() && !r.Start.Before(cf.To),
		cf.IP.IsValid() && r.SrcIP.Unmap() != cf.IP,
		cf.IPPrefix.IsValid() && !cf.IPPrefix.Contains(r.SrcIP.Unmap()),
		!containsFold(r.AoR, f.fromL), !containsFold(r.AoR, f.toL), !containsFold(r.AoR, f.qL):
		return false
	}
	return true
}

// matchAlert: alerts are selected by kind only; an alert is about many
// calls, not one.
func (f *eventFilter) matchAlert() bool { return f.kinds[EventAlert] }

// Publish sends the records of a stored batch to the clients that want
// them. It is the live runner's OnStored callback: it runs on the store
// writer's goroutine, keeps nothing of b once it returns, and never waits
// for a client.
func (h *Events) Publish(b storage.Batch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) == 0 {
		return
	}
	for i := range b.Calls {
		c := &b.Calls[i]
		var frame []byte
		for cl := range h.clients {
			if !cl.filter.matchCall(c) {
				continue
			}
			if frame == nil {
				frame = h.frameLocked(EventCall, NewCallView(*c))
			}
			h.sendLocked(cl, frame)
		}
	}
	for i := range b.Registrations {
		r := &b.Registrations[i]
		var frame []byte
		for cl := range h.clients {
			if !cl.filter.matchRegistration(r) {
				continue
			}
			if frame == nil {
				frame = h.frameLocked(EventRegistration, NewRegistrationView(*r))
			}
			h.sendLocked(cl, frame)
		}
	}
}

// Alert publishes an alert that starts firing or resolves: Events is an
// alert.Sink. It runs on the engine's goroutine and never waits.
func (h *Events) Alert(a alert.Alert) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var frame []byte
	for cl := range h.clients {
		if !cl.filter.matchAlert() {
			continue
		}
		if frame == nil {
			frame = h.frameLocked(EventAlert, a)
		}
		h.sendLocked(cl, frame)
	}
}

// frameLocked encodes one SSE event. The views are plain data, so
// encoding cannot fail; if it ever did, the event carries the error
// rather than a half-written frame.
func (h *Events) frameLocked(kind string, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		data, _ = json.Marshal(map[string]string{"error": "cannot encode event"})
	}
	h.seq++
	h.m.published.WithLabelValues(kind).Inc()
	frame := make([]byte, 0, len(data)+len(kind)+40)
	frame = append(frame, "id: "...)
	frame = strconv.AppendUint(frame, h.seq, 10)
	frame = append(frame, "\nevent: "...)
	frame = append(frame, kind...)
	frame = append(frame, "\ndata: "...)
	frame = append(frame, data...) // JSON has no raw newline
	frame = append(frame, "\n\n"...)
	return frame
}

// sendLocked queues frame for cl, or drops cl when its buffer is full.
func (h *Events) sendLocked(cl *eventClient, frame []byte) {
	select {
	case cl.ch <- frame:
	default:
		delete(h.clients, cl)
		close(cl.gone)
		h.m.dropped.Inc()
		h.m.clients.Set(float64(len(h.clients)))
	}
}

// errTooManyClients refuses a stream when the hub is full.
var errTooManyClients = errors.New("api: too many event clients")

func (h *Events) subscribe(f eventFilter) (*eventClient, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) >= h.cfg.MaxClients {
		h.m.refused.Inc()
		return nil, errTooManyClients
	}
	cl := &eventClient{filter: f, ch: make(chan []byte, h.cfg.Buffer), gone: make(chan struct{})}
	h.clients[cl] = struct{}{}
	h.m.clients.Set(float64(len(h.clients)))
	return cl, nil
}

func (h *Events) unsubscribe(cl *eventClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[cl]; ok {
		delete(h.clients, cl)
		h.m.clients.Set(float64(len(h.clients)))
	}
}

// Clients is how many streams are connected.
func (h *Events) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// eventParams are the query parameters of GET /api/v1/events.
var eventParams = append(callFilterParamsNoPaging(),
	param{name: "kinds", in: "query", typ: "string", desc: "comma-separated kinds of record to send: calls, registrations, alerts (default all); state, end_reason, final_code and call_id select calls only, from_user, to_user and q also match a registration's AoR, ip its source; alerts are selected by kind only",
		bad: "calls,dialogs"})

func callFilterParamsNoPaging() []param {
	var ps []param
	for _, p := range callFilterParams {
		if p.name != "limit" && p.name != "offset" && p.name != "sort" && p.name != "order" {
			ps = append(ps, p)
		}
	}
	return ps
}

// events streams GET /api/v1/events.
func (s *Server) events(c *gin.Context) {
	f, err := parseEventFilter(c.Request.URL.Query())
	if err != nil {
		s.badRequest(c, err)
		return
	}
	h := s.cfg.Events
	if h == nil {
		c.JSON(http.StatusNotImplemented, gin.H{"error": "live events need live capture (serve with a source)"})
		return
	}
	cl, err := h.subscribe(f)
	if err != nil {
		c.Header("Retry-After", "10")
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "too many event streams are open; try again later"})
		return
	}
	defer h.unsubscribe(cl)

	w := c.Writer
	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) bool {
		// A deadline per write: a peer that stops reading is cut. Where
		// the writer cannot take deadlines the write is unbounded, but the
		// hub still drops the client when its buffer fills.
		_ = rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// retry tells EventSource how long to wait before reconnecting.
	if !write([]byte("retry: 3000\n: connected\n\n")) {
		return
	}
	tick := time.NewTicker(h.cfg.Heartbeat)
	defer tick.Stop()
	ctx := c.Request.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		case <-cl.gone:
			// Dropped for being slow: say so if the connection still takes
			// it, then end; the client reconnects and reloads what it lost.
			write([]byte("event: dropped\ndata: {\"error\":\"client too slow: events were dropped\"}\n\n"))
			return
		case frame := <-cl.ch:
			if !write(frame) {
				return
			}
		case <-tick.C:
			if !write([]byte(": heartbeat\n\n")) {
				return
			}
		}
	}
}
