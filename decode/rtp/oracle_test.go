package rtp

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/frame"
)

var update = flag.Bool("update", false, "regenerate testdata/*.rtp.tsv with tshark")

const capturesDir = "../../testdata/captures"

// datagram is one UDP payload of a capture, copied out.
type datagram struct {
	frame    int
	src, dst netip.AddrPort
	payload  []byte
}

// udpDatagrams decodes a shared capture down to its UDP payloads.
func udpDatagrams(t *testing.T, name string) []datagram { return udpDatagramsF(t, name) }

func udpDatagramsF(t testing.TB, name string) []datagram {
	t.Helper()
	src, err := capture.OpenFile(filepath.Join(capturesDir, name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	defer src.Close()
	d := decode.NewDecoder()
	var f frame.Frame
	var p decode.Packet
	var out []datagram
	for n := 1; ; n++ {
		if err := src.Next(&f); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		if d.Decode(f.LinkType, f.Data, f.TS, &p) == nil && p.Transport == decode.TransportUDP {
			out = append(out, datagram{n, p.Src, p.Dst, append([]byte(nil), p.Payload...)})
		}
	}
}

// rtpOracles are captures whose RTP tshark decodes packet by packet.
var rtpOracles = []struct{ capture, decodeAs string }{
	{"sipp__g711a.pcap", "udp.port==5000,rtp"},
	{"sipp__dtmf_2833_1.pcap", "udp.port==10000,rtp"},
}

var rtpFields = []string{
	"frame.number", "rtp.version", "rtp.padding", "rtp.ext", "rtp.cc", "rtp.marker", "rtp.p_type",
	"rtp.seq", "rtp.timestamp", "rtp.ssrc", "rtp.payload",
	"rtpevent.event_id", "rtpevent.end_of_event", "rtpevent.volume", "rtpevent.duration",
}

func oraclePath(capture string) string { return filepath.Join("testdata", capture+".rtp.tsv") }

func writeRTPOracle(t *testing.T, capture, decodeAs string) {
	args := []string{"-n", "-r", filepath.Join(capturesDir, capture), "-d", decodeAs, "-T", "fields", "-E", "separator=/t"}
	for _, f := range rtpFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	header := fmt.Sprintf("# tshark -n -d %s -T fields over %s\n# %s\n", decodeAs, capture, strings.Join(rtpFields, "\t"))
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(oraclePath(capture), append([]byte(header), out...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// describeRTP prints a header and, for payload type 101, its event, in the
// same shape as a tshark row, so the two compare as strings.
func describeRTP(frame int, h *Header) string {
	s := fmt.Sprintf("%d\t%d\t%s\t%s\t%d\t%s\t%d\t%d\t%d\t0x%08x\t%x",
		frame, h.Version, bit(h.Padding), bit(h.Extension), h.CSRCCount, bit(h.Marker), h.PayloadType,
		h.SequenceNumber, h.Timestamp, h.SSRC, h.Payload)
	var e Event
	if h.PayloadType == 101 && e.Unmarshal(h.Payload) == nil {
		return s + fmt.Sprintf("\t%d\t%s\t%d\t%d", e.Event, bit(e.End), e.Volume, e.Duration)
	}
	return s + "\t\t\t\t"
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func TestUnmarshalMatchesTsharkOnRealRTP(t *testing.T) {
	for _, o := range rtpOracles {
		t.Run(o.capture, func(t *testing.T) {
			if *update {
				writeRTPOracle(t, o.capture, o.decodeAs)
			}
			f, err := os.Open(oraclePath(o.capture))
			if err != nil {
				t.Fatalf("oracle missing (go test -run TestUnmarshalMatchesTshark -update makes it): %v", err)
			}
			defer f.Close()
			want := map[int]string{}
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
					n, _ := strconv.Atoi(line[:strings.IndexByte(line, '\t')])
					want[n] = line
				}
			}
			dgrams := udpDatagrams(t, o.capture)
			if len(dgrams) != len(want) || len(want) == 0 {
				t.Fatalf("%d UDP datagrams, %d oracle rows", len(dgrams), len(want))
			}
			var h Header
			for _, dg := range dgrams {
				if err := h.Unmarshal(dg.payload); err != nil {
					t.Fatalf("frame %d: %v", dg.frame, err)
				}
				if !LooksLikeRTP(dg.payload) {
					t.Errorf("frame %d does not look like RTP", dg.frame)
				}
				if got := describeRTP(dg.frame, &h); got != want[dg.frame] {
					t.Errorf("frame %d:\n got %.160s\nwant %.160s", dg.frame, got, want[dg.frame])
				}
			}
		})
	}
}

// heuristicStream is one row of tshark's heuristic "rtp,streams" table.
type heuristicStream struct {
	src, dst netip.AddrPort
	ssrc     uint32
	packets  int
}

var streamRow = regexp.MustCompile(`^\s*\S+\s+\S+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+0x([0-9A-Fa-f]+)\s+.*?\s+(\d+)\s+-?\d+ \(`)

// sharedOracle reads the heuristic RTP streams and the RTCP packet count
// from a capture's .tshark.txt.
func sharedOracle(t *testing.T, capture string) (streams []heuristicStream, rtcpPackets int) {
	t.Helper()
	f, err := os.Open(filepath.Join(capturesDir, capture+".tshark.txt"))
	if err != nil {
		t.Fatalf("oracle missing: %v", err)
	}
	defer f.Close()
	section, sawRTCP := "", false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			section = line
			continue
		}
		switch {
		case section == "## rtcp_packet_count" && strings.TrimSpace(line) != "":
			if rtcpPackets, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
				t.Fatalf("rtcp_packet_count: %v", err)
			}
			sawRTCP = true
		case strings.Contains(section, "--enable-heuristic rtp_udp"):
			m := streamRow.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			sp, _ := strconv.Atoi(m[2])
			dp, _ := strconv.Atoi(m[4])
			ssrc, _ := strconv.ParseUint(m[5], 16, 32)
			n, _ := strconv.Atoi(m[6])
			streams = append(streams, heuristicStream{
				netip.AddrPortFrom(netip.MustParseAddr(m[1]), uint16(sp)),
				netip.AddrPortFrom(netip.MustParseAddr(m[3]), uint16(dp)),
				uint32(ssrc), n,
			})
		}
	}
	if !sawRTCP {
		t.Fatalf("%s: no rtcp_packet_count", capture)
	}
	return streams, rtcpPackets
}

func rtcpOraclePath(capture string) string { return filepath.Join("testdata", capture+".rtcp.txt") }

// rtcpFrames are the frames tshark dissects as RTCP (by SDP-learned
// conversation or by its own heuristic), from testdata/NAME.rtcp.txt.
func rtcpFrames(t *testing.T, capture string) map[int]bool {
	t.Helper()
	if *update {
		out, err := exec.Command("tshark", "-n", "-r", filepath.Join(capturesDir, capture),
			"--enable-heuristic", "rtcp_udp", "-Y", "rtcp", "-T", "fields", "-e", "frame.number").Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		header := "# frames of " + capture + " that tshark -n --enable-heuristic rtcp_udp -Y rtcp dissects as RTCP\n"
		if err := os.WriteFile(rtcpOraclePath(capture), append([]byte(header), out...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(rtcpOraclePath(capture))
	if err != nil {
		t.Fatalf("oracle missing (go test -run TestHeuristics -update makes it): %v", err)
	}
	frames := map[int]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n, err := strconv.Atoi(line)
		if err != nil {
			t.Fatalf("%s: %q: %v", rtcpOraclePath(capture), line, err)
		}
		frames[n] = true
	}
	return frames
}

// For every shared capture: each RTP stream tshark's heuristic finds is
// found whole by LooksLikeRTP (same packets, same SSRC); every frame tshark
// dissects as RTCP looks like RTCP, and any other frame that does is a
// byte-for-byte copy of one of those (a media relay forwarding it: tshark
// only recognises the copy on the SDP-learned side, because 2 zero bytes
// after the compound defeat its heuristic but not ours).
func TestHeuristicsFindWhatTsharkFinds(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(capturesDir, "*.pcap*"))
	tested := 0
	for _, path := range files {
		name := filepath.Base(path)
		if filepath.Ext(name) == ".txt" {
			continue
		}
		tested++
		t.Run(name, func(t *testing.T) {
			streams, wantRTCP := sharedOracle(t, name)
			tsharkRTCP := rtcpFrames(t, name)
			if len(tsharkRTCP) != wantRTCP {
				t.Fatalf("testdata lists %d RTCP frames, the shared oracle counts %d: regenerate with -update", len(tsharkRTCP), wantRTCP)
			}
			dgrams := udpDatagrams(t, name)
			var h Header
			inStream := map[int]bool{}
			for _, s := range streams {
				n := 0
				for _, dg := range dgrams {
					if dg.src != s.src || dg.dst != s.dst {
						continue
					}
					if !LooksLikeRTP(dg.payload) || h.Unmarshal(dg.payload) != nil || h.SSRC != s.ssrc {
						t.Errorf("frame %d of stream %v->%v SSRC %#x is not taken for RTP", dg.frame, s.src, s.dst, s.ssrc)
						continue
					}
					inStream[dg.frame] = true
					n++
				}
				if n != s.packets {
					t.Errorf("stream %v->%v: %d packets look like RTP, tshark counts %d", s.src, s.dst, n, s.packets)
				}
			}
			tsharkPayloads := map[string]bool{}
			for _, dg := range dgrams {
				if tsharkRTCP[dg.frame] {
					tsharkPayloads[string(dg.payload)] = true
				}
			}
			rtcp, copies, extraRTP := 0, 0, 0
			for _, dg := range dgrams {
				looks := LooksLikeRTCP(dg.payload)
				switch {
				case tsharkRTCP[dg.frame] && !looks:
					t.Errorf("frame %d is RTCP for tshark, not for LooksLikeRTCP: %x", dg.frame, dg.payload)
				case !tsharkRTCP[dg.frame] && looks && !tsharkPayloads[string(dg.payload)]:
					t.Errorf("frame %d looks like RTCP, tshark disagrees: %x", dg.frame, dg.payload)
				case !tsharkRTCP[dg.frame] && looks:
					copies++
				}
				if looks {
					rtcp++
				}
				if !inStream[dg.frame] && LooksLikeRTP(dg.payload) {
					extraRTP++
				}
			}
			// Not assertions: how often other traffic passes the RTP
			// heuristic (DNS and NetBIOS in sngrep__aaa.pcap), and the
			// relayed RTCP copies described above.
			t.Logf("%d UDP datagrams; RTP: %d in tshark's streams, %d others pass; RTCP: %d (%d relayed copies)",
				len(dgrams), len(inStream), extraRTP, rtcp, copies)
		})
	}
	if tested == 0 {
		t.Fatalf("no captures in %s", capturesDir)
	}
}
