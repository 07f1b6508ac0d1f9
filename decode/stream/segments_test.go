package stream

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/sipscope/sipscope/decode"
)

// Test traffic is built as decode.Packet values directly: a connection is a
// client and a server address, and each direction's bytes are cut into
// segments at chosen offsets, then sent in a chosen order.

var (
	clientAddr = netip.MustParseAddrPort("192.0.2.10:50123")
	serverAddr = netip.MustParseAddrPort("198.51.100.1:5060")
)

const (
	tsBase   = int64(1_700_000_000) * 1e9
	clientIS = uint32(1000) // initial sequence numbers
	serverIS = uint32(500000)
)

// crlf turns a readable multi-line literal into wire format.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// sipRequest returns a request with a body of about bodyLen bytes, in
// CRLF-terminated lines as SDP has, and a correct Content-Length.
func sipRequest(method string, cseq int, bodyLen int) string {
	var body string
	for len(body) < bodyLen {
		body += "a=x-filler:" + strings.Repeat("v", min(60, max(bodyLen-len(body)-13, 0))) + "\r\n"
	}
	hdr := crlf(fmt.Sprintf(`%s sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/TCP 192.0.2.10:50123;branch=z9hG4bK-%d
Max-Forwards: 70
From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774
To: <sip:bob@biloxi.example.com>
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: %d %s
Contact: <sip:alice@192.0.2.10:50123;transport=tcp>
Content-Type: application/sdp
Content-Length: %d

`, method, cseq, cseq, method, len(body)))
	return hdr + body
}

// sipResponse returns a response without a body.
func sipResponse(code int, reason string, cseq int) string {
	return crlf(fmt.Sprintf(`SIP/2.0 %d %s
Via: SIP/2.0/TCP 192.0.2.10:50123;branch=z9hG4bK-%d;received=192.0.2.10
From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774
To: <sip:bob@biloxi.example.com>;tag=a6c85cf
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: %d INVITE
Content-Length: 0

`, code, reason, cseq, cseq))
}

// seg describes one segment: direction, offset into that direction's
// stream (relative to the first data byte), length and flags.
type seg struct {
	server bool // sent by the server
	off    int
	n      int
	flags  uint8
	dt     int64 // capture time after the previous segment (0: 1 ms)
}

// conv is a connection's two byte streams and the initial sequence numbers.
type conv struct {
	client, server string
	cISN, sISN     uint32 // sequence number of the first data byte minus one
	cAddr, sAddr   netip.AddrPort
}

func newConv(client, server string) conv {
	return conv{client: client, server: server, cISN: clientIS, sISN: serverIS, cAddr: clientAddr, sAddr: serverAddr}
}

// packets turns segment descriptions into packets, with timestamps 1 ms
// apart unless a segment says otherwise.
func (c conv) packets(segs ...seg) []decode.Packet {
	ts := tsBase
	out := make([]decode.Packet, 0, len(segs))
	for _, s := range segs {
		if s.dt != 0 {
			ts += s.dt
		} else {
			ts += 1e6
		}
		p := decode.Packet{TS: ts, Transport: decode.TransportTCP, TCPFlags: s.flags | 0x10}
		stream, isn := c.client, c.cISN
		p.Src, p.Dst = c.cAddr, c.sAddr
		if s.server {
			stream, isn = c.server, c.sISN
			p.Src, p.Dst = c.sAddr, c.cAddr
		}
		if s.flags&flagSYN != 0 {
			p.TCPSeq = isn
			if s.flags == flagSYN {
				p.TCPFlags = flagSYN // the first SYN has no ACK
			}
		} else {
			p.TCPSeq = isn + 1 + uint32(s.off)
			end := min(s.off+s.n, len(stream))
			p.Payload = []byte(stream[s.off:end])
		}
		out = append(out, p)
	}
	return out
}

// handshake is the SYN, SYN-ACK pair.
func handshake() []seg {
	return []seg{{flags: flagSYN}, {server: true, flags: flagSYN}}
}

// whole cuts a direction's stream into segments of at most n bytes.
func whole(server bool, stream string, n int) []seg {
	var out []seg
	for off := 0; off < len(stream); off += n {
		out = append(out, seg{server: server, off: off, n: min(n, len(stream)-off)})
	}
	return out
}

// wholeFrom cuts a direction's stream from offset start on into segments
// of at most n bytes.
func wholeFrom(server bool, stream string, start, n int) []seg {
	var out []seg
	for off := start; off < len(stream); off += n {
		out = append(out, seg{server: server, off: off, n: min(n, len(stream)-off)})
	}
	return out
}

// at cuts a direction's stream at the given offsets.
func at(server bool, stream string, cuts ...int) []seg {
	var out []seg
	prev := 0
	for _, c := range append(cuts, len(stream)) {
		out = append(out, seg{server: server, off: prev, n: c - prev})
		prev = c
	}
	return out
}

// order returns segs rearranged: order(s, 2, 0, 1) is s[2], s[0], s[1].
func order(segs []seg, idx ...int) []seg {
	out := make([]seg, len(idx))
	for i, j := range idx {
		out[i] = segs[j]
	}
	return out
}

func join(parts ...[]seg) []seg {
	var out []seg
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// got is what one run emitted.
type got struct {
	msgs  []string
	dirs  []string // "c>s" or "s>c"
	ws    []bool
	stats Stats
}

// run feeds packets to a fresh Reassembler with cfg.
func run(cfg Config, pkts []decode.Packet) got {
	r := New(cfg)
	return runOn(r, pkts)
}

func runOn(r *Reassembler, pkts []decode.Packet) got {
	var g got
	emit := func(m Message) {
		g.msgs = append(g.msgs, string(m.Payload))
		dir := "c>s"
		if m.Src == serverAddr {
			dir = "s>c"
		}
		g.dirs = append(g.dirs, dir)
		g.ws = append(g.ws, m.WebSocket)
	}
	for i := range pkts {
		r.Feed(&pkts[i], emit)
	}
	g.stats = r.Stats()
	return g
}
