package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// On disk the spool is a directory of segment files, <id>.seg with a
// 20-digit id that grows, each a sequence of records:
//
//	u32 payload length | u32 CRC32C of (time | payload) | i64 unix ns appended | payload
//
// all little-endian, and a file "head" that says where the oldest record
// not yet acknowledged starts (segment id, offset; with its own CRC). A
// segment whose records are all acknowledged or dropped is deleted.
const (
	headerSize  = 16
	segSuffix   = ".seg"
	headName    = "head"
	headTmpName = "head.tmp"
	headSize    = 20
	// maxRecord bounds one record's length field, so that a corrupt length
	// cannot make Open allocate gigabytes.
	maxRecord = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Config says where the spool lives and how much disk it may use.
type Config struct {
	Dir      string // created if missing
	MaxBytes int64  // bound of all segment files together
	// SegmentBytes is the size at which the next segment is started
	// (default MaxBytes/16, at least 1 MiB and at most 64 MiB): the
	// granularity in which the oldest records are dropped when full.
	SegmentBytes int64
	Registerer   prometheus.Registerer // sipscope_store_spool_*; nil for none
	Logger       *slog.Logger
}

// Validate names the first unusable field.
func (c Config) Validate() error {
	if c.Dir == "" {
		return fmt.Errorf("%w: Dir: required", ErrInvalidConfig)
	}
	if c.MaxBytes < 64<<10 {
		return fmt.Errorf("%w: MaxBytes: %d, want at least 64 KiB", ErrInvalidConfig, c.MaxBytes)
	}
	if c.SegmentBytes < 0 || c.SegmentBytes > c.MaxBytes {
		return fmt.Errorf("%w: SegmentBytes: %d, want 0 (default) to MaxBytes", ErrInvalidConfig, c.SegmentBytes)
	}
	return nil
}

func (c Config) segmentBytes() int64 {
	if c.SegmentBytes > 0 {
		return c.SegmentBytes
	}
	return min(max(c.MaxBytes/16, 1<<20), 64<<20, c.MaxBytes)
}

// Stats is the spool's state and its counters since Open.
type Stats struct {
	Records         int     `json:"records"`            // waiting to be replayed
	Bytes           int64   `json:"bytes"`              // on disk, segment files
	OldestAgeSecond float64 `json:"oldest_age_seconds"` // age of the oldest waiting record, 0 when empty
	Appended        uint64  `json:"appended"`
	Replayed        uint64  `json:"replayed"` // acknowledged after replay
	Dropped         uint64  `json:"dropped"`  // oldest records dropped because the spool was full, or too large
	Corrupt         uint64  `json:"corrupt"`  // torn or corrupt records found at Open and skipped
	Undecodable     uint64  `json:"undecodable"`
}

// record is where one waiting record is.
type record struct {
	seg  uint64
	off  int64
	size int64 // header included
	ts   int64
}

type segment struct {
	id   uint64
	size int64
}

// Spool is safe for concurrent use.
type Spool struct {
	cfg    Config
	segMax int64
	log    *slog.Logger

	mu      sync.Mutex
	closed  bool
	segs    []segment // oldest first; the last one is appended to when active is open
	nextID  uint64    // of the next segment: above every id used, and above the head's
	active  *os.File  // nil until the first Append after Open or a rotation
	recs    []record  // waiting, oldest first
	bytes   int64
	counter Stats // the counters; Records, Bytes and age are computed
}

// Open opens or creates the spool in cfg.Dir and reads what a previous run
// left there: records not yet acknowledged wait for replay, a torn or
// corrupt record ends its segment (the last segment is truncated there)
// and is counted.
func Open(cfg Config) (*Spool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{cfg: cfg, segMax: cfg.segmentBytes(), log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	if cfg.Registerer != nil {
		if err := registerMetrics(cfg.Registerer, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Spool) segPath(id uint64) string {
	return filepath.Join(s.cfg.Dir, fmt.Sprintf("%020d%s", id, segSuffix))
}

// load scans the directory: head first, then every segment.
func (s *Spool) load() error {
	headSeg, headOff := s.readHead()
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var ids []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segSuffix)
		if !ok || e.IsDir() {
			continue
		}
		id, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	s.nextID = headSeg + 1
	if len(ids) > 0 {
		s.nextID = max(s.nextID, ids[len(ids)-1]+1)
	}
	for i, id := range ids {
		if id < headSeg {
			// Fully acknowledged before a crash could delete it.
			os.Remove(s.segPath(id))
			continue
		}
		from := int64(0)
		if id == headSeg {
			from = headOff
		}
		size, err := s.scan(id, from, i == len(ids)-1)
		if err != nil {
			return err
		}
		s.segs = append(s.segs, segment{id: id, size: size})
		s.bytes += size
	}
	s.removeConsumed()
	return nil
}

// scan reads the records of one segment from offset from on and returns
// the segment's size as kept. A bad record ends the segment; in the last
// segment (where a crash mid-append leaves a torn tail) the file is cut
// there, so that the next run does not count it again.
func (s *Spool) scan(id uint64, from int64, last bool) (int64, error) {
	f, err := os.OpenFile(s.segPath(id), os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	size := st.Size()
	off := from
	var hdr [headerSize]byte
	for off < size {
		n, ts, err := readRecordAt(f, off, size, hdr[:])
		if err != nil {
			s.counter.Corrupt++
			s.log.Warn("store spool: corrupt or torn record skipped", "segment", id, "offset", off, "err", err)
			if last {
				if terr := f.Truncate(off); terr == nil {
					f.Sync()
					size = off
				}
			}
			break
		}
		s.recs = append(s.recs, record{seg: id, off: off, size: n, ts: ts})
		off += n
	}
	return size, nil
}

// readRecordAt checks the record at off (its header and checksum) and
// returns its whole size and its time.
func readRecordAt(f *os.File, off, size int64, hdr []byte) (int64, int64, error) {
	if size-off < headerSize {
		return 0, 0, fmt.Errorf("%w: %d bytes left, a header needs %d", ErrCorrupt, size-off, headerSize)
	}
	if _, err := f.ReadAt(hdr[:headerSize], off); err != nil {
		return 0, 0, err
	}
	n := int64(binary.LittleEndian.Uint32(hdr[0:]))
	sum := binary.LittleEndian.Uint32(hdr[4:])
	ts := int64(binary.LittleEndian.Uint64(hdr[8:]))
	if n > maxRecord || off+headerSize+n > size {
		return 0, 0, fmt.Errorf("%w: length %d past the end", ErrCorrupt, n)
	}
	payload := make([]byte, n)
	if _, err := f.ReadAt(payload, off+headerSize); err != nil {
		return 0, 0, err
	}
	if checksum(hdr[8:16], payload) != sum {
		return 0, 0, fmt.Errorf("%w: checksum", ErrCorrupt)
	}
	return headerSize + n, ts, nil
}

func checksum(ts, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(ts, castagnoli), castagnoli, payload)
}

// readHead returns the position of the oldest unacknowledged record; a
// missing or damaged head means the start of the oldest segment.
func (s *Spool) readHead() (uint64, int64) {
	b, err := os.ReadFile(filepath.Join(s.cfg.Dir, headName))
	if err != nil || len(b) != headSize || crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return 0, 0
	}
	return binary.LittleEndian.Uint64(b[0:]), int64(binary.LittleEndian.Uint64(b[8:]))
}

// writeHead records durably where the oldest waiting record starts:
// written aside, fsync'd, renamed over the old head, directory fsync'd.
func (s *Spool) writeHead(seg uint64, off int64) error {
	var b [headSize]byte
	binary.LittleEndian.PutUint64(b[0:], seg)
	binary.LittleEndian.PutUint64(b[8:], uint64(off))
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	tmp := filepath.Join(s.cfg.Dir, headTmpName)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(b[:]); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.cfg.Dir, headName)); err != nil {
		return err
	}
	return s.syncDir()
}

func (s *Spool) syncDir() error {
	d, err := os.Open(s.cfg.Dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Append writes one record and fsyncs it before returning: once Append
// returned nil, a crash loses it no more. When the spool is full, the
// oldest segments are dropped (and their records counted) to make room.
func (s *Spool) Append(payload []byte) error {
	return s.appendAt(payload, time.Now())
}

func (s *Spool) appendAt(payload []byte, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	size := int64(headerSize + len(payload))
	if size > s.cfg.MaxBytes || len(payload) > maxRecord {
		s.counter.Dropped++
		return fmt.Errorf("%w: %d bytes, the spool holds %d", ErrTooLarge, size, s.cfg.MaxBytes)
	}
	if s.active != nil && s.segs[len(s.segs)-1].size+size > s.segMax && s.segs[len(s.segs)-1].size > 0 {
		if err := s.closeActive(); err != nil {
			return err
		}
	}
	for s.bytes+size > s.cfg.MaxBytes && len(s.segs) > 0 {
		if s.active != nil && len(s.segs) == 1 {
			if err := s.closeActive(); err != nil {
				return err
			}
		}
		s.dropOldest()
	}
	if s.active == nil {
		if err := s.newSegment(); err != nil {
			return err
		}
	}
	buf := make([]byte, size)
	binary.LittleEndian.PutUint32(buf[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint64(buf[8:], uint64(now.UnixNano()))
	copy(buf[headerSize:], payload)
	binary.LittleEndian.PutUint32(buf[4:], checksum(buf[8:16], payload))
	seg := &s.segs[len(s.segs)-1]
	if _, err := s.active.WriteAt(buf, seg.size); err != nil {
		return fmt.Errorf("spool: append: %w", err)
	}
	if err := s.active.Sync(); err != nil {
		return fmt.Errorf("spool: append: %w", err)
	}
	s.recs = append(s.recs, record{seg: seg.id, off: seg.size, size: size, ts: now.UnixNano()})
	seg.size += size
	s.bytes += size
	s.counter.Appended++
	return nil
}

func (s *Spool) newSegment() error {
	id := max(s.nextID, 1)
	f, err := os.OpenFile(s.segPath(id), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o640)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	// The new name must survive a crash, or its records would.
	if err := s.syncDir(); err != nil {
		f.Close()
		return fmt.Errorf("spool: %w", err)
	}
	s.active = f
	s.nextID = id + 1
	s.segs = append(s.segs, segment{id: id})
	return nil
}

func (s *Spool) closeActive() error {
	err := s.active.Close()
	s.active = nil
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// dropOldest deletes the oldest (inactive) segment and counts its waiting
// records as dropped.
func (s *Spool) dropOldest() {
	old := s.segs[0]
	n := 0
	for n < len(s.recs) && s.recs[n].seg == old.id {
		n++
	}
	s.counter.Dropped += uint64(n)
	s.recs = slices.Delete(s.recs, 0, n)
	s.segs = s.segs[1:]
	s.bytes -= old.size
	os.Remove(s.segPath(old.id))
	if n > 0 {
		s.log.Warn("store spool full: oldest records dropped", "records", n, "bytes", old.size)
	}
}

// removeConsumed deletes inactive segments in front of the oldest waiting
// record: everything in them is acknowledged or was skipped.
func (s *Spool) removeConsumed() {
	for len(s.segs) > 0 {
		old := s.segs[0]
		if len(s.recs) > 0 && s.recs[0].seg == old.id {
			return
		}
		if s.active != nil && len(s.segs) == 1 {
			return
		}
		s.segs = s.segs[1:]
		s.bytes -= old.size
		os.Remove(s.segPath(old.id))
	}
}

// Peek returns the oldest waiting record and when it was appended; ok is
// false when the spool is empty. The record stays until Ack.
func (s *Spool) Peek() (payload []byte, appended time.Time, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, time.Time{}, false, ErrClosed
	}
	if len(s.recs) == 0 {
		return nil, time.Time{}, false, nil
	}
	r := s.recs[0]
	f, err := os.Open(s.segPath(r.seg))
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	buf := make([]byte, r.size)
	if _, err := f.ReadAt(buf, r.off); err != nil && !errors.Is(err, io.EOF) {
		return nil, time.Time{}, false, fmt.Errorf("spool: %w", err)
	}
	if checksum(buf[8:16], buf[headerSize:]) != binary.LittleEndian.Uint32(buf[4:]) {
		// Checked at append and at Open; a change since is the disk's doing.
		return nil, time.Time{}, false, fmt.Errorf("spool: segment %d offset %d: %w", r.seg, r.off, ErrCorrupt)
	}
	return buf[headerSize:], time.Unix(0, r.ts), true, nil
}

// Ack removes the oldest waiting record, durably: after a crash it is not
// replayed again.
func (s *Spool) Ack() error {
	return s.ack(&s.counter.Replayed)
}

func (s *Spool) ack(count *uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if len(s.recs) == 0 {
		return ErrEmpty
	}
	r := s.recs[0]
	s.recs = s.recs[1:]
	*count++
	// The head moves to the end of r, the start of whatever comes next.
	if err := s.writeHead(r.seg, r.off+r.size); err != nil {
		return fmt.Errorf("spool: ack: %w", err)
	}
	s.removeConsumed()
	return nil
}

// Len is the number of waiting records.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

// Stats returns the spool's state now.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.counter
	st.Records = len(s.recs)
	st.Bytes = s.bytes
	if len(s.recs) > 0 {
		st.OldestAgeSecond = max(time.Since(time.Unix(0, s.recs[0].ts)).Seconds(), 0)
	}
	return st
}

// Close closes the active segment; waiting records stay for the next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.active != nil {
		return s.closeActive()
	}
	return nil
}
