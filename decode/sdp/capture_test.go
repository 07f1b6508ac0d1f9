package sdp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipscope/sipscope/decode/sip"
)

const capturesDir = "../../testdata/captures"

// sdpBodies returns copies of the SDP bodies of the SIP (and MGCP) messages
// in a capture that each fit one UDP datagram or TCP segment (gopacket decodes
// the capture; the project's own capture stage is tested elsewhere).
func sdpBodies(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("capture fixture missing: %v", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	var m sip.Message
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tl := gopacket.NewPacket(data, r.LinkType(), gopacket.Default).TransportLayer()
		if tl == nil {
			continue
		}
		if !sip.LooksLikeSIP(tl.LayerPayload()) {
			// MGCP (RFC 3435) carries SDP too, after an empty line; tshark
			// learns RTP streams from it, so the test reads it as well.
			p := tl.LayerPayload()
			if i := bytes.Index(p, []byte("\n\nv=0")); i >= 0 {
				bodies = append(bodies, append([]byte(nil), p[i+2:]...))
			} else if i := bytes.Index(p, []byte("\r\n\r\nv=0")); i >= 0 {
				bodies = append(bodies, append([]byte(nil), p[i+4:]...))
			}
			continue
		}
		if m.Unmarshal(tl.LayerPayload()) != nil {
			continue
		}
		if sdp := m.SDP(); sdp != nil {
			bodies = append(bodies, append([]byte(nil), sdp...))
		}
	}
	return bodies
}

// tsharkStream is one row of tshark's "rtp,streams" for SDP-learned RTP.
type tsharkStream struct {
	src, dst netip.AddrPort
	payload  string
}

func readSDPLearnedStreams(t *testing.T, path string) []tsharkStream {
	t.Helper()
	b, err := os.ReadFile(path + ".tshark.txt")
	if err != nil {
		t.Fatalf("tshark oracle missing: %v", err)
	}
	text := string(b)
	start := strings.Index(text, "## tshark -q -z rtp,streams (SDP-learned RTP only)")
	if start < 0 {
		t.Fatal("oracle has no SDP-learned RTP section")
	}
	text = text[start:]
	text = text[:strings.Index(text[3:], "## ")+3]
	row := regexp.MustCompile(`(?m)^\s+[\d.]+\s+[\d.]+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+0x[0-9A-F]+\s+(\S+)`)
	var streams []tsharkStream
	for _, mm := range row.FindAllStringSubmatch(text, -1) {
		streams = append(streams, tsharkStream{
			src:     netip.MustParseAddrPort(mm[1] + ":" + mm[2]),
			dst:     netip.MustParseAddrPort(mm[3] + ":" + mm[4]),
			payload: strings.TrimSuffix(mm[5], ","),
		})
	}
	return streams
}

// Every RTP stream tshark learned from SDP must have an end that one of
// our decoded SDP media sections announces, with the stream's codec among
// that section's formats.
func TestSDPInCapturesAnnouncesTsharksRTPStreams(t *testing.T) {
	codec := map[string]string{"g711A": "PCMA", "g711U": "PCMU"}
	for _, file := range []string{"heplify__rtp_rtcp_sip_ipv4_udp.pcap", "heplify__sip_ipv4_tcp.pcap", "sngrep__aaa.pcap"} {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join(capturesDir, file)
			streams := readSDPLearnedStreams(t, path)
			if len(streams) == 0 {
				t.Fatal("the oracle lists no SDP-learned stream")
			}
			announced := map[netip.AddrPort][]string{} // endpoint -> encodings
			for _, body := range sdpBodies(t, path) {
				var s Session
				if err := s.Unmarshal(body); err != nil {
					t.Fatalf("SDP rejected: %v\n%s", err, body)
				}
				for i := range s.NumMedia {
					m := &s.Media[i]
					for j := range m.NumFormats {
						announced[s.RTPAddr(i)] = append(announced[s.RTPAddr(i)], string(m.EncodingName(m.Formats[j])))
					}
				}
			}
			for _, st := range streams {
				want, ok := codec[st.payload]
				if !ok {
					t.Fatalf("test does not know tshark's payload name %q", st.payload)
				}
				found := false
				for _, end := range []netip.AddrPort{st.src, st.dst} {
					for _, enc := range announced[end] {
						found = found || strings.EqualFold(enc, want)
					}
				}
				if !found {
					t.Errorf("stream %v -> %v (%s) is not announced by any decoded SDP; announced: %v", st.src, st.dst, want, announced)
				}
			}
		})
	}
}
