package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/frame"
)

// sharedCaptures holds the shared third-party captures, relative to this package.
const sharedCaptures = "../testdata/captures"

// capinfosOracle is what capinfos and tshark's protocol hierarchy say about a file.
type capinfosOracle struct {
	encapsulation string
	packets       int
	endNS         int64 // capinfos "End time": the latest frame, in UTC
	bytes         int64 // bytes of the top protocol-hierarchy line (sum of frame lengths)
}

// readCapinfosOracle parses NAME.tshark.txt next to a capture.
func readCapinfosOracle(t *testing.T, capture string) capinfosOracle {
	t.Helper()
	f, err := os.Open(capture + ".tshark.txt")
	if err != nil {
		t.Fatalf("oracle missing: %v", err)
	}
	defer f.Close()
	var o capinfosOracle
	var header []string
	section := ""
	sawHierarchy := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			section = line[3:]
			header = nil
			continue
		}
		switch {
		case section == "capinfos" && strings.HasPrefix(line, "  "):
			cols := strings.Split(strings.TrimPrefix(line, "  "), "\t")
			if header == nil {
				header = cols
				continue
			}
			for i, name := range header {
				if i >= len(cols) {
					break
				}
				switch name {
				case "File encapsulation":
					o.encapsulation = cols[i]
				case "Number of packets":
					o.packets, err = strconv.Atoi(cols[i])
				case "End time":
					var end time.Time
					end, err = time.Parse("2006-01-02 15:04:05.999999999", cols[i])
					o.endNS = end.UnixNano()
				}
				if err != nil {
					t.Fatalf("oracle %s: column %q: %v", capture, name, err)
				}
			}
		case section == "protocol hierarchy" && !sawHierarchy && strings.Contains(line, "frames:") && !strings.HasPrefix(line, " "):
			sawHierarchy = true
			for _, field := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(field, "bytes:"); ok {
					o.bytes, err = strconv.ParseInt(v, 10, 64)
					if err != nil {
						t.Fatalf("oracle %s: bytes: %v", capture, err)
					}
				}
			}
		}
	}
	if o.packets == 0 || o.encapsulation == "" || o.endNS == 0 || !sawHierarchy {
		t.Fatalf("oracle %s: could not find capinfos and protocol hierarchy", capture)
	}
	return o
}

// listCaptures returns every pcap/pcapng in the shared captures folder.
func listCaptures(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"*.pcap", "*.pcapng"} {
		m, err := filepath.Glob(filepath.Join(sharedCaptures, pattern))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	if len(out) == 0 {
		t.Fatalf("no captures in %s: the shared fixtures are missing", sharedCaptures)
	}
	return out
}

// readAllFrames reads every frame of a file, copying the data out.
type fileReadResult struct {
	frames []frame.Frame
	err    error // the error that ended the read (nil on a clean io.EOF)
}

func readAllFrames(t *testing.T, path string) fileReadResult {
	t.Helper()
	src, err := OpenFile(path)
	if err != nil {
		t.Fatalf("OpenFile(%s): %v", path, err)
	}
	defer src.Close()
	var res fileReadResult
	var f frame.Frame
	for {
		err := src.Next(&f)
		if err == io.EOF {
			return res
		}
		if err != nil {
			res.err = err
			return res
		}
		c := f
		c.Data = bytes.Clone(f.Data)
		res.frames = append(res.frames, c)
		if len(res.frames) > 1_000_000 {
			t.Fatalf("%s: runaway read", path)
		}
	}
}

var encapsulations = map[string]frame.LinkType{
	"ether":     frame.LinkEthernet,
	"linux-sll": frame.LinkSLL,
}

func TestOpenFileReadsEveryFrameTheOracleCounts(t *testing.T) {
	for _, path := range listCaptures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			o := readCapinfosOracle(t, path)
			res := readAllFrames(t, path)
			if res.err != nil {
				t.Fatalf("read ended with %v", res.err)
			}
			if len(res.frames) != o.packets {
				t.Errorf("frames = %d, capinfos says %d", len(res.frames), o.packets)
			}
			want, ok := encapsulations[o.encapsulation]
			if !ok {
				t.Fatalf("oracle encapsulation %q has no link type in this test", o.encapsulation)
			}
			var total int64
			maxTS := res.frames[0].TS
			for i, f := range res.frames {
				if f.LinkType != want {
					t.Fatalf("frame %d link type = %d, want %d", i+1, f.LinkType, want)
				}
				if len(f.Data) > f.OrigLen {
					t.Fatalf("frame %d: %d captured bytes exceed original length %d", i+1, len(f.Data), f.OrigLen)
				}
				total += int64(f.OrigLen)
				maxTS = max(maxTS, f.TS)
			}
			if total != o.bytes {
				t.Errorf("sum of frame lengths = %d, protocol hierarchy says %d", total, o.bytes)
			}
			// capinfos prints times to the microsecond, in UTC here.
			if d := maxTS - o.endNS; d < -1000 || d > 1000 {
				t.Errorf("latest frame at %v, capinfos says %v", time.Unix(0, maxTS).UTC(), time.Unix(0, o.endNS).UTC())
			}
		})
	}
}

// pcapFixture is a pcap (not pcapng) capture used to build variants.
const pcapFixture = sharedCaptures + "/heplify__sip_ipv4_tcp.pcap"
const pcapngFixture = sharedCaptures + "/ndpi__sip_hello.pcapng"

func writeTempFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustReadFixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("fixture missing: %v", err)
	}
	return b
}

// convertPcap rewrites a little-endian microsecond pcap into another byte
// order and/or nanosecond resolution, record by record.
func convertPcap(t *testing.T, in []byte, order binary.AppendByteOrder, nanos bool) []byte {
	t.Helper()
	le := binary.LittleEndian
	if le.Uint32(in) != magicPcapMicroLE {
		t.Fatalf("fixture is not a little-endian microsecond pcap")
	}
	out := make([]byte, 0, len(in))
	magic := uint32(magicPcapMicroLE)
	if nanos {
		magic = magicPcapNanoLE
	}
	out = order.AppendUint32(out, magic)
	out = order.AppendUint16(out, le.Uint16(in[4:]))
	out = order.AppendUint16(out, le.Uint16(in[6:]))
	for off := 8; off < 24; off += 4 {
		out = order.AppendUint32(out, le.Uint32(in[off:]))
	}
	for off := 24; off < len(in); {
		sec, frac := le.Uint32(in[off:]), le.Uint32(in[off+4:])
		caplen, origlen := le.Uint32(in[off+8:]), le.Uint32(in[off+12:])
		if nanos {
			frac *= 1000
		}
		out = order.AppendUint32(out, sec)
		out = order.AppendUint32(out, frac)
		out = order.AppendUint32(out, caplen)
		out = order.AppendUint32(out, origlen)
		out = append(out, in[off+16:off+16+int(caplen)]...)
		off += 16 + int(caplen)
	}
	return out
}

func TestOpenFileReadsEveryPcapVariantAlike(t *testing.T) {
	orig := mustReadFixture(t, pcapFixture)
	want := readAllFrames(t, pcapFixture)
	if want.err != nil || len(want.frames) == 0 {
		t.Fatalf("reading the fixture: %d frames, %v", len(want.frames), want.err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(orig)
	zw.Close()
	variants := []struct {
		name string
		data []byte
	}{
		{"big-endian microsecond pcap", convertPcap(t, orig, binary.BigEndian, false)},
		{"little-endian nanosecond pcap", convertPcap(t, orig, binary.LittleEndian, true)},
		{"big-endian nanosecond pcap", convertPcap(t, orig, binary.BigEndian, true)},
		{"gzip-compressed pcap", gz.Bytes()},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			got := readAllFrames(t, writeTempFile(t, "variant.pcap", v.data))
			if got.err != nil {
				t.Fatalf("read ended with %v", got.err)
			}
			if len(got.frames) != len(want.frames) {
				t.Fatalf("frames = %d, want %d", len(got.frames), len(want.frames))
			}
			for i := range got.frames {
				g, w := got.frames[i], want.frames[i]
				if g.TS != w.TS || g.OrigLen != w.OrigLen || g.LinkType != w.LinkType || !bytes.Equal(g.Data, w.Data) {
					t.Fatalf("frame %d differs: ts %d/%d len %d/%d", i+1, g.TS, w.TS, g.OrigLen, w.OrigLen)
				}
			}
		})
	}
}

func TestTruncatedFilesReturnEveryWholeFrameThenErrTruncated(t *testing.T) {
	cases := []struct {
		name    string
		fixture string
		cut     int // bytes removed from the end
	}{
		{"pcap cut inside the last frame's data", pcapFixture, 10},
		{"pcap cut inside the last record header", pcapFixture, 0}, // computed below
		{"pcapng cut inside the last block", pcapngFixture, 7},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			full := mustReadFixture(t, c.fixture)
			whole := readAllFrames(t, c.fixture)
			cut := c.cut
			if i == 1 {
				// Keep 9 of the 16 bytes of the last record header.
				last := whole.frames[len(whole.frames)-1]
				cut = len(last.Data) + 16 - 9
			}
			path := writeTempFile(t, "cut", full[:len(full)-cut])
			got := readAllFrames(t, path)
			if !errors.Is(got.err, ErrTruncated) {
				t.Fatalf("read ended with %v, want ErrTruncated", got.err)
			}
			if !strings.Contains(got.err.Error(), path) {
				t.Errorf("error %q does not name the file", got.err)
			}
			if len(got.frames) != len(whole.frames)-1 {
				t.Errorf("frames before the error = %d, want %d", len(got.frames), len(whole.frames)-1)
			}
			for j := range got.frames {
				if !bytes.Equal(got.frames[j].Data, whole.frames[j].Data) {
					t.Fatalf("frame %d differs from the whole file's", j+1)
				}
			}
		})
	}
}

func TestFilesThatAreNotCapturesAreRejectedByName(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"a text file", []byte("INVITE sip:bob@example.com SIP/2.0\r\n"), ErrNotCapture},
		{"an empty file", nil, ErrNotCapture},
		{"a three-byte file", []byte{0xd4, 0xc3, 0xb2}, ErrNotCapture},
		{"a gzip of a text file", gzipped([]byte("hello, world\n")), ErrNotCapture},
		{"a pcap with an unknown major version", []byte{0xd4, 0xc3, 0xb2, 0xa1, 9, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0}, ErrNotCapture},
		{"a pcap header cut short", []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0}, ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeTempFile(t, "input.bin", c.data)
			src, err := OpenFile(path)
			if err == nil {
				src.Close()
				t.Fatal("OpenFile accepted it")
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v does not wrap %v", err, c.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if _, err := OpenFile(filepath.Join(t.TempDir(), "absent.pcap")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file gave %v, want os.ErrNotExist", err)
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestARecordLongerThanItsOriginalIsSteppedOver(t *testing.T) {
	full := mustReadFixture(t, pcapFixture)
	whole := readAllFrames(t, pcapFixture)
	bad := bytes.Clone(full)
	// First record header: caplen at 24+8, origlen at 24+12; make origlen tiny.
	binary.LittleEndian.PutUint32(bad[24+12:], 1)
	path := writeTempFile(t, "bad.pcap", bad)
	got := readAllFrames(t, path)
	if got.err != nil || len(got.frames) != len(whole.frames)-1 {
		t.Fatalf("got %d frames and %v, want the %d after the damaged first one", len(got.frames), got.err, len(whole.frames)-1)
	}
	for i, f := range got.frames {
		if !bytes.Equal(f.Data, whole.frames[i+1].Data) || f.TS != whole.frames[i+1].TS {
			t.Fatalf("frame %d differs from the file's frame %d", i+1, i+2)
		}
	}
}

func TestNextReusesItsBufferWithoutAllocating(t *testing.T) {
	src, err := OpenFile(sharedCaptures + "/heplify__rtp_rtcp_sip_ipv4_udp.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var f frame.Frame
	// Warm up so the reader has sized its buffer for the snap length.
	for range 10 {
		if err := src.Next(&f); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if err := src.Next(&f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Next allocates %.1f times per frame", allocs)
	}
}

func BenchmarkFileSourceNext(b *testing.B) {
	path := sharedCaptures + "/heplify__rtp_rtcp_sip_ipv4_udp.pcap"
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(st.Size())
	var f frame.Frame
	for b.Loop() {
		src, err := OpenFile(path)
		if err != nil {
			b.Fatal(err)
		}
		for src.Next(&f) == nil {
		}
		src.Close()
	}
}
