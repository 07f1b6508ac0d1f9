package gen

import (
	"bytes"
	"maps"
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
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

// checkAgainstTshark runs tshark over the capture at path and compares
// frames, SIP messages, Call-IDs and RTP streams with truth.
func checkAgainstTshark(t *testing.T, path string, truth *Truth) {
	t.Helper()
	frames := lines(tshark(t, "-r", path, "-T", "fields", "-e", "frame.number"))
	if len(frames) != truth.Totals.Packets {
		t.Errorf("tshark reads %d frames, truth says %d", len(frames), truth.Totals.Packets)
	}

	// Malformed packets, bad checksums and TCP sequence anomalies would all
	// mean the generator wrote something a real stack would not.
	bad := lines(tshark(t, "-r", path,
		"-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
		"-Y", "_ws.malformed || ip.checksum.status == 0 || udp.checksum.status == 0 || tcp.checksum.status == 0 || tcp.analysis.flags",
		"-T", "fields", "-e", "frame.number"))
	if len(bad) != 0 {
		t.Errorf("tshark flags %d frames as malformed, badly checksummed or out of TCP sequence: %v", len(bad), bad)
	}

	checkSIP(t, path, truth)

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
		args := append([]string{"-r", path, "-q", "-z", "rtp,streams"}, mode.args...)
		got := parseRTPStreams(t, tshark(t, args...))
		if len(got) != len(want) {
			t.Errorf("%s: tshark sees %d RTP streams, truth says %d", mode.name, len(got), len(want))
		}
		for _, g := range got {
			w, ok := want[g.ssrc]
			if !ok {
				t.Errorf("%s: tshark stream %s is not in the truth", mode.name, g.ssrc)
				continue
			}
			if g.src != w.Src.String() || g.dst != w.Dst.String() || g.payload != w.Payload ||
				g.packets != w.Packets || g.lost != w.Lost {
				t.Errorf("%s: stream %s: tshark %s -> %s %s packets %d lost %d; truth %s -> %s %s packets %d lost %d",
					mode.name, g.ssrc, g.src, g.dst, g.payload, g.packets, g.lost,
					w.Src, w.Dst, w.Payload, w.Packets, w.Lost)
			}
		}
	}
}

func checkSIP(t *testing.T, path string, truth *Truth) {
	t.Helper()
	rows := lines(tshark(t, "-r", path, "-Y", "sip", "-T", "fields", "-E", "separator=|",
		"-e", "sip.Call-ID", "-e", "sip.Method", "-e", "sip.Status-Code"))
	if len(rows) != truth.Totals.SIPMessages {
		t.Errorf("tshark sees %d SIP messages, truth says %d", len(rows), truth.Totals.SIPMessages)
	}
	perCall := map[string]int{}
	requests, responses := map[string]int{}, map[string]int{}
	for _, r := range rows {
		f := strings.Split(r, "|")
		if len(f) != 3 {
			t.Fatalf("unexpected tshark row %q", r)
		}
		perCall[f[0]]++
		if f[1] != "" {
			requests[f[1]]++
		}
		if f[2] != "" {
			responses[f[2]]++
		}
	}
	if len(perCall) != truth.Totals.CallIDs {
		t.Errorf("tshark sees %d Call-IDs, truth says %d", len(perCall), truth.Totals.CallIDs)
	}
	wantPerCall := map[string]int{}
	for _, c := range truth.Calls {
		wantPerCall[c.CallID] = c.Messages
	}
	for _, r := range truth.Registrations {
		wantPerCall[r.CallID] = r.Messages
	}
	if !maps.Equal(perCall, wantPerCall) {
		t.Errorf("messages per Call-ID: tshark %v, truth %v", perCall, wantPerCall)
	}
	if !maps.Equal(requests, truth.Totals.Requests) {
		t.Errorf("requests: tshark %v, truth %v", requests, truth.Totals.Requests)
	}
	if !maps.Equal(responses, truth.Totals.Responses) {
		t.Errorf("responses: tshark %v, truth %v", responses, truth.Totals.Responses)
	}
}

// tsharkStream is one row of tshark -z rtp,streams.
type tsharkStream struct {
	src, dst, ssrc, payload string
	packets, lost           int
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
			src: f[2] + ":" + f[3], dst: f[4] + ":" + f[5], ssrc: f[6], payload: f[7],
			packets: packets, lost: lost,
		})
	}
	return streams
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
