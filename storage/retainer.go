package storage

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RetentionEnforcer is a store that can apply a retention policy
// (embedded.Store and server.Store).
type RetentionEnforcer interface {
	EnforceRetention(ctx context.Context, p RetentionPolicy, now time.Time) (RetentionResult, error)
}

// Retainer applies a retention policy to a store at start and then every
// Every, and keeps the disk use per table for status and /metrics.
type Retainer struct {
	store  RetentionEnforcer
	policy RetentionPolicy
	every  time.Duration
	log    *slog.Logger

	mu       sync.Mutex
	last     RetentionResult
	lastRun  time.Time
	lastErr  string
	dropped  map[string]uint64 // partitions dropped, by reason
	freed    uint64            // bytes of the dropped partitions
	compact  uint64            // finished days merged into one part
	failures uint64
}

// DefaultRetentionEvery is how often a Retainer runs unless told otherwise.
const DefaultRetentionEvery = 10 * time.Minute

// NewRetainer registers sipscope_store_retention_* and
// sipscope_store_table_bytes on reg (when not nil).
func NewRetainer(store RetentionEnforcer, p RetentionPolicy, every time.Duration, logger *slog.Logger, reg prometheus.Registerer) (*Retainer, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if every <= 0 {
		every = DefaultRetentionEvery
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Retainer{store: store, policy: p, every: every, log: logger, dropped: map[string]uint64{}}
	if reg != nil {
		if err := reg.Register(retainerCollector{r}); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Run enforces the policy until ctx ends. A failed round is logged and
// counted, and the next one tries again.
func (r *Retainer) Run(ctx context.Context) error {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		r.Once(ctx, time.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once runs one round with now as the clock.
func (r *Retainer) Once(ctx context.Context, now time.Time) (RetentionResult, error) {
	res, err := r.store.EnforceRetention(ctx, r.policy, now)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastRun = now
	for _, p := range res.Dropped {
		r.dropped[p.Reason]++
		r.freed += uint64(p.Bytes)
	}
	r.compact += uint64(len(res.Compacted))
	if err != nil {
		r.failures++
		r.lastErr = err.Error()
		r.log.Error("retention", "err", err)
		return res, err
	}
	r.lastErr = ""
	r.last = res
	if len(res.Compacted) > 0 {
		r.log.Info("retention merged finished days into one part each", "partitions", len(res.Compacted))
	}
	if len(res.Dropped) > 0 {
		r.log.Info("retention dropped partitions", "partitions", len(res.Dropped), "bytes_before", res.BytesBefore, "bytes_after", res.BytesAfter)
	}
	if res.OverBound {
		r.log.Warn("retention: the disk bound cannot be met without dropping today's data", "bytes", res.BytesAfter, "bound", r.policy.MaxBytes)
	}
	return res, nil
}

// RetentionStatus is what status shows of retention.
type RetentionStatus struct {
	TableBytes map[string]int64  `json:"table_bytes"`
	Bytes      int64             `json:"bytes"`
	MaxBytes   int64             `json:"max_bytes"`
	LastRun    string            `json:"last_run,omitempty"`
	LastError  string            `json:"last_error,omitempty"`
	Dropped    map[string]uint64 `json:"dropped_partitions"`
	FreedBytes uint64            `json:"freed_bytes"`
	// Compacted counts the finished days' partitions merged into one part.
	Compacted uint64 `json:"compacted_partitions"`
	OverBound bool   `json:"over_bound"`
}

// Status is the last round's figures; safe from any goroutine.
func (r *Retainer) Status() RetentionStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := RetentionStatus{TableBytes: map[string]int64{}, Bytes: r.last.BytesAfter, MaxBytes: r.policy.MaxBytes,
		LastError: r.lastErr, Dropped: map[string]uint64{}, FreedBytes: r.freed, OverBound: r.last.OverBound, Compacted: r.compact}
	for k, v := range r.last.TableBytes {
		st.TableBytes[k] = v
	}
	for k, v := range r.dropped {
		st.Dropped[k] = v
	}
	if !r.lastRun.IsZero() {
		st.LastRun = r.lastRun.UTC().Format(time.RFC3339)
	}
	return st
}

var (
	tableBytesDesc = prometheus.NewDesc("sipscope_store_table_bytes", "Disk used by each sipscope table as of the last retention round.", []string{"table"}, nil)
	droppedDesc    = prometheus.NewDesc("sipscope_store_retention_dropped_partitions_total", "Partitions dropped by retention, by reason (age, size).", []string{"reason"}, nil)
	freedDesc      = prometheus.NewDesc("sipscope_store_retention_freed_bytes_total", "Bytes of the partitions retention dropped.", nil, nil)
	compactDesc    = prometheus.NewDesc("sipscope_store_compacted_partitions_total", "Finished days' partitions that retention rounds merged into one part.", nil, nil)
	failDesc       = prometheus.NewDesc("sipscope_store_retention_failures_total", "Retention rounds that failed.", nil, nil)
)

type retainerCollector struct{ r *Retainer }

func (c retainerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tableBytesDesc
	ch <- droppedDesc
	ch <- freedDesc
	ch <- compactDesc
	ch <- failDesc
}

func (c retainerCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.r.Status()
	for _, t := range tables() {
		ch <- prometheus.MustNewConstMetric(tableBytesDesc, prometheus.GaugeValue, float64(st.TableBytes[t.name]), t.name)
	}
	for _, reason := range []string{"age", "size"} {
		ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(st.Dropped[reason]), reason)
	}
	ch <- prometheus.MustNewConstMetric(freedDesc, prometheus.CounterValue, float64(st.FreedBytes))
	ch <- prometheus.MustNewConstMetric(compactDesc, prometheus.CounterValue, float64(st.Compacted))
	c.r.mu.Lock()
	f := c.r.failures
	c.r.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(failDesc, prometheus.CounterValue, float64(f))
}

// SettleMerges runs retention rounds without limits, back to back, until
// no finished day is left to merge into one part: what serve's rounds do
// over its first minutes or hours with the store, at once (a benchmark of
// a freshly imported store measures it as serve would keep it). It
// returns how many partitions it merged.
func SettleMerges(ctx context.Context, s RetentionEnforcer, now time.Time) (int, error) {
	merged := 0
	for {
		res, err := s.EnforceRetention(ctx, RetentionPolicy{}, now)
		if err != nil {
			return merged, err
		}
		if len(res.Compacted) == 0 {
			return merged, nil
		}
		merged += len(res.Compacted)
	}
}
