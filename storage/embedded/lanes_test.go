package embedded

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipscope/sipscope/gen"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage"
)

// floodCapture writes a generated capture of calls INVITEs nobody answers
// (INVITE, 100 Trying, then nothing), the traffic of an INVITE flood.
func floodCapture(t *testing.T, calls int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flood.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.Write(f, gen.Config{Calls: calls, Seed: 15, Mix: []gen.Scenario{gen.ScenarioNoFinal}}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// Issue #15: the call list must not queue behind the inserts of a flood.
// A generated INVITE flood is imported over and over (its SIP messages,
// frames and calls: inserts of thousands of rows, back to back) while one
// reader lists calls, 50 a page, as the UI does. Reads run on their own
// connection: some run while an insert is in progress, and no read ever
// waits for a write to finish (with a single reader it waits for nothing).
// The pass condition is structural; the latencies are logged (they depend
// on the machine's load).
func TestCallListsRunBesideTheInsertsOfAFlood(t *testing.T) {
	const calls = 2000
	path := floodCapture(t, calls)
	reg := prometheus.NewRegistry()
	s, err := Open(t.Context(), t.TempDir(), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if _, err := pipeline.ImportFile(ctx, s, path); err != nil {
		t.Fatal(err)
	}

	wctx, stopWriting := context.WithCancel(ctx)
	writerDone := make(chan error, 1)
	go func() {
		for {
			// Each import writes the flood's messages and frames in
			// batches, then its calls: the stored rows stay the same
			// (the tables' keys collapse them), the inserts are real.
			if _, err := pipeline.ImportFile(wctx, s, path); err != nil {
				if errors.Is(err, context.Canceled) {
					err = nil
				}
				writerDone <- err
				return
			}
		}
	}()
	defer func() {
		stopWriting()
		if err := <-writerDone; err != nil {
			t.Errorf("the flood's writer: %v", err)
		}
	}()

	const besideWanted = 5
	before := s.LaneStats()
	var lat []time.Duration
	deadline := time.Now().Add(20 * time.Second)
	for {
		t0 := time.Now()
		page, err := s.ListCalls(ctx, storage.CallFilter{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		if len(page.Calls) != 50 || page.Total != calls {
			t.Fatalf("a list during the flood has %d calls of %d, want 50 of %d", len(page.Calls), page.Total, calls)
		}
		st := s.LaneStats()
		if st.ReadsBesideWrites-before.ReadsBesideWrites >= besideWanted && st.Writes-before.Writes >= besideWanted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s of flood %d of %d reads ran while a write was in progress (%d writes), want %d: reads wait for writes",
				st.ReadsBesideWrites-before.ReadsBesideWrites, st.Reads-before.Reads, st.Writes-before.Writes, besideWanted)
		}
	}
	st := s.LaneStats()
	slices.Sort(lat)
	t.Logf("%d lists (2 reads each) during the flood's %d inserts: %d reads beside an insert; list p50 %v, max %v; longest wait for a read connection %v",
		len(lat), st.Writes-before.Writes, st.ReadsBesideWrites-before.ReadsBesideWrites, lat[len(lat)/2], lat[len(lat)-1], st.ReadWaitMax)
	if st.MaxWritesWaitedFor != 0 {
		t.Errorf("a read waited while %d writes finished; a single reader should wait for none", st.MaxWritesWaitedFor)
	}
	// The metrics serve the same counts.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	st = s.LaneStats()
	if b := got["sipscope_store_reads_beside_writes_total"]; b < besideWanted || b > float64(st.ReadsBesideWrites) {
		t.Errorf("sipscope_store_reads_beside_writes_total is %v, LaneStats %d", b, st.ReadsBesideWrites)
	}
	if got["sipscope_store_reads_total"] == 0 || got["sipscope_store_writes_total"] == 0 {
		t.Errorf("read and write counters: %v", got)
	}
}
