package stream

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
)

var testMaskKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// wsFrame builds one WebSocket frame, masked with testMaskKey if mask.
func wsFrame(fin bool, op Opcode, mask bool, payload string) string {
	b := []byte{byte(op)}
	if fin {
		b[0] |= 0x80
	}
	var m byte
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n <= 0xffff:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	p := []byte(payload)
	if mask {
		b = append(b, testMaskKey[:]...)
		unmask(p, testMaskKey, 0)
	}
	return string(append(b, p...))
}

var (
	wsUpgrade = crlf(`GET /ws HTTP/1.1
Host: sip-ws.example.com
Upgrade: websocket
Connection: Upgrade
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
Origin: http://www.example.com
Sec-WebSocket-Protocol: sip
Sec-WebSocket-Version: 13

`)
	wsSwitch = crlf(`HTTP/1.1 101 Switching Protocols
Upgrade: websocket
Connection: Upgrade
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
Sec-WebSocket-Protocol: sip

`)
	wsInvite = strings.ReplaceAll(invite, "SIP/2.0/TCP", "SIP/2.0/WS")
	wsOK     = strings.ReplaceAll(okInv, "SIP/2.0/TCP", "SIP/2.0/WS")
	wsACK    = strings.ReplaceAll(ack, "SIP/2.0/TCP", "SIP/2.0/WS")
	// A 200 OK with a body long enough for a 16-bit frame length.
	wsOKBody = strings.Replace(strings.Replace(wsOK, "Content-Length: 0", "Content-Length: 200", 1), "\r\n\r\n", "\r\n\r\n"+strings.Repeat("b", 200), 1)
)

// The client (browser) side: the upgrade, then an INVITE in three masked
// fragments with a ping between them, a single-frame ACK, and a close.
var wsClientStream = wsUpgrade +
	wsFrame(false, OpText, true, wsInvite[:100]) +
	wsFrame(true, OpPing, true, "hi") +
	wsFrame(false, OpContinuation, true, wsInvite[100:300]) +
	wsFrame(true, OpContinuation, true, wsInvite[300:]) +
	wsFrame(true, OpText, true, wsACK) +
	wsFrame(true, OpClose, true, "\x03\xe8")

// The server side: 101, a pong, a 200 OK in one unmasked frame with a
// 16-bit length, and a close.
var wsServerStream = wsSwitch +
	wsFrame(true, OpPong, false, "hi") +
	wsFrame(true, OpText, false, wsOKBody) +
	wsFrame(true, OpClose, false, "\x03\xe8")

func TestWebSocket(t *testing.T) {
	allFrames := counts{"WebSocketConns": 1, "WebSocketFrames": 9, "WebSocketCtrl": 4}
	cases := []struct {
		name   string
		conv   conv
		segs   []seg
		want   []string
		counts counts
	}{
		{
			name: "an upgraded connection gives one SIP message per WebSocket message, fragments joined and control frames skipped",
			conv: newConv(wsClientStream, wsServerStream),
			segs: join(handshake(),
				at(false, wsClientStream, len(wsUpgrade))[:1],
				whole(true, wsServerStream, 1460),
				at(false, wsClientStream, len(wsUpgrade))[1:]),
			want:   []string{wsOKBody, wsInvite, wsACK},
			counts: allFrames,
		},
		{
			name:   "frames cut into small segments are reassembled",
			conv:   newConv(wsClientStream, wsServerStream),
			segs:   join(handshake(), whole(false, wsUpgrade, 1000), whole(true, wsServerStream, 7), wholeFrom(false, wsClientStream, len(wsUpgrade), 7)),
			want:   []string{wsOKBody, wsInvite, wsACK},
			counts: allFrames,
		},
		{
			name:   "frames the client sends before the 101 wait for it",
			conv:   newConv(wsClientStream, wsServerStream),
			segs:   join(handshake(), whole(false, wsClientStream, 100), whole(true, wsServerStream, 100)),
			want:   []string{wsInvite, wsACK, wsOKBody},
			counts: allFrames,
		},
		{
			name:   "out-of-order WebSocket segments are put back in order",
			conv:   newConv(wsClientStream, wsServerStream),
			segs:   join(handshake(), at(false, wsClientStream, len(wsUpgrade))[:1], whole(true, wsServerStream, 1460), order(at(false, wsClientStream, len(wsUpgrade), len(wsUpgrade)+50, len(wsUpgrade)+300, len(wsUpgrade)+500), 3, 4, 2, 1)),
			want:   []string{wsOKBody, wsInvite, wsACK},
			counts: counts{"WebSocketConns": 1, "WebSocketFrames": 9, "WebSocketCtrl": 4, "OutOfOrder": 3},
		},
		{
			name:   "an upgrade to another subprotocol is not SIP",
			conv:   newConv(strings.Replace(wsUpgrade, "Protocol: sip", "Protocol: chat", 1)+wsFrame(true, OpText, true, wsInvite), wsSwitch),
			segs:   join(handshake(), whole(false, strings.Replace(wsUpgrade, "Protocol: sip", "Protocol: chat", 1)+wsFrame(true, OpText, true, wsInvite), 1460), whole(true, wsSwitch, 1460)),
			counts: counts{"NotSIPConns": 1},
		},
		{
			name:   "an upgrade the server refuses is not SIP",
			conv:   newConv(wsUpgrade, httpRsp),
			segs:   join(handshake(), whole(false, wsUpgrade, 1460), whole(true, httpRsp, 1460)),
			counts: counts{"NotSIPConns": 1},
		},
		{
			name:   "a capture that starts after the upgrade recognises SIP in WebSocket frames",
			conv:   newConv(wsFrame(true, OpText, true, wsInvite)+wsFrame(true, OpText, true, wsACK), wsFrame(true, OpText, false, wsOK)),
			segs:   join(whole(false, wsFrame(true, OpText, true, wsInvite)+wsFrame(true, OpText, true, wsACK), 1460), whole(true, wsFrame(true, OpText, false, wsOK), 1460)),
			want:   []string{wsInvite, wsACK, wsOK},
			counts: counts{"WebSocketConns": 1, "WebSocketFrames": 3},
		},
		{
			name:   "a capture that starts after the upgrade recognises a masked frame split over segments",
			conv:   newConv(wsFrame(true, OpText, true, sipRequest("MESSAGE", 3, 5000)), ""),
			segs:   whole(false, wsFrame(true, OpText, true, sipRequest("MESSAGE", 3, 5000)), 1000),
			want:   []string{sipRequest("MESSAGE", 3, 5000)},
			counts: counts{"WebSocketConns": 1, "WebSocketFrames": 1},
		},
		{
			name:   "a 64-bit frame length is read",
			conv:   newConv(wsUpgrade+wsFrame(true, OpBinary, true, sipRequest("MESSAGE", 3, 70000)), wsSwitch),
			segs:   join(handshake(), whole(false, wsUpgrade, 1460), whole(true, wsSwitch, 1460), wholeFrom(false, wsUpgrade+wsFrame(true, OpBinary, true, sipRequest("MESSAGE", 3, 70000)), len(wsUpgrade), 1460)),
			want:   []string{sipRequest("MESSAGE", 3, 70000)},
			counts: counts{"WebSocketConns": 1, "WebSocketFrames": 1},
		},
		{
			name:   "a compressed (RSV1) message is counted and skipped, the next one still read",
			conv:   newConv(wsUpgrade+string(append([]byte{0xc1}, wsFrame(true, OpText, true, "xyz")[1:]...))+wsFrame(true, OpText, true, wsACK), wsSwitch),
			segs:   join(handshake(), []seg{{off: 0, n: len(wsUpgrade)}}, whole(true, wsSwitch, 1460), []seg{{off: len(wsUpgrade), n: 1000}}),
			want:   []string{wsACK},
			counts: counts{"WebSocketConns": 1, "WebSocketFrames": 2, "FramingErrors": 1},
		},
		{
			name:   "a WebSocket message that is not SIP is counted",
			conv:   newConv(wsUpgrade+wsFrame(true, OpText, true, "hello there")+wsFrame(true, OpText, true, wsACK), wsSwitch),
			segs:   join(handshake(), []seg{{off: 0, n: len(wsUpgrade)}}, whole(true, wsSwitch, 1460), []seg{{off: len(wsUpgrade), n: 1000}}),
			want:   []string{wsACK},
			counts: counts{"WebSocketConns": 1, "WebSocketFrames": 2, "FramingErrors": 1},
		},
		{
			name:   "a reserved opcode loses frame sync: the direction is given up",
			conv:   newConv(wsUpgrade+"\x83\x80abcd"+wsFrame(true, OpText, true, wsACK), wsSwitch+wsFrame(true, OpText, false, wsOK)),
			segs:   join(handshake(), []seg{{off: 0, n: len(wsUpgrade)}}, whole(true, wsSwitch, 1460), []seg{{off: len(wsUpgrade), n: 1000}}, []seg{{server: true, off: len(wsSwitch), n: 1000}}),
			want:   []string{wsOK},
			counts: counts{"WebSocketConns": 1, "WebSocketFrames": 1, "FramingErrors": 1, "BytesSkipped": uint64(6 + len(wsFrame(true, OpText, true, wsACK)))},
		},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			g := run(Config{}, tt.conv.packets(tt.segs...))
			checkWSMessages(t, g, tt.want)
			checkStats(t, g.stats, tt.counts)
		})
	}
}

func checkWSMessages(t *testing.T, g got, want []string) {
	t.Helper()
	if !slices.Equal(g.msgs, want) {
		t.Errorf("got %d messages, want %d", len(g.msgs), len(want))
		for i := range min(len(g.msgs), len(want)) {
			if g.msgs[i] != want[i] {
				t.Errorf("message %d:\n got %q\nwant %q", i, abbrev(g.msgs[i]), abbrev(want[i]))
			}
		}
	}
	for i, ws := range g.ws {
		if !ws {
			t.Errorf("message %d not flagged WebSocket", i)
		}
	}
}

// An unmasked single-frame message (server to browser) is emitted from the
// packet without a copy; a masked one is unmasked into a reused buffer.
// Neither allocates once warm.
func TestWebSocketSingleFrameMessagesDoNotAllocate(t *testing.T) {
	r := New(Config{})
	c := newConv(wsUpgrade, wsSwitch)
	pkts := c.packets(join(handshake(), whole(false, wsUpgrade, 1460), whole(true, wsSwitch, 1460))...)
	n := 0
	emit := func(Message) { n++ }
	for i := range pkts {
		r.Feed(&pkts[i], emit)
	}
	cli := pkts[2]
	cli.TCPSeq += uint32(len(wsUpgrade))
	cli.Payload = []byte(wsFrame(true, OpText, true, wsInvite))
	srv := pkts[3]
	srv.TCPSeq += uint32(len(wsSwitch))
	srv.Payload = []byte(wsFrame(true, OpText, false, wsOK))
	allocs := testing.AllocsPerRun(500, func() {
		r.Feed(&cli, emit)
		r.Feed(&srv, emit)
		cli.TCPSeq += uint32(len(cli.Payload))
		srv.TCPSeq += uint32(len(srv.Payload))
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per message pair", allocs)
	}
	if n != 2*501 {
		t.Errorf("emitted %d, want %d", n, 2*501)
	}
}

func TestParseFrame(t *testing.T) {
	long := strings.Repeat("x", 300)
	huge := strings.Repeat("y", 70000)
	cases := []struct {
		name    string
		in      string
		wantN   int
		wantErr error
		check   func(t *testing.T, f Frame)
	}{
		{"an unmasked text frame with a 7-bit length", wsFrame(true, OpText, false, "hello"), 7, nil, func(t *testing.T, f Frame) {
			if !f.Fin || f.Opcode != OpText || f.Masked || string(f.Payload) != "hello" {
				t.Errorf("%+v", f)
			}
		}},
		{"a masked frame keeps its key and masked payload", wsFrame(true, OpBinary, true, "hello"), 11, nil, func(t *testing.T, f Frame) {
			if !f.Masked || f.MaskKey != testMaskKey || string(f.Payload) == "hello" || string(f.AppendPayload(nil)) != "hello" {
				t.Errorf("%+v", f)
			}
		}},
		{"a 16-bit length", wsFrame(false, OpText, true, long), 8 + 300, nil, func(t *testing.T, f Frame) {
			if f.Fin || string(f.AppendPayload([]byte("pre"))) != "pre"+long {
				t.Errorf("fin=%v", f.Fin)
			}
		}},
		{"a 64-bit length", wsFrame(true, OpContinuation, false, huge), 10 + 70000, nil, func(t *testing.T, f Frame) {
			if f.Opcode != OpContinuation || len(f.Payload) != 70000 {
				t.Errorf("%+v", f.Opcode)
			}
		}},
		{"a ping", wsFrame(true, OpPing, true, "p"), 7, nil, func(t *testing.T, f Frame) {
			if !f.Opcode.IsControl() {
				t.Error("ping not control")
			}
		}},
		{"RSV bits are reported, not refused", "\xc1\x01x", 3, nil, func(t *testing.T, f Frame) {
			if f.RSV != 4 {
				t.Errorf("RSV = %d", f.RSV)
			}
		}},
		{"an empty buffer is incomplete", "", 0, ErrIncomplete, nil},
		{"a cut 16-bit length is incomplete", "\x81\x7e\x01", 0, ErrIncomplete, nil},
		{"a cut 64-bit length is incomplete", "\x81\x7f\x00\x00", 0, ErrIncomplete, nil},
		{"a cut mask key is incomplete", "\x81\x85\x37\xfa", 0, ErrIncomplete, nil},
		{"a cut payload is incomplete with the total length known", wsFrame(true, OpText, false, long)[:100], 4 + 300, ErrIncomplete, nil},
		{"a reserved data opcode is refused", "\x83\x00", 0, ErrBadFrame, nil},
		{"a reserved control opcode is refused", "\x8b\x00", 0, ErrBadFrame, nil},
		{"a fragmented control frame is refused", "\x09\x00", 0, ErrBadFrame, nil},
		{"a control frame over 125 bytes is refused", "\x89\x7e\x00\x7e" + strings.Repeat("p", 126), 0, ErrBadFrame, nil},
		{"a 64-bit length with the top bit set is refused", "\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01", 0, ErrBadFrame, nil},
		{"a length over MaxFramePayload is refused", "\x82\x7f\x00\x00\x00\x00\x7f\x00\x00\x00", 0, ErrFrameTooLarge, nil},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			f, n, err := ParseFrame([]byte(tt.in))
			if err != tt.wantErr {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if n != tt.wantN {
				t.Errorf("n = %d, want %d", n, tt.wantN)
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
	frame := []byte(wsFrame(true, OpText, true, wsInvite))
	if a := testing.AllocsPerRun(100, func() { _, _, _ = ParseFrame(frame) }); a != 0 {
		t.Errorf("ParseFrame: %.1f allocations", a)
	}
}

func TestLooksLikeTLS(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want bool
	}{
		{"a TLS 1.0 ClientHello record", "\x16\x03\x01\x02\x00\x01", true},
		{"a TLS 1.2 application data record", "\x17\x03\x03\x00\x1f", true},
		{"a TLS 1.3 alert record", "\x15\x03\x04\x00\x02", true},
		{"a change cipher spec record", "\x14\x03\x03\x00\x01", true},
		{"SSL 3.0 is not matched", "\x16\x03\x00\x00\x10", false},
		{"an unknown content type", "\x18\x03\x03\x00\x10", false},
		{"a zero-length record", "\x17\x03\x03\x00\x00", false},
		{"a record longer than TLS allows", "\x17\x03\x03\x48\x01", false},
		{"a header cut short", "\x16\x03\x01\x02", false},
		{"a SIP request", invite, false},
		{"an HTTP request", httpReq, false},
	}
	for _, tt := range cases {
		if got := LooksLikeTLS([]byte(tt.in)); got != tt.want {
			t.Errorf("%s: LooksLikeTLS = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestUnmaskMatchesTheDefinition(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for n := range 40 {
		for pos := range 4 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i * 7)
			}
			unmask(b, key, pos)
			for i := range b {
				if b[i] != byte(i*7)^key[(pos+i)%4] {
					t.Fatalf("n=%d pos=%d byte %d: %#x", n, pos, i, b[i])
				}
			}
		}
	}
}
