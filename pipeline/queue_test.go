package pipeline

import (
	"bytes"
	"sync"
	"testing"

	"github.com/sipscope/sipscope/frame"
)

func TestFrameQueueCountsDropsWhenFullAndAllocatesNothing(t *testing.T) {
	q := newFrameQueue(4096, 16)
	f := frame.Frame{TS: 7, LinkType: frame.LinkEthernet, Data: make([]byte, 1000), OrigLen: 1500, Node: "eth0"}
	for range 6 {
		q.push(&f)
	}
	if got := len(q.ring.Spans()); got != 4 {
		t.Fatalf("%d frames of 1000 bytes queued in 4096 bytes, want 4", got)
	}
	if got := q.dropped.Load(); got != 2 {
		t.Fatalf("%d drops counted, want 2", got)
	}
	sp := <-q.ring.Spans()
	if sp.Meta.TS != 7 || sp.Meta.OrigLen != 1500 || sp.Meta.Node != "eth0" || sp.Meta.Data != nil || len(q.ring.Bytes(sp)) != 1000 {
		t.Errorf("frame came out as %+v with %d bytes", sp.Meta, len(q.ring.Bytes(sp)))
	}
	q.ring.Release(sp)
	for range 3 {
		q.ring.Release(<-q.ring.Spans())
	}
	allocs := testing.AllocsPerRun(1000, func() {
		q.push(&f)
		q.ring.Release(<-q.ring.Spans())
	})
	if allocs != 0 {
		t.Errorf("push + release: %v allocs per frame, want 0", allocs)
	}
}

func TestFrameQueueTakesFramesFromSeveralPumps(t *testing.T) {
	q := newFrameQueue(1<<16, 1<<10)
	const pumps, each = 4, 5000
	var wg sync.WaitGroup
	for p := range pumps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				f := frame.Frame{TS: int64(p*each + i), Data: frameBytes(p*each + i)}
				if q.push(&f) {
					i++ // queued; on a drop, try the same frame again
				}
			}
		}()
	}
	go func() { wg.Wait(); q.ring.Close() }()
	seen := make(map[int64]bool)
	for sp := range q.ring.Spans() {
		i := int(sp.Meta.TS)
		if !bytes.Equal(q.ring.Bytes(sp), frameBytes(i)) {
			t.Fatalf("frame %d corrupted", i)
		}
		seen[sp.Meta.TS] = true
		q.ring.Release(sp)
	}
	if len(seen) != pumps*each {
		t.Errorf("%d distinct frames arrived, want %d", len(seen), pumps*each)
	}
}

// frameBytes is frame i's recognisable content.
func frameBytes(i int) []byte { return bytes.Repeat([]byte{byte(i)}, i%251) }
