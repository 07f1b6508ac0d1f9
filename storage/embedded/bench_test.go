package embedded

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
)

// BenchmarkOpen measures a start on an existing data directory: engine
// start, SELECT version() and the idempotent schema statements.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	open(b, dir).Close()
	b.ResetTimer()
	for b.Loop() {
		if err := open(b, dir).Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenNewDir measures a first start: the engine creates its
// directory layout and the sipscope tables.
func BenchmarkOpenNewDir(b *testing.B) {
	parent := b.TempDir()
	i := 0
	for b.Loop() {
		i++
		if err := open(b, fmt.Sprintf("%s/%d", parent, i)).Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteMessages writes batches of 10 000 SIP messages of about
// 600 bytes, the bulk of what a busy capture stores.
func BenchmarkWriteMessages(b *testing.B) {
	const perBatch = 10_000
	s := open(b, b.TempDir())
	defer s.Close()
	msgs := make([]correlate.Message, perBatch)
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range msgs {
		id := fmt.Sprintf("%08x-bench@192.0.2.1", i/8)
		msgs[i] = correlate.Message{
			TS:  base.Add(time.Duration(i) * time.Millisecond),
			Src: netip.MustParseAddrPort("192.0.2.1:5060"), Dst: netip.MustParseAddrPort("198.51.100.7:5060"),
			Transport: "udp", CallID: id, IsRequest: i%2 == 0, Method: "INVITE", StatusCode: 200 * (i % 2),
			CSeq: uint32(i), CSeqMethod: "INVITE", FromUser: "alice", ToUser: "bob",
			Raw: fmt.Appendf(nil, "INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: %s\r\n%0550d\r\n\r\n", id, i),
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		if err := s.Write(ctx, storage.Batch{Messages: msgs}); err != nil {
			b.Fatal(err)
		}
		n += perBatch
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
}
