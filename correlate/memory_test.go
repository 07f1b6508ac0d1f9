package correlate

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
)

// TestMillionCallsStayWithinBoundedMemory drives 1,000,000 answered calls
// (1000 new calls per second of capture time, 10 s each, so about 10,000
// are up at once) through a live correlator that Expire and Updates drain
// every second, and checks the bounds: never more than MaxDialogs held,
// the live heap small, every call handed out finished exactly once.
func TestMillionCallsStayWithinBoundedMemory(t *testing.T) {
	const (
		calls    = 1_000_000
		maxHeld  = 20_000
		heapCap  = 64 << 20
		gcEveryS = 100 // seconds of capture time between heap samples
	)
	cfg := DefaultConfig()
	cfg.Retain = false
	cfg.MaxDialogs = maxHeld
	c := New(cfg)
	tr := newTraffic(t, true)

	var finished, byCaller, maxHeapSeen uint64
	maxHeld0 := 0
	drain := func() {
		for _, u := range c.Updates() {
			if u.Finished {
				finished++
				if u.EndReason == EndCallerBye && u.Q850Cause == 16 && u.DurationMs == 8000 && u.PDDMs == 50 {
					byCaller++
				}
			}
		}
	}
	sampleHeap := func() {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		maxHeapSeen = max(maxHeapSeen, ms.HeapAlloc)
	}
	var now int64
	feed := func(_ int, m *sip.Message, src, dst netip.AddrPort) {
		c.HandleSIP(now, src, dst, decode.TransportUDP, m)
	}
	start := time.Now()
	last := calls + tr.ticks()
	for k := 0; k < last; k++ {
		now = base + int64(k)*int64(time.Millisecond)
		tr.tick(k, calls, feed)
		if k%1000 == 999 {
			c.Expire(now)
			drain()
			maxHeld0 = max(maxHeld0, c.dialogs.len())
			if k%(gcEveryS*1000) == 999 {
				sampleHeap()
			}
		}
	}
	c.Expire(now + int64(time.Hour))
	drain()
	sampleHeap()
	s := c.Stats()
	t.Logf("%d calls, %d messages in %v; max held %d, evicted %d (active %d), max live heap %s",
		calls, s.Messages, time.Since(start).Round(time.Millisecond), maxHeld0, s.Evicted, s.EvictedActive, describeHeap(maxHeapSeen))
	if maxHeld0 > maxHeld {
		t.Errorf("held %d dialogs, MaxDialogs is %d", maxHeld0, maxHeld)
	}
	if maxHeapSeen >= heapCap {
		t.Errorf("live heap reached %s, bound %s", describeHeap(maxHeapSeen), describeHeap(heapCap))
	}
	if finished != calls || byCaller != calls {
		t.Errorf("%d calls handed out finished, %d of them as caller_bye with the right timings; want %d", finished, byCaller, calls)
	}
	if s.Messages != 6*calls || s.CallIDs != calls || s.EvictedActive != 0 || s.Late != 0 || s.Retransmissions != 0 {
		t.Errorf("stats %+v", s)
	}
	if s.Held != 0 || c.media.len() != 0 || len(c.legs) != 0 || len(c.xcids) != 0 || c.head != nil || c.dhead != nil {
		t.Errorf("after the final Expire: held %d, media %d, legs %d, xcids %d", s.Held, c.media.len(), len(c.legs), len(c.xcids))
	}
}

// TestInDialogMessagesDoNotAllocate checks the hot path: once a call
// exists, its 180, 200 (with SDP), ACK, BYE and 200 allocate nothing
// beyond amortised map growth.
func TestInDialogMessagesDoNotAllocate(t *testing.T) {
	const calls = 2000
	cfg := DefaultConfig()
	cfg.Retain = false
	c := New(cfg)
	tr := newTraffic(t, false)
	send := func(i, k int) {
		m, src, dst := tr.message(i, k)
		c.HandleSIP(base+int64(i)*int64(time.Millisecond)+int64(tr.offsets[k]), src, dst, decode.TransportUDP, m)
	}
	for i := range calls {
		send(i, 0)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range calls {
		for k := 1; k < 6; k++ {
			send(i, k)
		}
	}
	runtime.ReadMemStats(&after)
	perMsg := float64(after.Mallocs-before.Mallocs) / float64(5*calls)
	t.Logf("%.4f allocations per in-dialog message", perMsg)
	if perMsg > 0.02 {
		t.Errorf("%.4f allocations per in-dialog message, want ~0", perMsg)
	}
	if n := len(c.Updates()); n != calls {
		t.Errorf("%d updates", n)
	}
}
