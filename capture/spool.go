package capture

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sipscope/sipscope/frame"
)

// Defaults applied to the zero values of SpoolConfig.
const (
	DefaultSpoolPrefix     = "sipscope"
	DefaultSpoolFileSize   = 100_000_000    // bytes, like tcpdump -C 100
	DefaultSpoolKeepBytes  = 10_000_000_000 // bytes of spool files kept on disk
	DefaultSpoolQueueBytes = 16 << 20
	DefaultSpoolFlushEvery = time.Second
)

const (
	// spoolBlockSize is the unit handed from Write to the writer goroutine:
	// one write(2) per block, and large enough for a record of maxSnapLen.
	spoolBlockSize = 1 << 20
	minSpoolFile   = 1024
	maxSpoolQueue  = 1 << 30
	minSpoolEvery  = time.Second // shortest rotation interval
	// spoolLogEvery rate-limits the error log: a full disk fails every
	// block, and the log must not become a second full disk.
	spoolLogEvery = time.Minute

	pcapFileHeaderLen = 24
	pcapRecHeaderLen  = 16
	pcapMagicNanos    = 0xa1b23c4d // pcap with nanosecond timestamps
	spoolPartSuffix   = ".part"
	spoolStampLayout  = "20060102T150405Z"
)

// SpoolConfig configures a Spool: a directory of rotating pcap files that
// receives every frame a live capture delivers. Zero values select defaults,
// except Interval, where 0 means no time rotation.
type SpoolConfig struct {
	Dir string // directory of the files; created if missing
	// Prefix starts every file name: PREFIX-20261126T153000Z-000001.pcap,
	// the UTC second of the file's first frame and a sequence number, so
	// that names sort in time order (default "sipscope").
	Prefix string
	// FileSize is the most bytes a file grows to before the next one is
	// started (default 100 MB). A single frame larger than that still gets
	// a file of its own.
	FileSize int64
	// Interval starts a new file at every multiple of it in packet time
	// (UTC-aligned: 1h gives one file per hour); 0 rotates by size only.
	Interval time.Duration
	// KeepBytes bounds the disk use of the spool, files from earlier runs
	// included: the oldest files are deleted first (default 10 GB).
	KeepBytes int64
	// SnapLen is the snap length written in the file header; longer frames
	// are cut to it (default 65535, as the live source's).
	SnapLen int
	// LinkType is the link type of the files (default Ethernet); frames of
	// another link type (HEP) are counted as skipped, not written.
	LinkType frame.LinkType
	// QueueBytes bounds the memory of frames waiting for the disk (default
	// 16 MiB, in 1 MiB blocks). When the disk falls that far behind, new
	// frames are dropped from the spool and counted.
	QueueBytes int
	// FlushEvery is how often a partly filled block is written out, so a
	// crash loses at most that much (default and most 1 s).
	FlushEvery time.Duration

	// Now is the wall clock that closes a file whose interval ended while
	// no frame came (default time.Now; tests inject one).
	Now func() time.Time
	// Registerer receives the spool's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger receives file-level events and rate-limited write errors.
	Logger *slog.Logger
}

// Validate checks every field and names the first bad one.
func (c SpoolConfig) Validate() error {
	d := c.withDefaults()
	switch {
	case c.Dir == "":
		return fmt.Errorf("%w: Dir: empty", ErrSpoolConfig)
	case !validSpoolPrefix(d.Prefix):
		return fmt.Errorf("%w: Prefix %q: want 1 to 64 letters, digits, '.', '_' or '-'", ErrSpoolConfig, c.Prefix)
	case c.FileSize < 0 || (c.FileSize > 0 && c.FileSize < minSpoolFile):
		return fmt.Errorf("%w: FileSize %d: want 0 (default %d) or at least %d bytes", ErrSpoolConfig, c.FileSize, DefaultSpoolFileSize, minSpoolFile)
	case c.Interval < 0 || (c.Interval > 0 && c.Interval < minSpoolEvery):
		return fmt.Errorf("%w: Interval %v: want 0 (no time rotation) or at least %v", ErrSpoolConfig, c.Interval, minSpoolEvery)
	case c.KeepBytes < 0:
		return fmt.Errorf("%w: KeepBytes %d: negative", ErrSpoolConfig, c.KeepBytes)
	case d.KeepBytes < 2*d.FileSize:
		return fmt.Errorf("%w: KeepBytes %d: want at least twice FileSize %d (the file being written and one finished)", ErrSpoolConfig, d.KeepBytes, d.FileSize)
	case c.SnapLen != 0 && (c.SnapLen < minSnapLen || c.SnapLen > maxSnapLen):
		return fmt.Errorf("%w: SnapLen %d: want 0 (default %d) or %d to %d", ErrSpoolConfig, c.SnapLen, DefaultSnapLen, minSnapLen, maxSnapLen)
	case d.LinkType == frame.LinkHEP:
		return fmt.Errorf("%w: LinkType: HEP has no pcap link type", ErrSpoolConfig)
	case c.QueueBytes < 0 || (c.QueueBytes > 0 && (c.QueueBytes < 2*spoolBlockSize || c.QueueBytes > maxSpoolQueue)):
		return fmt.Errorf("%w: QueueBytes %d: want 0 (default %d) or %d to %d", ErrSpoolConfig, c.QueueBytes, DefaultSpoolQueueBytes, 2*spoolBlockSize, maxSpoolQueue)
	case c.FlushEvery < 0 || (c.FlushEvery > 0 && (c.FlushEvery < time.Millisecond || c.FlushEvery > time.Second)):
		return fmt.Errorf("%w: FlushEvery %v: want 0 (default %v) or 1ms to 1s", ErrSpoolConfig, c.FlushEvery, DefaultSpoolFlushEvery)
	}
	return nil
}

func validSpoolPrefix(p string) bool {
	if p == "" || len(p) > 64 {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func (c SpoolConfig) withDefaults() SpoolConfig {
	if c.Prefix == "" {
		c.Prefix = DefaultSpoolPrefix
	}
	if c.FileSize == 0 {
		c.FileSize = DefaultSpoolFileSize
	}
	if c.KeepBytes == 0 {
		c.KeepBytes = DefaultSpoolKeepBytes
	}
	if c.SnapLen == 0 {
		c.SnapLen = DefaultSnapLen
	}
	if c.LinkType == 0 {
		c.LinkType = frame.LinkEthernet
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = DefaultSpoolQueueBytes
	}
	if c.FlushEvery == 0 {
		c.FlushEvery = DefaultSpoolFlushEvery
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// SpoolStats counts what a Spool did since it was opened.
type SpoolStats struct {
	Frames      uint64 `json:"frames"`       // frames written to disk
	Bytes       uint64 `json:"bytes"`        // pcap bytes written, headers included
	Files       uint64 `json:"files"`        // files completed (renamed to .pcap)
	Deleted     uint64 `json:"deleted"`      // old files deleted to keep the disk bound
	WriteErrors uint64 `json:"write_errors"` // failed creates, writes, syncs, renames, deletes
	QueueDrops  uint64 `json:"queue_drops"`  // frames dropped: the disk was QueueBytes behind
	ErrorDrops  uint64 `json:"error_drops"`  // frames lost in a failed write
	ClosedDrops uint64 `json:"closed_drops"` // frames written after Run returned
	OtherLink   uint64 `json:"other_link"`   // frames of another link type (HEP), not spooled
	DiskBytes   int64  `json:"disk_bytes"`   // bytes of spool files on disk now
}

// spoolBlock is a run of complete pcap records, all bound for one file.
type spoolBlock struct {
	buf    []byte
	frames int
	// newFile: close the open file and start a new one with this block;
	// closeAfter: close the file after this block (rotation, shutdown).
	newFile, closeAfter bool
}

// spoolFile is a finished file of the spool.
type spoolFile struct {
	name  string
	stamp string
	seq   uint64
	size  int64
}

// Spool writes frames to rotating pcap files. Write is called by one
// goroutine (the pipeline), never blocks and never allocates: it copies the
// frame into a preallocated block, and Run, on its own goroutine, writes
// full blocks, a partial one every FlushEvery, and rotates and deletes
// files. A disk slower than the capture costs dropped spool frames
// (counted), never a stalled capture; a disk error is counted and logged
// at most once a minute, and the next block tries a new file.
type Spool struct {
	cfg  SpoolConfig
	free chan *spoolBlock
	work chan *spoolBlock

	mu        sync.Mutex // guards the producer state below (Write and the flush tick)
	cur       *spoolBlock
	fileOpen  bool  // the records since the last rotation form a file
	fileBytes int64 // its size so far
	windowEnd int64 // packet time (Unix ns) at which it rotates
	closed    bool

	// Writer state, touched only by Run (and by OpenSpool before it).
	f         *os.File
	fname     string // final name of the open file (its tmp name adds .part)
	fsize     int64
	seq       uint64
	files     []spoolFile // finished files, oldest first
	filesSize int64
	lastLog   time.Time
	unlogged  uint64 // errors since the last log line
	dropLog   time.Time
	dropsSeen uint64 // queue drops already warned about

	frames, bytes, rotated, deleted, writeErrs atomic.Uint64
	queueDrops, errorDrops, closedDrops        atomic.Uint64
	skipped                                    atomic.Uint64
	diskBytes                                  atomic.Int64

	coll prometheus.Collector
}

// OpenSpool validates cfg, creates the directory, completes files a crash
// left with their temporary name (cut to their last whole record), applies
// the disk bound to what is already there and registers the metrics.
func OpenSpool(cfg SpoolConfig) (*Spool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("capture: spool directory: %w", err)
	}
	n := cfg.QueueBytes / spoolBlockSize
	s := &Spool{cfg: cfg, free: make(chan *spoolBlock, n), work: make(chan *spoolBlock, n), seq: 1}
	for range n {
		s.free <- &spoolBlock{buf: make([]byte, 0, spoolBlockSize)}
	}
	if err := s.scan(); err != nil {
		return nil, err
	}
	s.enforceKeep()
	s.diskBytes.Store(s.filesSize)
	if cfg.Registerer != nil {
		s.coll = newSpoolCollector(s)
		if err := cfg.Registerer.Register(s.coll); err != nil {
			return nil, fmt.Errorf("capture: spool metrics: %w", err)
		}
	}
	return s, nil
}

// Write copies f into the spool. Frames of another link type than the
// spool's are counted as skipped.
func (s *Spool) Write(f *frame.Frame) {
	if f.LinkType != s.cfg.LinkType {
		s.skipped.Add(1)
		return
	}
	data := f.Data
	if len(data) > s.cfg.SnapLen {
		data = data[:s.cfg.SnapLen]
	}
	orig := max(f.OrigLen, len(f.Data))
	rec := pcapRecHeaderLen + len(data)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.closedDrops.Add(1)
		return
	}
	if s.fileOpen && (s.fileBytes+int64(rec) > s.cfg.FileSize || (s.cfg.Interval > 0 && f.TS >= s.windowEnd)) {
		s.endFile()
	}
	if s.cur != nil && len(s.cur.buf)+rec > cap(s.cur.buf) {
		s.submit()
	}
	if s.cur == nil {
		select {
		case s.cur = <-s.free:
		default:
			s.mu.Unlock()
			s.queueDrops.Add(1)
			return
		}
	}
	if !s.fileOpen {
		s.cur.newFile = true
		s.fileOpen = true
		s.fileBytes = pcapFileHeaderLen
		if iv := int64(s.cfg.Interval); iv > 0 {
			s.windowEnd = (f.TS/iv + 1) * iv
		}
	}
	b := s.cur.buf
	n := len(b)
	b = b[:n+rec]
	binary.LittleEndian.PutUint32(b[n:], uint32(f.TS/1e9))
	binary.LittleEndian.PutUint32(b[n+4:], uint32(f.TS%1e9))
	binary.LittleEndian.PutUint32(b[n+8:], uint32(len(data)))
	binary.LittleEndian.PutUint32(b[n+12:], uint32(orig))
	copy(b[n+pcapRecHeaderLen:], data)
	s.cur.buf = b
	s.cur.frames++
	s.fileBytes += int64(rec)
	s.mu.Unlock()
}

// submit hands the current block to the writer. The work channel holds
// every block, so the send never waits. Called with mu held.
func (s *Spool) submit() {
	s.work <- s.cur
	s.cur = nil
}

// endFile marks the end of the current file. Without a block to carry the
// mark (the queue is full), the next file's first block closes it instead.
// Called with mu held.
func (s *Spool) endFile() {
	if s.cur != nil {
		s.cur.closeAfter = true
		s.submit()
	}
	s.fileOpen = false
}

// tick writes out a partly filled block, and closes a file whose interval
// ended while no frame came.
func (s *Spool) tick(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.fileOpen && s.cfg.Interval > 0 && now.UnixNano() >= s.windowEnd {
		if s.cur == nil {
			select {
			case s.cur = <-s.free:
			default:
				return // the queue is full; the next tick tries again
			}
		}
		s.endFile()
		return
	}
	if s.cur != nil && len(s.cur.buf) > 0 {
		s.submit()
	}
}

// Run writes the spool until ctx ends, then writes every frame already
// given to Write, closes the last file and returns. Write calls after that
// are counted as dropped. Errors are counted and logged, not returned: a
// failing disk must not stop the capture.
func (s *Spool) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.FlushEvery)
	defer t.Stop()
	for {
		select {
		case b := <-s.work:
			s.writeBlock(b)
		case <-t.C:
			s.tick(s.cfg.Now())
			s.warnDrops()
		case <-ctx.Done():
			s.mu.Lock()
			s.closed = true
			if s.cur != nil {
				s.submit()
			}
			s.mu.Unlock()
			// Every block is in the channel now: submit happens under mu.
			for {
				select {
				case b := <-s.work:
					s.writeBlock(b)
				default:
					s.closeFile()
					return nil
				}
			}
		}
	}
}

// writeBlock writes one block to the file it belongs to and recycles it.
func (s *Spool) writeBlock(b *spoolBlock) {
	if b.newFile {
		s.closeFile()
	}
	if len(b.buf) > 0 {
		s.writeRecords(b)
	}
	if b.closeAfter {
		s.closeFile()
	}
	b.buf, b.frames, b.newFile, b.closeAfter = b.buf[:0], 0, false, false
	s.free <- b
}

func (s *Spool) writeRecords(b *spoolBlock) {
	if s.f == nil {
		// The first file, or a new one after an error.
		ts := int64(binary.LittleEndian.Uint32(b.buf))*1e9 + int64(binary.LittleEndian.Uint32(b.buf[4:]))
		if err := s.openFile(ts); err != nil {
			s.errorDrops.Add(uint64(b.frames))
			s.fail(err)
			return
		}
	}
	n, err := s.f.Write(b.buf)
	if err != nil {
		s.errorDrops.Add(uint64(b.frames))
		s.fail(fmt.Errorf("capture: spool write %s: %w", s.fname, err))
		// A short write may end inside a record: cut the file back to its
		// last whole block and finish it, so it stays readable.
		if n > 0 {
			if err := s.f.Truncate(s.fsize); err != nil {
				s.fail(fmt.Errorf("capture: spool truncate %s: %w", s.fname, err))
			}
		}
		s.closeFile()
		return
	}
	s.fsize += int64(n)
	s.diskBytes.Add(int64(n))
	s.frames.Add(uint64(b.frames))
	s.bytes.Add(uint64(n))
}

// openFile creates the next file under its temporary name and writes the
// pcap header.
func (s *Spool) openFile(ts int64) error {
	stamp := time.Unix(0, ts).UTC().Format(spoolStampLayout)
	name := fmt.Sprintf("%s-%s-%06d.pcap", s.cfg.Prefix, stamp, s.seq)
	tmp := filepath.Join(s.cfg.Dir, name+spoolPartSuffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("capture: spool create: %w", err)
	}
	var h [pcapFileHeaderLen]byte
	binary.LittleEndian.PutUint32(h[0:], pcapMagicNanos)
	binary.LittleEndian.PutUint16(h[4:], 2) // version 2.4
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], uint32(s.cfg.SnapLen))
	binary.LittleEndian.PutUint32(h[20:], uint32(s.cfg.LinkType))
	if _, err := f.Write(h[:]); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("capture: spool write %s: %w", tmp, err)
	}
	s.f, s.fname, s.fsize = f, name, pcapFileHeaderLen
	s.seq++
	s.diskBytes.Add(pcapFileHeaderLen)
	return nil
}

// closeFile syncs the open file, gives it its final name and applies the
// disk bound. A file left without records is removed.
func (s *Spool) closeFile() {
	if s.f == nil {
		return
	}
	f, name, size := s.f, s.fname, s.fsize
	s.f, s.fname, s.fsize = nil, "", 0
	tmp := filepath.Join(s.cfg.Dir, name+spoolPartSuffix)
	if err := f.Sync(); err != nil {
		s.fail(fmt.Errorf("capture: spool sync %s: %w", name, err))
	}
	if err := f.Close(); err != nil {
		s.fail(fmt.Errorf("capture: spool close %s: %w", name, err))
	}
	if size <= pcapFileHeaderLen {
		s.diskBytes.Add(-size)
		if err := os.Remove(tmp); err != nil {
			s.fail(fmt.Errorf("capture: spool remove: %w", err))
		}
		return
	}
	if err := os.Rename(tmp, filepath.Join(s.cfg.Dir, name)); err != nil {
		// It stays a .part file; the next OpenSpool completes it.
		s.fail(fmt.Errorf("capture: spool rename: %w", err))
		s.diskBytes.Add(-size)
		return
	}
	s.rotated.Add(1)
	sf, _ := parseSpoolName(name, s.cfg.Prefix)
	sf.size = size
	s.files = append(s.files, sf)
	s.filesSize += size
	s.enforceKeep()
	s.diskBytes.Store(s.filesSize)
}

// enforceKeep deletes the oldest finished files until they and a full
// file being written fit in KeepBytes.
func (s *Spool) enforceKeep() {
	limit := s.cfg.KeepBytes - s.cfg.FileSize
	for len(s.files) > 0 && s.filesSize > limit {
		old := s.files[0]
		s.files = s.files[1:]
		s.filesSize -= old.size
		if err := os.Remove(filepath.Join(s.cfg.Dir, old.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.fail(fmt.Errorf("capture: spool delete: %w", err))
			continue
		}
		s.deleted.Add(1)
	}
	if len(s.files) == 0 {
		s.files = nil // let the backing array go after a long run
	}
}

// fail counts an error and logs it, at most once per spoolLogEvery.
func (s *Spool) fail(err error) {
	s.writeErrs.Add(1)
	s.unlogged++
	if now := time.Now(); now.Sub(s.lastLog) >= spoolLogEvery {
		s.cfg.Logger.Error("spool: pcap write failed; frames are being lost from the spool", "err", err, "errors", s.unlogged)
		s.lastLog, s.unlogged = now, 0
	}
}

// warnDrops logs, at most once per spoolLogEvery, that the disk cannot keep
// up and frames are missing from the spool.
func (s *Spool) warnDrops() {
	d := s.queueDrops.Load()
	if now := time.Now(); d > s.dropsSeen && now.Sub(s.dropLog) >= spoolLogEvery {
		s.cfg.Logger.Warn("spool: the disk is too slow, frames are missing from the pcap files", "dropped", d, "new", d-s.dropsSeen)
		s.dropLog, s.dropsSeen = now, d
	}
}

// scan finds the spool files of earlier runs: finished ones are kept
// under the disk bound, and temporary ones, which a crash left behind,
// are cut to their last whole record and finished.
func (s *Spool) scan() error {
	ents, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("capture: spool directory: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		if base, ok := strings.CutSuffix(name, spoolPartSuffix); ok {
			if _, ok := parseSpoolName(base, s.cfg.Prefix); ok {
				if err := s.finishPart(base); err != nil {
					return err
				}
				name = base
			}
		}
		sf, ok := parseSpoolName(name, s.cfg.Prefix)
		if !ok {
			continue
		}
		fi, err := os.Stat(filepath.Join(s.cfg.Dir, name))
		if err != nil {
			continue // a recovered file without records was removed
		}
		sf.size = fi.Size()
		s.files = append(s.files, sf)
		s.filesSize += sf.size
		s.seq = max(s.seq, sf.seq+1)
	}
	slices.SortFunc(s.files, func(a, b spoolFile) int {
		if c := strings.Compare(a.stamp, b.stamp); c != 0 {
			return c
		}
		return cmpUint(a.seq, b.seq)
	})
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// finishPart finishes a temporary file: it keeps the header and every whole
// record, and renames it. A file too damaged to be ours is left alone.
func (s *Spool) finishPart(name string) error {
	tmp := filepath.Join(s.cfg.Dir, name+spoolPartSuffix)
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("capture: spool recover: %w", err)
	}
	good, err := wholeRecords(f)
	if err == nil && good > pcapFileHeaderLen {
		err = f.Truncate(good)
	}
	f.Close()
	switch {
	case errors.Is(err, ErrNotCapture):
		s.cfg.Logger.Warn("spool: leaving a temporary file that is not a sipscope pcap", "file", tmp)
		return nil
	case err != nil:
		return fmt.Errorf("capture: spool recover %s: %w", tmp, err)
	case good <= pcapFileHeaderLen:
		return os.Remove(tmp)
	}
	s.cfg.Logger.Info("spool: completed a file an earlier run left unfinished", "file", name, "bytes", good)
	return os.Rename(tmp, filepath.Join(s.cfg.Dir, name))
}

// wholeRecords returns the length of the longest prefix of a nanosecond
// pcap file that ends on a record boundary.
func wholeRecords(f io.Reader) (int64, error) {
	r := bufio.NewReaderSize(f, 64<<10)
	var h [pcapFileHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil // crashed before the header was written
		}
		return 0, err
	}
	if binary.LittleEndian.Uint32(h[:]) != pcapMagicNanos {
		return 0, ErrNotCapture
	}
	snap := binary.LittleEndian.Uint32(h[16:])
	good := int64(pcapFileHeaderLen)
	var rh [pcapRecHeaderLen]byte
	for {
		if _, err := io.ReadFull(r, rh[:]); err != nil {
			return good, nil
		}
		incl := binary.LittleEndian.Uint32(rh[8:])
		if incl > snap || binary.LittleEndian.Uint32(rh[4:]) >= 1e9 {
			return good, nil // garbage: keep what came before
		}
		if _, err := r.Discard(int(incl)); err != nil {
			return good, nil
		}
		good += pcapRecHeaderLen + int64(incl)
	}
}

// parseSpoolName splits PREFIX-STAMP-SEQ.pcap.
func parseSpoolName(name, prefix string) (spoolFile, bool) {
	rest, ok := strings.CutPrefix(name, prefix+"-")
	if !ok {
		return spoolFile{}, false
	}
	rest, ok = strings.CutSuffix(rest, ".pcap")
	if !ok {
		return spoolFile{}, false
	}
	stamp, seqs, ok := strings.Cut(rest, "-")
	if !ok || len(stamp) != len(spoolStampLayout) {
		return spoolFile{}, false
	}
	if _, err := time.Parse(spoolStampLayout, stamp); err != nil {
		return spoolFile{}, false
	}
	seq, err := strconv.ParseUint(seqs, 10, 64)
	if err != nil {
		return spoolFile{}, false
	}
	return spoolFile{name: name, stamp: stamp, seq: seq}, true
}

// Stats returns the spool's counters; safe from any goroutine.
func (s *Spool) Stats() SpoolStats {
	return SpoolStats{
		Frames: s.frames.Load(), Bytes: s.bytes.Load(), Files: s.rotated.Load(), Deleted: s.deleted.Load(),
		WriteErrors: s.writeErrs.Load(), QueueDrops: s.queueDrops.Load(), ErrorDrops: s.errorDrops.Load(),
		ClosedDrops: s.closedDrops.Load(), OtherLink: s.skipped.Load(), DiskBytes: s.diskBytes.Load(),
	}
}

// Close unregisters the metrics. Run must have returned.
func (s *Spool) Close() error {
	if s.coll != nil {
		s.cfg.Registerer.Unregister(s.coll)
		s.coll = nil
	}
	return nil
}

// spoolCollector reads the spool's counters at scrape time.
type spoolCollector struct {
	s                                                *Spool
	frames, bytes, files, deleted, errs, drops, disk *prometheus.Desc
}

func newSpoolCollector(s *Spool) *spoolCollector {
	return &spoolCollector{
		s:       s,
		frames:  prometheus.NewDesc("sipscope_spool_frames_total", "Frames written to the pcap spool.", nil, nil),
		bytes:   prometheus.NewDesc("sipscope_spool_bytes_total", "Bytes written to the pcap spool, pcap headers included.", nil, nil),
		files:   prometheus.NewDesc("sipscope_spool_files_rotated_total", "Spool files completed and given their final name.", nil, nil),
		deleted: prometheus.NewDesc("sipscope_spool_files_deleted_total", "Old spool files deleted to keep the disk bound.", nil, nil),
		errs:    prometheus.NewDesc("sipscope_spool_write_errors_total", "Failed creates, writes, syncs, renames and deletes of spool files.", nil, nil),
		drops: prometheus.NewDesc("sipscope_spool_dropped_total", "Frames not written to the spool, by reason.",
			[]string{"reason"}, nil),
		disk: prometheus.NewDesc("sipscope_spool_disk_bytes", "Bytes of spool files on disk.", nil, nil),
	}
}

func (c *spoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.frames, c.bytes, c.files, c.deleted, c.errs, c.drops, c.disk} {
		ch <- d
	}
}

func (c *spoolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.frames, st.Frames)
	counter(c.bytes, st.Bytes)
	counter(c.files, st.Files)
	counter(c.deleted, st.Deleted)
	counter(c.errs, st.WriteErrors)
	counter(c.drops, st.QueueDrops, "queue_full")
	counter(c.drops, st.ErrorDrops, "write_error")
	counter(c.drops, st.ClosedDrops, "closed")
	counter(c.drops, st.OtherLink, "link_type")
	ch <- prometheus.MustNewConstMetric(c.disk, prometheus.GaugeValue, float64(st.DiskBytes))
}
