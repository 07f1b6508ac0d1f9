package decode

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/frame"
)

var update = flag.Bool("update", false, "rewrite testdata/crafted.pcapng and, with tshark, testdata/crafted.tshark.tsv")

const (
	capturesDir    = "../testdata/captures"
	craftedPcapng  = "testdata/crafted.pcapng"
	craftedOracle  = "testdata/crafted.tshark.tsv"
	craftedBaseTS  = int64(1700000000) * 1e9
	tsharkFieldSep = "\t"
)

// tsharkFields are the columns of crafted.tshark.tsv, in order.
var tsharkFields = []string{
	"frame.number", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
	"udp.srcport", "udp.dstport", "udp.length", "tcp.srcport", "tcp.dstport", "tcp.len",
}

// craftedCases are the frames of crafted.pcapng, in file order: single
// frames, then fragmented datagrams fragment by fragment.
func craftedCases() []decodeCase {
	cases := append(decodeCases(), oracleErrorCases()...)
	for _, fc := range fragmentCases() {
		for i, data := range fc.frames {
			cases = append(cases, decodeCase{name: fmt.Sprintf("%s, frame %d", fc.name, i+1), link: frame.LinkEthernet, frame: data})
		}
	}
	return cases
}

// buildCrafted writes craftedCases as a pcapng with one interface per link type.
func buildCrafted(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "sipscope decode tests"}}
	iface := func(link frame.LinkType) pcapgo.NgInterface {
		return pcapgo.NgInterface{Name: fmt.Sprintf("link%d", link), LinkType: layers.LinkType(link), TimestampResolution: 9}
	}
	cases := craftedCases()
	w, err := pcapgo.NewNgWriterInterface(&buf, iface(cases[0].link), opts)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[frame.LinkType]int{cases[0].link: 0}
	for i, c := range cases {
		id, ok := ids[c.link]
		if !ok {
			if id, err = w.AddInterface(iface(c.link)); err != nil {
				t.Fatal(err)
			}
			ids[c.link] = id
		}
		ci := gopacket.CaptureInfo{
			Timestamp:      time.Unix(0, craftedBaseTS+int64(i)*1e6).UTC(),
			CaptureLength:  len(c.frame),
			Length:         len(c.frame),
			InterfaceIndex: id,
		}
		if err := w.WritePacket(ci, c.frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeCraftedOracle runs tshark over crafted.pcapng (only with -update).
func writeCraftedOracle(t *testing.T) {
	t.Helper()
	args := []string{"-n", "-r", craftedPcapng, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	version, err := exec.Command("tshark", "--version").Output()
	if err != nil {
		t.Fatalf("tshark --version: %v", err)
	}
	first, _, _ := strings.Cut(string(version), "\n")
	header := "# tshark -n -T fields -E occurrence=a over crafted.pcapng; " + first + "\n# " + strings.Join(tsharkFields, tsharkFieldSep) + "\n"
	if err := os.WriteFile(craftedOracle, append([]byte(header), out...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tsharkView is what tshark says about the innermost transport of a frame.
type tsharkView struct {
	transport Transport
	src, dst  string // innermost addresses and ports, "addr:port" as netip prints
	payload   int
}

func lastOf(list string) string {
	if i := strings.LastIndexByte(list, ','); i >= 0 {
		return list[i+1:]
	}
	return list
}

// parseTsharkLine reads one row of crafted.tshark.tsv.
func parseTsharkLine(t *testing.T, line string) (int, tsharkView) {
	t.Helper()
	cols := strings.Split(line, tsharkFieldSep)
	if len(cols) != len(tsharkFields) {
		t.Fatalf("oracle row has %d columns, want %d: %q", len(cols), len(tsharkFields), line)
	}
	col := map[string]string{}
	for i, f := range tsharkFields {
		col[f] = cols[i]
	}
	num, err := strconv.Atoi(col["frame.number"])
	if err != nil {
		t.Fatalf("oracle row %q: %v", line, err)
	}
	var v tsharkView
	protos := strings.Split(col["frame.protocols"], ":")
	family := ""
	for _, p := range protos {
		switch p {
		case "ip", "ipv6":
			family = p
		case "udp":
			v.transport = TransportUDP
		case "tcp":
			v.transport = TransportTCP
		}
	}
	if v.transport == TransportUnknown {
		return num, v
	}
	src, dst := lastOf(col[family+".src"]), lastOf(col[family+".dst"])
	if family == "ipv6" {
		src, dst = "["+src+"]", "["+dst+"]"
	}
	if v.transport == TransportUDP {
		v.src, v.dst = src+":"+lastOf(col["udp.srcport"]), dst+":"+lastOf(col["udp.dstport"])
		n, err := strconv.Atoi(lastOf(col["udp.length"]))
		if err != nil {
			t.Fatalf("oracle row %d: udp.length: %v", num, err)
		}
		v.payload = n - 8
	} else {
		v.src, v.dst = src+":"+lastOf(col["tcp.srcport"]), dst+":"+lastOf(col["tcp.dstport"])
		if v.payload, err = strconv.Atoi(lastOf(col["tcp.len"])); err != nil {
			t.Fatalf("oracle row %d: tcp.len: %v", num, err)
		}
	}
	return num, v
}

// The crafted frames are decoded by tshark too: wherever tshark finds UDP or
// TCP, we must find the same innermost addresses, ports and payload length,
// and where it finds neither, Decode must return an error. Fragmented
// datagrams decode on the frame that completes them, for both.
func TestCraftedFramesDecodeAsTsharkDoes(t *testing.T) {
	built := buildCrafted(t)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(craftedPcapng, built, 0o644); err != nil {
			t.Fatal(err)
		}
		writeCraftedOracle(t)
	}
	onDisk, err := os.ReadFile(craftedPcapng)
	if err != nil {
		t.Fatalf("fixture missing (go test -run TestCrafted -update makes it): %v", err)
	}
	if !bytes.Equal(onDisk, built) {
		t.Fatalf("%s is out of date with the test cases: go test -run TestCrafted -update", craftedPcapng)
	}
	oracle, err := os.Open(craftedOracle)
	if err != nil {
		t.Fatalf("oracle missing: %v", err)
	}
	defer oracle.Close()
	views := map[int]tsharkView{}
	sc := bufio.NewScanner(oracle)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			n, v := parseTsharkLine(t, line)
			views[n] = v
		}
	}

	cases := craftedCases()
	if len(views) != len(cases) {
		t.Fatalf("oracle has %d frames, the cases %d", len(views), len(cases))
	}
	src, err := capture.OpenFile(craftedPcapng)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// tshark reassembles IP fragments, so we do too.
	d := NewDecoder()
	d.SetDefragmenter(NewDefragmenter(DefragConfig{}))
	var f frame.Frame
	var p Packet
	for i, c := range cases {
		if err := src.Next(&f); err != nil {
			t.Fatalf("frame %d: %v", i+1, err)
		}
		if f.LinkType != c.link {
			t.Fatalf("frame %d: link type %d read back as %d", i+1, c.link, f.LinkType)
		}
		want := views[i+1]
		err := d.Decode(f.LinkType, f.Data, f.TS, &p)
		switch {
		case want.transport == TransportUnknown && err == nil:
			t.Errorf("frame %d (%s): tshark finds no UDP/TCP, Decode gives %s", i+1, c.name, describe(p))
		case want.transport != TransportUnknown && err != nil:
			t.Errorf("frame %d (%s): tshark finds %v, Decode fails: %v", i+1, c.name, want.transport, err)
		case err == nil:
			got := tsharkView{p.Transport, p.Src.String(), p.Dst.String(), len(p.Payload)}
			if got != want {
				t.Errorf("frame %d (%s):\n got %+v\nwant %+v (tshark)", i+1, c.name, got, want)
			}
		}
	}
	if err := src.Next(&f); err != io.EOF {
		t.Errorf("after the last case: %v, want io.EOF", err)
	}
}

// transportFrames sums the "udp" and "tcp" lines of a tshark protocol
// hierarchy that have no udp/tcp/icmp line above them: each frame is then
// counted once, at its innermost IP's transport, tunnels included (sngrep's
// ipip.pcap has tcp both under ip and under ip:ip). UDP or TCP nested in
// another transport (VXLAN inner frames) or quoted by ICMP is not counted.
func transportFrames(t *testing.T, oraclePath string) (udpFrames, tcpFrames int) {
	t.Helper()
	f, err := os.Open(oraclePath)
	if err != nil {
		t.Fatalf("oracle missing: %v", err)
	}
	defer f.Close()
	in := false
	var stack []string // protocol names by depth
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Protocol Hierarchy Statistics") {
			in, found = true, true
			continue
		}
		if !in || !strings.Contains(line, "frames:") {
			continue
		}
		trimmed := strings.TrimLeft(line, " ")
		depth := (len(line) - len(trimmed)) / 2
		fields := strings.Fields(trimmed)
		name := fields[0]
		n, err := strconv.Atoi(strings.TrimPrefix(fields[1], "frames:"))
		if err != nil {
			t.Fatalf("%s: %q: %v", oraclePath, line, err)
		}
		stack = append(stack[:min(depth, len(stack))], name)
		covered := false
		for _, above := range stack[:len(stack)-1] {
			if above == "udp" || above == "tcp" || above == "icmp" || above == "icmpv6" {
				covered = true
			}
		}
		if covered {
			continue
		}
		switch name {
		case "udp":
			udpFrames += n
		case "tcp":
			tcpFrames += n
		}
	}
	if !found {
		t.Fatalf("%s has no protocol hierarchy", oraclePath)
	}
	return udpFrames, tcpFrames
}

// Every frame of every shared capture is decoded; the frames that decode to
// UDP and to TCP must number what tshark's protocol hierarchy says. None of
// these captures holds IP fragments, so fragment handling cannot skew it;
// a frame we reject as a fragment while tshark reassembles would show here.
func TestSharedCapturesDecodeToTheTransportsTsharkCounts(t *testing.T) {
	var files []string
	for _, pattern := range []string{"*.pcap", "*.pcapng"} {
		m, err := filepath.Glob(filepath.Join(capturesDir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no captures in %s: the shared fixtures are missing", capturesDir)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			wantUDP, wantTCP := transportFrames(t, path+".tshark.txt")
			src, err := capture.OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			d := NewDecoder()
			var f frame.Frame
			var p Packet
			var gotUDP, gotTCP, tunnelled int
			reasons := map[string]int{}
			for {
				err := src.Next(&f)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := d.Decode(f.LinkType, f.Data, f.TS, &p); err != nil {
					reasons[Reason(err)]++
					continue
				}
				if !within(f.Data, p.Payload) {
					t.Fatalf("payload outside the frame")
				}
				switch p.Transport {
				case TransportUDP:
					gotUDP++
				case TransportTCP:
					gotTCP++
				}
				if p.Tunnels > 0 {
					tunnelled++
				}
			}
			if gotUDP != wantUDP || gotTCP != wantTCP {
				t.Errorf("udp/tcp frames = %d/%d, tshark hierarchy says %d/%d (drops: %v)", gotUDP, gotTCP, wantUDP, wantTCP, reasons)
			}
			if reasons["other"] > 0 || reasons["malformed_ip"] > 0 || reasons["truncated"] > 0 {
				t.Errorf("unexpected drops in a clean capture: %v", reasons)
			}
			if strings.Contains(path, "ipip") && tunnelled != 2 {
				t.Errorf("%d frames came out of a tunnel, want the 2 IP-in-IP ones", tunnelled)
			}
		})
	}
}
