package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/correlate"
)

const capturesDir = "../testdata/captures"

// decodedPacket is what a reader of the exported file sees in one packet.
type decodedPacket struct {
	ts        time.Time
	src, dst  netip.AddrPort
	transport string // "udp" or "tcp"
	payload   []byte
	seq, ack  uint32
	tcpFlags  string // e.g. "PA"
}

// readPCAP decodes a pcap file as an independent reader would: pcapgo for
// the file, gopacket layers for each packet, refusing anything malformed.
func readPCAP(t *testing.T, data []byte) []decodedPacket {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("pcapgo.NewReader: %v", err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("link type %v, want Ethernet", r.LinkType())
	}
	var out []decodedPacket
	for i := 0; ; i++ {
		raw, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if ci.CaptureLength != ci.Length || ci.CaptureLength != len(raw) {
			t.Fatalf("packet %d: caplen %d, len %d, data %d", i, ci.CaptureLength, ci.Length, len(raw))
		}
		var (
			eth     layers.Ethernet
			ip4     layers.IPv4
			ip6     layers.IPv6
			udp     layers.UDP
			tcp     layers.TCP
			decoded []gopacket.LayerType
		)
		// Decode down to the transport only: whether the payload is valid
		// SIP is the message's business, not the export's.
		parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &ip6, &udp, &tcp)
		parser.IgnoreUnsupported = true
		if err := parser.DecodeLayers(raw, &decoded); err != nil {
			t.Fatalf("packet %d does not decode: %v", i, err)
		}
		d := decodedPacket{ts: ci.Timestamp}
		var srcIP, dstIP netip.Addr
		for _, lt := range decoded {
			switch lt {
			case layers.LayerTypeIPv4:
				srcIP, _ = netip.AddrFromSlice(ip4.SrcIP)
				dstIP, _ = netip.AddrFromSlice(ip4.DstIP)
				if int(ip4.Length) != len(ip4.Contents)+len(ip4.Payload) {
					t.Fatalf("packet %d: IPv4 length %d, carries %d", i, ip4.Length, len(ip4.Contents)+len(ip4.Payload))
				}
			case layers.LayerTypeIPv6:
				srcIP, _ = netip.AddrFromSlice(ip6.SrcIP)
				dstIP, _ = netip.AddrFromSlice(ip6.DstIP)
				if int(ip6.Length) != len(ip6.Payload) {
					t.Fatalf("packet %d: IPv6 payload length %d, carries %d", i, ip6.Length, len(ip6.Payload))
				}
			case layers.LayerTypeUDP:
				d.transport = "udp"
				d.src = netip.AddrPortFrom(srcIP, uint16(udp.SrcPort))
				d.dst = netip.AddrPortFrom(dstIP, uint16(udp.DstPort))
				d.payload = udp.Payload
				if int(udp.Length) != 8+len(udp.Payload) {
					t.Fatalf("packet %d: UDP length %d, payload %d", i, udp.Length, len(udp.Payload))
				}
			case layers.LayerTypeTCP:
				d.transport = "tcp"
				d.src = netip.AddrPortFrom(srcIP, uint16(tcp.SrcPort))
				d.dst = netip.AddrPortFrom(dstIP, uint16(tcp.DstPort))
				d.payload = tcp.Payload
				d.seq, d.ack = tcp.Seq, tcp.Ack
				for _, f := range []struct {
					on bool
					c  string
				}{{tcp.SYN, "S"}, {tcp.FIN, "F"}, {tcp.RST, "R"}, {tcp.PSH, "P"}, {tcp.ACK, "A"}, {tcp.URG, "U"}} {
					if f.on {
						d.tcpFlags += f.c
					}
				}
			}
		}
		if len(decoded) != 3 || !srcIP.IsValid() || d.transport == "" {
			t.Fatalf("packet %d: layers %v, want Ethernet, IP, UDP or TCP", i, decoded)
		}
		// The payload must not alias the reader's buffer.
		d.payload = slices.Clone(d.payload)
		out = append(out, d)
	}
}

// checkExport requires the decoded packets to carry exactly the messages:
// one packet each, same bytes, same instant, same endpoints, and TCP
// sequence numbers that continue per direction and acknowledge the other.
func checkExport(t *testing.T, msgs []correlate.Message, pkts []decodedPacket) {
	t.Helper()
	if len(pkts) != len(msgs) {
		t.Fatalf("%d packets for %d messages", len(pkts), len(msgs))
	}
	type flow struct{ src, dst netip.AddrPort }
	next := map[flow]uint32{}
	for i, m := range msgs {
		p := pkts[i]
		if !p.ts.Equal(m.TS) {
			t.Errorf("packet %d: time %s, want %s", i, p.ts.Format(time.RFC3339Nano), m.TS.Format(time.RFC3339Nano))
		}
		wantSrc := netip.AddrPortFrom(m.Src.Addr().Unmap(), m.Src.Port())
		wantDst := netip.AddrPortFrom(m.Dst.Addr().Unmap(), m.Dst.Port())
		if p.src != wantSrc || p.dst != wantDst {
			t.Errorf("packet %d: %s -> %s, want %s -> %s", i, p.src, p.dst, wantSrc, wantDst)
		}
		if !bytes.Equal(p.payload, m.Raw) {
			t.Errorf("packet %d: payload differs:\n got %q\nwant %q", i, p.payload, m.Raw)
		}
		wantTransport := "udp"
		if strings.EqualFold(m.Transport, "tcp") {
			wantTransport = "tcp"
		}
		if p.transport != wantTransport {
			t.Errorf("packet %d: transport %s, want %s", i, p.transport, wantTransport)
		}
		if p.transport != "tcp" {
			continue
		}
		if p.tcpFlags != "PA" {
			t.Errorf("packet %d: TCP flags %q, want PSH|ACK", i, p.tcpFlags)
		}
		fwd, rev := flow{p.src, p.dst}, flow{p.dst, p.src}
		if s, ok := next[fwd]; ok && p.seq != s {
			t.Errorf("packet %d: seq %d, want %d (previous segment's end)", i, p.seq, s)
		}
		if a, ok := next[rev]; ok && p.ack != a {
			t.Errorf("packet %d: ack %d, want %d (the other direction's next seq)", i, p.ack, a)
		}
		next[fwd] = p.seq + uint32(len(p.payload))
		if _, ok := next[rev]; !ok {
			next[rev] = p.ack
		}
	}
}

func needTshark(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatalf("tshark is required to check the PCAP export (apt-get install tshark): %v", err)
	}
	return path
}

// tshark runs tshark on file and returns its stdout lines.
func tshark(t *testing.T, file string, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, needTshark(t), append([]string{"-n", "-r", file}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
	}
	s := strings.TrimRight(string(out), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// tsharkSIP lists what Wireshark's SIP dissector sees, one line per packet:
// Call-ID, request method, status code.
func tsharkSIP(t *testing.T, file string) []string {
	return tshark(t, file, "-Y", "sip", "-T", "fields",
		"-e", "sip.Call-ID", "-e", "sip.Method", "-e", "sip.Status-Code")
}

// checkTsharkAccepts requires tshark to dissect every message as SIP with
// its Call-ID, method or status, to find every checksum correct and to see
// nothing odd in the TCP sequence space.
func checkTsharkAccepts(t *testing.T, file string, msgs []correlate.Message) {
	t.Helper()
	var want []string
	for _, m := range msgs {
		if m.IsRequest {
			want = append(want, m.CallID+"\t"+m.Method+"\t")
		} else {
			want = append(want, m.CallID+"\t\t"+strconv.Itoa(m.StatusCode))
		}
	}
	if got := tsharkSIP(t, file); !slices.Equal(got, want) {
		t.Errorf("tshark SIP view:\n got %q\nwant %q", got, want)
	}
	checks := []string{"-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"}
	good := tshark(t, file, append(checks, "-Y", "udp.checksum.status == 1 || tcp.checksum.status == 1")...)
	if len(good) != len(msgs) {
		t.Errorf("tshark verified %d transport checksums as good, want %d", len(good), len(msgs))
	}
	bad := tshark(t, file, append(checks, "-Y",
		"ip.checksum.status == 0 || udp.checksum.status == 0 || tcp.checksum.status == 0 || tcp.analysis.flags || _ws.malformed")...)
	if len(bad) != 0 {
		t.Errorf("tshark flags packets:\n%s", strings.Join(bad, "\n"))
	}
}

func testPCAPOverHTTP(t *testing.T, srv *httptest.Server, fs []fixture) {
	for _, f := range fs {
		t.Run(f.call.CallID, func(t *testing.T) {
			status, h, body := get(t, srv, "/api/v1/calls/"+url.PathEscape(f.call.CallID)+"/pcap")
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			if ct := h.Get("Content-Type"); ct != "application/vnd.tcpdump.pcap" {
				t.Errorf("Content-Type %q", ct)
			}
			wantCD := `attachment; filename="` + api.PCAPFilename(f.call.CallID) + `"`
			if cd := h.Get("Content-Disposition"); cd != wantCD {
				t.Errorf("Content-Disposition %q, want %q", cd, wantCD)
			}
			checkExport(t, f.msgs, readPCAP(t, body))
			file := filepath.Join(t.TempDir(), "call.pcap")
			if err := os.WriteFile(file, body, 0o600); err != nil {
				t.Fatal(err)
			}
			checkTsharkAccepts(t, file, f.msgs)
		})
	}
}

// TestWritePCAPKeepsMessagesWithoutStore covers the families and transports
// the fixtures do not: IPv4-mapped IPv6, mixed families, TLS, SCTP, a
// message longer than one TCP segment, and a missing address.
func TestWritePCAPHandlesUnusualRecords(t *testing.T) {
	ts := baseTime
	msg := func(src, dst, transport string, raw []byte) correlate.Message {
		ts = ts.Add(1500 * time.Nanosecond)
		m := correlate.Message{TS: ts, Transport: transport, Raw: raw}
		if src != "" {
			m.Src = netip.MustParseAddrPort(src)
		}
		if dst != "" {
			m.Dst = netip.MustParseAddrPort(dst)
		}
		return m
	}
	big := bytes.Repeat([]byte("x"), 70000)
	tests := []struct {
		name string
		msgs []correlate.Message
		want func(t *testing.T, pkts []decodedPacket)
	}{
		{
			name: "IPv4-mapped IPv6 addresses are written as IPv4",
			msgs: []correlate.Message{msg("[::ffff:192.0.2.1]:5060", "[::ffff:192.0.2.2]:5060", "udp", []byte("OPTIONS sip:a SIP/2.0\r\n\r\n"))},
			want: func(t *testing.T, pkts []decodedPacket) {
				if !pkts[0].src.Addr().Is4() {
					t.Errorf("source %s is not IPv4", pkts[0].src)
				}
			},
		},
		{
			name: "an IPv4 end talking to an IPv6 end is written as IPv6",
			msgs: []correlate.Message{msg("192.0.2.1:5060", "[2001:db8::1]:5060", "udp", []byte("OPTIONS sip:a SIP/2.0\r\n\r\n"))},
			want: func(t *testing.T, pkts []decodedPacket) {
				if pkts[0].src.Addr() != netip.MustParseAddr("::ffff:192.0.2.1") {
					t.Errorf("source %s, want ::ffff:192.0.2.1", pkts[0].src)
				}
			},
		},
		{
			name: "TLS, SCTP and unknown transports become TCP, UDP and UDP",
			msgs: []correlate.Message{
				msg("192.0.2.1:5061", "192.0.2.2:5061", "tls", []byte("A")),
				msg("192.0.2.1:5060", "192.0.2.2:5060", "sctp", []byte("B")),
				msg("192.0.2.1:5060", "192.0.2.2:5060", "", []byte("C")),
			},
			want: func(t *testing.T, pkts []decodedPacket) {
				got := []string{pkts[0].transport, pkts[1].transport, pkts[2].transport}
				if !slices.Equal(got, []string{"tcp", "udp", "udp"}) {
					t.Errorf("transports %q", got)
				}
			},
		},
		{
			name: "a TCP message longer than one segment spans consecutive segments",
			msgs: []correlate.Message{msg("192.0.2.1:5060", "192.0.2.2:5060", "tcp", big)},
			want: func(t *testing.T, pkts []decodedPacket) {
				if len(pkts) != 2 {
					t.Fatalf("%d segments, want 2", len(pkts))
				}
				if pkts[1].seq != pkts[0].seq+uint32(len(pkts[0].payload)) {
					t.Errorf("second segment seq %d does not follow %d+%d", pkts[1].seq, pkts[0].seq, len(pkts[0].payload))
				}
				if got := append(slices.Clone(pkts[0].payload), pkts[1].payload...); !bytes.Equal(got, big) {
					t.Errorf("segments do not reassemble to the message")
				}
			},
		},
		{
			name: "a missing source address becomes the unspecified address",
			msgs: []correlate.Message{msg("", "[2001:db8::1]:5060", "udp", []byte("X"))},
			want: func(t *testing.T, pkts []decodedPacket) {
				if pkts[0].src.Addr() != netip.IPv6Unspecified() {
					t.Errorf("source %s, want [::]:0", pkts[0].src)
				}
			},
		},
		{
			name: "an empty message still gives one packet",
			msgs: []correlate.Message{msg("192.0.2.1:5060", "192.0.2.2:5060", "udp", nil)},
			want: func(t *testing.T, pkts []decodedPacket) {
				if len(pkts[0].payload) != 0 {
					t.Errorf("payload %q", pkts[0].payload)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := api.WritePCAP(&buf, tt.msgs); err != nil {
				t.Fatalf("WritePCAP: %v", err)
			}
			pkts := readPCAP(t, buf.Bytes())
			if len(pkts) == 0 {
				t.Fatal("no packets")
			}
			tt.want(t, pkts)
		})
	}
}

func TestWritePCAPRefusesUDPMessagesNoDatagramCanCarry(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		size   int
		refuse bool
	}{
		{"the largest IPv4 UDP payload is written", "192.0.2.1:5060", 65507, false},
		{"one byte more over IPv4 is refused", "192.0.2.1:5060", 65508, true},
		{"the largest IPv6 UDP payload is written", "[2001:db8::1]:5060", 65527, false},
		{"one byte more over IPv6 is refused", "[2001:db8::1]:5060", 65528, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := netip.MustParseAddrPort(tt.src)
			m := correlate.Message{TS: baseTime, Src: src, Dst: src, Transport: "udp", Raw: make([]byte, tt.size)}
			var buf bytes.Buffer
			err := api.WritePCAP(&buf, []correlate.Message{m})
			if tt.refuse {
				if !errors.Is(err, api.ErrMessageTooLarge) {
					t.Fatalf("err %v, want ErrMessageTooLarge", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkExport(t, []correlate.Message{m}, readPCAP(t, buf.Bytes()))
		})
	}
}

// TestWritePCAPReproducesRealCaptures takes the SIP packets of real
// third-party captures, keeps only what a stored message keeps (time,
// addresses, transport, bytes), exports them and requires tshark to see the
// same SIP in the export as in the original, message for message.
func TestWritePCAPReproducesRealCaptures(t *testing.T) {
	for _, name := range []string{
		"heplify__sip_ipv4_tcp.pcap",
		"heplify__sip_ipv6_udp.pcap",
		"heplify__rtp_rtcp_sip_ipv4_udp.pcap",
		"heplify__sip_ipv4_tcp_retrans.pcap",
		"ndpi__sip_hello.pcapng",
		"sngrep__aaa.pcap",
	} {
		t.Run(name, func(t *testing.T) {
			orig := filepath.Join(capturesDir, name)
			if _, err := os.Stat(orig); err != nil {
				t.Fatalf("capture missing: %v", err)
			}
			oracle := tshark(t, orig, "-Y", "sip", "-T", "fields", "-e", "frame.number",
				"-e", "sip.Call-ID", "-e", "sip.Method", "-e", "sip.Status-Code")
			frames := map[int]bool{}
			var want []string
			for _, line := range oracle {
				num, rest, _ := strings.Cut(line, "\t")
				n, err := strconv.Atoi(num)
				if err != nil {
					t.Fatalf("oracle line %q", line)
				}
				frames[n] = true
				want = append(want, rest)
			}
			if len(want) == 0 {
				t.Fatal("tshark sees no SIP in the original")
			}
			msgs := sipMessagesOf(t, orig, frames)
			var buf bytes.Buffer
			if err := api.WritePCAP(&buf, msgs); err != nil {
				t.Fatalf("WritePCAP: %v", err)
			}
			checkExport(t, msgs, readPCAP(t, buf.Bytes()))
			file := filepath.Join(t.TempDir(), "export.pcap")
			if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := tsharkSIP(t, file); !slices.Equal(got, want) {
				t.Errorf("tshark on the export:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// sipMessagesOf reads the given frames of a capture file and reduces each to
// the fields a stored message keeps.
func sipMessagesOf(t *testing.T, file string, frames map[int]bool) []correlate.Message {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type source interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
		LinkType() layers.LinkType
	}
	var src source
	if strings.HasSuffix(file, ".pcapng") {
		src, err = pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	} else {
		src, err = pcapgo.NewReader(f)
	}
	if err != nil {
		t.Fatal(err)
	}
	var msgs []correlate.Message
	for n := 1; ; n++ {
		data, ci, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("frame %d: %v", n, err)
		}
		if !frames[n] {
			continue
		}
		p := gopacket.NewPacket(data, src.LinkType(), gopacket.Default)
		var sa, da netip.Addr
		switch ip := p.NetworkLayer().(type) {
		case *layers.IPv4:
			sa, _ = netip.AddrFromSlice(ip.SrcIP)
			da, _ = netip.AddrFromSlice(ip.DstIP)
		case *layers.IPv6:
			sa, _ = netip.AddrFromSlice(ip.SrcIP)
			da, _ = netip.AddrFromSlice(ip.DstIP)
		default:
			t.Fatalf("frame %d: no IP layer", n)
		}
		m := correlate.Message{TS: ci.Timestamp}
		switch tl := p.TransportLayer().(type) {
		case *layers.UDP:
			m.Transport = "udp"
			m.Src, m.Dst = netip.AddrPortFrom(sa, uint16(tl.SrcPort)), netip.AddrPortFrom(da, uint16(tl.DstPort))
			m.Raw = tl.Payload
		case *layers.TCP:
			m.Transport = "tcp"
			m.Src, m.Dst = netip.AddrPortFrom(sa, uint16(tl.SrcPort)), netip.AddrPortFrom(da, uint16(tl.DstPort))
			m.Raw = tl.Payload
		default:
			t.Fatalf("frame %d: no UDP or TCP layer", n)
		}
		msgs = append(msgs, m)
	}
	if len(msgs) != len(frames) {
		t.Fatalf("found %d of %d SIP frames", len(msgs), len(frames))
	}
	return msgs
}

// FuzzWritePCAP feeds arbitrary messages: WritePCAP must never panic, and
// whatever it writes must read back as the same messages.
func FuzzWritePCAP(f *testing.F) {
	f.Add([]byte("INVITE sip:bob@example.com SIP/2.0\r\n\r\n"), []byte{192, 0, 2, 1}, []byte{192, 0, 2, 2}, uint16(5060), uint16(5060), "udp", int64(1e18))
	f.Add([]byte("SIP/2.0 200 OK\r\n\r\n"), net6("2001:db8::1"), net6("2001:db8::2"), uint16(49152), uint16(5060), "tcp", int64(-5))
	f.Add([]byte{}, []byte{}, []byte{1, 2, 3}, uint16(0), uint16(0), "TCP", int64(0))
	f.Fuzz(func(t *testing.T, raw, srcIP, dstIP []byte, sport, dport uint16, transport string, ns int64) {
		sa, _ := netip.AddrFromSlice(srcIP)
		da, _ := netip.AddrFromSlice(dstIP)
		m := correlate.Message{
			TS:  time.Unix(0, ns).UTC(),
			Src: netip.AddrPortFrom(sa, sport), Dst: netip.AddrPortFrom(da, dport),
			Transport: transport, Raw: raw,
		}
		if !sa.IsValid() {
			m.Src = netip.AddrPort{}
		}
		if !da.IsValid() {
			m.Dst = netip.AddrPort{}
		}
		var buf bytes.Buffer
		if err := api.WritePCAP(&buf, []correlate.Message{m, m}); err != nil {
			if !errors.Is(err, api.ErrMessageTooLarge) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		pkts := readPCAP(t, buf.Bytes())
		if len(pkts) != 2 {
			t.Fatalf("%d packets for 2 messages", len(pkts))
		}
		for i, p := range pkts {
			if !bytes.Equal(p.payload, raw) {
				t.Fatalf("packet %d payload differs", i)
			}
			// pcap stores unsigned seconds; only times after 1970 survive.
			if ns >= 0 && ns < 1<<32*int64(time.Second) && !p.ts.Equal(m.TS) {
				t.Fatalf("packet %d time %v, want %v", i, p.ts, m.TS)
			}
		}
	})
}

func net6(s string) []byte {
	a := netip.MustParseAddr(s).As16()
	return a[:]
}
