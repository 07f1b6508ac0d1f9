package stream

import (
	"testing"

	"github.com/sipscope/sipscope/decode"
)

// benchFeed feeds the client and server packets of one exchange over and
// over, advancing their sequence numbers as a long-lived connection would.
func benchFeed(b *testing.B, pkts []decode.Packet, perRound int) {
	r := New(Config{})
	n := 0
	emit := func(Message) { n++ }
	for i := range pkts {
		r.Feed(&pkts[i], emit)
	}
	// Replay everything after the handshake and any upgrade; each packet
	// advances by what its direction sends per round.
	replay := pkts[len(pkts)-perRound:]
	adv := make([]uint32, len(replay))
	var bytes int64
	for i, p := range replay {
		bytes += int64(len(p.Payload))
		for _, q := range replay {
			if q.Src == p.Src {
				adv[i] += uint32(len(q.Payload))
			}
		}
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	n = 0
	for b.Loop() {
		for i := range replay {
			replay[i].TCPSeq += adv[i]
			r.Feed(&replay[i], emit)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	if s := r.Stats(); s.BytesSkipped != 0 || s.Retransmissions != 0 || s.FramingErrors != 0 {
		b.Fatalf("the replay was not clean: %+v", s)
	}
}

// In-order SIP messages, each whole in one segment: the common case.
func BenchmarkInOrderSingleSegment(b *testing.B) {
	c := newConv(invite+ack, trying+okInv)
	segs := join(handshake(), at(false, invite+ack, len(invite)), at(true, trying+okInv, len(trying)))
	benchFeed(b, c.packets(segs...), 4)
}

// Each INVITE split over two segments: buffered, from the spare buffers.
func BenchmarkInOrderTwoSegments(b *testing.B) {
	c := newConv(invite, okInv)
	segs := join(handshake(), at(false, invite, 400), whole(true, okInv, 2000))
	benchFeed(b, c.packets(segs...), 3)
}

// SIP over WebSocket: masked client frames, unmasked server frames.
func BenchmarkWebSocketSingleFrame(b *testing.B) {
	cli := wsUpgrade + wsFrame(true, OpText, true, wsInvite)
	srv := wsSwitch + wsFrame(true, OpText, false, wsOK)
	c := newConv(cli, srv)
	segs := join(handshake(), at(false, cli, len(wsUpgrade))[:1], at(true, srv, len(wsSwitch))[:1],
		at(false, cli, len(wsUpgrade))[1:], at(true, srv, len(wsSwitch))[1:])
	benchFeed(b, c.packets(segs...), 2)
}
