package correlate

import (
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
)

// BenchmarkHandleSIP measures the correlator on interleaved answered calls
// (1000 new calls per second of capture time, six messages each, SDP in
// two). One op is one SIP message; msgs/s is on one core (run with -cpu 1).
//
//   - live: Retain off, Expire and Updates every second of capture time as
//     cmd runs them, so the cost includes handing every change out and
//     dropping finished calls (about 42,000 dialogs held).
//   - offline: Retain on and no Expire, as analyze runs it: every call
//     stays in memory.
func BenchmarkHandleSIP(b *testing.B) {
	for _, live := range []bool{true, false} {
		name := "offline"
		if live {
			name = "live"
		}
		b.Run(name, func(b *testing.B) { benchmarkHandleSIP(b, live) })
	}
}

func benchmarkHandleSIP(b *testing.B, live bool) {
	cfg := DefaultConfig()
	cfg.Retain = !live
	c := New(cfg)
	tr := newTraffic(b, true)
	var now int64
	feed := func(_ int, m *sip.Message, src, dst netip.AddrPort) {
		c.HandleSIP(now, src, dst, decode.TransportUDP, m)
	}
	var updates []Call // a live pipeline hands each batch's memory back once written
	drain := func(k int) {
		if live && k%1000 == 999 {
			c.Expire(now)
			updates = c.AppendUpdates(updates[:0])
		}
	}
	// Warm up to the steady state: calls in every phase, lingering ones.
	warm := 45_000
	for k := range warm {
		now = base + int64(k)*int64(time.Millisecond)
		tr.tick(k, 1<<62, feed)
		drain(k)
	}
	b.ReportAllocs()
	cpu0 := processCPU()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs0 := ms.Mallocs
	b.ResetTimer()
	n := 0
	for k := warm; n < b.N; k++ {
		now = base + int64(k)*int64(time.Millisecond)
		tr.tick(k, 1<<62, feed)
		n += 6
		drain(k)
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	// allocs/op rounds to a whole number; this is the exact mean per message.
	b.ReportMetric(float64(ms.Mallocs-mallocs0)/float64(n), "allocs/msg")
	cpu := processCPU() - cpu0
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	// On a shared machine wall time includes waiting for a CPU; process
	// CPU time (including the garbage collector) is the cost itself.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/msg")
}

// processCPU is the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
