package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/gen"
)

// bigCapture is a generated capture of at least 300,000 records and the
// offset of every record header in it.
type bigCapture struct {
	data    []byte
	offsets []int
}

func generateBigCapture(t *testing.T) bigCapture {
	t.Helper()
	var buf bytes.Buffer
	start := time.Now()
	// 2,000 RTP packets and 9 SIP messages per answered call of 20 s: ten
	// calls make about 8,000 records, which are tiled, each copy later in
	// time than the one before, to 300,000 records (the generator alone
	// would take ten seconds and more here).
	if _, err := gen.Write(&buf, gen.Config{Calls: 4, Seed: 15, Mix: []gen.Scenario{gen.ScenarioAnswered}, CallDuration: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	base := buf.Bytes()
	first := binary.LittleEndian.Uint32(base[24:])
	var last uint32
	for off := 24; off+16 <= len(base); off += 16 + int(binary.LittleEndian.Uint32(base[off+8:])) {
		last = binary.LittleEndian.Uint32(base[off:])
	}
	span := last - first + 1
	c := bigCapture{data: bytes.Clone(base[:24])}
	for k := uint32(0); len(c.offsets) < 300_000; k++ {
		for off := 24; off+16 <= len(base); {
			n := 16 + int(binary.LittleEndian.Uint32(base[off+8:]))
			c.offsets = append(c.offsets, len(c.data))
			c.data = append(c.data, base[off:off+n]...)
			h := c.data[len(c.data)-n:]
			binary.LittleEndian.PutUint32(h, binary.LittleEndian.Uint32(h)+k*span)
			off += n
		}
	}
	t.Logf("generated %d records (%d MB) in %v", len(c.offsets), len(c.data)>>20, time.Since(start).Round(time.Millisecond))
	return c
}

// readEvery reads a file to its end, keeping each frame's timestamp and
// first bytes, which tell the generated frames apart well enough.
type frameID struct {
	ts  int64
	len int
	sum uint64
}

func idOf(f *frame.Frame) frameID {
	var sum uint64
	for i, b := range f.Data {
		sum = sum*31 + uint64(b) + uint64(i)
	}
	return frameID{f.TS, len(f.Data), sum}
}

func readIDs(t *testing.T, path string) ([]frameID, *FileSource, error) {
	t.Helper()
	src, err := OpenFile(path)
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	var ids []frameID
	var f frame.Frame
	for {
		err := src.Next(&f)
		if err == io.EOF {
			return ids, src, nil
		}
		if err != nil {
			return ids, src, err
		}
		ids = append(ids, idOf(&f))
	}
}

func TestADamagedRecordHeaderInTheMiddleOfABigCaptureIsSteppedOver(t *testing.T) {
	c := generateBigCapture(t)
	clean := writeTempFile(t, "clean.pcap", c.data)
	want, _, err := readIDs(t, clean)
	if err != nil || len(want) != len(c.offsets) {
		t.Fatalf("the clean capture: %d frames, %v", len(want), err)
	}
	mid := len(c.offsets) / 2
	off := c.offsets[mid]
	caplen := int(binary.LittleEndian.Uint32(c.data[off+8:]))

	for _, tc := range []struct {
		name    string
		corrupt func(h []byte)
	}{
		{"a capture length far beyond any snap length", func(h []byte) { binary.LittleEndian.PutUint32(h[8:], 0xfffffff0) }},
		{"a capture length longer than the original", func(h []byte) { binary.LittleEndian.PutUint32(h[12:], 10) }},
		{"a header overwritten with 0xff", func(h []byte) { copy(h, bytes.Repeat([]byte{0xff}, 16)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Clone(c.data)
			tc.corrupt(bad[off : off+16])
			got, src, err := readIDs(t, writeTempFile(t, "damaged.pcap", bad))
			if err != nil {
				t.Fatalf("read ended with %v after %d frames", err, len(got))
			}
			st := src.Stats()
			t.Logf("%d frames; stats %+v; %v", len(got), st, src.Damage())
			if len(got) != len(want)-1 {
				t.Fatalf("%d frames, want %d: all but the damaged one", len(got), len(want)-1)
			}
			for i := range got {
				j := i
				if i >= mid {
					j = i + 1
				}
				if got[i] != want[j] {
					t.Fatalf("frame %d is not the clean file's frame %d", i+1, j+1)
				}
			}
			if st.Resyncs != 1 || st.SkippedBytes != int64(16+caplen) || st.Records != len(want)-1 {
				t.Errorf("stats %+v, want 1 resync skipping %d bytes", st, 16+caplen)
			}
			if d := src.Damage(); !errors.Is(d, ErrResynced) || !strings.Contains(d.Error(), "after record "+strconv.Itoa(mid)) {
				t.Errorf("Damage() = %v, want ErrResynced naming the record", d)
			}
		})
	}
	t.Run("damage with nothing plausible after it stops with the frames before it", func(t *testing.T) {
		bad := bytes.Clone(c.data[:c.offsets[mid+1000]])
		binary.LittleEndian.PutUint32(bad[off+8:], 0xfffffff0)
		for i := off + 16; i < len(bad); i++ {
			bad[i] = 0xee
		}
		got, _, err := readIDs(t, writeTempFile(t, "tail.pcap", bad))
		if !errors.Is(err, ErrCorrupt) || len(got) != mid {
			t.Fatalf("%d frames and %v, want %d and ErrCorrupt", len(got), err, mid)
		}
		if got[mid-1] != want[mid-1] {
			t.Error("the last frame before the damage differs")
		}
	})
}

func TestACleanCaptureNeverResynchronises(t *testing.T) {
	_, src, err := readIDs(t, pcapFixture)
	if err != nil || src.Stats().Resyncs != 0 || src.Damage() != nil {
		t.Errorf("err %v, stats %+v, damage %v", err, src.Stats(), src.Damage())
	}
}

func TestADirectoryIsRefusedAsADirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := OpenFile(dir)
	if !errors.Is(err, ErrNotCapture) || !strings.Contains(err.Error(), "is a directory") || !strings.Contains(err.Error(), dir) {
		t.Errorf("OpenFile(dir) = %v, want ErrNotCapture saying it is a directory", err)
	}
}

func pcapHeader(linkType uint32) []byte {
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h, magicPcapMicroLE)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535)
	binary.LittleEndian.PutUint32(h[20:], linkType)
	return h
}

func pcapng(t *testing.T, linkType uint16) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{LinkType: layers.LinkType(linkType), SnapLength: 65535}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("HEP3\x00\x06")
	if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(data), Length: len(data)}, data); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return buf.Bytes()
}

func TestLinkTypesNoFileFormatDefinesAreRejected(t *testing.T) {
	t.Run("a pcap header with the internal HEP link type", func(t *testing.T) {
		path := writeTempFile(t, "hep.pcap", pcapHeader(uint32(frame.LinkHEP)))
		_, err := OpenFile(path)
		if !errors.Is(err, ErrLinkType) || !strings.Contains(err.Error(), "65520") || !strings.Contains(err.Error(), path) {
			t.Errorf("OpenFile = %v, want ErrLinkType naming 65520 and the file", err)
		}
	})
	t.Run("a pcap header with a link type far past the registry", func(t *testing.T) {
		if _, err := OpenFile(writeTempFile(t, "big.pcap", pcapHeader(0x0123_4567))); !errors.Is(err, ErrLinkType) {
			t.Errorf("OpenFile = %v, want ErrLinkType", err)
		}
	})
	t.Run("a pcap header with Ethernet and the FCS flag is Ethernet", func(t *testing.T) {
		src, err := OpenFile(writeTempFile(t, "fcs.pcap", pcapHeader(0x1000_0000|4<<29|1)))
		if err != nil {
			t.Fatal(err)
		}
		src.Close()
		if src.linkType != frame.LinkEthernet {
			t.Errorf("link type %d", src.linkType)
		}
	})
	t.Run("a pcapng interface with the internal HEP link type", func(t *testing.T) {
		src, err := OpenFile(writeTempFile(t, "hep.pcapng", pcapng(t, uint16(frame.LinkHEP))))
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var f frame.Frame
		if err := src.Next(&f); !errors.Is(err, ErrLinkType) {
			t.Errorf("Next = %v, want ErrLinkType", err)
		}
	})
	t.Run("a pcapng interface with raw IP is read", func(t *testing.T) {
		src, err := OpenFile(writeTempFile(t, "raw.pcapng", pcapng(t, uint16(frame.LinkRaw))))
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var f frame.Frame
		if err := src.Next(&f); err != nil || f.LinkType != frame.LinkRaw {
			t.Errorf("Next = %v, link type %d", err, f.LinkType)
		}
	})
}

func mkfifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAFIFOWithoutAWriterGivesUpWhenTheContextEnds(t *testing.T) {
	path := mkfifo(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		src, err := OpenFileContext(ctx, path)
		if src != nil {
			src.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("OpenFileContext returned %v before any writer came", err)
	case <-time.After(50 * time.Millisecond):
		// Still waiting for a writer, as it should; now the user presses ^C.
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), path) {
			t.Errorf("OpenFileContext = %v, want context.Canceled naming the FIFO", err)
		}
	case <-time.After(hepWait):
		t.Fatal("OpenFileContext ignored the cancelled context")
	}
}

func TestAFIFOIsReadAndAStalledWriterCanBeAbandoned(t *testing.T) {
	path := mkfifo(t)
	capture := mustReadFixture(t, pcapFixture)
	whole := readAllFrames(t, pcapFixture)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type opened struct {
		src *FileSource
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		src, err := OpenFileContext(ctx, path)
		ch <- opened{src, err}
	}()
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// All but the last record; the writer then stalls without closing.
	last := whole.frames[len(whole.frames)-1]
	if _, err := w.Write(capture[:len(capture)-16-len(last.Data)]); err != nil {
		t.Fatal(err)
	}
	o := <-ch
	if o.err != nil {
		t.Fatal(o.err)
	}
	defer o.src.Close()
	var f frame.Frame
	for i := range len(whole.frames) - 1 {
		if err := o.src.Next(&f); err != nil || !bytes.Equal(f.Data, whole.frames[i].Data) {
			t.Fatalf("frame %d: %v", i+1, err)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- o.src.Next(&f) }()
	select {
	case err := <-errc:
		t.Fatalf("Next returned %v while the writer had sent nothing more", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Next = %v, want context.Canceled", err)
		}
	case <-time.After(hepWait):
		t.Fatal("Next ignored the cancelled context")
	}
}
