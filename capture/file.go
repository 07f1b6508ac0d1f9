package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
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

// packetReader is what the pcap and pcapng readers of pcapgo have in common.
type packetReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// FileSource reads the frames of a pcap or pcapng file (optionally
// gzip-compressed) one at a time into a caller-owned Frame.
type FileSource struct {
	path     string
	file     *os.File
	gz       *gzip.Reader // nil unless the file is compressed
	reader   packetReader
	ng       *pcapgo.NgReader // non-nil for pcapng, to look up per-interface link types
	linkType frame.LinkType   // from the pcap file header; pcapng frames use their interface's
	records  int              // records returned so far, to say where a file went wrong
}

// OpenFile opens a capture file, recognising pcap (either byte order,
// micro- or nanosecond timestamps) and pcapng by their magic number.
// A file that is neither yields an error wrapping ErrNotCapture.
func OpenFile(path string) (*FileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: open %s: %w", path, err)
	}
	s := &FileSource{path: path, file: f}
	if err := s.init(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *FileSource) init() error {
	br := bufio.NewReaderSize(s.file, 64<<10)
	head, err := br.Peek(4)
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		// A gzip stream: look at the magic of what it holds.
		s.gz, err = gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: gzip: %v: %w", s.path, err, ErrNotCapture)
		}
		br = bufio.NewReaderSize(s.gz, 64<<10)
		head, err = br.Peek(4)
	}
	if err != nil {
		if len(head) == 0 {
			return fmt.Errorf("%s: empty file: %w", s.path, ErrNotCapture)
		}
		return fmt.Errorf("%s: only %d bytes: %w", s.path, len(head), ErrNotCapture)
	}

	switch magic := binary.LittleEndian.Uint32(head); magic {
	case magicPcapMicroLE, magicPcapMicroBE, magicPcapNanoLE, magicPcapNanoBE:
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return s.headerError("pcap", err)
		}
		s.reader = pr
		s.linkType = frame.LinkType(pr.LinkType())
	case magicPcapng:
		// Mixed link types: each frame carries the one of its interface.
		nr, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return s.headerError("pcapng", err)
		}
		s.reader = nr
		s.ng = nr
	default:
		return fmt.Errorf("%s: magic %#08x: %w", s.path, magic, ErrNotCapture)
	}
	return nil
}

// headerError classifies a failure to read the file header: a header cut
// short is a truncated file, anything else says the file is not a capture
// this reader understands.
func (s *FileSource) headerError(format string, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %s header: %w", s.path, format, ErrTruncated)
	}
	return fmt.Errorf("%s: %s header: %v: %w", s.path, format, err, ErrNotCapture)
}

// Next fills f with the next frame. f.Data points into a buffer owned by
// the source and is valid only until the next call. At the end of the file
// Next returns io.EOF; a last record cut short returns an error wrapping
// ErrTruncated, and an implausible record one wrapping ErrCorrupt.
func (s *FileSource) Next(f *frame.Frame) error {
	data, ci, err := s.reader.ZeroCopyReadPacketData()
	if err != nil {
		switch {
		case err == io.EOF:
			return io.EOF
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("%s: record %d: %w", s.path, s.records+1, ErrTruncated)
		default:
			return fmt.Errorf("%s: record %d: %w: %v", s.path, s.records+1, ErrCorrupt, err)
		}
	}
	s.records++
	f.TS = ci.Timestamp.UnixNano()
	f.LinkType = s.linkType
	if s.ng != nil {
		// The reader has checked the index against the section's interfaces.
		iface, err := s.ng.Interface(ci.InterfaceIndex)
		if err != nil {
			return fmt.Errorf("%s: record %d: %w: %v", s.path, s.records, ErrCorrupt, err)
		}
		f.LinkType = frame.LinkType(iface.LinkType)
	}
	f.Data = data
	f.OrigLen = ci.Length
	f.Node = ""
	return nil
}

// Close releases the file. It is safe to call more than once.
func (s *FileSource) Close() error {
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
