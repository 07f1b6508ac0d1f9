package record

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
)

// value reads a counter.
func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

func openStore(t *testing.T) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func storm(id string, start time.Time) alert.Alert {
	return alert.Alert{ID: id, Rule: "registration_storm", Severity: "critical", Key: "global", State: alert.StateFiring,
		Start: start, Summary: "REGISTER storm", Figures: map[string]float64{"rate": 900},
		TopOffenders: []alert.Offender{{Kind: "ip", Value: "198.51.100.7", Count: 400}}}
}

// eventually polls cond until it holds or 20 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run starts r.Run and returns a stop that ends it and waits.
func run(t *testing.T, r *Recorder) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return")
		}
	}
}

func TestRecorder(t *testing.T) {
	start := time.Date(2024, 8, 1, 9, 0, 0, 0, time.UTC)

	t.Run("transitions reach the store in order and a resolution replaces its firing", func(t *testing.T) {
		st := openStore(t)
		defer st.Close()
		reg := prometheus.NewRegistry()
		r, err := New(st, Config{}, reg, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, b := storm("a1", start), storm("b2", start.Add(time.Hour))
		r.Alert(a)
		resolved := a
		resolved.State, resolved.End = alert.StateResolved, start.Add(2*time.Minute)
		r.Alert(resolved)
		stop := run(t, r)
		r.Alert(b) // while running
		eventually(t, "three writes", func() bool { return value(r.m.written) == 3 })
		stop()
		p, err := st.ListAlerts(context.Background(), storage.AlertFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Alerts) != 2 || p.Alerts[0].ID != "b2" || p.Alerts[1].State != alert.StateResolved || !p.Alerts[1].End.Equal(resolved.End) || p.Firing != 1 {
			t.Errorf("stored: %+v", p)
		}
	})

	t.Run("a full queue drops the newest and counts them", func(t *testing.T) {
		st := openStore(t)
		defer st.Close()
		r, err := New(st, Config{QueueSize: 2}, prometheus.NewRegistry(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			r.Alert(storm(string(rune('a'+i)), start))
		}
		if got := value(r.m.dropped); got != 3 {
			t.Errorf("dropped %v, want 3", got)
		}
		stop := run(t, r)
		eventually(t, "two writes", func() bool { return value(r.m.written) == 2 })
		stop()
		if p, err := st.ListAlerts(context.Background(), storage.AlertFilter{}); err != nil || p.Total != 2 {
			t.Errorf("stored %d (err %v), want the 2 queued", p.Total, err)
		}
	})

	t.Run("a store that refuses writes is retried, then the transition is counted as failed", func(t *testing.T) {
		st := openStore(t)
		st.Close() // a closed store refuses every write with storage.ErrClosed
		if err := st.WriteAlert(context.Background(), storm("x", start)); !errors.Is(err, storage.ErrClosed) {
			t.Fatalf("closed store: %v", err)
		}
		r, err := New(st, Config{Tries: 3, Backoff: time.Millisecond}, prometheus.NewRegistry(), nil)
		if err != nil {
			t.Fatal(err)
		}
		stop := run(t, r)
		r.Alert(storm("x", start))
		eventually(t, "a failure", func() bool { return value(r.m.failed) == 1 })
		stop()
		if got := value(r.m.retried); got != 2 {
			t.Errorf("retried %v, want 2", got)
		}
	})

	t.Run("a tee hands each alert to every sink", func(t *testing.T) {
		r1, _ := New(nil, Config{QueueSize: 4}, nil, nil)
		r2, _ := New(nil, Config{QueueSize: 4}, nil, nil)
		Tee{r1, r2}.Alert(storm("t", start))
		if len(r1.q) != 1 || len(r2.q) != 1 {
			t.Errorf("queued %d and %d, want 1 each", len(r1.q), len(r2.q))
		}
	})

	t.Run("a bad config is refused", func(t *testing.T) {
		for _, c := range []Config{{QueueSize: -1}, {Tries: -1}, {Backoff: -time.Second}} {
			if _, err := New(nil, c, nil, nil); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("%+v: %v", c, err)
			}
		}
	})
}
