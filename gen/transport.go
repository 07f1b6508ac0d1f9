package gen

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

// tcpConn is one SIP-over-TCP (or WebSocket) connection between a client
// (ephemeral port) and a server (its SIP port).
type tcpConn struct {
	client, server       netip.AddrPort
	clientSeq, serverSeq uint32 // next sequence number each side sends
}

// sctpAssoc is one SIP-over-SCTP association, client and server as for
// tcpConn.
type sctpAssoc struct {
	client, server       netip.AddrPort
	clientTag, serverTag uint32 // verification tag each side expects
	clientTSN, serverTSN uint32 // next TSN each side sends
	clientSSN, serverSSN uint16 // next stream sequence number on stream 0
}

type connKey struct {
	client netip.Addr
	server netip.AddrPort
}

// retransmitDelay is how long after a message's last segment a
// retransmitted copy of one of its segments is captured: shorter than any
// gap between two SIP messages, so the copy never lands in another message.
const retransmitDelay = 200 * time.Microsecond

// sip puts one SIP message from one endpoint to another on the wire at t and
// returns the time it is captured complete, which is later than t when a
// connection had to be opened first or the message spans several segments.
func (b *builder) sip(r *rand.Rand, t time.Time, from, to netip.AddrPort, msg []byte) time.Time {
	switch b.cfg.Transport {
	case TransportTCP, TransportWS:
		return b.sipStream(r, t, from, to, msg)
	case TransportSCTP:
		return b.sipSCTP(r, t, from, to, msg)
	}
	b.add(frame{ts: t, src: from, dst: to, tos: tosSignalling, payload: msg})
	return t
}

// sipStream sends msg on the TCP connection between the two endpoints,
// opening it first if there is none, as a WebSocket message for
// TransportWS.
func (b *builder) sipStream(r *rand.Rand, t time.Time, from, to netip.AddrPort, msg []byte) time.Time {
	// Reuse a connection in either direction (RFC 3261 §18: responses go
	// back on the connection the request came in on).
	c, fromClient := b.conns[connKey{client: from.Addr(), server: to}], true
	if c == nil {
		if c = b.conns[connKey{client: to.Addr(), server: from}]; c != nil {
			fromClient = false
		}
	}
	if c == nil {
		c, t = b.openTCP(r, t, from, to)
	}
	writes := [][]byte{msg}
	if b.cfg.Transport == TransportWS {
		// RFC 6455 §5.3: a client masks every frame it sends, a server none.
		writes = b.wsFrames(msg, fromClient)
	}
	return b.send(c, fromClient, t, writes, true)
}

// openTCP opens a connection from the from host to the to endpoint at t
// (SYN with MSS, SYN-ACK, ACK; then for WebSocket the HTTP Upgrade and its
// 101) and returns it with the time the first message can go.
func (b *builder) openTCP(r *rand.Rand, t time.Time, from, to netip.AddrPort) (*tcpConn, time.Time) {
	c := &tcpConn{
		client: netip.AddrPortFrom(from.Addr(), uint16(32768+r.IntN(28232))), // Linux ephemeral range
		server: to,
	}
	b.conns[connKey{client: from.Addr(), server: to}] = c
	isnC, isnS := r.Uint32(), r.Uint32()
	b.add(frame{ts: t, src: c.client, dst: c.server, tos: tosSignalling, tcp: &tcpSegment{seq: isnC, syn: true}})
	t = t.Add(randMicrosBetween(r, 0.1, 0.5))
	b.add(frame{ts: t, src: c.server, dst: c.client, tos: tosSignalling, tcp: &tcpSegment{seq: isnS, ackNum: isnC + 1, syn: true, ack: true}})
	t = t.Add(randMicrosBetween(r, 0.05, 0.2))
	b.add(frame{ts: t, src: c.client, dst: c.server, tos: tosSignalling, tcp: &tcpSegment{seq: isnC + 1, ackNum: isnS + 1, ack: true}})
	b.truth.Totals.TCPControl += 3
	c.clientSeq, c.serverSeq = isnC+1, isnS+1
	t = t.Add(randMicrosBetween(r, 0.02, 0.1))
	if b.cfg.Transport == TransportWS {
		req, resp := b.wsHandshake(c.server)
		t = b.send(c, true, t, [][]byte{req}, false)
		t = t.Add(randMicrosBetween(r, 0.1, 0.5))
		t = b.send(c, false, t, [][]byte{resp}, false)
		t = t.Add(randMicrosBetween(r, 0.02, 0.1))
		b.truth.Totals.WSHandshakes++
	}
	return c, t
}

// send puts writes on connection c in one direction from t on: each write
// cut into segments of at most TCPSegmentSize bytes, the segments captured
// a microsecond apart. With disturb, the configured share of messages has
// two adjacent segments swapped, or one segment captured again later. It
// returns when the last byte was captured.
func (b *builder) send(c *tcpConn, fromClient bool, t time.Time, writes [][]byte, disturb bool) time.Time {
	src, dst, seq, ack := c.client, c.server, &c.clientSeq, c.serverSeq
	if !fromClient {
		src, dst, seq, ack = c.server, c.client, &c.serverSeq, c.clientSeq
	}
	type segment struct {
		seq  uint32
		data []byte
	}
	var segs []segment
	for _, w := range writes {
		size := len(w)
		if b.cfg.TCPSegmentSize > 0 {
			size = b.cfg.TCPSegmentSize
		}
		for off := 0; off < len(w); off += size {
			d := w[off:min(off+size, len(w))]
			segs = append(segs, segment{seq: *seq, data: d})
			*seq += uint32(len(d))
		}
	}
	cfg := b.cfg
	if disturb && cfg.TCPReorderPct > 0 && len(segs) >= 2 && b.net.Float64()*100 < cfg.TCPReorderPct {
		k := b.net.IntN(len(segs) - 1)
		segs[k], segs[k+1] = segs[k+1], segs[k]
		b.truth.Totals.TCPReordered++
	}
	for i, s := range segs {
		b.add(frame{ts: t.Add(time.Duration(i) * time.Microsecond), src: src, dst: dst, tos: tosSignalling,
			payload: s.data, tcp: &tcpSegment{seq: s.seq, ackNum: ack, ack: true}})
	}
	last := t.Add(time.Duration(len(segs)-1) * time.Microsecond)
	if disturb && cfg.TCPRetransmitPct > 0 && b.net.Float64()*100 < cfg.TCPRetransmitPct {
		s := segs[b.net.IntN(len(segs))]
		b.add(frame{ts: last.Add(retransmitDelay), src: src, dst: dst, tos: tosSignalling,
			payload: s.data, tcp: &tcpSegment{seq: s.seq, ackNum: ack, ack: true}})
		b.truth.Totals.TCPRetransmits++
	}
	return last
}

// sipSCTP sends msg as one DATA chunk on the association between the two
// endpoints, made up on first use: captures often start after INIT, and
// the DATA chunks alone are what SIP needs.
func (b *builder) sipSCTP(r *rand.Rand, t time.Time, from, to netip.AddrPort, msg []byte) time.Time {
	a, fromClient := b.assocs[connKey{client: from.Addr(), server: to}], true
	if a == nil {
		if a = b.assocs[connKey{client: to.Addr(), server: from}]; a != nil {
			fromClient = false
		}
	}
	if a == nil {
		a = &sctpAssoc{
			client:    netip.AddrPortFrom(from.Addr(), uint16(32768+r.IntN(28232))),
			server:    to,
			clientTag: r.Uint32() | 1, // a verification tag is never zero
			serverTag: r.Uint32() | 1,
			clientTSN: r.Uint32(),
			serverTSN: r.Uint32(),
		}
		b.assocs[connKey{client: from.Addr(), server: to}] = a
	}
	if fromClient {
		b.add(frame{ts: t, src: a.client, dst: a.server, tos: tosSignalling, payload: msg,
			sctp: &sctpData{vtag: a.serverTag, tsn: a.clientTSN, ssn: a.clientSSN}})
		a.clientTSN++
		a.clientSSN++
	} else {
		b.add(frame{ts: t, src: a.server, dst: a.client, tos: tosSignalling, payload: msg,
			sctp: &sctpData{vtag: a.clientTag, tsn: a.serverTSN, ssn: a.serverSSN}})
		a.serverTSN++
		a.serverSSN++
	}
	return t
}
