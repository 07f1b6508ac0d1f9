package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/diagnose"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/storage"
)

// StoreWriter is what the pipeline needs from a store.
type StoreWriter interface {
	Write(ctx context.Context, b storage.Batch) error
}

// messageBatch bounds how many SIP messages are held before they are written.
const messageBatch = 50000

// AnalyzeFile runs the whole offline pipeline over one capture file.
func AnalyzeFile(path string, opts QualityOptions) (Report, error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return Report{}, err
	}
	defer src.Close()
	p := New(correlate.DefaultConfig())
	if err := p.RunSource(src); err != nil {
		return Report{}, fmt.Errorf("%s: %w", path, err)
	}
	p.EndOfCapture()
	return BuildReport(path, p, opts), nil
}

// EndOfCapture tells the correlator that the file has ended: calls still
// waiting for a final response end as capture_ended, not in progress.
// Only offline analysis calls it; live calls stay in progress.
func (p *Pipeline) EndOfCapture() { p.corr.EndOfCapture(p.counts.lastTS) }

// ImportFile runs the pipeline over one file and writes its records; it
// returns how many calls it stored.
func ImportFile(ctx context.Context, store StoreWriter, path string) (int, error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	cfg := correlate.DefaultConfig()
	cfg.KeepMessages = true
	p := New(cfg)
	var writeErr error
	flush := func() {
		if msgs := p.corr.TakeMessages(); len(msgs) > 0 && writeErr == nil {
			writeErr = store.Write(ctx, storage.Batch{Messages: msgs})
		}
	}
	err = p.RunSourceEach(src, func() {
		if p.corr.PendingMessages() >= messageBatch {
			flush()
		}
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	flush()
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
