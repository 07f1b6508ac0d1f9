package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sipscope/sipscope/frame"
)

// t0 is a packet time in the middle of a UTC minute.
var t0 = time.Date(2026, 11, 26, 15, 30, 20, 123456789, time.UTC).UnixNano()

func openTestSpool(t *testing.T, cfg SpoolConfig) *Spool {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := OpenSpool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// spoolFrame is a frame of n bytes whose content tells frames apart.
func spoolFrame(ts int64, n int, id int) *frame.Frame {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(id*7 + i)
	}
	return &frame.Frame{TS: ts, LinkType: frame.LinkEthernet, Data: data, OrigLen: n, Node: "eth0"}
}

// drain writes what Write and tick handed over, on the test's goroutine.
func drain(s *Spool) {
	for {
		select {
		case b := <-s.work:
			s.writeBlock(b)
		default:
			return
		}
	}
}

// finish runs the shutdown path of Run: everything written, last file closed.
func finish(t *testing.T, s *Spool) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

type spoolRecord struct {
	ts      int64
	data    []byte
	origLen int
}

// readSpoolFile reads one file with gopacket's pcap reader, not ours, and
// checks the header a spool file must have.
func readSpoolFile(t *testing.T, path string, snap int) []spoolRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if r.LinkType() != layers.LinkTypeEthernet || r.Snaplen() != uint32(snap) || r.Resolution() != gopacket.TimestampResolutionNanosecond {
		t.Fatalf("%s: link type %v, snaplen %d, resolution %v; want Ethernet, %d, nanoseconds", path, r.LinkType(), r.Snaplen(), r.Resolution(), snap)
	}
	var recs []spoolRecord
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatalf("%s: record %d: %v", path, len(recs)+1, err)
		}
		if ci.CaptureLength != len(data) {
			t.Fatalf("%s: record %d: capture length %d, %d bytes", path, len(recs)+1, ci.CaptureLength, len(data))
		}
		recs = append(recs, spoolRecord{ts: ci.Timestamp.UnixNano(), data: data, origLen: ci.Length})
	}
}

// spoolFiles lists a spool directory, failing on temporary files left.
func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), spoolPartSuffix) {
			t.Errorf("temporary file %s left in the spool", e.Name())
		}
		if strings.HasPrefix(e.Name(), "sipscope-") && strings.HasSuffix(e.Name(), ".pcap") {
			names = append(names, e.Name())
		}
	}
	return names // os.ReadDir sorts by name
}

func readSpool(t *testing.T, dir string, snap int) (files [][]spoolRecord, names []string) {
	t.Helper()
	names = spoolFiles(t, dir)
	for _, n := range names {
		files = append(files, readSpoolFile(t, filepath.Join(dir, n), snap))
	}
	return files, names
}

func TestSpoolFilesReadBackWithExactBytesAndTimestamps(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, SpoolConfig{Dir: dir, SnapLen: 1500})
	var want []spoolRecord
	for i := range 500 {
		n := 60 + i*7%1400
		f := spoolFrame(t0+int64(i)*1_000_003, n, i)
		if i%50 == 0 {
			f.OrigLen = n + 100 // cut by the live source's snap length
		}
		s.Write(f)
		want = append(want, spoolRecord{ts: f.TS, data: f.Data, origLen: f.OrigLen})
	}
	long := spoolFrame(t0+time.Second.Nanoseconds(), 2000, 999) // longer than the spool's SnapLen
	s.Write(long)
	want = append(want, spoolRecord{ts: long.TS, data: long.Data[:1500], origLen: 2000})
	finish(t, s)

	files, names := readSpool(t, dir, 1500)
	if len(files) != 1 || names[0] != "sipscope-20261126T153020Z-000001.pcap" {
		t.Fatalf("files %v, want one named for its first frame", names)
	}
	got := files[0]
	if len(got) != len(want) {
		t.Fatalf("read %d records, wrote %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ts != want[i].ts || got[i].origLen != want[i].origLen || !bytes.Equal(got[i].data, want[i].data) {
			t.Fatalf("record %d: ts %d, orig %d, %d bytes; want ts %d, orig %d, %d bytes", i,
				got[i].ts, got[i].origLen, len(got[i].data), want[i].ts, want[i].origLen, len(want[i].data))
		}
	}
	st := s.Stats()
	fi, _ := os.Stat(filepath.Join(dir, names[0]))
	if st.Frames != uint64(len(want)) || st.Files != 1 || int64(st.Bytes)+pcapFileHeaderLen != fi.Size() || st.DiskBytes != fi.Size() {
		t.Errorf("stats %+v; file has %d bytes, %d frames", st, fi.Size(), len(want))
	}
}

func TestSpoolRotatesBySizeKeepingEveryFrameInOrder(t *testing.T) {
	dir := t.TempDir()
	const size = 2000
	s := openTestSpool(t, SpoolConfig{Dir: dir, FileSize: size})
	const frames = 100
	for i := range frames {
		s.Write(spoolFrame(t0+int64(i)*int64(10*time.Millisecond), 100, i))
	}
	finish(t, s)
	files, names := readSpool(t, dir, DefaultSnapLen)
	// 24 + 16 records of 116 bytes fit in 2000 bytes.
	perFile := (size - pcapFileHeaderLen) / 116
	if len(files) != (frames+perFile-1)/perFile {
		t.Fatalf("%d files, want %d of %d frames: %v", len(files), (frames+perFile-1)/perFile, perFile, names)
	}
	i := 0
	for k, recs := range files {
		fi, _ := os.Stat(filepath.Join(dir, names[k]))
		if fi.Size() > size {
			t.Errorf("%s: %d bytes, above FileSize %d", names[k], fi.Size(), size)
		}
		if k < len(files)-1 && len(recs) != perFile {
			t.Errorf("%s: %d frames, want %d", names[k], len(recs), perFile)
		}
		if want := fmt.Sprintf("-%06d.pcap", k+1); !strings.HasSuffix(names[k], want) {
			t.Errorf("file %d is %s, want sequence %s", k, names[k], want)
		}
		for _, r := range recs {
			if !bytes.Equal(r.data, spoolFrame(0, 100, i).Data) {
				t.Fatalf("%s: frame %d out of place", names[k], i)
			}
			i++
		}
	}
	if st := s.Stats(); st.Files != uint64(len(files)) || st.Frames != frames {
		t.Errorf("stats %+v, want %d files of %d frames", st, len(files), frames)
	}
}

func TestSpoolRotatesAtIntervalBoundariesInPacketTime(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, SpoolConfig{Dir: dir, Interval: time.Minute})
	// 15:30:20 to 15:32:50 in 10 s steps: three UTC minutes.
	for i := range 16 {
		s.Write(spoolFrame(t0+int64(i)*int64(10*time.Second), 80, i))
	}
	finish(t, s)
	files, names := readSpool(t, dir, DefaultSnapLen)
	want := []string{
		"sipscope-20261126T153020Z-000001.pcap",
		"sipscope-20261126T153100Z-000002.pcap",
		"sipscope-20261126T153200Z-000003.pcap",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	for k, recs := range files {
		for _, r := range recs {
			if m := time.Unix(0, r.ts).UTC().Minute(); m != 30+k {
				t.Errorf("%s holds a frame of minute %d", names[k], m)
			}
		}
	}
	if n := len(files[0]) + len(files[1]) + len(files[2]); n != 16 {
		t.Errorf("%d frames in the files, wrote 16", n)
	}
}

func TestSpoolFlushesEachTickAndClosesAFileWhoseIntervalEndedOnAQuietLink(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, SpoolConfig{Dir: dir, Interval: time.Minute})
	for i := range 3 {
		s.Write(spoolFrame(t0+int64(i), 100, i))
	}
	// A tick inside the interval writes the partial block: the temporary
	// file already holds the frames, readable as a pcap.
	s.tick(time.Unix(0, t0+int64(time.Second)))
	drain(s)
	part := filepath.Join(dir, "sipscope-20261126T153020Z-000001.pcap"+spoolPartSuffix)
	if recs := readSpoolFile(t, part, DefaultSnapLen); len(recs) != 3 {
		t.Fatalf("after a flush tick the temporary file holds %d frames, want 3", len(recs))
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*.pcap")); len(names) != 0 {
		t.Fatalf("finished files %v before the interval ended", names)
	}
	// No frame comes; once the wall clock passes 15:31 the file is done.
	s.tick(time.Date(2026, 11, 26, 15, 31, 0, 0, time.UTC))
	drain(s)
	if _, err := os.Stat(part); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file still there after its interval ended: %v", err)
	}
	if recs := readSpoolFile(t, filepath.Join(dir, "sipscope-20261126T153020Z-000001.pcap"), DefaultSnapLen); len(recs) != 3 {
		t.Fatalf("finished file holds %d frames, want 3", len(recs))
	}
	// The next frame starts the next file.
	s.Write(spoolFrame(t0+int64(2*time.Minute), 100, 9))
	finish(t, s)
	if names := spoolFiles(t, dir); len(names) != 2 || names[1] != "sipscope-20261126T153220Z-000002.pcap" {
		t.Fatalf("files %v", names)
	}
}

func TestSpoolDeletesTheOldestFilesToStayWithinKeepBytes(t *testing.T) {
	dir := t.TempDir()
	// An earlier run's files count toward the bound; other files do not.
	old := filepath.Join(dir, "sipscope-20200101T000000Z-000007.pcap")
	if err := os.WriteFile(old, make([]byte, 3000), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "notes.pcap")
	if err := os.WriteFile(other, make([]byte, 50000), 0o644); err != nil {
		t.Fatal(err)
	}
	const size, keep = 2000, 7000
	s := openTestSpool(t, SpoolConfig{Dir: dir, FileSize: size, KeepBytes: keep})
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("the earlier file fits the bound but was deleted: %v", err)
	}
	// The bound holds at every moment, the file being written included.
	for i := range 200 {
		s.Write(spoolFrame(t0+int64(i)*int64(time.Millisecond), 100, i))
		s.tick(time.Unix(0, t0))
		drain(s)
		if du := dirBytes(t, dir) - 50000; du > keep {
			t.Fatalf("after frame %d the spool takes %d bytes, above KeepBytes %d", i, du, keep)
		}
	}
	finish(t, s)
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the oldest file (of an earlier run) survived: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is not the spool's was touched: %v", err)
	}
	files, names := readSpool(t, dir, DefaultSnapLen)
	var total int64
	for _, n := range names {
		fi, _ := os.Stat(filepath.Join(dir, n))
		total += fi.Size()
	}
	if total > keep {
		t.Errorf("spool files hold %d bytes, above KeepBytes %d", total, keep)
	}
	// The survivors are the newest: the last file ends with the last frame,
	// and sequence numbers continue after the earlier run's.
	last := files[len(files)-1]
	if !bytes.Equal(last[len(last)-1].data, spoolFrame(0, 100, 199).Data) {
		t.Error("the last file does not end with the last frame")
	}
	// The survivors are the newest files: consecutive sequence numbers up
	// to the last one, which the earlier run's 7 precedes.
	seqs := names
	lastSeq := 7 + int(s.Stats().Files)
	for k, n := range seqs {
		if want := fmt.Sprintf("-%06d.pcap", lastSeq-len(seqs)+1+k); !strings.HasSuffix(n, want) {
			t.Errorf("survivor %d is %s, want sequence %s", k, n, want)
		}
	}
	st := s.Stats()
	if st.Deleted != 1+st.Files-uint64(len(seqs)) || st.DiskBytes != total {
		t.Errorf("stats %+v; %d files of %d bytes remain", st, len(seqs), total)
	}
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

func TestSpoolCompletesATemporaryFileACrashLeftBehind(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, SpoolConfig{Dir: dir})
	for i := range 5 {
		s.Write(spoolFrame(t0+int64(i), 200, i))
	}
	s.tick(time.Unix(0, t0))
	drain(s)
	// The process dies with the file open; the kernel has the data, and a
	// torn write left half a record at the end.
	part := filepath.Join(dir, s.fname+spoolPartSuffix)
	s.f.Close()
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	var torn [pcapRecHeaderLen + 10]byte
	binary.LittleEndian.PutUint32(torn[8:], 200)
	f.Write(torn[:])
	f.Close()
	// And one crashed before writing its header.
	empty := filepath.Join(dir, "sipscope-20261126T153021Z-000002.pcap"+spoolPartSuffix)
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	s2 := openTestSpool(t, SpoolConfig{Dir: dir})
	s2.Write(spoolFrame(t0+int64(time.Hour), 200, 7))
	finish(t, s2)
	files, names := readSpool(t, dir, DefaultSnapLen)
	if len(files) != 2 || len(files[0]) != 5 || len(files[1]) != 1 {
		t.Fatalf("files %v with %d records", names, len(files))
	}
	if names[0] != "sipscope-20261126T153020Z-000001.pcap" || names[1] != "sipscope-20261126T163020Z-000002.pcap" {
		t.Errorf("files %v: the crashed run's file keeps its name, the new run continues the sequence after the highest", names)
	}
}

func TestSpoolReopensAFileAfterAWriteErrorAndLogsOnce(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	s := openTestSpool(t, SpoolConfig{Dir: dir, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	write := func(from, n int) {
		for i := from; i < from+n; i++ {
			s.Write(spoolFrame(t0+int64(i)*int64(time.Second), 100, i))
		}
		s.tick(time.Unix(0, t0))
		drain(s)
	}
	write(0, 3)
	// The disk fails under the open file: its fd goes bad.
	s.f.Close()
	write(3, 4) // lost
	write(7, 2) // a new file
	s.closeFile()
	// Then the directory disappears: creating files fails.
	os.RemoveAll(dir)
	write(9, 5)
	write(14, 5)
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	write(19, 1)
	finish(t, s)

	files, names := readSpool(t, dir, DefaultSnapLen)
	if len(files) != 1 || len(files[0]) != 1 || !bytes.Equal(files[0][0].data, spoolFrame(0, 100, 19).Data) {
		t.Fatalf("after the directory came back: files %v", names)
	}
	if names[0] != "sipscope-20261126T153039Z-000003.pcap" {
		t.Errorf("file %s, want it named for frame 19", names[0])
	}
	st := s.Stats()
	if st.ErrorDrops != 4+5+5 || st.Frames != 3+2+1 || st.WriteErrors < 3 {
		t.Errorf("stats %+v: want 14 frames lost, 6 written, 3 or more errors", st)
	}
	if n := strings.Count(log.String(), "spool: pcap write failed"); n != 1 {
		t.Errorf("%d error log lines for %d errors, want 1 (rate-limited):\n%s", n, st.WriteErrors, log.String())
	}
}

func TestSpoolDropsAndCountsWhenTheDiskFallsBehind(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	s := openTestSpool(t, SpoolConfig{Dir: dir, QueueBytes: 2 * spoolBlockSize, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	// Nobody writes: after two blocks' worth, frames are dropped, and
	// Write returns at once rather than wait.
	const n = 20000
	for i := range n {
		s.Write(spoolFrame(t0+int64(i), 200, i))
	}
	st := s.Stats()
	perBlock := spoolBlockSize / 216
	if st.QueueDrops != uint64(n-2*perBlock) {
		t.Fatalf("%d frames dropped, want %d beyond two blocks of %d", st.QueueDrops, n-2*perBlock, perBlock)
	}
	s.warnDrops()
	s.warnDrops()
	if n := strings.Count(log.String(), "frames are missing"); n != 1 {
		t.Errorf("%d warnings about the slow disk, want 1 (rate-limited):\n%s", n, log.String())
	}
	finish(t, s)
	files, _ := readSpool(t, dir, DefaultSnapLen)
	if len(files) != 1 || len(files[0]) != 2*perBlock || s.Stats().Frames != uint64(2*perBlock) {
		t.Fatalf("%d files, want one of the %d queued frames", len(files), 2*perBlock)
	}
	// Writes after Run returned are counted too.
	s.Write(spoolFrame(t0, 100, 0))
	if st := s.Stats(); st.ClosedDrops != 1 {
		t.Errorf("closed drops %d, want 1", st.ClosedDrops)
	}
}

func TestSpoolSkipsFramesThatAreNotEthernet(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, SpoolConfig{Dir: dir})
	f := spoolFrame(t0, 100, 1)
	f.LinkType = frame.LinkHEP
	s.Write(f)
	finish(t, s)
	if st := s.Stats(); st.OtherLink != 1 || st.Frames != 0 {
		t.Errorf("stats %+v, want the HEP frame skipped", st)
	}
	if names := spoolFiles(t, dir); len(names) != 0 {
		t.Errorf("files %v for no Ethernet frame", names)
	}
}

func TestSpoolConfigValidateNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   SpoolConfig
		field string
	}{
		{"a spool without a directory", SpoolConfig{}, "Dir"},
		{"a prefix with a slash", SpoolConfig{Dir: "d", Prefix: "a/b"}, "Prefix"},
		{"a negative file size", SpoolConfig{Dir: "d", FileSize: -1}, "FileSize"},
		{"a file size below 1 KiB", SpoolConfig{Dir: "d", FileSize: 100}, "FileSize"},
		{"a sub-second interval", SpoolConfig{Dir: "d", Interval: time.Millisecond}, "Interval"},
		{"a negative interval", SpoolConfig{Dir: "d", Interval: -time.Hour}, "Interval"},
		{"a negative disk bound", SpoolConfig{Dir: "d", KeepBytes: -1}, "KeepBytes"},
		{"a disk bound below two files", SpoolConfig{Dir: "d", FileSize: 10000, KeepBytes: 15000}, "KeepBytes"},
		{"a default-size file above the bound", SpoolConfig{Dir: "d", KeepBytes: 1000000}, "KeepBytes"},
		{"a snap length below 64", SpoolConfig{Dir: "d", SnapLen: 10}, "SnapLen"},
		{"a HEP link type", SpoolConfig{Dir: "d", LinkType: frame.LinkHEP}, "LinkType"},
		{"a queue of one block", SpoolConfig{Dir: "d", QueueBytes: spoolBlockSize}, "QueueBytes"},
		{"a flush period above a second", SpoolConfig{Dir: "d", FlushEvery: 2 * time.Second}, "FlushEvery"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, ErrSpoolConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Validate() = %v, want ErrSpoolConfig naming %s", err, tc.field)
			}
			if _, err := OpenSpool(tc.cfg); !errors.Is(err, ErrSpoolConfig) {
				t.Errorf("OpenSpool() = %v, want ErrSpoolConfig", err)
			}
		})
	}
	if err := (SpoolConfig{Dir: "d", Interval: time.Hour, FileSize: 1 << 20, KeepBytes: 2 << 20}).Validate(); err != nil {
		t.Errorf("a good config: %v", err)
	}
}

func TestSpoolWriteAllocatesNothingInSteadyState(t *testing.T) {
	s := openTestSpool(t, SpoolConfig{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	f := spoolFrame(t0, 214, 1)
	for range 10000 { // the first file is open and every block has been used
		f.TS++
		s.Write(f)
	}
	allocs := testing.AllocsPerRun(20000, func() {
		f.TS++
		s.Write(f)
	})
	cancel()
	<-done
	if allocs != 0 {
		t.Errorf("Write allocates %v times per frame, want 0", allocs)
	}
}

func TestSpoolMetricsCountOnTheInjectedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := openTestSpool(t, SpoolConfig{Registerer: reg, FileSize: 2000})
	for i := range 40 {
		s.Write(spoolFrame(t0+int64(i), 100, i))
	}
	hep := spoolFrame(t0, 10, 0)
	hep.LinkType = frame.LinkHEP
	s.Write(hep)
	finish(t, s)
	got := gatherSpool(t, reg)
	for name, want := range map[string]float64{
		"sipscope_spool_frames_total":               40,
		"sipscope_spool_bytes_total":                40 * 116,
		"sipscope_spool_files_rotated_total":        3,
		"sipscope_spool_files_deleted_total":        0,
		"sipscope_spool_write_errors_total":         0,
		`sipscope_spool_dropped_total{link_type}`:   1,
		`sipscope_spool_dropped_total{queue_full}`:  0,
		`sipscope_spool_dropped_total{write_error}`: 0,
		`sipscope_spool_dropped_total{closed}`:      0,
		"sipscope_spool_disk_bytes":                 3*pcapFileHeaderLen + 40*116,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := gatherSpool(t, reg); len(got) != 0 {
		t.Errorf("metrics left after Close: %v", got)
	}
}

// gatherSpool reads the registry as name{label value} → value.
func gatherSpool(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetValue() + "}"
			}
			if c := m.GetCounter(); c != nil {
				out[name] = c.GetValue()
			} else {
				out[name] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// BenchmarkSpoolWrite measures Write with the writer goroutine running
// against the temporary directory's disk. "sustained" waits for a free
// block before each frame, so nothing is dropped and MB/s is what the spool
// carries end to end (copy, write(2), page cache); "overload" writes as
// fast as it can, as a capture faster than the disk would: Write must stay
// cheap and non-blocking, and the excess is dropped (dropped/op).
// disk-MB/s is what reached the files, over a time that includes the
// fsync of the last file at shutdown: the rate of the disk itself.
func BenchmarkSpoolWrite(b *testing.B) {
	for _, size := range []int{214, 1000} { // an RTP frame, a SIP INVITE
		for _, mode := range []string{"sustained", "overload"} {
			b.Run(fmt.Sprintf("frame=%d/%s", size, mode), func(b *testing.B) {
				s, err := OpenSpool(SpoolConfig{Dir: b.TempDir(), FileSize: 1 << 30, KeepBytes: 1 << 40})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(b.Context())
				done := make(chan error)
				go func() { done <- s.Run(ctx) }()
				f := spoolFrame(t0, size, 1)
				wait := mode == "sustained"
				b.SetBytes(int64(size))
				b.ReportAllocs()
				start := time.Now()
				for b.Loop() {
					for wait && len(s.free) == 0 {
						runtime.Gosched()
					}
					f.TS++
					s.Write(f)
				}
				b.StopTimer()
				cancel()
				<-done
				st := s.Stats()
				b.ReportMetric(float64(st.QueueDrops)/float64(b.N), "dropped/op")
				b.ReportMetric(float64(st.Bytes)/1e6/time.Since(start).Seconds(), "disk-MB/s")
			})
		}
	}
}
