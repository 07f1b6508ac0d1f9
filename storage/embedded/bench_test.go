package embedded

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/quality"
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

// BenchmarkWriteMessages writes batches of SIP messages of about 600
// bytes, the bulk of what a busy capture stores: 10,000 a batch (a live
// flush) and 50,000 (an import's batch, pipeline.messageBatch), reporting
// rows/s into sip_messages.
func BenchmarkWriteMessages(b *testing.B) {
	for _, perBatch := range []int{10_000, 50_000} {
		b.Run(fmt.Sprintf("batch=%d", perBatch), func(b *testing.B) { benchWriteMessages(b, perBatch) })
	}
}

func benchWriteMessages(b *testing.B, perBatch int) {
	s := open(b, b.TempDir())
	defer s.Close()
	msgs := benchMessages(perBatch)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	n := 0
	for b.Loop() {
		if err := s.Write(ctx, storage.Batch{Messages: msgs}); err != nil {
			b.Fatal(err)
		}
		n += perBatch
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
	b.ReportMetric(float64(n)/(cpuTime(b)-cpu0).Seconds(), "rows/cpu-s")
}

// benchMessages is n SIP messages of about 600 bytes, eight per call.
func benchMessages(n int) []correlate.Message {
	msgs := make([]correlate.Message, n)
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
	return msgs
}

// cpuTime is the CPU the process has used so far, user and system, over
// all its threads: the engine's threads as well as Go's. On a machine
// shared with other work this, not wall time, is the comparable figure.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// qualityStreams is n streams of a five-minute call each, as the pipeline
// fills them: a 5 s MOS timeline (60 intervals), RTCP and four digits.
func qualityStreams(n, intervals int) []quality.Stream {
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	out := make([]quality.Stream, n)
	for i := range out {
		tl := make([]quality.IntervalMOS, intervals)
		for k := range tl {
			tl[k] = quality.IntervalMOS{StartMs: float64(k) * 5000, DurationMs: 5000, Packets: 250, Lost: k % 3,
				LossPct: float64(k%3) * 0.4, BurstR: 1, JitterBufferMs: 40 + float64(k%7), MOS: 4.4 - float64(k%3)*0.1}
		}
		dtmf := make([]quality.DTMFEvent, 4)
		for k := range dtmf {
			dtmf[k] = quality.DTMFEvent{Event: uint8(k), Digit: fmt.Sprint(k), Start: base.Add(time.Duration(k) * time.Second),
				DurationMs: 100, Volume: 10, Ended: true, StartSeen: true, Packets: 7}
		}
		start := base.Add(time.Duration(i) * time.Second)
		out[i] = quality.Stream{SSRC: uint32(i), Src: netip.MustParseAddrPort("192.0.2.1:40000"),
			Dst: netip.MustParseAddrPort("198.51.100.7:50000"), Payload: "g711U", Start: start,
			End: start.Add(5 * time.Minute), Packets: 15000, Expected: 15020, Lost: 20, MOS: 4.3,
			CallID: fmt.Sprintf("%08x-bench@192.0.2.1", i/2), Late: 3, EffectiveLost: 23, JitterBuffer: "adaptive",
			JitterBufferMs: 42, BurstR: 1.1, RTTMs: 80, R: 88,
			RTCP:        quality.RTCPReport{SSRC: uint32(i), Reports: 60, ReceiverReports: 60, RTTMs: 80, MeanRTTMs: 80, RTTSamples: 30},
			MOSTimeline: tl, DTMF: dtmf}
	}
	return out
}

// BenchmarkWriteQualityStreams writes batches of 1 000 streams, each with
// a 60-interval timeline and four DTMF events (75 columns, 18 of them arrays).
func BenchmarkWriteQualityStreams(b *testing.B) {
	const perBatch = 1000
	s := open(b, b.TempDir())
	defer s.Close()
	streams := qualityStreams(perBatch, 60)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		if err := s.Write(ctx, storage.Batch{Streams: streams}); err != nil {
			b.Fatal(err)
		}
		n += perBatch
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkGetCallWithHourLongTimelines reads one call whose two streams
// carry an hour of 5 s intervals (720 each).
func BenchmarkGetCallWithHourLongTimelines(b *testing.B) {
	s := open(b, b.TempDir())
	defer s.Close()
	ctx := context.Background()
	streams := qualityStreams(2, 720)
	call := correlate.Call{CallID: streams[0].CallID, Start: streams[0].Start, End: streams[0].End}
	if err := s.Write(ctx, storage.Batch{Calls: []correlate.Call{call}, Streams: streams}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err := s.GetCall(ctx, call.CallID)
		if err != nil || len(d.Streams) != 2 || len(d.Streams[1].MOSTimeline) != 720 {
			b.Fatalf("%v, %d streams", err, len(d.Streams))
		}
	}
}

// BenchmarkMessagesInWindow reads an alert's evidence out of a day of
// 1,000,000 stored SIP messages of 1,000 sources: the messages of 5
// offender IPs over the 10 minutes of an alert.
func BenchmarkMessagesInWindow(b *testing.B) {
	const total, perBatch, sources = 1_000_000, 50_000, 1000
	s := open(b, b.TempDir())
	defer s.Close()
	base := time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	msgs := make([]correlate.Message, perBatch)
	for done := 0; done < total; done += perBatch {
		for i := range msgs {
			n := done + i
			src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(n % sources / 250), byte(n%sources%250 + 1)}), 5060)
			id := fmt.Sprintf("%08x-ev@10.1", n/4)
			msgs[i] = correlate.Message{
				TS: base.Add(time.Duration(n) * 86400 * time.Microsecond), Src: src, Dst: netip.MustParseAddrPort("192.0.2.1:5060"),
				Transport: "udp", CallID: id, IsRequest: true, Method: "REGISTER", CSeq: uint32(n), CSeqMethod: "REGISTER",
				Raw: fmt.Appendf(nil, "REGISTER sip:example.com SIP/2.0\r\nCall-ID: %s\r\n%0300d\r\n\r\n", id, n),
			}
		}
		if err := s.Write(ctx, storage.Batch{Messages: msgs}); err != nil {
			b.Fatal(err)
		}
	}
	var ips []netip.Addr
	for i := range 5 {
		ips = append(ips, netip.AddrFrom4([4]byte{10, 1, 0, byte(1 + i)}))
	}
	w := storage.MessageWindow{IPs: ips, From: base.Add(12 * time.Hour), To: base.Add(12*time.Hour + 10*time.Minute),
		MaxMessages: 10_000, MaxBytes: 50 << 20}
	got := 0
	b.ResetTimer()
	for b.Loop() {
		msgs, _, err := s.MessagesInWindow(ctx, w)
		if err != nil {
			b.Fatal(err)
		}
		got = len(msgs)
	}
	b.ReportMetric(float64(got), "messages")
}

// encodeOnly is an Inserter that encodes each insert as Insert does and
// throws the bytes away: the Go side of a write without the engine.
type encodeOnly struct{}

func (encodeOnly) Insert(_ context.Context, _ string, cols []storage.Column, rows [][]any) error {
	return encodeNative(io.Discard, cols, rows)
}

func (encodeOnly) InsertColumns(_ context.Context, _ string, cols []storage.Column, values []any, rows int) error {
	return encodeNativeColumns(io.Discard, cols, values, rows)
}

// encodeRows is encodeOnly without InsertColumns: rows as []any.
type encodeRows struct{}

func (encodeRows) Insert(_ context.Context, _ string, cols []storage.Column, rows [][]any) error {
	return encodeNative(io.Discard, cols, rows)
}

// BenchmarkBuildMessageRows is the Go side of BenchmarkWriteMessages:
// storage.Write's row building (hash, values) and the Native encoding of
// 50,000 messages of about 600 bytes, without the engine; columns is the
// path the embedded store takes (storage.ColumnInserter), rows the []any
// rows every other table and backend uses.
func BenchmarkBuildMessageRows(b *testing.B) {
	b.Run("columns", func(b *testing.B) { benchBuildMessageRows(b, encodeOnly{}) })
	b.Run("rows", func(b *testing.B) { benchBuildMessageRows(b, encodeRows{}) })
}

func benchBuildMessageRows(b *testing.B, ins storage.Inserter) {
	msgs := benchMessages(50_000)
	var clock storage.VersionClock
	ctx := context.Background()
	b.ReportAllocs()
	n, cpu0 := 0, cpuTime(b)
	for b.Loop() {
		if err := storage.Write(ctx, ins, storage.DefaultDatabase, storage.Batch{Messages: msgs}, &clock); err != nil {
			b.Fatal(err)
		}
		n += len(msgs)
	}
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(n), "cpu-ns/row")
}
