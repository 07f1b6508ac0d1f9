package main

import (
	"bytes"
	"sync"
	"testing"

	"github.com/sipscope/sipscope/frame"
)

// record i is i%251 bytes (some empty), each byte i%256.
func ringRecord(i int) []byte { return bytes.Repeat([]byte{byte(i)}, i%251) }

func TestByteRingCarriesRecordsIntactAcrossManyWraps(t *testing.T) {
	r := newByteRing[int](1000, 8)
	const n = 20000
	done := make(chan struct{})
	go func() {
		defer close(done)
		want := 0
		for sp := range r.spans {
			if sp.meta != want {
				t.Errorf("record %d arrived as %d", want, sp.meta)
			}
			if got := r.bytes(sp); !bytes.Equal(got, ringRecord(sp.meta)) {
				t.Errorf("record %d: %d bytes, corrupted", sp.meta, len(got))
			}
			r.release(sp)
			want++
		}
		if want != n {
			t.Errorf("%d records arrived, want %d", want, n)
		}
	}()
	for i := 0; i < n; {
		rec := ringRecord(i)
		b := r.reserve(len(rec))
		if b == nil {
			continue // full: the consumer catches up
		}
		copy(b, rec)
		r.commit(len(rec), i)
		i++
	}
	r.close()
	<-done
}

func TestByteRingRefusesWhatDoesNotFit(t *testing.T) {
	r := newByteRing[int](100, 3)
	if r.reserve(101) != nil {
		t.Fatal("a record larger than the ring was reserved")
	}
	for i := range 2 {
		if b := r.reserve(40); b == nil {
			t.Fatalf("record %d of 40 bytes refused in an empty ring", i)
		}
		r.commit(40, i)
	}
	// 80 bytes held: 40 more do not fit before the end (no wrap into
	// bytes not yet released) nor at the start.
	if r.reserve(40) != nil {
		t.Fatal("a third 40-byte record was reserved in a 100-byte ring holding 80")
	}
	if b := r.reserve(20); b == nil {
		t.Fatal("a 20-byte record refused with 20 bytes free at the end")
	}
	r.commit(20, 2)
	if r.reserve(0) != nil {
		t.Fatal("a fourth record was reserved past the 3-record limit")
	}
	// Releasing the first record frees its 40 bytes at the start; a
	// 30-byte record skips nothing (the end is full) and goes there.
	r.release(<-r.spans)
	b := r.reserve(30)
	if b == nil {
		t.Fatal("30 bytes refused after 40 at the start were released")
	}
	if &b[0] != &r.buf[0] {
		t.Error("the wrapped record does not start at the ring's start")
	}
}

func TestFrameQueueCountsDropsWhenFullAndAllocatesNothing(t *testing.T) {
	q := newFrameQueue(4096, 16)
	f := frame.Frame{TS: 7, LinkType: frame.LinkEthernet, Data: make([]byte, 1000), OrigLen: 1500, Node: "eth0"}
	for range 6 {
		q.push(&f)
	}
	if got := len(q.ring.spans); got != 4 {
		t.Fatalf("%d frames of 1000 bytes queued in 4096 bytes, want 4", got)
	}
	if got := q.dropped.Load(); got != 2 {
		t.Fatalf("%d drops counted, want 2", got)
	}
	sp := <-q.ring.spans
	if sp.meta.TS != 7 || sp.meta.OrigLen != 1500 || sp.meta.Node != "eth0" || sp.meta.Data != nil || len(q.ring.bytes(sp)) != 1000 {
		t.Errorf("frame came out as %+v with %d bytes", sp.meta, len(q.ring.bytes(sp)))
	}
	q.ring.release(sp)
	for range 3 {
		q.ring.release(<-q.ring.spans)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		q.push(&f)
		q.ring.release(<-q.ring.spans)
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
				f := frame.Frame{TS: int64(p*each + i), Data: ringRecord(p*each + i)}
				if q.push(&f) {
					i++ // queued; on a drop, try the same frame again
				}
			}
		}()
	}
	go func() { wg.Wait(); q.ring.close() }()
	seen := make(map[int64]bool)
	for sp := range q.ring.spans {
		i := int(sp.meta.TS)
		if !bytes.Equal(q.ring.bytes(sp), ringRecord(i)) {
			t.Fatalf("frame %d corrupted", i)
		}
		seen[sp.meta.TS] = true
		q.ring.release(sp)
	}
	if len(seen) != pumps*each {
		t.Errorf("%d distinct frames arrived, want %d", len(seen), pumps*each)
	}
}
