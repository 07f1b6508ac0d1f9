package stream

import (
	"bufio"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/capture/oracle"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
	"github.com/sipscope/sipscope/frame"
)

// capturesDir holds real third-party captures with tshark oracle output.
const capturesDir = "../../testdata/captures"

// tcpSIPPackets reads the "transports of SIP packets" section of an oracle:
// how many of the frames tshark shows as SIP were TCP.
func tcpSIPPackets(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("oracle missing: %v", err)
	}
	defer f.Close()
	in, found, n := false, false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "## ") {
			in = strings.HasPrefix(l, "## transports of SIP packets")
			found = found || in
			continue
		}
		if !in {
			continue
		}
		count, protos, ok := strings.Cut(strings.TrimSpace(l), " ")
		if !ok {
			continue
		}
		c, err := strconv.Atoi(count)
		if err != nil {
			t.Fatalf("%s: %q: %v", path, l, err)
		}
		if strings.HasSuffix(protos, ":tcp") {
			n += c
		}
	}
	if !found {
		t.Fatalf("%s has no transports section", path)
	}
	return n
}

// Each capture is read with the project's own capture and decode stages;
// its TCP segments go through a Reassembler and its UDP datagrams straight
// to the SIP parser. The SIP messages from TCP must number what tshark
// counts as SIP over TCP, and all messages together must have the request
// methods, status codes and Call-IDs tshark lists.
func TestSharedCapturesGiveTheSIPMessagesTsharkFinds(t *testing.T) {
	type testCase struct {
		file string
		// tsharkIsWrong: MANIFEST.tsv documents that tshark's SIP frames
		// in this capture are HTTP on port 5060 that it misdissects; the
		// right count of SIP messages is 0.
		tsharkIsWrong bool
		wantNotSIP    bool
		// udpOnly: the capture has no SIP over TCP; only the count of
		// TCP messages (none) is compared, the UDP side being the SIP
		// parser's business (junk before a request, for one).
		udpOnly bool
	}
	cases := []testCase{
		{file: "heplify__sip_ipv4_tcp.pcap"},
		{file: "heplify__sip_ipv4_tcp_retrans.pcap"},
		{file: "sngrep__ipip.pcap"},
		{file: "ndpi__http_on_sip_port.pcap", tsharkIsWrong: true, wantNotSIP: true},
	}
	// Every other shared capture must give no SIP over TCP either.
	all, err := filepath.Glob(filepath.Join(capturesDir, "*.pcap*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range all {
		name := filepath.Base(path)
		if strings.HasSuffix(name, ".txt") || slices.ContainsFunc(cases, func(c testCase) bool { return c.file == name }) {
			continue
		}
		cases = append(cases, testCase{file: name, udpOnly: true})
	}
	if len(cases) < 8 {
		t.Fatalf("only %d captures in %s: the shared fixtures are missing", len(cases), capturesDir)
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			path := capturesDir + "/" + tc.file
			want, err := oracle.Load(path + ".tshark.txt")
			if err != nil {
				t.Fatal(err)
			}
			wantTCP := tcpSIPPackets(t, path+".tshark.txt")
			wantRequests, wantResponses, wantCallIDs := want.Requests, want.Responses, want.CallIDs
			if tc.tsharkIsWrong {
				wantTCP = 0
				wantRequests, wantResponses, wantCallIDs = map[string]int{}, map[int]int{}, map[string]int{}
			}

			src, err := capture.OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			d := decode.NewDecoder()
			r := New(Config{})
			var f frame.Frame
			var p decode.Packet
			var m sip.Message
			gotTCP := 0
			requests, responses, callIDs := map[string]int{}, map[int]int{}, map[string]int{}
			tally := func(b []byte) {
				if err := m.Unmarshal(b); err != nil {
					t.Errorf("a message does not parse: %v\n%q", err, abbrev(string(b)))
					return
				}
				if m.IsRequest {
					requests[string(m.Method)]++
				} else {
					responses[m.StatusCode]++
				}
				callIDs[string(m.CallID)]++
			}
			emit := func(msg Message) {
				gotTCP++
				if n, err := sip.FrameLength(msg.Payload); err != nil || n != len(msg.Payload) {
					t.Errorf("emitted message is not one whole frame: n=%d err=%v", n, err)
				}
				tally(msg.Payload)
			}
			for {
				err := src.Next(&f)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if d.Decode(f.LinkType, f.Data, f.TS, &p) != nil {
					continue
				}
				switch p.Transport {
				case decode.TransportTCP:
					r.Feed(&p, emit)
				case decode.TransportUDP:
					if !tc.udpOnly && sip.LooksLikeSIP(p.Payload) {
						tally(p.Payload)
					}
				}
			}
			r.Flush(emit)
			s := r.Stats()
			if gotTCP != wantTCP {
				t.Errorf("%d SIP messages over TCP, tshark %d; stats %+v", gotTCP, wantTCP, s)
			}
			if tc.udpOnly {
				if wantTCP != 0 {
					t.Fatalf("oracle says %d SIP messages over TCP: list the capture with the others", wantTCP)
				}
				return
			}
			if !maps.Equal(requests, wantRequests) || !maps.Equal(responses, wantResponses) {
				t.Errorf("requests %v responses %v, tshark %v %v", requests, responses, wantRequests, wantResponses)
			}
			if !maps.Equal(callIDs, wantCallIDs) {
				t.Errorf("Call-IDs %v, tshark %v", callIDs, wantCallIDs)
			}
			if tc.wantNotSIP && s.NotSIPConns == 0 {
				t.Errorf("the HTTP connection was not marked not-SIP: %+v", s)
			}
			if s.FramingErrors != 0 || s.BufferOverflows != 0 || s.GapsSkipped != 0 {
				t.Errorf("a clean capture had losses: %+v", s)
			}
			t.Logf("%+v", s)
		})
	}
}
