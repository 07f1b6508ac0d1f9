package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipscope/sipscope/alert"
)

// Notifier sends alerts to the configured receivers. It satisfies
// alert.Sink.
type Notifier struct {
	cfg     Config
	client  *http.Client
	log     *slog.Logger
	queues  []chan alert.Alert
	metrics []targetMetrics
}

// New returns a Notifier for cfg (after WithDefaults); reg and log may be
// nil, client nil means a default client (Config.Timeout bounds each
// request either way).
func New(cfg Config, client *http.Client, reg prometheus.Registerer, log *slog.Logger) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(reg, cfg.Targets)
	if err != nil {
		return nil, fmt.Errorf("webhook: metrics: %w", err)
	}
	if client == nil {
		// A transport of its own, whose idle connections Run closes.
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n := &Notifier{cfg: cfg, client: client, log: log, metrics: m}
	for range cfg.Targets {
		n.queues = append(n.queues, make(chan alert.Alert, cfg.QueueSize))
	}
	return n, nil
}

// Alert queues a for every receiver and returns at once; a receiver whose
// queue is full loses it (counted as dropped).
func (n *Notifier) Alert(a alert.Alert) {
	for i, q := range n.queues {
		select {
		case q <- a:
		default:
			n.metrics[i].dropped.Inc()
		}
	}
}

// Run delivers queued alerts until ctx ends, then what is still queued
// (and in flight) for at most DrainTimeout more, and returns.
func (n *Notifier) Run(ctx context.Context) error {
	// Deliveries run on a context that outlives ctx by DrainTimeout, so
	// ending Run does not abort the request in flight.
	send, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(n.cfg.DrainTimeout, cancel)
		context.AfterFunc(send, func() { t.Stop() })
	})
	defer stop()
	var wg sync.WaitGroup
	for i := range n.queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.worker(ctx, send, i)
		}()
	}
	wg.Wait()
	n.client.CloseIdleConnections()
	return nil
}

func (n *Notifier) worker(ctx, send context.Context, i int) {
	q := n.queues[i]
	for ctx.Err() == nil {
		select {
		case a := <-q:
			n.deliver(send, i, a)
		case <-ctx.Done():
		}
	}
	for {
		select {
		case a := <-q:
			n.deliver(send, i, a)
		default:
			return
		}
	}
}

// deliver tries a until the receiver takes it, rejects it, the tries run
// out or ctx ends; back-off doubles between tries.
func (n *Notifier) deliver(ctx context.Context, i int, a alert.Alert) {
	t, m := n.cfg.Targets[i], &n.metrics[i]
	b, err := body(t.Format, a)
	if err != nil {
		m.failed.Inc()
		n.log.Error("alert webhook: encode", "target", i, "err", err)
		return
	}
	wait := n.cfg.Backoff
	for attempt := 1; ; attempt++ {
		err = n.post(ctx, t.URL, b)
		if err == nil {
			m.sent.Inc()
			return
		}
		if attempt >= n.cfg.MaxAttempts || isPermanent(err) || ctx.Err() != nil {
			break
		}
		m.retried.Inc()
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait = min(2*wait, n.cfg.MaxBackoff)
	}
	m.failed.Inc()
	n.log.Warn("alert webhook: dropped", "target", i, "format", t.Format, "rule", a.Rule, "key", a.Key, "state", a.State, "err", err)
}

func isPermanent(err error) bool {
	var se *statusError
	return asStatus(err, &se) && se.permanent
}

// statusError is a non-2xx response.
type statusError struct {
	code      int
	permanent bool
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d", e.code) }

func (e *statusError) Unwrap() error {
	if e.permanent {
		return ErrRejected
	}
	return ErrStatus
}

func asStatus(err error, se **statusError) bool {
	s, ok := err.(*statusError)
	if ok {
		*se = s
	}
	return ok
}

func (n *Notifier) post(ctx context.Context, url string, b []byte) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sipscope-alerts")
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	// Read a bounded amount so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	c := resp.StatusCode
	return &statusError{code: c, permanent: c >= 400 && c < 500 && c != 408 && c != 429}
}
