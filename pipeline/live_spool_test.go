package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
	"github.com/sipscope/sipscope/storage/spool"
)

var errStoreDown = errors.New("test: store down")

// failingStore is the real store behind a gate that refuses the first
// fail writes, as a store in an outage does, and then passes writes
// through. It counts every SIP message the store acknowledged, by
// identity, so that a message stored twice or never shows.
type failingStore struct {
	StoreWriter
	mu       sync.Mutex
	fail     int // writes still to refuse; -1 refuses all
	refused  int
	messages map[string]int
}

func (f *failingStore) Write(ctx context.Context, b storage.Batch) error {
	f.mu.Lock()
	if f.fail != 0 {
		if f.fail > 0 {
			f.fail--
		}
		f.refused++
		f.mu.Unlock()
		return errStoreDown
	}
	f.mu.Unlock()
	if err := f.StoreWriter.Write(ctx, b); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range b.Messages {
		f.messages[fmt.Sprintf("%s|%d|%s", m.CallID, m.TS.UnixNano(), m.Raw)]++
	}
	return nil
}

// discardStore acknowledges every write and keeps nothing.
type discardStore struct{}

func (discardStore) Write(context.Context, storage.Batch) error { return nil }

// checkStoredOnce compares what the store holds and what it acknowledged
// with the offline analysis of path: every call, every message, once.
func checkStoredOnce(t *testing.T, store *embedded.Store, gate *failingStore, path string) {
	t.Helper()
	ctx := t.Context()
	want, err := AnalyzeFile(path, QualityOptions{G711PLC: true})
	if err != nil {
		t.Fatal(err)
	}
	// Every SIP message of the capture (calls, registrations and the
	// rest), as an import with a store that never fails writes them.
	clean := &failingStore{StoreWriter: discardStore{}, messages: map[string]int{}}
	if _, err := ImportFile(ctx, clean, path); err != nil {
		t.Fatal(err)
	}
	for k := range clean.messages {
		if n := gate.messages[k]; n != 1 {
			t.Errorf("message %.60q acknowledged %d times, want once", k, n)
		}
	}
	if len(gate.messages) != len(clean.messages) {
		t.Errorf("the store acknowledged %d distinct SIP messages, the capture has %d", len(gate.messages), len(clean.messages))
	}
	page, err := store.ListCalls(ctx, storage.CallFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != len(want.Calls) {
		t.Fatalf("%d calls stored, the offline analysis finds %d", page.Total, len(want.Calls))
	}
	for _, c := range want.Calls {
		d, err := store.GetCall(ctx, c.CallID)
		if err != nil {
			t.Fatalf("call %s: %v", c.CallID, err)
		}
		if len(d.Messages) != c.Messages || d.Call.State != c.State {
			t.Errorf("call %s stored as %s with %d messages, the analysis says %s with %d",
				c.CallID, d.Call.State, len(d.Messages), c.State, c.Messages)
		}
	}
}

// TestLiveStoreOutageLosesNothingWithTheSpool: the store refuses the first
// writes; the refused batches go to the disk spool and are replayed in
// order once it answers, so every call and SIP message is stored exactly
// once, and the status shows the spool at work and empty at the end.
func TestLiveStoreOutageLosesNothingWithTheSpool(t *testing.T) {
	const path = "../testdata/calls.pcap"
	ctx := t.Context()
	store, err := embedded.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reg := prometheus.NewRegistry()
	sp, err := spool.Open(spool.Config{Dir: t.TempDir(), MaxBytes: 64 << 20, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	gate := &failingStore{StoreWriter: store, fail: 8, messages: map[string]int{}}
	r := NewLiveRunner(LiveOptions{FlushEvery: time.Millisecond, StoreSpool: sp, StoreRetry: 2 * time.Millisecond},
		gate, slog.New(slog.DiscardHandler), reg)
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// Trickled, so that batches keep coming during and after the outage.
	r.sources = append(r.sources, &pausedSource{src: src, after: -1})
	if err := r.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if gate.refused != 8 {
		t.Fatalf("the store refused %d writes, want 8", gate.refused)
	}
	checkStoredOnce(t, store, gate, path)
	st := r.Status()
	if st.StoreSpool == nil || st.StoreSpool.Appended == 0 || st.StoreSpool.Replayed != st.StoreSpool.Appended ||
		st.StoreSpool.Records != 0 || st.StoreSpool.Dropped != 0 || st.StoreLost != 0 {
		t.Errorf("status: spool %+v, lost %d: want batches spooled, all replayed, none waiting, dropped or lost", st.StoreSpool, st.StoreLost)
	}
	if st.WriteErrors < 8 {
		t.Errorf("status: %d write errors, want at least the 8 refused", st.WriteErrors)
	}
}

// TestSpooledBatchesAreReplayedByTheNextRun: the store is down for a whole
// run, which ends with everything in the spool; the next run, with the
// store back, replays it before anything else.
func TestSpooledBatchesAreReplayedByTheNextRun(t *testing.T) {
	const path = "../testdata/calls.pcap"
	ctx := t.Context()
	store, err := embedded.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	dir := t.TempDir()
	gate := &failingStore{StoreWriter: store, fail: -1, messages: map[string]int{}}

	sp, err := spool.Open(spool.Config{Dir: dir, MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	r := NewLiveRunner(LiveOptions{FlushEvery: time.Millisecond, StoreSpool: sp}, gate, slog.New(slog.DiscardHandler), nil)
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	r.sources = append(r.sources, src)
	if err := r.Run(ctx); err != nil {
		t.Fatalf("Run with the store down: %v (a spooled batch is not lost)", err)
	}
	waiting := sp.Len()
	if waiting == 0 || len(gate.messages) != 0 {
		t.Fatalf("with the store down: %d batches spooled, %d messages stored", waiting, len(gate.messages))
	}
	sp.Close()

	gate.fail = 0
	sp, err = spool.Open(spool.Config{Dir: dir, MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if sp.Len() != waiting {
		t.Fatalf("reopened spool has %d batches, %d were left", sp.Len(), waiting)
	}
	r = NewLiveRunner(LiveOptions{FlushEvery: time.Millisecond, StoreSpool: sp}, gate, slog.New(slog.DiscardHandler), nil)
	if err := r.Run(ctx); err != nil {
		t.Fatalf("Run with the store back: %v", err)
	}
	if sp.Len() != 0 {
		t.Errorf("%d batches still spooled after the store came back", sp.Len())
	}
	checkStoredOnce(t, store, gate, path)
}

// TestWithoutASpoolAFailedBatchIsCountedLost keeps the old behaviour
// visible: no spool, a refused batch is gone and says so.
func TestWithoutASpoolAFailedBatchIsCountedLost(t *testing.T) {
	ctx := t.Context()
	store, err := embedded.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	gate := &failingStore{StoreWriter: store, fail: -1, messages: map[string]int{}}
	r := NewLiveRunner(LiveOptions{FlushEvery: time.Millisecond}, gate, slog.New(slog.DiscardHandler), nil)
	src, err := capture.OpenFile("../testdata/calls.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	r.sources = append(r.sources, src)
	if err := r.Run(ctx); !errors.Is(err, errStoreDown) {
		t.Errorf("Run: %v, want the store's error for the lost last batch", err)
	}
	if st := r.Status(); st.StoreLost == 0 || st.StoreLost != st.WriteErrors || st.StoreSpool != nil {
		t.Errorf("status: %d lost, %d write errors, spool %v", st.StoreLost, st.WriteErrors, st.StoreSpool)
	}
}
