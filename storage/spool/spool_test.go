package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// payload is record i's content: its number and filler of a size that
// depends on it, so a record read back can be checked for identity.
func payload(i, size int) []byte {
	b := make([]byte, size)
	binary.LittleEndian.PutUint64(b, uint64(i))
	for j := 8; j < size; j++ {
		b[j] = byte(i*31 + j)
	}
	return b
}

func recordNumber(t *testing.T, p []byte) int {
	t.Helper()
	if len(p) < 8 {
		t.Fatalf("record of %d bytes", len(p))
	}
	i := int(binary.LittleEndian.Uint64(p))
	if want := payload(i, len(p)); !slices.Equal(p, want) {
		t.Fatalf("record %d: content differs from what was appended", i)
	}
	return i
}

// drain reads every waiting record, acknowledging each, and returns their numbers.
func drain(t *testing.T, s *Spool) []int {
	t.Helper()
	var got []int
	for {
		p, _, ok, err := s.Peek()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return got
		}
		got = append(got, recordNumber(t, p))
		if err := s.Ack(); err != nil {
			t.Fatal(err)
		}
	}
}

func open(t *testing.T, cfg Config) *Spool {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestRecordsComeBackInOrderAcrossReopens(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), MaxBytes: 1 << 20, SegmentBytes: 4096}
	s := open(t, cfg)
	for i := range 40 {
		if err := s.Append(payload(i, 300)); err != nil {
			t.Fatal(err)
		}
	}
	// Ten replayed, then the process goes away.
	for range 10 {
		if _, _, _, err := s.Peek(); err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open(t, cfg)
	if st := s.Stats(); st.Records != 30 || st.Corrupt != 0 {
		t.Fatalf("after reopening: %+v, want 30 records, none corrupt", st)
	}
	// New records go behind the old ones.
	for i := 40; i < 45; i++ {
		if err := s.Append(payload(i, 300)); err != nil {
			t.Fatal(err)
		}
	}
	if got := drain(t, s); !slices.Equal(got, seq(10, 45)) {
		t.Errorf("replayed %v, want 10..44 in order", got)
	}
	// Every segment was consumed: nothing left on disk but the head and
	// the segment being appended to.
	if st := s.Stats(); st.Records != 0 || st.Bytes > cfg.SegmentBytes {
		t.Errorf("drained spool: %+v", st)
	}
	if err := s.Ack(); !errors.Is(err, ErrEmpty) {
		t.Errorf("Ack on an empty spool: %v, want ErrEmpty", err)
	}
	s.Close()
	if s = open(t, cfg); s.Len() != 0 {
		t.Errorf("a drained spool reopens with %d records", s.Len())
	}
}

func TestAFullSpoolDropsTheOldestRecordsAndCountsThem(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := Config{Dir: t.TempDir(), MaxBytes: 64 << 10, SegmentBytes: 8 << 10, Registerer: reg}
	s := open(t, cfg)
	const n, size = 500, 1000
	for i := range n {
		if err := s.Append(payload(i, size)); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.Bytes > cfg.MaxBytes {
			t.Fatalf("after %d appends the spool holds %d bytes, bound %d", i+1, st.Bytes, cfg.MaxBytes)
		}
	}
	st := s.Stats()
	if st.Dropped == 0 || st.Records+int(st.Dropped) != n {
		t.Fatalf("%d records kept + %d dropped, want %d in all with some dropped", st.Records, st.Dropped, n)
	}
	if got := metricValue(t, reg, "sipscope_store_spool_dropped_total"); got != float64(st.Dropped) {
		t.Errorf("metric dropped = %v, stats say %d", got, st.Dropped)
	}
	// What is kept is the newest, contiguous, in order.
	if got := drain(t, s); !slices.Equal(got, seq(n-st.Records, n)) {
		t.Errorf("kept %v, want the newest %d", got, st.Records)
	}
	if err := s.Append(make([]byte, cfg.MaxBytes)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a record larger than the spool: %v, want ErrTooLarge", err)
	}
}

// metricValue is the value of the unlabelled metric name in reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

func TestDamagedRecordsAreSkippedAndCounted(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, segs []string)
		want   []int
	}{
		{"a torn tail (half a record) is cut off", func(t *testing.T, segs []string) {
			last := segs[len(segs)-1]
			fi, _ := os.Stat(last)
			if err := os.Truncate(last, fi.Size()-100); err != nil {
				t.Fatal(err)
			}
		}, seq(0, 19)},
		{"a torn header at the end is cut off", func(t *testing.T, segs []string) {
			f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte{1, 2, 3, 4, 5})
			f.Close()
		}, seq(0, 20)},
		{"a flipped byte in an older segment ends that segment", func(t *testing.T, segs []string) {
			// Segments hold 3 records of 316 bytes; the second record of
			// the first segment is damaged: the first survives, it and the
			// third (which cannot be found behind it) are lost.
			f, err := os.OpenFile(segs[0], os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte{0xff}, 316+headerSize+50)
			f.Close()
		}, append([]int{0}, seq(3, 20)...)},
		{"a length past the end is not believed", func(t *testing.T, segs []string) {
			f, err := os.OpenFile(segs[len(segs)-1], os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte{0xff, 0xff, 0xff, 0x7f}, 316) // second record of the last segment
			f.Close()
		}, seq(0, 19)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{Dir: t.TempDir(), MaxBytes: 1 << 20, SegmentBytes: 1000}
			s := open(t, cfg)
			for i := range 20 {
				if err := s.Append(payload(i, 300)); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			c.damage(t, segments(t, cfg.Dir))
			s = open(t, cfg)
			if st := s.Stats(); st.Corrupt != 1 {
				t.Errorf("corrupt = %d, want 1", st.Corrupt)
			}
			if err := s.Append(payload(20, 300)); err != nil {
				t.Fatal(err)
			}
			if got := drain(t, s); !slices.Equal(got, append(c.want, 20)) {
				t.Errorf("replayed %v, want %v then 20", got, c.want)
			}
			s.Close()
			// A torn tail was cut, so it is not counted again.
			if s = open(t, cfg); s.Stats().Corrupt != 0 {
				t.Errorf("reopened: corrupt = %d, want 0", s.Stats().Corrupt)
			}
		})
	}
}

const childEnv = "SIPSCOPE_SPOOL_CHILD_DIR"

// TestMain lets the kill -9 test re-execute this binary as the appending child.
func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(appendForEver(dir))
	}
	os.Exit(m.Run())
}

// appendForEver appends records 0, 1, 2, … and prints each number once
// Append has returned, i.e. once the record is acknowledged as durable.
func appendForEver(dir string) int {
	s, err := Open(Config{Dir: dir, MaxBytes: 256 << 20, SegmentBytes: 64 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		if err := s.Append(payload(i, 200+i%700)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintln(w, i)
		w.Flush()
	}
}

// TestKillNineLosesNoAcknowledgedRecord SIGKILLs a process in the middle of
// appending (at a random point of its loop, by construction not between
// records) and then reopens its spool: every record whose Append had
// returned is there, in order and intact, and at most the one being
// appended at the kill is beyond them.
func TestKillNineLosesNoAcknowledgedRecord(t *testing.T) {
	for round := range 3 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		acked := -1
		for sc.Scan() {
			n, err := strconv.Atoi(sc.Text())
			if err != nil {
				t.Fatalf("child printed %q", sc.Text())
			}
			acked = n
			if n == 150+round*100 {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		// Whatever the child had printed when it died counts as acknowledged.
		for sc.Scan() {
			if n, err := strconv.Atoi(sc.Text()); err == nil {
				acked = n
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("child ended with %v, want SIGKILL", err)
		}
		s := open(t, Config{Dir: dir, MaxBytes: 256 << 20, SegmentBytes: 64 << 10})
		got := drain(t, s)
		if len(got) < acked+1 || len(got) > acked+2 || !slices.Equal(got[:acked+1], seq(0, acked+1)) {
			t.Fatalf("round %d: acknowledged 0..%d, reopened spool has %d records (%v…)", round, acked, len(got), got[:min(len(got), 5)])
		}
		s.Close()
	}
}

func TestStatsTellTheAgeOfTheOldestRecord(t *testing.T) {
	s := open(t, Config{Dir: t.TempDir(), MaxBytes: 1 << 20})
	if st := s.Stats(); st.OldestAgeSecond != 0 {
		t.Errorf("empty spool: age %v", st.OldestAgeSecond)
	}
	if err := s.appendAt(payload(0, 100), time.Now().Add(-90*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(payload(1, 100)); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.OldestAgeSecond < 90 || st.OldestAgeSecond > 3600 || st.Records != 2 || st.Bytes != 2*(headerSize+100) {
		t.Errorf("stats %+v: want 2 records of 116 bytes, the oldest 90 s old", st)
	}
}

func TestConfigValidateNamesTheField(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no directory", Config{MaxBytes: 1 << 20}, "Dir"},
		{"a bound below 64 KiB", Config{Dir: "d", MaxBytes: 1000}, "MaxBytes"},
		{"segments larger than the bound", Config{Dir: "d", MaxBytes: 1 << 20, SegmentBytes: 2 << 20}, "SegmentBytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate() = %v, want ErrInvalidConfig naming %s", err, c.want)
			}
		})
	}
}
