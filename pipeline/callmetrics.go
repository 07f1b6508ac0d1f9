package pipeline

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sipscope/sipscope/correlate"
)

// callMetrics are the live KPIs as Prometheus metrics (issue #12): every
// finished call by state and end reason, its MOS and post-dial delay, and
// every registration outcome. They count what live mode writes to the
// store, at each flush, so a dashboard needs no query of the store. Label
// values come only from fixed enums; anything else is "other".
type callMetrics struct {
	calls *prometheus.CounterVec
	mos   prometheus.Histogram
	pdd   prometheus.Histogram
	regs  *prometheus.CounterVec
	// A finished call is written again when late news reaches it (a
	// retransmitted BYE): counted holds the Call-IDs already counted
	// (hashed), regSeen each registration exchange's last counted outcome.
	// Both are keyed by wire data, so both are capped.
	counted   *hashFIFO[struct{}]
	regSeen   *hashFIFO[regOutcome]
	forgotten prometheus.Counter
}

// regOutcome is what was counted of one registration exchange.
type regOutcome struct {
	attempts int
	result   string
}

// Registration results (sipscope_registrations_total{result}).
const (
	regSucceeded = "succeeded" // a 2xx ended the exchange
	regFailed    = "failed"    // a final failure: 3xx-6xx, 401/407 after credentials were sent
)

// maxCountedRecords bounds the calls and the registrations remembered as
// counted: far more than finish within a call's linger time.
const maxCountedRecords = 1 << 16

// callStates and endReasons are the label values calls_total takes.
var (
	callStates = []string{correlate.StateAnswered, correlate.StateFailed, correlate.StateCancelled, correlate.StateNoFinal}
	endReasons = []string{correlate.EndCallerBye, correlate.EndCalleeBye, correlate.EndNoBye, correlate.EndBusy,
		correlate.EndNoAnswer, correlate.EndCancelled, correlate.EndTimeout, correlate.EndRejected, correlate.EndAuthFailed,
		correlate.EndInProgress, correlate.EndNoFinal, correlate.EndCaptureEnded, correlate.EndBye}
)

func newCallMetrics(reg prometheus.Registerer) *callMetrics {
	m := &callMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sipscope_calls_total",
			Help: "Calls that ended, by state (answered, failed, cancelled, no_final) and end reason.",
		}, []string{"state", "end_reason"}),
		mos: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sipscope_call_mos",
			Help:    "MOS (E-model MOS-CQ of the worst direction) of the calls that ended with RTP.",
			Buckets: []float64{1, 2, 2.5, 3, 3.5, 3.6, 4, 4.2, 4.5},
		}),
		pdd: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sipscope_call_pdd_seconds",
			Help:    "Post-dial delay (RFC 6076 session request delay: INVITE to first 18x) of the calls that ended having rung.",
			Buckets: []float64{0.25, 0.5, 1, 2, 3, 4, 6, 8, 10, 15, 30},
		}),
		regs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sipscope_registrations_total",
			Help: "REGISTER outcomes: succeeded (2xx) or failed (3xx-6xx; 401/407 only after credentials were sent).",
		}, []string{"result"}),
		forgotten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sipscope_call_metrics_forgotten_total",
			Help: "Counted calls and registrations forgotten to stay within the bound (a later copy of one would count again).",
		}),
		counted: newHashFIFO[struct{}](maxCountedRecords),
		regSeen: newHashFIFO[regOutcome](maxCountedRecords),
	}
	// The registration results exist from the start, at zero.
	m.regs.WithLabelValues(regSucceeded)
	m.regs.WithLabelValues(regFailed)
	reg.MustRegister(m.calls, m.mos, m.pdd, m.regs, m.forgotten)
	return m
}

// enumOr is v when it is one of known, else "other".
func enumOr(v string, known []string) string {
	if slices.Contains(known, v) {
		return v
	}
	return "other"
}

// observe counts a flush's records: calls the first time they are
// written finished, registrations each time their outcome changes. A nil
// m counts nothing.
func (m *callMetrics) observe(calls []correlate.Call, regs []correlate.Registration) {
	if m == nil {
		return
	}
	for i := range calls {
		c := &calls[i]
		if !c.Finished || c.CallID == "" {
			continue
		}
		if _, seen := m.counted.get(hashString(c.CallID)); seen {
			continue
		}
		if m.counted.put(hashString(c.CallID), struct{}{}) {
			m.forgotten.Inc()
		}
		m.calls.WithLabelValues(enumOr(c.State, callStates), enumOr(c.EndReason, endReasons)).Inc()
		if c.MOS > 0 {
			m.mos.Observe(c.MOS)
		}
		if c.PDDMs > 0 {
			m.pdd.Observe(c.PDDMs / 1000)
		}
	}
	for i := range regs {
		r := &regs[i]
		result := registrationResult(r)
		if result == "" {
			continue
		}
		key := hashString(r.CallID) ^ uint64(r.Start.UnixNano())
		if last, seen := m.regSeen.get(key); seen && last.attempts == r.Attempts && last.result == result {
			continue // the same outcome written again
		}
		if m.regSeen.put(key, regOutcome{attempts: r.Attempts, result: result}) {
			m.forgotten.Inc()
		}
		m.regs.WithLabelValues(result).Inc()
	}
}

// registrationResult is the outcome a registration record shows, "" while
// it has none: a 401/407 before credentials were sent is a step of the
// exchange, not its end (the rule of the registration_failures alert).
func registrationResult(r *correlate.Registration) string {
	switch c := r.FinalCode; {
	case c >= 200 && c < 300 && !r.Failed:
		return regSucceeded
	case c == 401 || c == 407:
		if r.Attempts >= 2 {
			return regFailed
		}
	case c >= 300:
		return regFailed
	}
	return ""
}

// hashString is FNV-1a: Call-IDs are remembered by 8 bytes each, not by
// their text.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// hashFIFO is a map of at most limit entries that forgets the oldest
// inserted first.
type hashFIFO[V any] struct {
	m     map[uint64]V
	order []uint64 // ring of keys in insertion order
	next  int      // where the next key goes in order once it is full
	limit int
}

func newHashFIFO[V any](limit int) *hashFIFO[V] {
	return &hashFIFO[V]{m: make(map[uint64]V), limit: limit}
}

func (f *hashFIFO[V]) get(k uint64) (V, bool) {
	v, ok := f.m[k]
	return v, ok
}

// put sets k to v and reports whether an older entry was forgotten for it.
func (f *hashFIFO[V]) put(k uint64, v V) (forgot bool) {
	if _, ok := f.m[k]; ok {
		f.m[k] = v
		return false
	}
	f.m[k] = v
	if len(f.order) < f.limit {
		f.order = append(f.order, k)
		return false
	}
	delete(f.m, f.order[f.next])
	f.order[f.next] = k
	f.next = (f.next + 1) % f.limit
	return true
}
