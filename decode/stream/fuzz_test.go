package stream

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
)

// fuzzConfig is small so that the bounds are reached often.
var fuzzConfig = Config{MaxConns: 3, MaxBufferPerConn: 4096, MaxTotalBytes: 6144, IdleTimeout: time.Minute, GapTimeout: 2 * time.Second}

// fuzzStreams are what the fuzzed connections carry, client then server;
// the last connection carries the fuzzer's own bytes.
var fuzzStreams = [][2]string{
	{"\r\n\r\n" + invite + ack + "junk line\r\n" + bye, trying + okInv + "\r\n"},
	{wsClientStream, wsServerStream},
	{httpReq + invite, httpRsp},
}

// FuzzReassembler drives four connections with segments the fuzzer picks:
// which connection and direction, flags, an offset into the direction's
// stream (so that reordering, overlap, gaps and retransmission all occur
// with consistent bytes), a length and a time step. Invariants: no panic;
// the byte accounting matches the buffers, within every bound; the LRU
// list and the table agree; every emitted message frames whole.
func FuzzReassembler(f *testing.F) {
	// Whole streams in order, after a handshake, for each connection.
	for c := range 4 {
		var ops []byte
		ops = append(ops, byte(c)<<6|0x04, 0, 0, 0, 1) // SYN client
		ops = append(ops, byte(c)<<6|0x24, 0, 0, 0, 1) // SYN server
		for off := 0; off < 1600; off += 200 {
			ops = append(ops, byte(c)<<6, byte(off), byte(off>>8), 25, 1)
			ops = append(ops, byte(c)<<6|0x20, byte(off), byte(off>>8), 25, 1)
		}
		f.Add(ops, []byte(invite+ack))
	}
	// Reordered, duplicated, gapped and a long pause.
	f.Add([]byte{0x00, 200, 0, 30, 1, 0x00, 0, 0, 25, 1, 0x00, 0, 0, 25, 1, 0x00, 100, 1, 50, 255, 0x40, 0, 0, 200, 1, 0x08, 0, 0, 0, 1}, []byte("x"))
	f.Add([]byte{0xc0, 0, 0, 255, 1, 0xc0, 0xf8, 7, 255, 1, 0xe0, 0, 0, 255, 200}, []byte(wsFrame(true, OpText, false, okInv)))
	f.Fuzz(func(t *testing.T, ops []byte, raw []byte) {
		r := New(fuzzConfig)
		isn := [4][2]uint32{{1000, 5000}, {0xfffff000, 0xffffff00}, {7, 9}, {0x7fffffff, 0}}
		addr := func(c, dir int) netip.AddrPort {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(c), byte(dir)}), uint16(5060+dir))
		}
		ts := int64(1e18)
		emit := func(m Message) {
			n, err := sip.FrameLength(m.Payload)
			if err != nil || (!m.WebSocket && n != len(m.Payload)) || n > len(m.Payload) || !sip.LooksLikeSIP(m.Payload) {
				t.Fatalf("emitted a message that does not frame: n=%d err=%v ws=%v %q", n, err, m.WebSocket, m.Payload)
			}
		}
		for len(ops) >= 5 {
			op := ops[:5]
			ops = ops[5:]
			c, dir := int(op[0]>>6), int(op[0]>>5&1)
			stream := raw
			if c < len(fuzzStreams) {
				stream = []byte(fuzzStreams[c][dir])
			}
			off := int(binary.LittleEndian.Uint16(op[1:])) % (len(stream) + 1)
			n := min(int(op[3])*8, len(stream)-off)
			ts += int64(op[4]) * int64(20*time.Millisecond)
			p := decode.Packet{TS: ts, Src: addr(c, dir), Dst: addr(c, 1-dir), Transport: decode.TransportTCP, TCPFlags: 0x10}
			p.TCPSeq = isn[c][dir] + 1 + uint32(off)
			switch op[0] & 0x1f {
			case 0x04:
				p.TCPFlags |= flagSYN
				p.TCPSeq = isn[c][dir]
			case 0x08:
				p.TCPFlags |= flagFIN
			case 0x0c:
				p.TCPFlags |= flagRST
			case 0x10:
				r.Expire(ts)
			case 0x14:
				r.Flush(emit)
			}
			if p.TCPFlags&flagSYN == 0 {
				p.Payload = stream[off : off+n]
			}
			r.Feed(&p, emit)
			checkInvariants(t, r)
		}
		r.Flush(emit)
		checkInvariants(t, r)
	})
}

// checkInvariants verifies the bookkeeping of r against its state.
func checkInvariants(t *testing.T, r *Reassembler) {
	t.Helper()
	total, listed := 0, 0
	for c := r.head; c != nil; c = c.next {
		listed++
		if r.conns[c.key] != c {
			t.Fatal("a listed connection is not in the table")
		}
		for i := range c.dirs {
			d := &c.dirs[i]
			oooCap := 0
			for j, h := range d.ooo {
				oooCap += cap(h.data)
				if j > 0 && int32(h.seq-d.ooo[j-1].seq) < 0 {
					t.Fatal("held segments out of order")
				}
			}
			if oooCap != d.oooCap {
				t.Fatalf("oooCap %d, held %d", d.oooCap, oooCap)
			}
			if d.holding() > r.cfg.MaxBufferPerConn {
				t.Fatalf("a direction holds %d bytes, over MaxBufferPerConn %d", d.holding(), r.cfg.MaxBufferPerConn)
			}
			if (c.mode == modeNotSIP || d.closed) && d.holding() != 0 {
				t.Fatalf("a closed or not-SIP direction holds %d bytes", d.holding())
			}
			total += d.holding()
		}
	}
	if listed != len(r.conns) || len(r.conns) > r.cfg.MaxConns {
		t.Fatalf("%d listed, %d in the table, max %d", listed, len(r.conns), r.cfg.MaxConns)
	}
	if total != r.total || total > r.cfg.MaxTotalBytes {
		t.Fatalf("accounted %d bytes, buffers hold %d, max %d", r.total, total, r.cfg.MaxTotalBytes)
	}
	if len(r.spare) > maxSpare {
		t.Fatalf("%d spare buffers", len(r.spare))
	}
}

// FuzzParseFrame: no panic, the length and payload are
// consistent with the input, and the frame re-encodes to a frame with the
// same fields.
func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{
		wsFrame(true, OpText, true, invite), wsFrame(false, OpBinary, false, okInv),
		wsFrame(true, OpPing, true, ""), wsFrame(true, OpContinuation, false, string(make([]byte, 70000))),
		"\x81\x7e\x00", "\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01", "\x83\x00", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := ParseFrame(b)
		switch err {
		case nil:
			if n > len(b) || n < 2 || n-len(fr.Payload) > 14 || (len(fr.Payload) > 0 && &fr.Payload[0] != &b[n-len(fr.Payload)]) {
				t.Fatalf("n=%d payload %d of %d bytes", n, len(fr.Payload), len(b))
			}
			if fr.Opcode.IsControl() && (!fr.Fin || len(fr.Payload) > 125) {
				t.Fatal("an invalid control frame was accepted")
			}
			plain := fr.AppendPayload(nil)
			again, m, err := ParseFrame([]byte(wsFrame(fr.Fin, fr.Opcode, fr.Masked, string(plain))))
			if err != nil || m != 2+len(plain)+map[bool]int{true: 4, false: 0}[fr.Masked]+extLen(len(plain)) || string(again.AppendPayload(nil)) != string(plain) {
				t.Fatalf("re-encoded frame parses as %v, %d", err, m)
			}
		case ErrIncomplete:
			if n != 0 && n <= len(b) {
				t.Fatalf("incomplete with n=%d of %d bytes", n, len(b))
			}
		case ErrBadFrame, ErrFrameTooLarge:
		default:
			t.Fatalf("unknown error %v", err)
		}
	})
}

// extLen is the extended payload length field's size for n bytes.
func extLen(n int) int {
	switch {
	case n < 126:
		return 0
	case n <= 0xffff:
		return 2
	}
	return 8
}
