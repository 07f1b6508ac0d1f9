//go:build linux

package capture

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSpoolSurvivesAFullDisk fills a real 256 KiB tmpfs: the writes that
// find it full are counted and logged once, the capture side never blocks
// or fails, and once space is freed the spool writes again.
func TestSpoolSurvivesAFullDisk(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatalf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	var log bytes.Buffer
	// The bound is far above the disk: only ENOSPC stops the writes.
	s := openTestSpool(t, SpoolConfig{Dir: dir, FileSize: 64 << 10, KeepBytes: 100 << 20,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	// 1 MB offered in 1 s, four times what fits.
	write := func(from, n int) {
		for i := from; i < from+n; i++ {
			s.Write(spoolFrame(t0+int64(i)*int64(time.Millisecond), 1000, i))
			if i%100 == 0 {
				time.Sleep(100 * time.Millisecond) // let the writer keep up: no queue drops
			}
		}
	}
	write(0, 1000)
	waitFor(t, "write errors", func() bool { return s.Stats().ErrorDrops > 0 })
	st := s.Stats()
	if st.WriteErrors == 0 || st.QueueDrops != 0 || st.Frames+st.ErrorDrops > 1000 {
		t.Fatalf("stats %+v after filling the disk", st)
	}
	if n := strings.Count(log.String(), "spool: pcap write failed"); n != 1 || !strings.Contains(log.String(), "no space left on device") {
		t.Errorf("%d error log lines for %d errors, want 1 naming ENOSPC:\n%s", n, st.WriteErrors, log.String())
	}

	// The operator frees space; the spool goes on.
	// What did fit is intact: cut back to whole frames after short writes.
	files, _ := filepath.Glob(filepath.Join(dir, "sipscope-*.pcap"))
	kept := 0
	for _, f := range files {
		kept += len(readSpoolFile(t, f, DefaultSnapLen))
	}
	if len(files) == 0 || kept == 0 {
		t.Fatalf("nothing readable on the full disk: %v", files)
	}
	t.Logf("full disk: %d frames in %d files, %d frames lost in %d failed writes", kept, len(files), st.ErrorDrops, st.WriteErrors)
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	before := s.Stats().Frames
	waitFor(t, "the queued frames to drain", func() bool { return len(s.work) == 0 })
	write(2000, 50)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Frames < before+50 {
		t.Errorf("after space was freed: %d frames written, want at least %d", st.Frames, before+50)
	}
	names := spoolFiles(t, dir)
	recs := 0
	for _, n := range names {
		recs += len(readSpoolFile(t, filepath.Join(dir, n), DefaultSnapLen))
	}
	if len(names) == 0 || recs < 50 {
		t.Errorf("after space was freed: files %v with %d frames", names, recs)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 10 s", what)
		}
	}
}
