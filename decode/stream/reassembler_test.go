package stream

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
)

// counts names the Stats counters a case expects to be non-zero; every
// other counter (but Segments and Messages, checked through the messages)
// must be zero.
type counts map[string]uint64

func checkStats(t *testing.T, s Stats, want counts) {
	t.Helper()
	v := reflect.ValueOf(s)
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Type.Kind() != reflect.Uint64 || f.Name == "Segments" || f.Name == "Messages" {
			continue
		}
		if got := v.Field(i).Uint(); got != want[f.Name] {
			t.Errorf("Stats.%s = %d, want %d", f.Name, got, want[f.Name])
		}
	}
	for name := range want {
		if f, ok := v.Type().FieldByName(name); !ok || f.Type.Kind() != reflect.Uint64 {
			t.Errorf("no counter %q in Stats", name)
		}
	}
}

func checkMessages(t *testing.T, g got, want []string, wantDirs []string) {
	t.Helper()
	if !slices.Equal(g.msgs, want) {
		t.Errorf("got %d messages, want %d", len(g.msgs), len(want))
		for i := range max(len(g.msgs), len(want)) {
			var a, b string
			if i < len(g.msgs) {
				a = g.msgs[i]
			}
			if i < len(want) {
				b = want[i]
			}
			if a != b {
				t.Errorf("message %d:\n got %q\nwant %q", i, abbrev(a), abbrev(b))
			}
		}
	}
	if wantDirs != nil && !slices.Equal(g.dirs, wantDirs) {
		t.Errorf("directions %v, want %v", g.dirs, wantDirs)
	}
	if g.stats.Messages != uint64(len(g.msgs)) {
		t.Errorf("Stats.Messages = %d, emitted %d", g.stats.Messages, len(g.msgs))
	}
	for i, m := range g.msgs {
		if n, err := sip.FrameLength([]byte(m)); err != nil || n != len(m) {
			t.Errorf("message %d does not frame as one whole message: n=%d err=%v", i, n, err)
		}
	}
}

func abbrev(s string) string {
	if len(s) > 60 {
		return s[:40] + "..." + s[len(s)-15:]
	}
	return s
}

var (
	invite  = sipRequest("INVITE", 1, 300)
	ack     = sipRequest("ACK", 1, 0)
	bye     = sipRequest("BYE", 2, 0)
	trying  = sipResponse(100, "Trying", 1)
	okInv   = sipResponse(200, "OK", 1)
	httpReq = crlf("GET /star-123456/index.m3u8?token=89b198b8 HTTP/1.1\nUser-Agent: exoplayer-codelab\nHost: 45.58.148.2\n\n")
	httpRsp = crlf("HTTP/1.1 403 Forbidden\nConnection: keep-alive\nContent-Length: 5\n\nhello")
)

func TestReassembler(t *testing.T) {
	invAck := invite + ack
	cases := []struct {
		name    string
		conv    conv
		segs    []seg
		cfg     Config
		want    []string
		dirs    []string
		counts  counts
		inspect func(t *testing.T, g got)
	}{
		{
			name: "messages in order, one per segment, come out whole and in order in both directions",
			conv: newConv(invite+ack, trying+okInv),
			segs: join(handshake(), at(false, invite+ack, len(invite))[:1], at(true, trying+okInv, len(trying)), at(false, invite+ack, len(invite))[1:]),
			want: []string{invite, trying, okInv, ack},
			dirs: []string{"c>s", "s>c", "s>c", "c>s"},
		},
		{
			name: "a segment carrying three messages gives three",
			conv: newConv(invite+ack+bye, ""),
			segs: join(handshake(), whole(false, invite+ack+bye, 1460)),
			want: []string{invite, ack, bye},
		},
		{
			name: "a message over five segments comes out whole when the last arrives",
			conv: newConv(invite, ""),
			segs: join(handshake(), at(false, invite, 100, 200, 300, 400)),
			want: []string{invite},
		},
		{
			name: "a message split byte by byte comes out whole",
			conv: newConv(invite+ack, ""),
			segs: join(handshake(), whole(false, invite+ack, 1)),
			want: []string{invite, ack},
		},
		{
			name:   "out-of-order segments are put back in order",
			conv:   newConv(invAck, ""),
			segs:   join(handshake(), order(at(false, invAck, 150, 400, len(invite)+20), 2, 1, 0, 3)),
			want:   []string{invite, ack},
			counts: counts{"OutOfOrder": 2},
		},
		{
			name:   "a retransmitted segment is dropped and counted",
			conv:   newConv(invAck, ""),
			segs:   join(handshake(), order(at(false, invAck, len(invite)), 0, 0, 1)),
			want:   []string{invite, ack},
			counts: counts{"Retransmissions": 1},
		},
		{
			name:   "a repeat of a held out-of-order segment is dropped",
			conv:   newConv(invAck, ""),
			segs:   join(handshake(), order(at(false, invAck, len(invite)), 1, 1, 0)),
			want:   []string{invite, ack},
			counts: counts{"Retransmissions": 1, "OutOfOrder": 1},
		},
		{
			name:   "a repacketized retransmission overlapping new bytes adds only the new bytes",
			conv:   newConv(invAck, ""),
			segs:   join(handshake(), []seg{{off: 0, n: 200}, {off: 100, n: len(invAck) - 100}}),
			want:   []string{invite, ack},
			counts: counts{"Retransmissions": 1},
		},
		{
			name:   "an out-of-order segment overlapping one held is trimmed on delivery",
			conv:   newConv(invAck, ""),
			segs:   join(handshake(), []seg{{off: 300, n: len(invAck) - 300}, {off: 200, n: 200}, {off: 0, n: 250}}),
			want:   []string{invite, ack},
			counts: counts{"OutOfOrder": 2},
		},
		{
			name:   "CRLF keep-alives before, between and after messages are dropped",
			conv:   newConv("\r\n\r\n"+invite+"\r\n\r\n"+ack, "\r\n"),
			segs:   join(handshake(), at(false, "\r\n\r\n"+invite+"\r\n\r\n"+ack, 4, 4+len(invite), 8+len(invite)), whole(true, "\r\n", 10)),
			want:   []string{invite, ack},
			counts: counts{"KeepAlives": 3},
		},
		{
			name:   "a capture that starts mid-message skips to the next start line",
			conv:   newConv(invAck, ""),
			segs:   []seg{{off: 50, n: len(invite) - 50}, {off: len(invite), n: len(ack)}},
			want:   []string{ack},
			counts: counts{"BytesSkipped": uint64(len(invite) - 50)},
		},
		{
			name:   "a capture that starts mid-message finds the next message inside the same segment",
			conv:   newConv(invAck, ""),
			segs:   []seg{{off: 50, n: len(invAck) - 50}},
			want:   []string{ack},
			counts: counts{"BytesSkipped": uint64(len(invite) - 50)},
		},
		{
			name: "a capture that starts at a message boundary needs no SYN",
			conv: newConv(invAck, okInv),
			segs: join(at(false, invAck, len(invite)), whole(true, okInv, 1000)),
			want: []string{invite, ack, okInv},
		},
		{
			name:   "HTTP on port 5060 marks the connection not SIP, even if SIP follows",
			conv:   newConv(httpReq+invite, httpRsp),
			segs:   join(handshake(), at(false, httpReq+invite, len(httpReq)), whole(true, httpRsp, 1000)),
			counts: counts{"NotSIPConns": 1},
		},
		{
			name:   "HTTP seen mid-stream marks the connection not SIP",
			conv:   newConv(httpReq, httpRsp),
			segs:   join(whole(true, httpRsp, 1000), whole(false, httpReq, 1000)),
			counts: counts{"NotSIPConns": 1},
		},
		{
			name:   "TLS records mark the connection not SIP and are counted as TLS",
			conv:   newConv("\x16\x03\x01\x00\x05hello"+invite, ""),
			segs:   join(at(false, "\x16\x03\x01\x00\x05hello"+invite, 10)),
			counts: counts{"NotSIPConns": 1, "TLSConns": 1},
		},
		{
			name:   "binary data after a SYN marks the connection not SIP",
			conv:   newConv("\x00\x01\x02\x03binary\r\n"+invite, ""),
			segs:   join(handshake(), at(false, "\x00\x01\x02\x03binary\r\n"+invite, 12)),
			counts: counts{"NotSIPConns": 1},
		},
		{
			name:   "binary data mid-stream is hunted through and SIP after it is found",
			conv:   newConv("\x00\x01\x02\x03binary\r\n"+invite, ""),
			segs:   at(false, "\x00\x01\x02\x03binary\r\n"+invite, 12),
			want:   []string{invite},
			counts: counts{"BytesSkipped": 12},
		},
		{
			name:   "binary data mid-stream is given up after the hunting limit",
			conv:   newConv(strings.Repeat("\x00\x01\x02\n", maxHuntBytes/4+1000)+invite, ""),
			segs:   whole(false, strings.Repeat("\x00\x01\x02\n", maxHuntBytes/4+1000)+invite, 1400),
			counts: counts{"NotSIPConns": 1, "BytesSkipped": maxHuntBytes + 1400 - maxHuntBytes%1400},
		},
		{
			name:   "a FIN closes the direction and drops the unfinished message",
			conv:   newConv(invAck, ""),
			segs:   join(handshake(), []seg{{off: 0, n: len(invite)}, {off: len(invite), n: 100, flags: flagFIN}, {off: len(invite) + 100, n: len(ack) - 100}}),
			want:   []string{invite},
			counts: counts{"BytesSkipped": 100},
		},
		{
			name: "a FIN that overtakes the last data waits for it",
			conv: newConv(invAck, ""),
			segs: join(handshake(), []seg{{off: 0, n: len(invite)}, {off: len(invAck), n: 0, flags: flagFIN}, {off: len(invite), n: len(ack)}}),
			want: []string{invite, ack},
		},
		{
			name: "a FIN closes one direction only",
			conv: newConv(invite, okInv),
			segs: join(handshake(), []seg{{off: 0, n: len(invite), flags: flagFIN}, {server: true, off: 0, n: len(okInv)}}),
			want: []string{invite, okInv},
		},
		{
			name:   "an RST closes both directions",
			conv:   newConv(invAck, okInv),
			segs:   join(handshake(), []seg{{off: 0, n: 100}, {server: true, off: 0, n: 0, flags: flagRST}, {off: 100, n: len(invAck) - 100}, {server: true, off: 0, n: len(okInv)}}),
			counts: counts{"BytesSkipped": 100},
		},
		{
			name:   "sequence numbers wrap past 2^32",
			conv:   conv{client: invAck, cISN: 0xffffff00, cAddr: clientAddr, sAddr: serverAddr},
			segs:   join(handshake()[:1], order(at(false, invAck, 100, 200, 300, 500), 0, 2, 1, 3, 4)),
			want:   []string{invite, ack},
			counts: counts{"OutOfOrder": 1},
		},
		{
			name: "a gap that never fills is given up after GapTimeout and the stream resyncs",
			conv: newConv(invite+ack+bye, trying),
			segs: join(handshake(), []seg{
				{off: 0, n: len(invite)},
				{off: len(invite) + len(ack), n: len(bye)}, // the ACK was never captured
				{server: true, off: 0, n: len(trying), dt: int64(3 * time.Second)},
			}),
			want:   []string{invite, bye, trying},
			counts: counts{"OutOfOrder": 1, "GapsSkipped": 1, "GapBytes": uint64(len(ack))},
		},
		{
			name: "a gap shorter than GapTimeout is waited for",
			conv: newConv(invite+ack+bye, trying),
			segs: join(handshake(), []seg{
				{off: 0, n: len(invite)},
				{off: len(invite) + len(ack), n: len(bye)},
				{server: true, off: 0, n: len(trying), dt: int64(time.Second)},
				{off: len(invite), n: len(ack)},
			}),
			want:   []string{invite, trying, ack, bye},
			counts: counts{"OutOfOrder": 1},
		},
		{
			name:   "a gap is given up when held bytes would pass MaxBufferPerConn",
			cfg:    Config{MaxBufferPerConn: 3*len(okInv) + 10},
			conv:   newConv(strings.Repeat(okInv, 7), ""),
			segs:   join(handshake(), order(at(false, strings.Repeat(okInv, 7), len(okInv), 2*len(okInv), 3*len(okInv), 4*len(okInv), 5*len(okInv), 6*len(okInv)), 0, 2, 3, 4, 5, 6)),
			want:   slices.Repeat([]string{okInv}, 6),
			counts: counts{"OutOfOrder": 3, "BufferOverflows": 1, "GapsSkipped": 1, "GapBytes": uint64(len(okInv))},
		},
		{
			name:   "a message larger than MaxBufferPerConn is dropped and the next one found",
			cfg:    Config{MaxBufferPerConn: 1024},
			conv:   newConv(sipRequest("INVITE", 1, 2000)+ack, ""),
			segs:   join(handshake(), whole(false, sipRequest("INVITE", 1, 2000)+ack, 500)),
			want:   []string{ack},
			counts: counts{"BufferOverflows": 1, "BytesSkipped": uint64(len(sipRequest("INVITE", 1, 2000)))},
		},
		{
			name:   "a bad Content-Length cannot be framed: counted, and the next message is found",
			conv:   newConv(strings.Replace(invite, "Content-Length: ", "Content-Length: x", 1)+ack, ""),
			segs:   join(handshake(), whole(false, strings.Replace(invite, "Content-Length: ", "Content-Length: x", 1)+ack, 1460)),
			want:   []string{ack},
			counts: counts{"FramingErrors": 1, "BytesSkipped": uint64(len(invite) + 1)},
		},
		{
			name:   "junk between messages is skipped",
			conv:   newConv(invite+"garbage here\r\n"+ack, ""),
			segs:   join(handshake(), whole(false, invite+"garbage here\r\n"+ack, 1460)),
			want:   []string{invite, ack},
			counts: counts{"BytesSkipped": uint64(len("garbage here\r\n"))},
		},
		{
			name: "a large message with a 64 KiB body spans many segments",
			conv: newConv(sipRequest("MESSAGE", 5, 64<<10)+ack, ""),
			segs: join(handshake(), whole(false, sipRequest("MESSAGE", 5, 64<<10)+ack, 1448)),
			want: []string{sipRequest("MESSAGE", 5, 64<<10), ack},
		},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			g := run(tt.cfg, tt.conv.packets(tt.segs...))
			checkMessages(t, g, tt.want, tt.dirs)
			checkStats(t, g.stats, tt.counts)
			if tt.inspect != nil {
				tt.inspect(t, g)
			}
		})
	}
}

// The Decoder's view of a SYN has no payload; the Reassembler must also
// take the payload of a SYN (TCP Fast Open) as the stream's first bytes.
func TestDataInASYNIsTheStreamStart(t *testing.T) {
	c := newConv(invite, "")
	p := c.packets(seg{flags: flagSYN})
	p[0].Payload = []byte(invite)
	g := run(Config{}, p)
	checkMessages(t, g, []string{invite}, nil)
}

// A SYN after an RST or FIN on the same addresses starts a new connection
// whose messages come out again.
func TestANewSYNReopensAClosedConnection(t *testing.T) {
	first := newConv(invite, "")
	second := newConv(bye, "")
	second.cISN = 987654
	pkts := first.packets(join(handshake(), []seg{{off: 0, n: len(invite)}, {off: len(invite), n: 0, flags: flagRST}})...)
	pkts = append(pkts, second.packets(join(handshake(), whole(false, bye, 1000))...)...)
	g := run(Config{}, pkts)
	checkMessages(t, g, []string{invite, bye}, nil)
}

func TestTheLeastRecentlyUsedConnectionIsEvicted(t *testing.T) {
	convs := make([]conv, 3)
	for i := range convs {
		convs[i] = newConv(invAckOf(i), "")
		convs[i].cAddr = netip.AddrPortFrom(clientAddr.Addr(), uint16(40000+i))
	}
	half := len(invite) / 2
	var pkts []decode.Packet
	add := func(i int, s seg) { pkts = append(pkts, convs[i].packets(s)...) }
	add(0, seg{off: 0, n: half})                                 // conn 0 holds half a message
	add(1, seg{off: 0, n: len(convs[1].client)})                 // conn 1 whole
	add(2, seg{off: 0, n: len(convs[2].client)})                 // conn 2 evicts conn 0, the least recently used
	add(0, seg{off: half, n: len(convs[0].client) - half})       // comes back as a new, mid-stream connection: evicts conn 1
	add(2, seg{off: len(convs[2].client), n: 0, flags: flagFIN}) // conn 2 still tracked
	g := run(Config{MaxConns: 2}, pkts)
	// Conn 0's INVITE was lost with its first half; hunting finds its ACK.
	checkMessages(t, g, []string{invite, ack, invite, ack, ack}, nil)
	if g.stats.Evicted != 2 || g.stats.Conns != 2 {
		t.Errorf("Evicted = %d, Conns = %d, want 2 and 2", g.stats.Evicted, g.stats.Conns)
	}
}

func invAckOf(int) string { return invite + ack }

func TestExpireDropsIdleConnectionsWithWhatTheyHeld(t *testing.T) {
	r := New(Config{IdleTimeout: time.Minute})
	c := newConv(invite, "")
	pkts := c.packets(join(handshake(), []seg{{off: 0, n: 100}})...)
	g := runOn(r, pkts)
	if g.stats.HeldBytes == 0 || g.stats.Conns != 1 {
		t.Fatalf("before Expire: %+v", g.stats)
	}
	last := pkts[len(pkts)-1].TS
	r.Expire(last + int64(59*time.Second))
	if s := r.Stats(); s.Conns != 1 || s.Expired != 0 {
		t.Fatalf("expired too early: %+v", s)
	}
	r.Expire(last + int64(61*time.Second))
	s := r.Stats()
	if s.Conns != 0 || s.Expired != 1 || s.HeldBytes != 0 || s.BytesSkipped != 100 {
		t.Fatalf("after Expire: Conns=%d Expired=%d HeldBytes=%d BytesSkipped=%d", s.Conns, s.Expired, s.HeldBytes, s.BytesSkipped)
	}
}

func TestMaxTotalBytesBoundsAllConnectionsTogether(t *testing.T) {
	big := sipRequest("INVITE", 1, 3000)
	r := New(Config{MaxBufferPerConn: 4096, MaxTotalBytes: 5000})
	var emitted int
	for i := range 3 {
		c := newConv(big, "")
		c.cAddr = netip.AddrPortFrom(clientAddr.Addr(), uint16(40000+i))
		for _, p := range c.packets(seg{off: 0, n: 2000}) {
			r.Feed(&p, func(Message) { emitted++ })
		}
		if s := r.Stats(); s.HeldBytes > 5000 {
			t.Fatalf("HeldBytes %d over MaxTotalBytes", s.HeldBytes)
		}
	}
	s := r.Stats()
	if s.BufferOverflows != 1 || s.HeldBytes != 4000 || emitted != 0 {
		t.Errorf("BufferOverflows=%d HeldBytes=%d emitted=%d, want 1, 4000, 0", s.BufferOverflows, s.HeldBytes, emitted)
	}
}

func TestFlushGivesUpOpenGaps(t *testing.T) {
	r := New(Config{})
	c := newConv(invite+ack+bye, "")
	g := runOn(r, c.packets(join(handshake(), []seg{{off: 0, n: len(invite)}, {off: len(invite) + len(ack), n: len(bye)}})...))
	checkMessages(t, g, []string{invite}, nil)
	var flushed []string
	r.Flush(func(m Message) { flushed = append(flushed, string(m.Payload)) })
	if !slices.Equal(flushed, []string{bye}) {
		t.Errorf("Flush emitted %d messages, want the BYE", len(flushed))
	}
	if s := r.Stats(); s.GapsSkipped != 1 || s.HeldBytes != 0 {
		t.Errorf("GapsSkipped=%d HeldBytes=%d", s.GapsSkipped, s.HeldBytes)
	}
}

func TestNonTCPPacketsAreIgnored(t *testing.T) {
	r := New(Config{})
	p := decode.Packet{Transport: decode.TransportUDP, Src: clientAddr, Dst: serverAddr, Payload: []byte(invite)}
	r.Feed(&p, func(Message) { t.Error("emitted a UDP datagram") })
	if s := r.Stats(); s.Segments != 0 || s.Conns != 0 {
		t.Errorf("%+v", s)
	}
}

func TestConfigValidateNamesTheBadField(t *testing.T) {
	cases := []struct {
		cfg   Config
		field string
	}{
		{Config{MaxConns: -1}, "MaxConns"},
		{Config{MaxBufferPerConn: -1}, "MaxBufferPerConn"},
		{Config{MaxTotalBytes: -1}, "MaxTotalBytes"},
		{Config{IdleTimeout: -1}, "IdleTimeout"},
		{Config{GapTimeout: -1}, "GapTimeout"},
		{Config{MaxBufferPerConn: 1 << 20, MaxTotalBytes: 1 << 19}, "MaxTotalBytes"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("Validate(%+v) = %v, want ErrBadConfig naming %s", c.cfg, err, c.field)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("the zero Config (all defaults) is refused: %v", err)
	}
	d := Config{}.withDefaults()
	if d.MaxBufferPerConn != 64<<10+sip.MaxHeaderBytes+sip.MaxBodyBytes || d.IdleTimeout != 5*time.Minute {
		t.Errorf("defaults: %+v", d)
	}
}

// The common case, a SIP message that arrives whole in one in-order
// segment, is emitted straight from the packet: no copy, no allocation.
func TestInOrderSingleSegmentMessagesDoNotAllocate(t *testing.T) {
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			r := New(Config{})
			c := newConv(invite, okInv)
			pkts := c.packets(join(handshake(), whole(false, invite, 2000), whole(true, okInv, 2000))...)
			n := 0
			emit := func(m Message) { n++ }
			for i := range pkts {
				r.Feed(&pkts[i], emit)
			}
			inv, ok := pkts[2], pkts[3]
			inv2 := inv
			if split {
				inv.Payload, inv2.Payload = inv.Payload[:400], inv.Payload[400:]
				inv2.TCPSeq = inv.TCPSeq + 400
			}
			allocs := testing.AllocsPerRun(1000, func() {
				inv.TCPSeq += uint32(len(invite))
				inv2.TCPSeq += uint32(len(invite))
				ok.TCPSeq += uint32(len(okInv))
				r.Feed(&inv, emit)
				if split {
					r.Feed(&inv2, emit)
				}
				r.Feed(&ok, emit)
			})
			if allocs != 0 {
				t.Errorf("%.2f allocations per message pair", allocs)
			}
			if want := 2 + 2*1001; n != want {
				t.Errorf("emitted %d messages, want %d", n, want)
			}
			if s := r.Stats(); s.BytesSkipped != 0 || s.Retransmissions != 0 {
				t.Errorf("%+v", s)
			}
		})
	}
}

// A message emitted from a whole segment points into the packet itself.
func TestSingleSegmentMessagesAreNotCopied(t *testing.T) {
	c := newConv(invite, "")
	pkts := c.packets(join(handshake(), whole(false, invite, 2000))...)
	r := New(Config{})
	for i := range pkts {
		r.Feed(&pkts[i], func(m Message) {
			if &m.Payload[0] != &pkts[i].Payload[0] {
				t.Error("the message was copied")
			}
		})
	}
	if r.Stats().Messages != 1 {
		t.Fatal("no message")
	}
}

// A message is stamped with the capture time of its latest bytes: the
// segment that completed it, or the held segment it lay in whole.
func TestMessagesCarryTheCaptureTimeOfTheirLastBytes(t *testing.T) {
	c := newConv(invite+ack, "")
	pkts := c.packets(join(handshake(), []seg{
		{off: 0, n: 300},
		{off: len(invite), n: len(ack)},  // the ACK, held
		{off: 300, n: len(invite) - 300}, // completes the INVITE, then frees the ACK
	})...)
	r := New(Config{})
	var ts []int64
	for i := range pkts {
		r.Feed(&pkts[i], func(m Message) { ts = append(ts, m.TS) })
	}
	if want := []int64{pkts[4].TS, pkts[3].TS}; !slices.Equal(ts, want) {
		t.Errorf("TS %v, want %v", ts, want)
	}
}

// Whatever the segmentation, reordering (within the held-segment bound),
// duplication and overlap, a stream whose bytes all arrive gives back
// exactly its messages, in order, in both directions, with nothing skipped.
func TestAnyDeliveryOfEveryByteGivesTheMessagesBack(t *testing.T) {
	client := "\r\n\r\n" + invite + ack + sipRequest("INFO", 3, 2000) + "\r\n" + bye
	server := trying + okInv + sipResponse(200, "OK", 3) + sipResponse(200, "OK", 2)
	wantC := []string{invite, ack, sipRequest("INFO", 3, 2000), bye}
	wantS := []string{trying, okInv, sipResponse(200, "OK", 3), sipResponse(200, "OK", 2)}
	rng := rand.New(rand.NewPCG(1, 2))
	var tot Stats
	defer func() { t.Logf("%+v", tot) }()
	for iter := range 300 {
		c := newConv(client, server)
		c.cISN = rng.Uint32() // wrap-around happens now and then
		c.sISN = rng.Uint32()
		var sides [2][]seg
		for k, side := range []struct {
			server bool
			stream string
		}{{false, client}, {true, server}} {
			var ss []seg
			for off := 0; off < len(side.stream); {
				n := 1 + rng.IntN(1500)
				n = min(n, len(side.stream)-off)
				ss = append(ss, seg{server: side.server, off: off, n: n})
				// Sometimes a repacketized retransmission overlapping the next bytes.
				if rng.IntN(8) == 0 {
					back := rng.IntN(off + 1)
					ss = append(ss, seg{server: side.server, off: off - back, n: min(back+n+rng.IntN(200), len(side.stream)-(off-back))})
				}
				off += n
			}
			// Reorder locally: swap neighbours within a small window.
			for i := range ss {
				if j := i + rng.IntN(4); j < len(ss) && rng.IntN(3) == 0 {
					ss[i], ss[j] = ss[j], ss[i]
				}
			}
			// Duplicate a few.
			for range rng.IntN(3) {
				i := rng.IntN(len(ss))
				ss = slices.Insert(ss, rng.IntN(len(ss)+1), ss[i])
			}
			sides[k] = ss
		}
		// Interleave the two directions, each keeping its own order.
		var segs []seg
		for len(sides[0])+len(sides[1]) > 0 {
			k := rng.IntN(2)
			if len(sides[k]) == 0 {
				k = 1 - k
			}
			segs = append(segs, sides[k][0])
			sides[k] = sides[k][1:]
		}
		g := run(Config{GapTimeout: time.Hour}, c.packets(join(handshake(), segs)...))
		var gotC, gotS []string
		for i, m := range g.msgs {
			if g.dirs[i] == "c>s" {
				gotC = append(gotC, m)
			} else {
				gotS = append(gotS, m)
			}
		}
		if !slices.Equal(gotC, wantC) || !slices.Equal(gotS, wantS) {
			t.Fatalf("iteration %d: client %d messages, server %d; stats %+v", iter, len(gotC), len(gotS), g.stats)
		}
		tot.OutOfOrder += g.stats.OutOfOrder
		tot.Retransmissions += g.stats.Retransmissions
		tot.Messages += g.stats.Messages
		if s := g.stats; s.BytesSkipped != 0 || s.GapsSkipped != 0 || s.FramingErrors != 0 || s.HeldBytes != 0 {
			t.Fatalf("iteration %d: %+v", iter, s)
		}
	}
}
