// Package storebench measures the latency of what the API asks a store
// most (the newest page, a time range with a number, a Call-ID, a call's
// detail) on a store as it is: `sipscope bench store` and
// `make bench-storage` print its figures. It reads only; any backend
// (chDB or a ClickHouse server) can be measured with the same queries.
package storebench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"syscall"
	"time"

	"github.com/sipscope/sipscope/storage"
)

// Store is what the benchmark reads.
type Store interface {
	ListCalls(ctx context.Context, f storage.CallFilter) (storage.CallPage, error)
	GetCall(ctx context.Context, callID string) (storage.CallDetail, error)
}

// ErrEmpty: there is nothing to measure on a store without calls.
var ErrEmpty = errors.New("storebench: the store holds no calls")

// Config says how many times each query runs.
type Config struct {
	Rounds int    // queries of each kind (default 100)
	Seed   uint64 // picks the windows and Call-IDs
	// Window is the time range of the range search (default 1 h).
	Window time.Duration
}

// Validate names the first bad field.
func (c Config) Validate() error {
	if c.Rounds < 0 || c.Rounds > 100_000 {
		return fmt.Errorf("storebench: Rounds %d not in [0, 100000]", c.Rounds)
	}
	if c.Window < 0 {
		return fmt.Errorf("storebench: Window %v is negative", c.Window)
	}
	return nil
}

// Query kinds, in the order Result lists them.
const (
	QueryNewest = "newest 50" // the first page, no filter
	// QueryNewestRows is the first page without its total (total=false),
	// as the UI asks for it beside its count strip.
	QueryNewestRows = "newest 50, no total"
	QueryRange      = "1 h range + number" // a time window and a caller substring
	QueryCallID     = "Call-ID search"     // the list filtered by one Call-ID
	QueryDetail     = "call detail"        // GetCall: the call, its messages, streams
)

// Latency is the distribution of one query kind: wall time, and the
// process's CPU time (engine threads included), which a machine shared
// with other work inflates less than the wall time.
type Latency struct {
	Query         string
	N             int
	P50, P99, Max time.Duration
	CPUP50        time.Duration
	CPUP99        time.Duration
}

// Result is what Run measured.
type Result struct {
	Calls       int       // calls in the store (the newest page's total)
	First, Last time.Time // starts of the oldest and the newest call
	Latencies   []Latency
}

// Run measures each query kind Rounds times on s.
func Run(ctx context.Context, s Store, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if cfg.Rounds == 0 {
		cfg.Rounds = 100
	}
	if cfg.Window == 0 {
		cfg.Window = time.Hour
	}
	newest, err := s.ListCalls(ctx, storage.CallFilter{Limit: 1})
	if err != nil {
		return Result{}, err
	}
	if len(newest.Calls) == 0 {
		return Result{}, ErrEmpty
	}
	oldest, err := s.ListCalls(ctx, storage.CallFilter{Limit: 1, Ascending: true})
	if err != nil {
		return Result{}, err
	}
	res := Result{Calls: newest.Total, First: oldest.Calls[0].Start, Last: newest.Calls[0].Start}
	r := rand.New(rand.NewPCG(cfg.Seed, 11))
	span := res.Last.Sub(res.First)
	at := func() time.Time { return res.First.Add(time.Duration(r.Int64N(int64(span) + 1))) }

	// Call-IDs to look up: the first call after random instants.
	ids := make([]string, 0, cfg.Rounds)
	for range cfg.Rounds {
		p, err := s.ListCalls(ctx, storage.CallFilter{From: at(), Limit: 1, Ascending: true})
		if err != nil {
			return Result{}, err
		}
		if len(p.Calls) > 0 {
			ids = append(ids, p.Calls[0].CallID)
		}
	}
	if len(ids) == 0 {
		return Result{}, ErrEmpty
	}
	runs := []struct {
		name string
		run  func(i int) error
	}{
		{QueryNewest, func(int) error { _, err := s.ListCalls(ctx, storage.CallFilter{Limit: 50}); return err }},
		{QueryNewestRows, func(int) error {
			_, err := s.ListCalls(ctx, storage.CallFilter{Limit: 50, NoTotal: true})
			return err
		}},
		{QueryRange, func(int) error {
			from := at()
			_, err := s.ListCalls(ctx, storage.CallFilter{From: from, To: from.Add(cfg.Window),
				FromUser: fmt.Sprint(r.IntN(1000)), Limit: 50})
			return err
		}},
		{QueryCallID, func(i int) error {
			p, err := s.ListCalls(ctx, storage.CallFilter{CallID: ids[i%len(ids)]})
			if err == nil && p.Total != 1 {
				err = fmt.Errorf("storebench: Call-ID %q found %d times", ids[i%len(ids)], p.Total)
			}
			return err
		}},
		{QueryDetail, func(i int) error { _, err := s.GetCall(ctx, ids[i%len(ids)]); return err }},
	}
	for _, q := range runs {
		took, cpu := make([]time.Duration, cfg.Rounds), make([]time.Duration, cfg.Rounds)
		for i := range took {
			start, c0 := time.Now(), cpuTime()
			if err := q.run(i); err != nil {
				return Result{}, fmt.Errorf("%s: %w", q.name, err)
			}
			took[i], cpu[i] = time.Since(start), cpuTime()-c0
		}
		l := summarize(q.name, took)
		c := summarize(q.name, cpu)
		l.CPUP50, l.CPUP99 = c.P50, c.P99
		res.Latencies = append(res.Latencies, l)
	}
	return res, nil
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func summarize(name string, took []time.Duration) Latency {
	slices.Sort(took)
	pick := func(p float64) time.Duration { return took[min(len(took)-1, int(p*float64(len(took))))] }
	return Latency{Query: name, N: len(took), P50: pick(0.50), P99: pick(0.99), Max: took[len(took)-1]}
}

// WriteText writes r as the store's span and a line per query kind:
// wall-clock and CPU percentiles in milliseconds.
func (r Result) WriteText(w io.Writer, where string) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	fmt.Fprintf(w, "store %s: %d calls from %s to %s\n", where, r.Calls, r.First.Format(time.RFC3339), r.Last.Format(time.RFC3339))
	for _, l := range r.Latencies {
		fmt.Fprintf(w, "%-24s n=%d p50=%.1fms p99=%.1fms max=%.1fms  cpu p50=%.1fms p99=%.1fms\n", l.Query, l.N,
			ms(l.P50), ms(l.P99), ms(l.Max), ms(l.CPUP50), ms(l.CPUP99))
	}
}
