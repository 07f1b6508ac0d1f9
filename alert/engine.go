package alert

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/decode/sip"
)

// Sink receives every alert that starts firing and every alert that
// resolves. It runs on the engine's goroutine and must not block (the
// webhook Notifier only queues).
type Sink interface {
	Alert(Alert)
}

// Options are the engine's collaborators; all may be nil.
type Options struct {
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Sink       Sink
}

// Engine evaluates the rules. Its On*/Advance methods are for one
// goroutine (the pipeline's); Alerts may be called from any goroutine.
//
// Feed it, on the pipeline's goroutine: OnSIP with every SIP message right
// after correlate has it; OnCall (or OnCallFindings, once the diagnosis
// has findings) with every call record handed to storage, MOS set; and
// OnRegistration with every registration record. Drain correlate's
// updates every second of capture time in analyze as live mode does each
// flush, so a file and live traffic give the same alerts. Call Advance
// with the capture time when the link is quiet and at the end of a file,
// before Alerts.
type Engine struct {
	cfg  Config
	log  *slog.Logger
	sink Sink
	m    *metrics

	interval int64 // ns
	now      int64 // latest capture time seen
	epoch    int64 // now / interval
	started  bool

	storm   rateRule // global and per registrar (destination of REGISTER)
	flood   rateRule // global and per source of initial INVITEs
	scan    scanRule
	auth    authRule
	regFail regFailRule
	calls   callRules

	actives []*active
	pool    []*active

	mu      sync.Mutex
	history []Alert
}

// New returns an engine for cfg, which must have passed Validate (after
// WithDefaults).
func New(cfg Config, opt Options) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opt.Registerer)
	if err != nil {
		return nil, fmt.Errorf("alert: metrics: %w", err)
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &Engine{cfg: cfg, log: log, sink: opt.Sink, m: m, interval: int64(time.Duration(cfg.Interval))}
	e.storm.init(e, RuleRegistrationStorm, cfg.RegistrationStorm, "registrar", "REGISTER requests")
	e.flood.init(e, RuleInviteFlood, cfg.InviteFlood, "source", "New INVITEs")
	e.scan.init(e)
	e.auth.init(e)
	e.regFail.init(e)
	e.calls.init(e)
	return e, nil
}

// newRule describes one rule's alerts.
func (e *Engine) newRule(name string, c Common, headline string, summary func(*active) string) *rule {
	return &rule{name: name, severity: c.Severity, slots: int(time.Duration(c.Window) / time.Duration(e.cfg.Interval)),
		headline: headline, summary: summary}
}

// evictions returns the eviction callback of a table that holds alert
// state: count, then close the key's alerts (each hands them to close).
func evictions[V any](e *Engine, name string, each func(v *V, close func(*active))) func(*V) {
	c := e.m.evictions.WithLabelValues(name)
	return func(v *V) {
		c.Inc()
		if each != nil {
			each(v, e.closeEvicted)
		}
	}
}

// tick moves the capture clock to ts (never backwards) and evaluates the
// alerts at each interval boundary crossed.
func (e *Engine) tick(ts int64) {
	ts = max(ts, 0) // slots are indexed by epoch: never negative
	if !e.started {
		e.started = true
		e.now, e.epoch = ts, ts/e.interval
		return
	}
	if ts <= e.now {
		return
	}
	ep := ts / e.interval
	if ep == e.epoch {
		e.now = ts
		return
	}
	// Evaluate at every boundary crossed, so a quiet gap resolves alerts
	// as it would have live; beyond the longest window plus resolve_after
	// more boundaries change nothing, so a long gap is skipped.
	limit := int64(maxSlots) + int64(time.Duration(e.cfg.ResolveAfter))/e.interval + 2
	if ep-e.epoch > limit || len(e.actives) == 0 {
		e.epoch = max(e.epoch, ep-limit)
	}
	for e.epoch < ep-1 && len(e.actives) > 0 {
		e.epoch++
		e.now = e.epoch * e.interval
		e.evaluate()
	}
	e.epoch, e.now = ep, ts
	e.evaluate()
}

// Advance moves the capture clock to ts without an event (a quiet link,
// or the end of a file), so alerts resolve on time; it also refreshes the
// evidence of the alerts still firing for Alerts.
func (e *Engine) Advance(ts int64) {
	if e.cfg.Disabled {
		return
	}
	e.tick(ts)
	for _, a := range e.actives {
		if a.owner != nil && a.state == StateFiring {
			e.snapshot(a)
		}
	}
}

// Alerts returns every alert that fired so far (firing and resolved,
// within max_alerts), in the order they fired.
func (e *Engine) Alerts() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.history)
}

// OnSIP takes one SIP message seen at ts (Unix ns, capture time) from src
// to dst. It keeps none of m's slices and, for keys already tracked,
// allocates nothing.
func (e *Engine) OnSIP(ts int64, src, dst netip.AddrPort, m *sip.Message) {
	if e.cfg.Disabled {
		return
	}
	e.tick(ts)
	if m.IsRequest {
		e.sipRequest(src.Addr(), dst.Addr(), m)
	} else {
		e.sipResponse(dst.Addr(), m)
	}
}

func (e *Engine) sipRequest(src, dst netip.Addr, m *sip.Message) {
	meth := string(m.Method)
	outOfDialog := len(m.ToTag) == 0
	switch {
	case meth == "REGISTER":
		e.storm.observe(e, dst, src, m, m.ToURI)
		e.scan.request(e, src, m)
		e.auth.request(e, src, m, m.ToURI)
	case meth == "INVITE" && outOfDialog:
		e.flood.observe(e, src, src, m, m.FromURI)
		e.scan.request(e, src, m)
		e.auth.request(e, src, m, m.FromURI)
	case meth == "OPTIONS" && outOfDialog:
		e.scan.request(e, src, m)
	}
}

func (e *Engine) sipResponse(to netip.Addr, m *sip.Message) {
	if m.StatusCode < 200 {
		return
	}
	switch string(m.CSeqMethod) {
	case "REGISTER":
		e.scan.response(e, to, m)
		e.auth.response(e, to, m, m.ToURI)
	case "INVITE":
		e.scan.response(e, to, m)
		e.auth.response(e, to, m, m.FromURI)
	case "OPTIONS":
		e.scan.response(e, to, m)
	}
}

// OnCall takes a call record each time it changes (correlate's Updates,
// with MOS set by the pipeline). A call is counted once, when it has
// finished; its MOS once, when a finished call first carries one.
func (e *Engine) OnCall(c correlate.Call) {
	e.OnCallFindings(c, nil)
}

// OnCallFindings is OnCall with the call's diagnosis findings (e.g.
// "one_way_audio", "no_media"); pass them as soon as they are known, with
// the record. Each finding of a call is counted once.
func (e *Engine) OnCallFindings(c correlate.Call, findings []string) {
	if e.cfg.Disabled {
		return
	}
	if ts := c.LastUpdate.UnixNano(); !c.LastUpdate.IsZero() {
		e.tick(ts)
	}
	e.calls.observe(e, &c, findings)
}

// OnRegistration takes a registration record each time it changes
// (correlate's UpdatedRegistrations).
func (e *Engine) OnRegistration(r correlate.Registration) {
	if e.cfg.Disabled {
		return
	}
	if !r.End.IsZero() {
		e.tick(r.End.UnixNano())
	}
	e.regFail.observe(e, &r)
}

// fnv64 hashes b without allocating (FNV-1a); deterministic, so a file
// gives the same distinct counts on every run.
func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return mix(h)
}

func fnv64s(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix(h)
}

// mix spreads FNV's bits (its low bits vary little between short numeric
// strings such as extensions), as MurmurHash3's finalizer does.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// containsFold tells whether b contains the lower-case ASCII pattern p,
// ignoring the case of b.
func containsFold(b []byte, p string) bool {
	n := len(p)
	for i := 0; i+n <= len(b); i++ {
		j := 0
		for ; j < n; j++ {
			c := b[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != p[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

func lowerAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(strings.TrimSpace(s))
	}
	return out
}
