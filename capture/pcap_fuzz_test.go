package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/sipscope/sipscope/frame"
)

// FuzzPcapReader reads arbitrary bytes as a pcap file. The invariants: no
// panic, termination, at most one record per 16 bytes, no more bytes
// skipped than there are, and every error one of the package's sentinels.
func FuzzPcapReader(f *testing.F) {
	if data, err := os.ReadFile(pcapFixture); err == nil {
		f.Add(data[:min(len(data), 4096)])
		bad := bytes.Clone(data[:min(len(data), 4096)])
		binary.LittleEndian.PutUint32(bad[24+8:], 0xfffffff0)
		f.Add(bad)
	}
	f.Add(pcapHeader(1))
	f.Add(append(pcapHeader(1), bytes.Repeat([]byte{0xff}, 64)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &FileSource{path: "fuzz.pcap"}
		if err := s.init(bytes.NewReader(data)); err != nil {
			if !errors.Is(err, ErrNotCapture) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrLinkType) {
				t.Fatalf("open: %v", err)
			}
			return
		}
		var fr frame.Frame
		for range len(data)/16 + 2 {
			err := s.Next(&fr)
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrLinkType) {
					t.Fatalf("Next: %v", err)
				}
				break
			}
			if len(fr.Data) > fr.OrigLen {
				t.Fatalf("a frame of %d bytes longer than its original %d", len(fr.Data), fr.OrigLen)
			}
		}
		st := s.Stats()
		if st.Records > len(data)/16 || st.SkippedBytes > int64(len(data)) {
			t.Fatalf("stats %+v for %d bytes", st, len(data))
		}
	})
}
