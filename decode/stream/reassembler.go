package stream

import (
	"net/netip"

	"github.com/sipscope/sipscope/decode"
)

// TCP flag bits as they appear in decode.Packet.TCPFlags.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
)

// Message is one complete SIP message taken from a stream.
type Message struct {
	Src, Dst netip.AddrPort
	// TS is the capture time of the segment that completed the message.
	TS int64
	// Payload is the whole message, start line to the end of the body. It
	// points into the segment's bytes or the Reassembler's buffers and is
	// valid only while the emit callback runs: copy what must outlive it.
	Payload []byte
	// WebSocket is set when the message arrived in WebSocket frames
	// (RFC 7118); Payload is then the unmasked WebSocket message.
	WebSocket bool
	// HEP is set when the connection carries HEPv3 (an agent sending to a
	// collector over TCP); Payload is then one whole HEP packet.
	HEP bool
}

// Stats counts what a Reassembler did. Everything it throws away is
// counted in one of them.
type Stats struct {
	Segments        uint64 // TCP segments fed, of every connection
	Messages        uint64 // SIP messages emitted
	KeepAlives      uint64 // CRLF keep-alive runs (RFC 5626) dropped between messages
	Retransmissions uint64 // segments whose bytes, in whole or part, had been seen already (the old bytes are dropped)
	OutOfOrder      uint64 // segments held until the bytes in front of them arrived
	GapsSkipped     uint64 // gaps given up as lost (GapTimeout, a bound, Flush); the stream resyncs after each
	GapBytes        uint64 // sequence space given up with them
	BytesSkipped    uint64 // stream bytes discarded: junk hunted over to find a start line, unfinished messages at a gap, overflow or close
	FramingErrors   uint64 // messages or frames that could not be framed: bad Content-Length, over-long lines or headers, bad or compressed WebSocket frames, WebSocket messages that are not SIP
	NotSIPConns     uint64 // connections found not to carry SIP (HTTP, TLS, binary) and ignored from then on
	TLSConns        uint64 // the part of NotSIPConns that starts with a TLS record (see LooksLikeTLS)
	Evicted         uint64 // connections dropped to stay within MaxConns
	Expired         uint64 // connections dropped by Expire after IdleTimeout
	BufferOverflows uint64 // times held bytes would have passed MaxBufferPerConn or MaxTotalBytes; the data was dropped and the stream resynced
	WebSocketConns  uint64 // connections that upgraded to WebSocket with the "sip" subprotocol
	HEPConns        uint64 // connections carrying HEPv3 to a collector
	HEPPackets      uint64 // HEP packets framed out of them
	WebSocketFrames uint64 // WebSocket frames parsed
	WebSocketCtrl   uint64 // the part of WebSocketFrames that are control frames (ping, pong, close), skipped
	Conns           int    // connections tracked now
	HeldBytes       int    // buffer bytes held now, all connections
}

// connMode is what a connection has been found to carry.
type connMode uint8

const (
	modeUnknown   connMode = iota // no bytes seen yet, or hunting for a SIP line in a capture that started mid-stream
	modeSIP                       // SIP framed by Content-Length
	modeHandshake                 // a WebSocket upgrade for "sip" was asked; waiting for 101
	modeWebSocket                 // WebSocket frames in both directions
	modeHEP                       // HEPv3 packets framed by their length field
	modeNotSIP                    // something else; its segments are ignored
)

// connKey names a connection independently of direction: a <= b.
type connKey struct{ a, b netip.AddrPort }

func keyOf(src, dst netip.AddrPort) (connKey, int) {
	if src.Compare(dst) <= 0 {
		return connKey{src, dst}, 0
	}
	return connKey{dst, src}, 1
}

// conn is one TCP connection: two directions and what they carry.
type conn struct {
	key        connKey
	mode       connMode
	wsClient   uint8 // index of the direction that asked for the WebSocket upgrade
	pumpClient bool  // the upgrade completed: frames the client sent early wait in its buffer
	lastTS     int64
	prev, next *conn // LRU list, head most recently used
	dirs       [2]direction
}

// held is an out-of-order segment, copied, waiting for the bytes before it.
type held struct {
	seq  uint32
	ts   int64
	data []byte
}

// direction is the state of one direction (src→dst) of a connection.
type direction struct {
	src, dst netip.AddrPort

	// Sequence space.
	started    bool   // next is known
	knownStart bool   // the SYN was seen: the first byte is the stream's first
	isn        uint32 // initial sequence number, when knownStart
	next       uint32 // sequence number of the next in-order byte
	finSeen    bool
	finSeq     uint32
	closed     bool

	buf      []byte // in-order bytes not consumed yet (an unfinished message or frame)
	bufTS    int64  // capture time of the latest bytes in buf
	ooo      []held // out-of-order segments, by sequence number
	oooCap   int    // capacity of their copies
	gapSince int64  // capture time the oldest held segment arrived

	// SIP framing.
	startOK     bool // the message at the head of buf has a SIP start line
	need        int  // total length the message at the head needs, when known
	hunting     bool // skipping to the next line that starts a SIP message
	atLineStart bool // while hunting: the next byte starts a line
	huntSkipped int  // bytes hunted over before the connection was found to be SIP

	// WebSocket framing.
	frag     []byte // unmasked fragments of the message in progress
	inFrag   bool   // a fragmented message is in progress
	fragDrop bool   // ... and is being dropped (too large or compressed)
	wsBroken bool   // lost frame sync; the direction is ignored
}

// holding is the buffer capacity d accounts for.
func (d *direction) holding() int { return cap(d.buf) + cap(d.frag) + d.oooCap }

// Reassembler turns TCP segments into SIP messages. Like decode.Decoder it
// belongs to one goroutine, and it never reads the wall clock: time
// advances with the segments' timestamps.
//
// Each direction of a connection is a byte stream ordered by sequence
// number from the SYN, or from the first segment seen when the capture
// began mid-connection. Repeated bytes are dropped; segments ahead of a
// gap are held until it fills, until GapTimeout passes or until the bounds
// force it, and then the gap is given up and the stream resynced.
//
// The first bytes of a connection decide what it carries: a SIP start line
// makes it SIP; a GET asking to upgrade to WebSocket with the "sip"
// subprotocol, answered by 101, makes it SIP over WebSocket; a TLS record,
// an HTTP line, or (after a SYN, when the first byte is known to start the
// stream) anything else makes it not SIP, and its segments are ignored from
// then on. A capture that starts mid-connection is searched, line by line,
// for a SIP start line (up to 64 KiB) before it is given up. Within SIP,
// junk, an unframeable message or a lost gap make the direction hunt for
// the next line that starts a SIP message.
type Reassembler struct {
	cfg        Config
	conns      map[connKey]*conn
	head, tail *conn
	total      int      // capacity of all direction buffers
	spare      [][]byte // emptied buffers kept for reuse, up to maxSpare of at most maxSpareCap bytes each
	scratch    []byte   // unmasked WebSocket payload of a single-frame message
	stats      Stats
}

// Bounds on the reuse of buffers, so that steady traffic does not allocate
// and idle memory stays small.
const (
	maxSpare    = 64
	maxSpareCap = 64 << 10
)

// New returns a Reassembler with cfg's bounds, zero fields taking their
// defaults. Call cfg.Validate first to report bad values; New treats a
// negative field like a zero one.
func New(cfg Config) *Reassembler {
	return &Reassembler{
		cfg:   cfg.withDefaults(),
		conns: make(map[connKey]*conn),
		spare: make([][]byte, 0, maxSpare),
	}
}

// Stats returns the counters and the current occupancy.
func (r *Reassembler) Stats() Stats {
	s := r.stats
	s.Conns = len(r.conns)
	s.HeldBytes = r.total
	return s
}

// Feed takes one decoded packet; segments of transports other than TCP are
// ignored. Every SIP message the segment completes, in this direction or
// (through reordering) held ones behind it, is passed to emit before Feed
// returns. emit must not call Feed.
func (r *Reassembler) Feed(p *decode.Packet, emit func(Message)) {
	if c := r.feed(p, emit); c != nil {
		r.releaseIfNotSIP(c)
	}
}

// releaseIfNotSIP frees what a connection found to carry something else
// still holds: the classification can happen anywhere in the framing
// (first line, WebSocket upgrade, resync), so the release happens once the
// segment is done with, not at each of those places.
func (r *Reassembler) releaseIfNotSIP(c *conn) {
	if c.mode == modeNotSIP {
		for i := range c.dirs {
			if c.dirs[i].holding() > 0 {
				r.discard(&c.dirs[i])
			}
		}
	}
}

// feed is Feed; it returns the connection the segment belongs to, if any.
func (r *Reassembler) feed(p *decode.Packet, emit func(Message)) *conn {
	if p.Transport != decode.TransportTCP {
		return nil
	}
	r.stats.Segments++
	key, di := keyOf(p.Src, p.Dst)
	syn, fin, rst := p.TCPFlags&flagSYN != 0, p.TCPFlags&flagFIN != 0, p.TCPFlags&flagRST != 0
	c := r.conns[key]
	if c == nil {
		// A bare ACK, FIN or RST of a connection not seen before says
		// nothing worth remembering.
		if rst || (!syn && len(p.Payload) == 0) {
			return c
		}
		c = r.newConn(key)
	} else {
		r.touch(c)
	}
	c.lastTS = p.TS
	if rst {
		r.closeDir(c, 0)
		r.closeDir(c, 1)
		return c
	}
	d := &c.dirs[di]
	seq := p.TCPSeq
	if syn {
		if !(d.knownStart && d.isn == seq) { // not a retransmitted SYN
			if d.started || c.dirs[1-di].closed || c.dirs[di].closed {
				r.resetConn(c) // a new connection on the same addresses
			}
			d.started, d.knownStart, d.isn, d.next = true, true, seq, seq+1
		}
		seq++ // data in a SYN (TCP Fast Open) follows the ISN
	}
	if d.closed || d.wsBroken || c.mode == modeNotSIP {
		return c
	}
	if !d.started {
		if len(p.Payload) == 0 && !fin {
			return c
		}
		d.started, d.next = true, seq
	}
	r.checkGaps(c, p.TS, emit)
	if len(p.Payload) > 0 {
		r.segment(c, di, seq, p.TS, p.Payload, emit)
	}
	if fin && !d.finSeen {
		d.finSeen, d.finSeq = true, seq+uint32(len(p.Payload))
	}
	for i := range c.dirs {
		if dd := &c.dirs[i]; dd.finSeen && !dd.closed && int32(dd.next-dd.finSeq) >= 0 {
			r.closeDir(c, i)
		}
	}
	return c
}

// Expire drops the connections that have had no segment since
// now - IdleTimeout (capture time, Unix nanoseconds), with whatever they
// held, counting them in Stats.Expired.
func (r *Reassembler) Expire(now int64) {
	cutoff := now - r.cfg.IdleTimeout.Nanoseconds()
	for r.tail != nil && r.tail.lastTS < cutoff {
		r.removeConn(r.tail)
		r.stats.Expired++
	}
}

// Flush gives up every gap still open, so that the messages held behind
// them are emitted, as at the end of a capture file. Connections stay
// tracked; unfinished messages stay buffered.
func (r *Reassembler) Flush(emit func(Message)) {
	for c := r.tail; c != nil; c = c.prev {
		for i := range c.dirs {
			for len(c.dirs[i].ooo) > 0 && !c.dirs[i].closed && c.mode != modeNotSIP {
				r.skipGap(c, i, emit)
			}
		}
		r.releaseIfNotSIP(c)
	}
}

// newConn starts tracking a connection, evicting the least recently used
// one when the table is full.
func (r *Reassembler) newConn(key connKey) *conn {
	for len(r.conns) >= r.cfg.MaxConns && r.tail != nil {
		r.removeConn(r.tail)
		r.stats.Evicted++
	}
	c := &conn{key: key}
	c.dirs[0].src, c.dirs[0].dst = key.a, key.b
	c.dirs[1].src, c.dirs[1].dst = key.b, key.a
	r.conns[key] = c
	c.next = r.head
	if r.head != nil {
		r.head.prev = c
	}
	r.head = c
	if r.tail == nil {
		r.tail = c
	}
	return c
}

// touch moves c to the head of the LRU list.
func (r *Reassembler) touch(c *conn) {
	if r.head == c {
		return
	}
	r.unlink(c)
	c.next = r.head
	r.head.prev = c
	r.head = c
}

func (r *Reassembler) unlink(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		r.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		r.tail = c.prev
	}
	c.prev, c.next = nil, nil
}

// removeConn forgets c and releases what it held.
func (r *Reassembler) removeConn(c *conn) {
	for i := range c.dirs {
		r.discard(&c.dirs[i])
	}
	r.unlink(c)
	delete(r.conns, c.key)
}

// resetConn returns c to the state of a connection never seen, for a new
// connection that reuses its addresses.
func (r *Reassembler) resetConn(c *conn) {
	for i := range c.dirs {
		d := &c.dirs[i]
		r.discard(d)
		*d = direction{src: d.src, dst: d.dst}
	}
	c.mode, c.wsClient, c.pumpClient = modeUnknown, 0, false
}

// closeDir ends direction i after a FIN or RST.
func (r *Reassembler) closeDir(c *conn, i int) {
	d := &c.dirs[i]
	if d.closed {
		return
	}
	r.discard(d)
	d.closed = true
}

// markNotSIP gives up on c: it carries something else.
func (r *Reassembler) markNotSIP(c *conn, tls bool) {
	if c.mode == modeNotSIP {
		return
	}
	c.mode = modeNotSIP
	r.stats.NotSIPConns++
	if tls {
		r.stats.TLSConns++
	}
}
