package sip

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// capturesDir holds real third-party captures with tshark oracle output.
const capturesDir = "../../testdata/captures"

// l4Payload is one UDP datagram or TCP segment payload from a capture.
type l4Payload struct {
	tcp  bool
	flow string // "src>dst" including ports
	seq  uint32
	syn  bool
	data []byte
}

// readPayloads decodes a pcap or pcapng file down to UDP/TCP payloads
// (through IP-in-IP and Linux cooked captures) with gopacket. Test-only:
// the project's own capture and decode stages are tested elsewhere.
func readPayloads(t testing.TB, path string) []l4Payload {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("capture fixture missing: %v", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, err := br.Peek(4)
	if err != nil {
		t.Fatal(err)
	}
	type source interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var src source
	var link layers.LinkType
	if string(magic) == "\x0a\x0d\x0d\x0a" {
		r, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		src, link = r, r.LinkType()
	} else {
		r, err := pcapgo.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		src, link = r, r.LinkType()
	}
	var out []l4Payload
	for {
		data, _, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		pkt := gopacket.NewPacket(data, link, gopacket.Default)
		net := pkt.NetworkLayer()
		if net == nil {
			continue
		}
		if ip4, ok := net.(*layers.IPv4); ok && ip4.Protocol == layers.IPProtocolIPv4 {
			// IP-in-IP: the inner header decides the flow.
			if inner := pkt.Layers(); len(inner) > 0 {
				for _, l := range inner {
					if in, ok := l.(*layers.IPv4); ok {
						net = in
					}
				}
			}
		}
		switch tl := pkt.TransportLayer().(type) {
		case *layers.UDP:
			out = append(out, l4Payload{flow: fmt.Sprint(net.NetworkFlow(), tl.TransportFlow()), data: tl.Payload})
		case *layers.TCP:
			out = append(out, l4Payload{tcp: true, flow: fmt.Sprint(net.NetworkFlow(), tl.TransportFlow()), seq: tl.Seq, syn: tl.SYN, data: tl.Payload})
		}
	}
	return out
}

// sipMessages returns the SIP messages found in a capture: datagrams that
// LooksLikeSIP, and frames cut from each TCP direction with FrameLength
// (retransmitted bytes dropped by sequence number).
func sipMessages(t testing.TB, path string) [][]byte {
	t.Helper()
	type stream struct {
		buf  []byte
		next uint32
		init bool
	}
	streams := map[string]*stream{}
	var msgs [][]byte
	for _, p := range readPayloads(t, path) {
		if !p.tcp {
			if LooksLikeSIP(p.data) {
				msgs = append(msgs, p.data)
			}
			continue
		}
		s := streams[p.flow]
		if s == nil {
			s = &stream{}
			streams[p.flow] = s
		}
		seq := p.seq
		if p.syn {
			seq++
		}
		if !s.init {
			s.init, s.next = true, seq
		}
		data := p.data
		if d := int32(s.next - seq); d > 0 {
			// Retransmission, possibly overlapping new bytes.
			if int(d) >= len(data) {
				continue
			}
			data = data[d:]
		} else if d < 0 {
			// A gap: the bytes before it are lost.
			s.buf = s.buf[:0]
		}
		s.buf = append(s.buf, data...)
		s.next = seq + uint32(len(p.data))
		for len(s.buf) > 0 {
			if !bytes.Contains(s.buf, []byte("\n")) {
				break // wait for the whole start line
			}
			if s.buf[0] != '\r' && s.buf[0] != '\n' && !LooksLikeSIP(s.buf) {
				s.buf = s.buf[:0] // not SIP (HTTP, TLS, POP3 ...)
				break
			}
			n, err := FrameLength(s.buf)
			if errors.Is(err, ErrKeepAlive) {
				s.buf = s.buf[n:]
				continue
			}
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if err != nil {
				t.Logf("%s %s: cannot frame: %v", filepath.Base(path), p.flow, err)
				s.buf = s.buf[:0]
				break
			}
			msgs = append(msgs, append([]byte(nil), s.buf[:n]...))
			s.buf = s.buf[n:]
		}
	}
	return msgs
}

// oracle is what tshark found in a capture.
type oracle struct {
	callIDs map[string]int // Call-ID -> messages
	kinds   map[string]int // "REQ INVITE" / "RSP 200 (INVITE)" -> messages
}

func readOracle(t testing.TB, path string) oracle {
	t.Helper()
	f, err := os.Open(path + ".tshark.txt")
	if err != nil {
		t.Fatalf("tshark oracle missing: %v", err)
	}
	defer f.Close()
	o := oracle{callIDs: map[string]int{}, kinds: map[string]int{}}
	countLine := regexp.MustCompile(`^\s+(\d+) (.+)$`)
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			section = line
			continue
		}
		mm := countLine.FindStringSubmatch(line)
		if mm == nil {
			continue
		}
		n, _ := strconv.Atoi(mm[1])
		switch {
		case strings.HasPrefix(section, "## sip_call_ids"):
			o.callIDs[mm[2]] += n
		case strings.HasPrefix(section, "## sip methods"):
			o.kinds[mm[2]] += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return o
}

func kindOf(m *Message) string {
	if m.IsRequest {
		return "REQ " + string(m.Method)
	}
	return fmt.Sprintf("RSP %d (%s)", m.StatusCode, m.CSeqMethod)
}

func sortedCounts(c map[string]int) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "%6d %s\n", c[k], k)
	}
	return sb.String()
}

// TestCapturesAgreeWithTshark decodes every SIP message in the real
// captures and compares Call-ID and method/status counts with tshark's.
func TestCapturesAgreeWithTshark(t *testing.T) {
	tests := []struct {
		file string
		// tsharkWrong replaces tshark's method counts where it is known to
		// be wrong (see MANIFEST.tsv).
		tsharkWrong map[string]int
		// rejected counts messages that look like SIP but Unmarshal refuses.
		rejected int
	}{
		{file: "heplify__rtp_rtcp_sip_ipv4_udp.pcap"},
		{file: "heplify__sip_ipv4_tcp.pcap"},
		{file: "heplify__sip_ipv4_tcp_retrans.pcap"},
		{file: "heplify__sip_ipv6_udp.pcap"},
		{file: "ndpi__sip_hello.pcapng"},
		{file: "sngrep__aaa.pcap"},
		{file: "sngrep__ipip.pcap"},
		// HTTP on port 5060: tshark dissects two frames as SIP; there is none.
		{file: "ndpi__http_on_sip_port.pcap", tsharkWrong: map[string]int{}},
		// A REGISTER without Call-ID, From, To, CSeq or Via: recognised as
		// SIP (tshark agrees, finding no Call-ID) but refused.
		{file: "zeek__sip-junk-before-request.pcap", rejected: 1},
		{file: "sipp__g711a.pcap"},
		{file: "sipp__dtmf_2833_1.pcap"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(capturesDir, tt.file)
			want := readOracle(t, path)
			if tt.tsharkWrong != nil {
				want.kinds = tt.tsharkWrong
			}
			got := oracle{callIDs: map[string]int{}, kinds: map[string]int{}}
			rejected := 0
			var m Message
			for _, b := range sipMessages(t, path) {
				err := m.Unmarshal(b)
				if m.Method != nil || m.StatusCode != 0 {
					got.kinds[kindOf(&m)]++
				}
				if err != nil {
					rejected++
					t.Logf("rejected: %v", err)
					continue
				}
				got.callIDs[string(m.CallID)]++
			}
			if rejected != tt.rejected {
				t.Errorf("%d messages rejected, want %d", rejected, tt.rejected)
			}
			if g, w := sortedCounts(got.callIDs), sortedCounts(want.callIDs); g != w {
				t.Errorf("Call-IDs differ from tshark:\ngot:\n%swant:\n%s", g, w)
			}
			if g, w := sortedCounts(got.kinds), sortedCounts(want.kinds); g != w {
				t.Errorf("methods/status codes differ from tshark:\ngot:\n%swant:\n%s", g, w)
			}
		})
	}
}

// HTTP on the SIP port must not be taken for SIP, neither by the cheap
// classifier nor by the parser with its junk skipping.
func TestHTTPOnTheSIPPortIsNotSIP(t *testing.T) {
	payloads := readPayloads(t, filepath.Join(capturesDir, "ndpi__http_on_sip_port.pcap"))
	http := 0
	for _, p := range payloads {
		if len(p.data) == 0 {
			continue
		}
		if bytes.HasPrefix(p.data, []byte("HTTP/")) || bytes.HasPrefix(p.data, []byte("GET ")) {
			http++
		}
		if LooksLikeSIP(p.data) {
			t.Errorf("LooksLikeSIP(%q) = true", p.data[:min(len(p.data), 40)])
		}
		var m Message
		if err := m.Unmarshal(p.data); !errors.Is(err, ErrNotSIP) {
			t.Errorf("Unmarshal(%q) = %v, want ErrNotSIP", p.data[:min(len(p.data), 40)], err)
		}
	}
	if http == 0 {
		t.Fatal("the capture holds no HTTP payload: wrong fixture?")
	}
}
