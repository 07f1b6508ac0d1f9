package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sipscope/sipscope/gen"
	"github.com/sipscope/sipscope/storage/embedded"
)

// BenchmarkImportSIPOnly imports a generated SIP-only capture of 20,000
// calls (as `sipscope gen -sip-only -cps 100`) into a fresh embedded store
// per round, the path of `sipscope import`: decode, correlate, write
// messages, frames and calls. It reports SIP messages per wall second and
// per CPU second of the whole process (the engine's threads included).
func BenchmarkImportSIPOnly(b *testing.B) {
	path := filepath.Join(b.TempDir(), "calls.pcap")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	res, err := gen.Write(f, gen.Config{Calls: 20_000, Seed: 1, SIPOnly: true, CPS: 100,
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	msgs := res.Totals.SIPMessages
	ctx := context.Background()
	var wall, cpu time.Duration
	n := 0
	for b.Loop() {
		b.StopTimer()
		store, err := embedded.Open(ctx, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0, c0 := time.Now(), processCPU(b)
		if _, err := ImportFile(ctx, store, path); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(t0)
		cpu += processCPU(b) - c0
		n += msgs
		b.StopTimer()
		store.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)/wall.Seconds(), "msgs/s")
	b.ReportMetric(float64(n)/cpu.Seconds(), "msgs/cpu-s")
}

// processCPU is the user and system CPU of the process so far, all threads.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
