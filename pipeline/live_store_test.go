package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
)

// gatedStore is the real store with a gate in front of its writes: the
// first Write says it has started and waits until the test opens the gate,
// as a store stuck in a slow insert would.
type gatedStore struct {
	StoreWriter
	started chan struct{}
	gate    chan struct{}
	once    sync.Once
}

func (g *gatedStore) Write(ctx context.Context, b storage.Batch) error {
	g.once.Do(func() { close(g.started) })
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.StoreWriter.Write(ctx, b)
}

// pausedSource hands over the first frames of src, waits for until, and
// then trickles the rest, one every 20 µs, so that the pipeline's flushes
// keep finding news while they come.
type pausedSource struct {
	src   Source
	after int
	until chan struct{}
	ended chan struct{} // closed when src is exhausted
}

func (p *pausedSource) Next(f *frame.Frame) error {
	switch {
	case p.after == 0:
		<-p.until
	case p.after < 0:
		time.Sleep(20 * time.Microsecond)
	}
	p.after--
	err := p.src.Next(f)
	if errors.Is(err, io.EOF) && p.ended != nil {
		close(p.ended)
		p.ended = nil
	}
	return err
}

// TestLiveStoreWritesDoNotHoldUpThePipeline: while the store is stuck in a
// write, the pipeline goes on taking frames off the queue (so the capture
// rings and the queue do not fill), and what it learned meanwhile is
// written once the store is back, none of it lost.
func TestLiveStoreWritesDoNotHoldUpThePipeline(t *testing.T) {
	const path = "../testdata/calls.pcap"
	ctx := t.Context()
	store, err := embedded.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	gated := &gatedStore{StoreWriter: store, started: make(chan struct{}), gate: make(chan struct{})}
	r := NewLiveRunner(LiveOptions{FlushEvery: time.Millisecond}, gated, slog.New(slog.DiscardHandler), nil)
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// The first frames go before the store write starts, the rest after.
	ended := make(chan struct{})
	r.sources = append(r.sources, &pausedSource{src: src, after: 20, until: gated.started, ended: ended})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	select {
	case <-gated.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no store write started")
	}
	// Once the file's frames are all read, with the write still stuck, the
	// pipeline must empty the queue.
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the capture was not read to its end")
	}
	for deadline := time.Now().Add(10 * time.Second); len(r.q.ring.Spans()) != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("with the store stuck in a write, %d frames stay queued", len(r.q.ring.Spans()))
		}
	}
	close(gated.gate)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	want, err := AnalyzeFile(path, QualityOptions{G711PLC: true})
	if err != nil {
		t.Fatal(err)
	}
	page, err := store.ListCalls(ctx, storage.CallFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != len(want.Calls) {
		t.Fatalf("%d calls stored, the offline analysis finds %d", page.Total, len(want.Calls))
	}
	stored, wantMsgs := 0, 0
	for _, c := range want.Calls {
		wantMsgs += c.Messages
		d, err := store.GetCall(ctx, c.CallID)
		if err != nil {
			t.Fatalf("call %s: %v", c.CallID, err)
		}
		stored += len(d.Messages)
		if d.Call.State != c.State {
			t.Errorf("call %s stored as %s, the offline analysis says %s", c.CallID, d.Call.State, c.State)
		}
	}
	if stored != wantMsgs {
		t.Errorf("%d SIP messages stored, want %d", stored, wantMsgs)
	}
	if st := r.Status(); st.WriteErrors != 0 || st.QueueDrops != 0 {
		t.Errorf("status: %d write errors, %d queue drops", st.WriteErrors, st.QueueDrops)
	}
}

// TestOnStoredSeesEachBatchAfterTheStoreHasIt: the callback gets every
// call the store took, only once the store has it, and nothing of a batch
// the store refused.
func TestOnStoredSeesEachBatchAfterTheStoreHasIt(t *testing.T) {
	const path = "../testdata/calls.pcap"
	for _, tc := range []struct {
		name string
		fail bool
	}{
		{"a working store reports every call it took", false},
		{"a store that refuses every batch reports none", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			store, err := embedded.Open(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			var w StoreWriter = store
			if tc.fail {
				w = &failingStore{StoreWriter: store, fail: -1, messages: map[string]int{}}
			}
			seen := map[string]bool{}
			var notYetStored []string
			onStored := func(b storage.Batch) {
				for _, c := range b.Calls {
					seen[c.CallID] = true
					if _, err := store.GetCall(ctx, c.CallID); err != nil {
						notYetStored = append(notYetStored, c.CallID)
					}
				}
			}
			r := NewLiveRunner(LiveOptions{FlushEvery: time.Millisecond, OnStored: onStored}, w, slog.New(slog.DiscardHandler), nil)
			src, err := capture.OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			r.sources = append(r.sources, src)
			if err := r.Run(ctx); (err != nil) != tc.fail {
				t.Fatalf("Run: %v", err)
			}
			if len(notYetStored) > 0 {
				t.Errorf("OnStored saw calls the store did not have yet: %q", notYetStored)
			}
			if tc.fail {
				if len(seen) != 0 {
					t.Errorf("OnStored saw %d calls of refused batches", len(seen))
				}
				return
			}
			want, err := AnalyzeFile(path, QualityOptions{G711PLC: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range want.Calls {
				if !seen[c.CallID] {
					t.Errorf("call %s stored but never reported", c.CallID)
				}
			}
			if len(seen) != len(want.Calls) {
				t.Errorf("OnStored saw %d calls, the capture has %d", len(seen), len(want.Calls))
			}
		})
	}
}
