package capture

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
	"github.com/sipscope/sipscope/frame"
)

// File magics. pcap has one per byte order and timestamp resolution; pcapng
// starts with the Section Header Block type, which reads the same either way.
const (
	magicPcapMicroLE = 0xa1b2c3d4
	magicPcapMicroBE = 0xd4c3b2a1
	magicPcapNanoLE  = 0xa1b23c4d
	magicPcapNanoBE  = 0x4d3cb2a1
	magicPcapng      = 0x0a0d0d0a
)

// FileSource reads the frames of a pcap or pcapng file (optionally
// gzip-compressed) one at a time into a caller-owned Frame.
type FileSource struct {
	path     string
	ctx      context.Context
	stopRead func() bool // ends the context's hold on the file
	file     *os.File
	gz       *gzip.Reader     // nil unless the file is compressed
	pcap     *pcapReader      // classic pcap
	ng       *pcapgo.NgReader // pcapng: frames carry their interface's link type
	linkType frame.LinkType   // from the pcap file header
	records  int              // records returned so far, to say where a file went wrong
	corrupt  int              // record number after which the first damaged header was stepped over
}

// FileStats says how a file was read. Resyncs and SkippedBytes are
// non-zero only for a damaged pcap file whose reading went on past the
// damage.
type FileStats struct {
	Records      int   // records returned
	Resyncs      int   // damaged record headers stepped over
	SkippedBytes int64 // bytes stepped over to find the next record
}

// OpenFile opens a capture file, recognising pcap (either byte order,
// micro- or nanosecond timestamps) and pcapng by their magic number.
// A file that is neither yields an error wrapping ErrNotCapture. It is
// OpenFileContext without a way to give up on a FIFO.
func OpenFile(path string) (*FileSource, error) {
	return OpenFileContext(context.Background(), path)
}

// OpenFileContext is OpenFile for a caller that may stop waiting: a FIFO
// blocks until a writer opens it and then whenever the writer pauses, and
// ctx ending (on SIGINT, say) ends both waits, with an error wrapping
// ctx.Err(). A directory is refused with ErrNotCapture ("is a directory").
func OpenFileContext(ctx context.Context, path string) (*FileSource, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("capture: open %s: %w", path, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory: %w", path, ErrNotCapture)
	}
	var f *os.File
	if st.Mode()&os.ModeNamedPipe != 0 {
		f, err = openFIFO(ctx, path)
	} else {
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("capture: open %s: %w", path, err)
	}
	s := &FileSource{path: path, ctx: ctx, file: f}
	if ctx.Done() != nil {
		// A read blocked on a FIFO or pipe wakes up when its deadline
		// passes; regular files have no deadlines and never block long.
		s.stopRead = context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	}
	if err := s.init(f); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openFIFO opens a FIFO for reading, which blocks in the kernel until a
// writer opens the other end. The open runs aside; if ctx ends first, a
// writer of our own (which does not block, a reader now waiting) releases
// it, so no goroutine stays stuck.
func openFIFO(ctx context.Context, path string) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		f, err := os.Open(path)
		ch <- result{f, err}
	}()
	select {
	case r := <-ch:
		return r.f, r.err
	case <-ctx.Done():
	}
	for {
		// ENXIO until the reader above is in open(2).
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		select {
		case r := <-ch:
			if r.f != nil {
				r.f.Close()
			}
			return nil, fmt.Errorf("waiting for a writer: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (s *FileSource) init(r io.Reader) error {
	br := bufio.NewReaderSize(r, pcapReadBuffer)
	head, err := br.Peek(4)
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		// A gzip stream: look at the magic of what it holds.
		s.gz, err = gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: gzip: %v: %w", s.path, err, ErrNotCapture)
		}
		br = bufio.NewReaderSize(s.gz, pcapReadBuffer)
		head, err = br.Peek(4)
	}
	if err != nil {
		if ctxErr := s.stopped(); ctxErr != nil {
			return fmt.Errorf("%s: %w", s.path, ctxErr)
		}
		if len(head) == 0 && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) {
			return fmt.Errorf("%s: empty file: %w", s.path, ErrNotCapture)
		}
		if len(head) == 0 {
			return fmt.Errorf("%s: %v: %w", s.path, err, ErrNotCapture)
		}
		return fmt.Errorf("%s: only %d bytes: %w", s.path, len(head), ErrNotCapture)
	}

	switch magic := binary.LittleEndian.Uint32(head); magic {
	case magicPcapMicroLE, magicPcapMicroBE, magicPcapNanoLE, magicPcapNanoBE:
		pr, err := newPcapReader(br)
		if err != nil {
			return s.headerError("pcap", err)
		}
		if pr.linkType > maxFileLinkType {
			return fmt.Errorf("%s: pcap header: link type %d (%#x): %w", s.path, pr.linkType, pr.linkType, ErrLinkType)
		}
		s.pcap = pr
		s.linkType = frame.LinkType(pr.linkType)
	case magicPcapng:
		// Mixed link types: each frame carries the one of its interface.
		nr, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return s.headerError("pcapng", err)
		}
		s.ng = nr
	default:
		return fmt.Errorf("%s: magic %#08x: %w", s.path, magic, ErrNotCapture)
	}
	return nil
}

// stopped returns the context's error once it has ended.
func (s *FileSource) stopped() error {
	if s.ctx == nil {
		return nil
	}
	return s.ctx.Err()
}

// headerError classifies a failure to read the file header: a header cut
// short is a truncated file, anything else says the file is not a capture
// this reader understands.
func (s *FileSource) headerError(format string, err error) error {
	if ctxErr := s.stopped(); ctxErr != nil {
		return fmt.Errorf("%s: %s header: %w", s.path, format, ctxErr)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %s header: %w", s.path, format, ErrTruncated)
	}
	return fmt.Errorf("%s: %s header: %v: %w", s.path, format, err, ErrNotCapture)
}

// Next fills f with the next frame. f.Data points into a buffer owned by
// the source and is valid only until the next call. At the end of the file
// Next returns io.EOF; a last record cut short returns an error wrapping
// ErrTruncated, and a damaged record it cannot read past one wrapping
// ErrCorrupt: in both cases every frame before was returned. A damaged pcap
// record header is stepped over when a plausible record follows it (see
// Stats and Damage). A pcapng interface with a link type no file format
// defines gives ErrLinkType. If the context given to OpenFileContext ends
// while Next waits on a FIFO, the error wraps the context's.
func (s *FileSource) Next(f *frame.Frame) error {
	if s.pcap != nil {
		resyncs := s.pcap.resyncs
		h, data, err := s.pcap.next()
		if err != nil {
			return s.recordError(err)
		}
		if resyncs == 0 && s.pcap.resyncs > 0 {
			s.corrupt = s.records + 1
		}
		s.records++
		frac := int64(h.frac)
		if !s.pcap.nanos {
			frac *= 1000
		}
		f.TS = int64(h.sec)*1e9 + frac
		f.LinkType = s.linkType
		f.Data = data
		f.OrigLen = h.origlen
		f.Node = ""
		return nil
	}
	data, ci, err := s.ng.ZeroCopyReadPacketData()
	if err != nil {
		return s.recordError(err)
	}
	s.records++
	// The reader has checked the index against the section's interfaces.
	iface, err := s.ng.Interface(ci.InterfaceIndex)
	if err != nil {
		return fmt.Errorf("%s: record %d: %w: %v", s.path, s.records, ErrCorrupt, err)
	}
	if iface.LinkType > maxFileLinkType {
		return fmt.Errorf("%s: record %d: interface %d: link type %d (%#x): %w",
			s.path, s.records, ci.InterfaceIndex, iface.LinkType, uint16(iface.LinkType), ErrLinkType)
	}
	f.TS = ci.Timestamp.UnixNano()
	f.LinkType = frame.LinkType(iface.LinkType)
	f.Data = data
	f.OrigLen = ci.Length
	f.Node = ""
	return nil
}

func (s *FileSource) recordError(err error) error {
	switch {
	case err == io.EOF:
		return io.EOF
	case s.stopped() != nil:
		return fmt.Errorf("%s: record %d: %w", s.path, s.records+1, s.stopped())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: record %d: %w", s.path, s.records+1, ErrTruncated)
	case errors.Is(err, errResyncFailed):
		st := s.Stats()
		return fmt.Errorf("%s: record %d: %w: damaged header, %v (%d bytes skipped to the end)",
			s.path, s.records+1, ErrCorrupt, err, st.SkippedBytes)
	default:
		return fmt.Errorf("%s: record %d: %w: %v", s.path, s.records+1, ErrCorrupt, err)
	}
}

// Stats says how far the file was read and what was stepped over.
func (s *FileSource) Stats() FileStats {
	st := FileStats{Records: s.records}
	if s.pcap != nil {
		st.Resyncs, st.SkippedBytes = s.pcap.resyncs, s.pcap.skipped
	}
	return st
}

// Damage returns nil for a file read without resynchronising, else an error
// wrapping ErrResynced that says where and how much was stepped over, for
// the caller's warning: the frames returned are complete, but some between
// them were lost.
func (s *FileSource) Damage() error {
	st := s.Stats()
	if st.Resyncs == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w after record %d: %d damaged record header(s), %d bytes skipped",
		s.path, ErrResynced, s.corrupt-1, st.Resyncs, st.SkippedBytes)
}

// Close releases the file. It is safe to call more than once.
func (s *FileSource) Close() error {
	if s.stopRead != nil {
		s.stopRead()
		s.stopRead = nil
	}
	var err error
	if s.gz != nil {
		err = s.gz.Close()
		s.gz = nil
	}
	if s.file != nil {
		if cerr := s.file.Close(); err == nil {
			err = cerr
		}
		s.file = nil
	}
	return err
}
