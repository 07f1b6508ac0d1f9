package spool

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenReadsAnySegment: whatever bytes a segment file holds (a crash,
// a bad disk, another program), Open neither panics nor allocates beyond
// the file, and every record it then offers is intact.
func FuzzOpenReadsAnySegment(f *testing.F) {
	// Seeds: a real segment of three records, and damaged versions of it.
	dir := f.TempDir()
	s, err := Open(Config{Dir: dir, MaxBytes: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		if err := s.Append(payload(i, 40+i)); err != nil {
			f.Fatal(err)
		}
	}
	s.Close()
	seg, err := os.ReadFile(filepath.Join(dir, "00000000000000000001.seg"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-7])
	f.Add(append(append([]byte{}, seg...), 0xff, 0xff, 0xff, 0x7f))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000001.seg"), b, 0o640); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Config{Dir: dir, MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		total := 0
		for {
			p, _, ok, err := s.Peek()
			if err != nil {
				t.Fatalf("a record Open accepted does not read back: %v", err)
			}
			if !ok {
				break
			}
			total += len(p) + headerSize
			if err := s.Ack(); err != nil {
				t.Fatal(err)
			}
		}
		if total > len(b) {
			t.Fatalf("%d bytes of records from a %d-byte file", total, len(b))
		}
		// New records still go behind whatever was there.
		if err := s.Append([]byte("after")); err != nil {
			t.Fatal(err)
		}
		if p, _, ok, err := s.Peek(); err != nil || !ok || string(p) != "after" {
			t.Fatalf("after draining: %q %v %v", p, ok, err)
		}
	})
}
