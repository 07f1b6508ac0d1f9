package record

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipscope/sipscope/alert"
)

// Writer stores one alert transition; both storage backends have it.
type Writer interface {
	WriteAlert(ctx context.Context, a alert.Alert) error
}

// Config bounds the recorder. Zero fields take the defaults.
type Config struct {
	// QueueSize is how many transitions wait for the store; more are
	// dropped and counted. Default 1024: an engine holds at most
	// MaxAlerts (1000 by default) alerts, each firing and resolving once.
	QueueSize int
	// Tries is how often a write is attempted before the transition is
	// dropped (counted); back-off doubles from Backoff. Defaults 3, 500 ms.
	Tries   int
	Backoff time.Duration
	// DrainTimeout bounds how long Run keeps writing what is queued once
	// its context ends. Default 5 s.
	DrainTimeout time.Duration
}

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	if c.QueueSize == 0 {
		c.QueueSize = 1024
	}
	if c.Tries == 0 {
		c.Tries = 3
	}
	if c.Backoff == 0 {
		c.Backoff = 500 * time.Millisecond
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 5 * time.Second
	}
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.QueueSize < 1:
		return fmt.Errorf("%w: QueueSize %d < 1", ErrInvalidConfig, c.QueueSize)
	case c.Tries < 1:
		return fmt.Errorf("%w: Tries %d < 1", ErrInvalidConfig, c.Tries)
	case c.Backoff < 0 || c.DrainTimeout < 0:
		return fmt.Errorf("%w: Backoff and DrainTimeout must not be negative", ErrInvalidConfig)
	}
	return nil
}

// Recorder queues alert transitions and writes them to a store. It
// satisfies alert.Sink.
type Recorder struct {
	w   Writer
	cfg Config
	log *slog.Logger
	q   chan alert.Alert
	m   metrics
}

// New returns a Recorder writing to w; cfg gets its defaults, reg and log
// may be nil.
func New(w Writer, cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Recorder, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("record: metrics: %w", err)
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Recorder{w: w, cfg: cfg, log: log, q: make(chan alert.Alert, cfg.QueueSize), m: m}, nil
}

// Alert queues a and returns at once; when the queue is full a is
// dropped and counted.
func (r *Recorder) Alert(a alert.Alert) {
	select {
	case r.q <- a:
	default:
		r.m.dropped.Inc()
	}
}

// Run writes queued transitions until ctx ends, then what is still
// queued for at most DrainTimeout more, and returns. Writes run on a
// context that outlives ctx by DrainTimeout, so ending Run does not abort
// the write in flight.
func (r *Recorder) Run(ctx context.Context) error {
	send, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(r.cfg.DrainTimeout, cancel)
		context.AfterFunc(send, func() { t.Stop() })
	})
	defer stop()
	for ctx.Err() == nil {
		select {
		case a := <-r.q:
			r.write(send, a)
		case <-ctx.Done():
		}
	}
	for send.Err() == nil {
		select {
		case a := <-r.q:
			r.write(send, a)
		default:
			return nil
		}
	}
	// Whatever the drain could not reach is lost; count it.
	for {
		select {
		case <-r.q:
			r.m.failed.Inc()
		default:
			return nil
		}
	}
}

// write tries a until the store takes it, the tries run out or ctx ends.
func (r *Recorder) write(ctx context.Context, a alert.Alert) {
	wait := r.cfg.Backoff
	for try := 1; ; try++ {
		err := r.w.WriteAlert(ctx, a)
		if err == nil {
			r.m.written.Inc()
			return
		}
		if try >= r.cfg.Tries || ctx.Err() != nil {
			r.m.failed.Inc()
			r.log.Warn("alert not stored", "alert", a.ID, "rule", a.Rule, "state", a.State, "tries", try, "err", err)
			return
		}
		r.m.retried.Inc()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		wait *= 2
	}
}

// Tee is an alert.Sink that hands every alert to each of its sinks in
// turn; each must not block (Recorder and webhook.Notifier only queue).
type Tee []alert.Sink

// Alert passes a on.
func (t Tee) Alert(a alert.Alert) {
	for _, s := range t {
		s.Alert(a)
	}
}
