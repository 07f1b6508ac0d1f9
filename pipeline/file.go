package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/diagnose"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/storage"
)

// StoreWriter is what the pipeline needs from a store. Write must not keep
// the bytes of b.Packets after it returns: an import reuses their memory
// for the next batch (a store copies them into its insert; a spool encodes
// them).
type StoreWriter interface {
	Write(ctx context.Context, b storage.Batch) error
}

// messageBatch bounds how many SIP messages are held before they are written.
const messageBatch = 50000

// AnalyzeFile runs the whole offline pipeline over one capture file.
func AnalyzeFile(path string, opts QualityOptions) (Report, error) {
	return AnalyzeFileContext(context.Background(), path, opts, nil)
}

// AnalyzeFileContext is AnalyzeFile with an observer of the correlated
// stream (nil for none) and a context that stops a read from a FIFO or a
// slow file. A file damaged in the middle gives the calls around the
// damage and a warning in Report.Warnings; one whose damage cannot be
// stepped over ends there, with a warning too.
func AnalyzeFileContext(ctx context.Context, path string, opts QualityOptions, obs Observer) (Report, error) {
	src, err := capture.OpenFileContext(ctx, path)
	if err != nil {
		return Report{}, err
	}
	defer src.Close()
	p := New(correlate.DefaultConfig())
	if obs != nil {
		p.SetObserver(obs)
		p.offline = true
	}
	if err := p.RunSource(src); err != nil {
		return Report{}, fmt.Errorf("%s: %w", path, err)
	}
	p.EndOfCapture()
	r := BuildReport(path, p, opts)
	if err := src.Damage(); err != nil {
		r.Warnings = append(r.Warnings, err.Error())
	}
	r.Warnings = append(r.Warnings, p.warnings...)
	return r, nil
}

// EndOfCapture tells the correlator that the file has ended: calls still
// waiting for a final response end as capture_ended, not in progress.
// Only offline analysis calls it; live calls stay in progress.
func (p *Pipeline) EndOfCapture() { p.corr.EndOfCapture(p.counts.lastTS) }

// ImportOptions shape what an import stores besides the records.
type ImportOptions struct {
	// StoreRTP is how much media is kept as captured frames (the SIP
	// frames of calls are kept unless NoFrames).
	StoreRTP StoreRTP
	// NoFrames keeps no captured frames at all.
	NoFrames bool
	// FrameArenaBytes bounds the frame bytes of one batch (0:
	// DefaultFrameArenaBytes); an import writes at half of it.
	FrameArenaBytes int
}

// ImportFile runs the pipeline over one file and writes its records and
// the captured frames of its calls (store_rtp full); it returns how many
// calls it stored.
func ImportFile(ctx context.Context, store StoreWriter, path string) (int, error) {
	return ImportFileWith(ctx, store, path, ImportOptions{})
}

// ImportFileWith is ImportFile with options.
func ImportFileWith(ctx context.Context, store StoreWriter, path string, opts ImportOptions) (int, error) {
	src, err := capture.OpenFileContext(ctx, path)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	cfg := correlate.DefaultConfig()
	cfg.KeepMessages = true
	p := New(cfg)
	if !opts.NoFrames {
		p.SetStoreFrames(opts.StoreRTP, opts.FrameArenaBytes)
	}
	// One batch is written while the next is decoded: the engine's insert
	// and the decoding each take about half an import's CPU, so on two
	// cores they overlap. At most one write is in flight, which bounds the
	// memory at two batches, and the batches reach the store in order.
	var (
		writeErr error
		inflight bool
		done     = make(chan error, 1)
		written  frameSet            // the frames of the write in flight, reused after it
		spare    []correlate.Message // the messages of the write in flight, reused after it
	)
	wait := func() {
		if !inflight {
			return
		}
		if err := <-done; err != nil && writeErr == nil {
			writeErr = err
		}
		inflight = false
	}
	flush := func() {
		wait()
		msgs := p.corr.TakeMessages()
		p.corr.ReuseMessages(spare)
		spare = msgs
		frames := p.detachFrames(written)
		written = frames
		if len(msgs)+len(frames.pkts) == 0 || writeErr != nil {
			return
		}
		inflight = true
		go func() { done <- store.Write(ctx, storage.Batch{Messages: msgs, Packets: frames.pkts}) }()
	}
	err = p.RunSourceEach(src, func() {
		if p.corr.PendingMessages() >= messageBatch || p.frames.full() {
			flush()
		}
	})
	if err != nil {
		wait()
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	flush()
	wait()
	if writeErr != nil {
		return 0, writeErr
	}
	p.EndOfCapture()
	streams := p.FinishStreams(QualityOptions{G711PLC: true})
	calls := p.corr.Calls()
	diagnose.Apply(calls, streams)
	b := storage.Batch{Calls: calls, Registrations: p.corr.Registrations(), Streams: streams}
	if err := store.Write(ctx, b); err != nil {
		return 0, err
	}
	return len(calls), nil
}

// LoadFrames reads a whole capture file into memory (benchmarks and tests
// replay it without disk reads); a truncated tail ends it.
func LoadFrames(path string) ([]frame.Frame, error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var frames []frame.Frame
	var f frame.Frame
	for {
		err := src.Next(&f)
		if err == io.EOF || errors.Is(err, capture.ErrTruncated) {
			return frames, nil
		}
		if err != nil {
			return nil, err
		}
		g := f
		g.Data = append([]byte(nil), f.Data...)
		frames = append(frames, g)
	}
}

// BenchResult is what Bench measured.
type BenchResult struct {
	Packets, Bytes int64
	Mallocs        uint64
	Elapsed        time.Duration
}

func (r BenchResult) PacketsPerSecond() float64 { return float64(r.Packets) / r.Elapsed.Seconds() }
func (r BenchResult) MBPerSecond() float64      { return float64(r.Bytes) / r.Elapsed.Seconds() / 1e6 }
func (r BenchResult) AllocsPerPacket() float64  { return float64(r.Mallocs) / float64(r.Packets) }

// Bench runs the offline pipeline over frames held in memory rounds times
// (sipscope bench decode): decode, correlate and quality speed, not disk
// speed.
func Bench(frames []frame.Frame, rounds int) BenchResult {
	var r BenchResult
	for _, f := range frames {
		r.Bytes += int64(len(f.Data))
	}
	r.Bytes *= int64(rounds)
	r.Packets = int64(len(frames) * rounds)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	start := time.Now()
	for range rounds {
		p := New(correlate.DefaultConfig())
		for i := range frames {
			p.HandleFrame(&frames[i])
		}
	}
	r.Elapsed = time.Since(start)
	runtime.ReadMemStats(&ms)
	r.Mallocs = ms.Mallocs - mallocs
	return r
}
