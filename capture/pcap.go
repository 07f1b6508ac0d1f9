package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The classic pcap format, read here rather than with pcapgo so that a
// damaged record header can be stepped over: pcapgo can only stop there.
// (pcapFileHeaderLen is the spool's.)
const (
	pcapRecordHeaderLen = 16
	// pcapReadBuffer holds the largest record with the headers around it,
	// so that one Peek sees a whole record and the next header.
	pcapReadBuffer = 1 << 20
	// pcapMaxRecord is the longest record taken: libpcap's maximum snap
	// length is 256 KiB, and writers that do not truncate to the snap
	// length they declare stay within it too.
	pcapMaxRecord = 256 << 10
	// pcapResyncWindow is how far a record found by resynchronisation may
	// stray in time from the last good one, in seconds.
	pcapResyncWindow = 86400
)

// maxFileLinkType is the largest link type a capture file may declare. The
// tcpdump.org LINKTYPE registry stops near 300 and grows by a few values a
// year; anything far above it (such as sipscope's internal frame.LinkHEP,
// 0xFFF0) is not a file format's link type but a damaged or forged header.
const maxFileLinkType = 511

// pcapLinkTypeMask keeps the link type of the header's link type field; the
// upper bits say whether frames carry an FCS, and how long it is.
const pcapLinkTypeMask = 0x03FFFFFF

// pcapReader reads the records of a classic pcap file without copying them.
type pcapReader struct {
	br       *bufio.Reader
	order    binary.ByteOrder
	nanos    bool   // nanosecond timestamps
	snaplen  uint32 // as declared
	linkType uint32
	maxLen   int // longest record accepted

	prevSec  uint32 // timestamp of the latest good record, for resynchronisation
	havePrev bool

	resyncs int   // times a damaged header was stepped over
	skipped int64 // bytes stepped over doing so
}

// newPcapReader reads the file header; br must hold at least pcapReadBuffer.
func newPcapReader(br *bufio.Reader) (*pcapReader, error) {
	var h [pcapFileHeaderLen]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, err
	}
	r := &pcapReader{br: br}
	switch binary.LittleEndian.Uint32(h[:]) {
	case magicPcapMicroLE:
		r.order = binary.LittleEndian
	case magicPcapMicroBE:
		r.order = binary.BigEndian
	case magicPcapNanoLE:
		r.order, r.nanos = binary.LittleEndian, true
	case magicPcapNanoBE:
		r.order, r.nanos = binary.BigEndian, true
	}
	// Only version 2.4 was ever written (2.2 and 2.3 files from the 1990s
	// differ in ways nobody meets any more).
	if major, minor := r.order.Uint16(h[4:]), r.order.Uint16(h[6:]); major != 2 || minor != 4 {
		return nil, fmt.Errorf("unknown version %d.%d", major, minor)
	}
	r.snaplen = r.order.Uint32(h[16:])
	r.linkType = r.order.Uint32(h[20:]) & pcapLinkTypeMask
	// Records up to the declared snap length are taken even beyond
	// libpcap's maximum, as far as the read buffer allows.
	r.maxLen = int(min(max(r.snaplen, pcapMaxRecord), pcapReadBuffer-2*pcapRecordHeaderLen))
	return r, nil
}

// record is one record's header fields.
type record struct {
	sec, frac       uint32
	caplen, origlen int
}

func (r *pcapReader) header(b []byte) record {
	return record{
		sec:     r.order.Uint32(b[0:]),
		frac:    r.order.Uint32(b[4:]),
		caplen:  int(r.order.Uint32(b[8:])),
		origlen: int(r.order.Uint32(b[12:])),
	}
}

// sane is what every record must satisfy to be read.
func (r *pcapReader) sane(h record) bool {
	return h.caplen <= r.maxLen && h.caplen <= h.origlen
}

// plausible is the stricter test a header found by scanning must pass:
// besides sane, a fraction of a second below one second, a length an
// Ethernet-sized or jumbo packet may have, and a time close to the last
// good record's.
func (r *pcapReader) plausible(h record, prevSec uint32, havePrev bool) bool {
	fracMax := uint32(1_000_000)
	if r.nanos {
		fracMax = 1_000_000_000
	}
	if !r.sane(h) || h.caplen == 0 || h.origlen > max(r.maxLen, pcapMaxRecord) || h.frac >= fracMax {
		return false
	}
	if havePrev {
		d := int64(h.sec) - int64(prevSec)
		if d < -pcapResyncWindow || d > pcapResyncWindow {
			return false
		}
	}
	return true
}

// errResyncFailed means no plausible record header follows a damaged one.
var errResyncFailed = errors.New("no plausible record header after it")

// next returns the next record's header and data (which point into the
// reader's buffer until the next call). At a damaged header it scans ahead
// for the next plausible one and goes on from there. Errors: io.EOF at a
// clean end, io.ErrUnexpectedEOF for a record cut short, errResyncFailed.
func (r *pcapReader) next() (record, []byte, error) {
	b, err := r.br.Peek(pcapRecordHeaderLen)
	if err != nil {
		if len(b) == 0 && err == io.EOF {
			return record{}, nil, io.EOF
		}
		return record{}, nil, noEOF(err)
	}
	h := r.header(b)
	if !r.sane(h) {
		if err := r.resync(); err != nil {
			return record{}, nil, err
		}
		b, _ = r.br.Peek(pcapRecordHeaderLen) // resync checked it is there
		h = r.header(b)
	}
	n := pcapRecordHeaderLen + h.caplen
	b, err = r.br.Peek(n)
	if err != nil {
		return record{}, nil, noEOF(err)
	}
	r.br.Discard(n)
	r.prevSec, r.havePrev = h.sec, true
	return h, b[pcapRecordHeaderLen:], nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// resync steps over the damaged header at the reader's position: it scans
// forward a byte at a time for a header that is plausible and is followed
// either by another plausible header or by the exact end of the file, so
// that bytes inside a packet which happen to look like a header are not
// taken for one. The bytes skipped and the resynchronisation are counted.
func (r *pcapReader) resync() error {
	r.resyncs++
	r.br.Discard(1) // the header at the position is known bad
	r.skipped++
	for {
		win, err := r.br.Peek(pcapReadBuffer)
		if err != nil && err != io.EOF {
			return err
		}
		atEOF := err != nil
		i := 0
		for ; i+pcapRecordHeaderLen <= len(win); i++ {
			ok, more := r.candidate(win, i, atEOF)
			if more {
				break
			}
			if ok {
				r.br.Discard(i)
				r.skipped += int64(i)
				return nil
			}
		}
		if i == 0 && !atEOF {
			// Cannot happen: at the window's start a candidate always fits.
			i = 1
		}
		if i+pcapRecordHeaderLen > len(win) && atEOF {
			r.br.Discard(len(win))
			r.skipped += int64(len(win))
			return errResyncFailed
		}
		r.br.Discard(i)
		r.skipped += int64(i)
	}
}

// candidate tests the header at win[i:]. more says the window ends before
// the record after it begins, so it can only be decided from a window
// that starts at i.
func (r *pcapReader) candidate(win []byte, i int, atEOF bool) (ok, more bool) {
	h := r.header(win[i:])
	if !r.plausible(h, r.prevSec, r.havePrev) {
		return false, false
	}
	next := i + pcapRecordHeaderLen + h.caplen
	switch {
	case next == len(win) && atEOF:
		return true, false // the last record of the file
	case next+pcapRecordHeaderLen > len(win):
		if atEOF {
			return false, false // would run past the end
		}
		return false, true
	}
	return r.plausible(r.header(win[next:]), h.sec, true), false
}
