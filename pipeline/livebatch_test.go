package pipeline

import (
	"math"
	"testing"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
)

// TestLiveBatchesEndWithTheOfflineCallRecords replays testdata/loss.pcap
// through the live pipeline, taking a batch after every frame (a flush
// timer faster than the traffic: the BYE's batch holds no stream), and checks that the last record written for each call has
// the state, end reason and MOS (worst direction) that offline analysis
// gives — also when the call's last update carries no stream.
func TestLiveBatchesEndWithTheOfflineCallRecords(t *testing.T) {
	const path = "../testdata/loss.pcap"
	offline, err := AnalyzeFile(path, QualityOptions{G711PLC: true})
	if err != nil {
		t.Fatal(err)
	}
	frames, err := LoadFrames(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := correlate.DefaultConfig()
	cfg.KeepMessages = true
	cfg.Retain = false
	p := New(cfg)
	last := map[string]correlate.Call{}
	take := func(final bool) {
		for _, c := range p.liveBatch(p.lastPktTS, final).Calls {
			last[c.CallID] = c
		}
	}
	for i := range frames {
		p.HandleFrame(&frames[i])
		take(false)
	}
	take(true)
	if len(last) != len(offline.Calls) {
		t.Fatalf("live wrote %d calls, offline found %d", len(last), len(offline.Calls))
	}
	for _, want := range offline.Calls {
		got, ok := last[want.CallID]
		if !ok {
			t.Errorf("call %s never written", want.CallID)
			continue
		}
		if got.State != want.State || got.EndReason != want.EndReason {
			t.Errorf("call %s: %s/%s, offline %s/%s", want.CallID, got.State, got.EndReason, want.State, want.EndReason)
		}
		if want.MOS == 0 || math.Abs(got.MOS-want.MOS) > 1e-9 {
			t.Errorf("call %s: MOS %.4f, offline %.4f", want.CallID, got.MOS, want.MOS)
		}
	}
}

// liveBatch is one flush's batch in fresh memory, as the tests read it.
func (p *Pipeline) liveBatch(now int64, final bool) storage.Batch {
	var b storage.Batch
	p.AppendLiveBatch(&b, now, final)
	return b
}
