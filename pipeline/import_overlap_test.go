package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipscope/sipscope/gen"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
)

// serialWrites forwards to the store and records how the import called
// it: how many writes, and whether two ever ran at once.
type serialWrites struct {
	*embedded.Store
	running, writes, overlapped atomic.Int32
}

func (w *serialWrites) Write(ctx context.Context, b storage.Batch) error {
	if w.running.Add(1) > 1 {
		w.overlapped.Add(1)
	}
	defer w.running.Add(-1)
	w.writes.Add(1)
	return w.Store.Write(ctx, b)
}

// An import writes a batch while it decodes the next, with the next
// batch's frames in other memory: every stored frame must still be the
// frame of its message, and every call's messages must all be there.
func TestImportWritesEachBatchWhileTheNextIsDecodedAndLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calls.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := gen.Write(f, gen.Config{Calls: 3000, Seed: 3, SIPOnly: true, CPS: 200,
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := embedded.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	w := &serialWrites{Store: store}
	// A 2 MB arena (written at half) makes a batch of every ~1,600 SIP
	// frames: about seven batches.
	n, err := ImportFileWith(ctx, w, path, ImportOptions{FrameArenaBytes: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(truth.Calls) {
		t.Errorf("imported %d calls, the capture has %d", n, len(truth.Calls))
	}
	if got := w.writes.Load(); got < 6 {
		t.Errorf("%d writes; want the frames in at least five batches", got)
	}
	t.Logf("%d writes", w.writes.Load())
	if w.overlapped.Load() != 0 {
		t.Errorf("%d writes ran while another was in flight", w.overlapped.Load())
	}
	// Every 7th call, spread over all batches.
	checked := 0
	for i := 0; i < len(truth.Calls); i += 7 {
		c := truth.Calls[i]
		msgs, err := store.CallMessages(ctx, []string{c.CallID}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		pkts, err := store.CallPackets(ctx, []string{c.CallID})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != c.Messages || len(pkts) != c.Messages {
			t.Fatalf("call %s: %d messages and %d frames stored, the capture has %d", c.CallID, len(msgs), len(pkts), c.Messages)
		}
		for k := range msgs {
			if !bytes.HasSuffix(pkts[k].Data, msgs[k].Raw) {
				t.Fatalf("call %s: frame %d does not carry message %d (%q...)", c.CallID, k, k, msgs[k].Raw[:min(40, len(msgs[k].Raw))])
			}
		}
		checked++
	}
	if checked < 300 {
		t.Errorf("checked %d calls", checked)
	}
}
