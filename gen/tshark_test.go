package gen

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tshark oracle: every generated capture must read in Wireshark exactly
// as its Truth says. tshark is a required tool here; without it these tests
// fail rather than skip.

func TestTsharkAgreesWithTruth(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"every scenario over UDP, half of them on port 5080, alternating codecs",
			Config{Calls: 10, Seed: 11, Codec: CodecMix, AltSIPPort: 5080}},
		{"bursty loss with jitter above ptime and late packets that reorder streams",
			Config{Calls: 4, Seed: 12, Mix: []Scenario{ScenarioAnswered}, Codec: CodecPCMA, CallDuration: 6 * time.Second,
				LossPct: 8, BurstLen: 4, JitterMs: 30, LatePct: 3, LateMs: 90}},
		{"independent random loss at 40 ms ptime",
			Config{Calls: 2, Seed: 13, Mix: []Scenario{ScenarioAnswered}, Ptime: 40 * time.Millisecond,
				CallDuration: 8 * time.Second, LossPct: 10, BurstLen: 1}},
		{"every scenario over TCP, half of them on port 5080",
			Config{Calls: 10, Seed: 14, Transport: TransportTCP, AltSIPPort: 5080, LossPct: 2, JitterMs: 3}},
		{"IPv6 calls over TCP in 100-byte segments, some reordered and some retransmitted",
			Config{Calls: 10, Seed: 15, IPv6: true, Transport: TransportTCP, TCPSegmentSize: 100, TCPReorderPct: 40, TCPRetransmitPct: 40}},
		{"SIP over WebSocket in two or three frames per message over reordered 150-byte segments",
			Config{Calls: 5, Seed: 16, Transport: TransportWS, WSFragment: true, TCPSegmentSize: 150, TCPReorderPct: 50}},
		{"every scenario over SCTP between IPv6 hosts",
			Config{Calls: 5, Seed: 17, IPv6: true, Transport: TransportSCTP}},
		{"every scenario of IPv6 hosts forwarded in HEP",
			Config{Calls: 5, Seed: 18, IPv6: true, Encap: EncapHEP}},
		{"IPv4 fragments at a 300-byte MTU with RTP loss",
			Config{Calls: 5, Seed: 19, Encap: EncapFragments, FragmentMTU: 300, LossPct: 3}},
		{"GRE carrying IPv6 calls",
			Config{Calls: 5, Seed: 20, IPv6: true, Encap: EncapGRE}},
		{"G.711 calls moved to T.38 fax and back, with bursty audio loss",
			Config{Calls: 4, Seed: 38, Mix: []Scenario{ScenarioT38, ScenarioAnswered}, CallDuration: 4 * time.Second, LossPct: 5, BurstLen: 2}},
		{"ERSPAN III mirroring IPv6 calls",
			Config{Calls: 5, Seed: 22, IPv6: true, Encap: EncapERSPAN3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Each case is a generator run and a few tshark processes of
			// its own: two at a time keep both cores busy.
			t.Parallel()
			path := filepath.Join(t.TempDir(), "gen.pcap")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			truth, err := Write(f, tc.cfg)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			checkAgainstTshark(t, path, truth)
		})
	}
}

// hepDissector is the Lua HEPv3 dissector the oracle loads for HEP
// captures: tshark 4.0 has no HEP dissector of its own.
const hepDissector = "testdata/hep3.lua"

// tsharkOptions are the options tshark needs to read a capture of cfg.
func tsharkOptions(t *testing.T, cfg Config) []string {
	t.Helper()
	var o []string
	if cfg.Encap == EncapHEP {
		lua, err := filepath.Abs(hepDissector)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(lua); err != nil {
			t.Fatalf("the HEP dissector for tshark is missing: %v", err)
		}
		o = append(o, "-X", "lua_script:"+lua)
	}
	if cfg.Transport == TransportSCTP {
		o = append(o, "-o", "sctp.checksum:CRC-32C") // off by default
	}
	if cfg.TCPReorderPct > 0 {
		// Off by default: without it tshark drops the data of a segment
		// that arrives before the one it follows.
		o = append(o, "-o", "tcp.reassemble_out_of_order:TRUE")
	}
	return o
}

// checkAgainstTshark runs tshark over the capture at path and compares
// frames, SIP messages, Call-IDs and RTP streams with truth, and whatever
// the truth's wire options promise (fragments, TCP disorder, WebSocket
// handshakes, HEP node ids).
func checkAgainstTshark(t *testing.T, path string, truth *Truth) {
	t.Helper()
	cfg := truth.Config
	opts := tsharkOptions(t, cfg)
	run := func(args ...string) string {
		t.Helper()
		return tshark(t, append(append([]string{"-r", path}, opts...), args...)...)
	}
	count := func(filter string) int {
		t.Helper()
		return len(lines(run("-Y", filter, "-T", "fields", "-e", "frame.number")))
	}

	frames := lines(run("-T", "fields", "-e", "frame.number"))
	if len(frames) != truth.Totals.Packets {
		t.Errorf("tshark reads %d frames, truth says %d", len(frames), truth.Totals.Packets)
	}

	// Malformed packets, bad checksums, expert warnings and TCP sequence
	// anomalies would all mean the generator wrote something a real stack
	// would not; only TCP disorder the config asked for is allowed.
	filter := "_ws.malformed || ip.checksum.status == 0 || udp.checksum.status == 0 || tcp.checksum.status == 0 || sctp.checksum.status == 0"
	disordered := cfg.TCPReorderPct > 0 || cfg.TCPRetransmitPct > 0
	if !disordered {
		filter += " || tcp.analysis.flags || _ws.expert.severity >= warning"
	}
	bad := lines(run("-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
		"-Y", filter, "-T", "fields", "-e", "frame.number"))
	if len(bad) != 0 {
		t.Errorf("tshark flags %d frames as malformed, badly checksummed or out of TCP sequence: %v", len(bad), bad)
	}
	if disordered {
		// Each swap shows as a gap ("previous segment not captured") and
		// then the segment that fills it; each copy as one retransmission.
		if got, want := count("tcp.analysis.flags"), 2*truth.Totals.TCPReordered+truth.Totals.TCPRetransmits; got != want {
			t.Errorf("tshark flags %d frames in TCP analysis, truth's %d reorderings and %d retransmissions make %d",
				got, truth.Totals.TCPReordered, truth.Totals.TCPRetransmits, want)
		}
		if got := count("tcp.analysis.lost_segment"); got != truth.Totals.TCPReordered {
			t.Errorf("tshark sees %d gaps in TCP sequence, truth says %d reordered messages", got, truth.Totals.TCPReordered)
		}
	}
	// Each check below costs a tshark run, so it runs only where the
	// config can make what it counts; elsewhere the frame count would
	// catch a stray fragment, handshake or HEP packet.
	if cfg.Encap == EncapFragments {
		if got := count("(ip.flags.mf == 1 || ip.frag_offset > 0) || ipv6.fraghdr"); got != truth.Totals.IPFragments {
			t.Errorf("tshark sees %d IP fragments, truth says %d", got, truth.Totals.IPFragments)
		}
	}
	if cfg.Transport == TransportWS {
		if got := count("http.response.code == 101 && http.upgrade == \"websocket\""); got != truth.Totals.WSHandshakes {
			t.Errorf("tshark sees %d WebSocket upgrades, truth says %d", got, truth.Totals.WSHandshakes)
		}
	}
	if cfg.Encap == EncapHEP {
		if got := count(fmt.Sprintf("hep3gen.node_id == %d && udp.dstport == %d", HEPNodeID, HEPCollectorPort)); got != truth.Totals.Packets {
			t.Errorf("tshark sees %d HEP packets from node %d to the collector, truth says %d frames", got, HEPNodeID, truth.Totals.Packets)
		}
	}

	checkSIP(t, run, truth)
	if len(truth.FaxStreams) > 0 {
		// UDPTL on the ports the SDP moved to m=image udptl t38: tshark
		// decodes each datagram as T.38, none of them as RTP.
		want := 0
		for _, s := range truth.FaxStreams {
			want += s.Packets
		}
		if got := count("t38 && !rtp"); got != want {
			t.Errorf("tshark sees %d T.38 packets, truth says %d", got, want)
		}
	}

	want := map[string]StreamTruth{}
	for _, s := range truth.Streams {
		want[s.SSRC] = s
	}
	// Heuristic RTP finds streams by content; SDP-learned RTP finds them only
	// if tshark understood the SIP and SDP, on any port and transport.
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"heuristic", []string{"--enable-heuristic", "rtp_udp"}},
		{"SDP-learned", nil},
	} {
		args := append([]string{"-q", "-z", "rtp,streams"}, mode.args...)
		got := parseRTPStreams(t, run(args...))
		if len(got) != len(want) {
			t.Errorf("%s: tshark sees %d RTP streams, truth says %d", mode.name, len(got), len(want))
		}
		for _, g := range got {
			w, ok := want[g.ssrc]
			if !ok {
				t.Errorf("%s: tshark stream %s is not in the truth", mode.name, g.ssrc)
				continue
			}
			if g.src != w.Src || g.dst != w.Dst || g.payload != w.Payload ||
				g.packets != w.Packets || g.lost != w.Lost {
				t.Errorf("%s: stream %s: tshark %s -> %s %s packets %d lost %d; truth %s -> %s %s packets %d lost %d",
					mode.name, g.ssrc, g.src, g.dst, g.payload, g.packets, g.lost,
					w.Src, w.Dst, w.Payload, w.Packets, w.Lost)
			}
		}
	}
}

// checkSIP compares the SIP messages tshark dissects with the truth: count,
// methods, status codes, and per Call-ID the number of messages and the
// capture times of the first and last (the frame that completes a
// reassembled message).
func checkSIP(t *testing.T, run func(...string) string, truth *Truth) {
	t.Helper()
	rows := lines(run("-Y", "sip", "-T", "fields", "-E", "separator=|",
		"-e", "sip.Call-ID", "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "frame.time_epoch"))
	if len(rows) != truth.Totals.SIPMessages {
		t.Errorf("tshark sees %d SIP messages, truth says %d", len(rows), truth.Totals.SIPMessages)
	}
	perCall := map[string]int{}
	first, last := map[string]time.Time{}, map[string]time.Time{}
	requests, responses := map[string]int{}, map[string]int{}
	for _, r := range rows {
		f := strings.Split(r, "|")
		if len(f) != 4 {
			t.Fatalf("unexpected tshark row %q", r)
		}
		perCall[f[0]]++
		if f[1] != "" {
			requests[f[1]]++
		}
		if f[2] != "" {
			responses[f[2]]++
		}
		ts := parseEpoch(t, f[3])
		if v, ok := first[f[0]]; !ok || ts.Before(v) {
			first[f[0]] = ts
		}
		if ts.After(last[f[0]]) {
			last[f[0]] = ts
		}
	}
	if len(perCall) != truth.Totals.CallIDs {
		t.Errorf("tshark sees %d Call-IDs, truth says %d", len(perCall), truth.Totals.CallIDs)
	}
	wantPerCall := map[string]int{}
	type span struct{ start, end time.Time }
	wantSpan := map[string]span{}
	for _, c := range truth.Calls {
		wantPerCall[c.CallID] = c.Messages
		wantSpan[c.CallID] = span{c.Start.Time, c.End.Time}
	}
	for _, r := range truth.Registrations {
		wantPerCall[r.CallID] = r.Messages
		wantSpan[r.CallID] = span{r.Start.Time, r.End.Time}
	}
	if !maps.Equal(perCall, wantPerCall) {
		t.Errorf("messages per Call-ID: tshark %v, truth %v", perCall, wantPerCall)
	}
	for id, w := range wantSpan {
		if g, ok := first[id]; ok && (!g.Equal(w.start) || !last[id].Equal(w.end)) {
			t.Errorf("Call-ID %s: tshark %s..%s, truth %s..%s", id, g.Format(timeLayout), last[id].Format(timeLayout),
				w.start.Format(timeLayout), w.end.Format(timeLayout))
		}
	}
	if !maps.Equal(requests, truth.Totals.Requests) {
		t.Errorf("requests: tshark %v, truth %v", requests, truth.Totals.Requests)
	}
	if !maps.Equal(responses, truth.Totals.Responses) {
		t.Errorf("responses: tshark %v, truth %v", responses, truth.Totals.Responses)
	}
}

// parseEpoch reads tshark's frame.time_epoch, seconds with nine decimals.
func parseEpoch(t *testing.T, s string) time.Time {
	t.Helper()
	sec, frac, _ := strings.Cut(s, ".")
	secs, err1 := strconv.ParseInt(sec, 10, 64)
	frac = (frac + "000000000")[:9]
	nanos, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("unparsable frame.time_epoch %q", s)
	}
	return time.Unix(secs, nanos).UTC()
}

// tsharkStream is one row of tshark -z rtp,streams.
type tsharkStream struct {
	src, dst      netip.AddrPort
	ssrc, payload string
	packets, lost int
}

// parseRTPStreams reads the table rows: start end srcIP srcPort dstIP
// dstPort SSRC payload packets lost (pct) deltas... .
func parseRTPStreams(t *testing.T, out string) []tsharkStream {
	t.Helper()
	var streams []tsharkStream
	for _, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) < 11 || !strings.HasPrefix(f[6], "0x") {
			continue
		}
		packets, err1 := strconv.Atoi(f[8])
		lost, err2 := strconv.Atoi(f[9])
		if err1 != nil || err2 != nil {
			t.Fatalf("unparsable rtp,streams row %q", l)
		}
		streams = append(streams, tsharkStream{
			src: addrPort(t, f[2], f[3]), dst: addrPort(t, f[4], f[5]), ssrc: f[6], payload: f[7],
			packets: packets, lost: lost,
		})
	}
	return streams
}

// addrPort reads an address and a port as tshark prints them in two columns.
func addrPort(t *testing.T, addr, port string) netip.AddrPort {
	t.Helper()
	a, err := netip.ParseAddr(addr)
	p, perr := strconv.ParseUint(port, 10, 16)
	if err != nil || perr != nil {
		t.Fatalf("unparsable address %q port %q", addr, port)
	}
	return netip.AddrPortFrom(a, uint16(p))
}

// tshark runs /usr/bin/tshark (or the one on PATH) and returns its stdout.
func tshark(t *testing.T, args ...string) string {
	t.Helper()
	bin := "/usr/bin/tshark"
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("tshark"); err != nil {
			t.Fatalf("tshark is required for the oracle tests (apt-get install tshark): %v", err)
		}
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// lines splits output into non-empty lines.
func lines(s string) []string {
	return slices.DeleteFunc(strings.Split(s, "\n"), func(l string) bool { return strings.TrimSpace(l) == "" })
}
