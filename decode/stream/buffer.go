package stream

// Buffers are the only memory a Reassembler holds per connection. Their
// capacity is what counts against MaxBufferPerConn and MaxTotalBytes, and
// emptied ones go to a small spare list so that steady traffic reuses them
// instead of allocating.

// room reports whether d may grow by extra bytes of capacity.
func (r *Reassembler) room(d *direction, extra int) bool {
	return d.holding()+extra <= r.cfg.MaxBufferPerConn && r.total+extra <= r.cfg.MaxTotalBytes
}

// getBuf returns an empty buffer: a spare one with capacity in
// [minCap, maxCap] if there is one, else a new one of capacity newCap.
func (r *Reassembler) getBuf(minCap, maxCap, newCap int) []byte {
	for i := len(r.spare) - 1; i >= 0; i-- {
		if b := r.spare[i]; cap(b) >= minCap && cap(b) <= maxCap {
			last := len(r.spare) - 1
			r.spare[i] = r.spare[last]
			r.spare[last] = nil
			r.spare = r.spare[:last]
			return b
		}
	}
	return make([]byte, 0, newCap)
}

// putBuf keeps b for reuse if it is small and there is space.
func (r *Reassembler) putBuf(b []byte) {
	if cap(b) == 0 || cap(b) > maxSpareCap || len(r.spare) == cap(r.spare) {
		return
	}
	r.spare = append(r.spare, b[:0])
}

// appendBounded appends src to *dst, one of d's buffers, growing it within
// d's bounds. It reports false, changing nothing, when the bounds forbid.
func (r *Reassembler) appendBounded(d *direction, dst *[]byte, src []byte) bool {
	b := *dst
	need := len(b) + len(src)
	if need <= cap(b) {
		*dst = append(b, src...)
		return true
	}
	// Grow geometrically but never past what the bounds leave.
	limit := min(r.cfg.MaxBufferPerConn-(d.holding()-cap(b)), r.cfg.MaxTotalBytes-(r.total-cap(b)))
	if need > limit {
		return false
	}
	want := min(max(need, 2*cap(b), 1024), limit)
	nb := r.getBuf(need, want, want)
	nb = append(nb, b...)
	nb = append(nb, src...)
	r.total += cap(nb) - cap(b)
	r.putBuf(b)
	*dst = nb
	return true
}

// releaseBuf empties *b and gives its memory back.
func (r *Reassembler) releaseBuf(b *[]byte) {
	r.total -= cap(*b)
	r.putBuf(*b)
	*b = nil
}

// holdCopy keeps a copy of an out-of-order segment, in sequence order.
func (r *Reassembler) holdCopy(d *direction, seq uint32, ts int64, data []byte) bool {
	if len(d.ooo) >= maxHeldSegments || !r.room(d, len(data)) {
		return false
	}
	// A spare buffer somewhat larger than needed will do, within the bounds.
	slack := min(len(data)/4, r.cfg.MaxBufferPerConn-d.holding()-len(data), r.cfg.MaxTotalBytes-r.total-len(data))
	cp := r.getBuf(len(data), len(data)+slack, len(data))
	cp = append(cp, data...)
	d.oooCap += cap(cp)
	r.total += cap(cp)
	off := int32(seq - d.next)
	i := len(d.ooo)
	for i > 0 && int32(d.ooo[i-1].seq-d.next) > off {
		i--
	}
	d.ooo = append(d.ooo, held{})
	copy(d.ooo[i+1:], d.ooo[i:])
	d.ooo[i] = held{seq: seq, ts: ts, data: cp}
	if len(d.ooo) == 1 || ts < d.gapSince {
		d.gapSince = ts
	}
	return true
}

// popHeld removes the first held segment and returns its bytes, which stay
// valid until the next buffer operation.
func (r *Reassembler) popHeld(d *direction) held {
	h := d.ooo[0]
	copy(d.ooo, d.ooo[1:])
	d.ooo[len(d.ooo)-1] = held{}
	d.ooo = d.ooo[:len(d.ooo)-1]
	d.oooCap -= cap(h.data)
	r.total -= cap(h.data)
	return h
}

// discard drops everything d holds, counting the stream bytes lost.
func (r *Reassembler) discard(d *direction) {
	n := len(d.buf) + len(d.frag)
	for len(d.ooo) > 0 {
		h := r.popHeld(d)
		n += len(h.data)
		r.putBuf(h.data)
	}
	d.ooo = nil
	r.stats.BytesSkipped += uint64(n)
	r.releaseBuf(&d.buf)
	r.releaseBuf(&d.frag)
	d.inFrag, d.fragDrop, d.need, d.startOK = false, false, 0, false
}
