package stream

// maxHeldSegments bounds the out-of-order segments held per direction, so
// that inserting one costs bounded work.
const maxHeldSegments = 128

// Sequence numbers are compared as int32 differences (RFC 1982 serial
// arithmetic), which is what makes wrap-around at 2^32 a non-event.

// segment places one segment's payload, starting at sequence number seq,
// into direction di's byte stream.
func (r *Reassembler) segment(c *conn, di int, seq uint32, ts int64, data []byte, emit func(Message)) {
	d := &c.dirs[di]
	for {
		off := int32(seq - d.next)
		if off < 0 {
			// Some or all of it was seen already: a retransmission, or a
			// repacketized one overlapping new bytes.
			r.stats.Retransmissions++
			if int64(off)+int64(len(data)) <= 0 {
				return
			}
			data, seq = data[-off:], d.next
			off = 0
		}
		if off == 0 {
			r.deliver(c, di, data, ts, emit)
			r.drain(c, di, emit)
			return
		}
		if r.hold(d, seq, ts, data) {
			return
		}
		// No room to wait for the gap: give it up. With nothing held the
		// gap is in front of this very segment.
		r.stats.BufferOverflows++
		if len(d.ooo) == 0 {
			r.skipTo(c, di, seq)
			continue
		}
		r.skipGap(c, di, emit)
		if d.closed || c.mode == modeNotSIP || d.wsBroken {
			return
		}
	}
}

// hold keeps an out-of-order segment, unless it repeats one already held.
// It reports false when the bounds leave no room for it.
func (r *Reassembler) hold(d *direction, seq uint32, ts int64, data []byte) bool {
	end := seq + uint32(len(data))
	for _, h := range d.ooo {
		if int32(seq-h.seq) >= 0 && int32(end-(h.seq+uint32(len(h.data)))) <= 0 {
			r.stats.Retransmissions++
			return true
		}
	}
	if !r.holdCopy(d, seq, ts, data) {
		return false
	}
	r.stats.OutOfOrder++
	return true
}

// drain delivers the held segments that the stream has now reached.
func (r *Reassembler) drain(c *conn, di int, emit func(Message)) {
	d := &c.dirs[di]
	for len(d.ooo) > 0 && !d.closed && c.mode != modeNotSIP {
		off := int32(d.ooo[0].seq - d.next)
		if off > 0 {
			break
		}
		h := r.popHeld(d)
		if int64(off)+int64(len(h.data)) <= 0 {
			r.stats.Retransmissions++
		} else {
			r.deliver(c, di, h.data[-off:], h.ts, emit)
		}
		r.putBuf(h.data)
	}
	if len(d.ooo) > 0 {
		d.gapSince = d.ooo[0].ts
		for _, h := range d.ooo[1:] {
			d.gapSince = min(d.gapSince, h.ts)
		}
	}
}

// checkGaps gives up the gaps of c that have waited longer than GapTimeout.
func (r *Reassembler) checkGaps(c *conn, now int64, emit func(Message)) {
	for i := range c.dirs {
		d := &c.dirs[i]
		for len(d.ooo) > 0 && now-d.gapSince > r.cfg.GapTimeout.Nanoseconds() && !d.closed && c.mode != modeNotSIP {
			r.skipGap(c, i, emit)
		}
	}
}

// skipGap gives up the bytes missing in front of the first held segment
// and delivers what follows them.
func (r *Reassembler) skipGap(c *conn, di int, emit func(Message)) {
	d := &c.dirs[di]
	if len(d.ooo) == 0 {
		return
	}
	r.skipTo(c, di, d.ooo[0].seq)
	r.drain(c, di, emit)
}

// skipTo moves the stream of direction di forward to seq, counting the gap,
// and resyncs: whatever was unfinished before the gap cannot be finished.
func (r *Reassembler) skipTo(c *conn, di int, seq uint32) {
	d := &c.dirs[di]
	r.stats.GapsSkipped++
	r.stats.GapBytes += uint64(seq - d.next)
	d.next = seq
	r.stats.BytesSkipped += uint64(len(d.buf) + len(d.frag))
	r.releaseBuf(&d.buf)
	r.releaseBuf(&d.frag)
	d.need, d.startOK = 0, false
	d.inFrag, d.fragDrop = false, false
	switch c.mode {
	case modeUnknown, modeSIP:
		// The first byte after a gap is a segment's first, which in SIP
		// traffic often starts a message: try it as a line start.
		d.hunting, d.atLineStart = true, true
	case modeHandshake:
		// The upgrade exchange itself was lost.
		r.markNotSIP(c, false)
	case modeWebSocket:
		// Likewise assume the segment after the gap starts a frame; if it
		// does not, the next frame header fails to parse and the
		// direction is given up.
	}
}

// deliver hands in-order bytes to the framing of direction di: straight
// from the segment while nothing is buffered (the common case, no copy),
// else behind the buffered bytes.
func (r *Reassembler) deliver(c *conn, di int, data []byte, ts int64, emit func(Message)) {
	d := &c.dirs[di]
	d.next += uint32(len(data))
	if c.mode == modeNotSIP || d.wsBroken {
		return
	}
	if len(d.buf) == 0 {
		n := r.consume(c, di, data, ts, emit)
		r.keep(c, di, data[n:], ts)
	} else if r.appendBounded(d, &d.buf, data) {
		d.bufTS = max(d.bufTS, ts)
		r.pump(c, di, emit)
	} else {
		// The unfinished message will not fit: drop it and look for the
		// next one in the new bytes.
		r.overflow(c, d, len(d.buf))
		r.releaseBuf(&d.buf)
		n := r.consume(c, di, data, ts, emit)
		r.keep(c, di, data[n:], ts)
	}
	r.afterConsume(c, emit)
}

// keep buffers the bytes of a segment, captured at ts, that consume left
// for later; the buffer is empty before.
func (r *Reassembler) keep(c *conn, di int, rest []byte, ts int64) {
	d := &c.dirs[di]
	if len(rest) == 0 || c.mode == modeNotSIP || d.wsBroken {
		return
	}
	d.bufTS = ts
	if !r.appendBounded(d, &d.buf, rest) {
		r.overflow(c, d, len(rest))
	}
}

// overflow handles stream bytes dropped because the bounds left no room:
// the message or frame they belonged to is lost.
func (r *Reassembler) overflow(c *conn, d *direction, dropped int) {
	r.stats.BufferOverflows++
	r.stats.BytesSkipped += uint64(dropped)
	switch c.mode {
	case modeHandshake:
		r.markNotSIP(c, false)
	case modeWebSocket:
		d.wsBroken = true // a frame cut in the middle: sync is lost
	default:
		r.resyncSIP(c, d)
		d.atLineStart = false // what follows is the middle of the dropped message
	}
}

// pump consumes what direction di has buffered and keeps the rest. A
// message completed from the buffer is stamped with the capture time of
// its latest bytes.
func (r *Reassembler) pump(c *conn, di int, emit func(Message)) {
	d := &c.dirs[di]
	if len(d.buf) == 0 {
		return
	}
	n := r.consume(c, di, d.buf, d.bufTS, emit)
	rest := copy(d.buf, d.buf[n:])
	d.buf = d.buf[:rest]
	if rest == 0 {
		r.releaseBuf(&d.buf)
	}
}

// afterConsume finishes what framing decided about the whole connection.
func (r *Reassembler) afterConsume(c *conn, emit func(Message)) {
	if c.pumpClient && c.mode == modeWebSocket {
		c.pumpClient = false
		r.pump(c, int(c.wsClient), emit)
	}
	for i := range c.dirs {
		if d := &c.dirs[i]; c.mode == modeNotSIP || d.wsBroken {
			r.discard(d)
		}
	}
}

// resyncSIP makes a SIP (or still unknown) direction hunt for the next
// start line.
func (r *Reassembler) resyncSIP(c *conn, d *direction) {
	d.need, d.startOK = 0, false
	if c.mode == modeUnknown || c.mode == modeSIP {
		d.hunting, d.atLineStart = true, true
	}
}
