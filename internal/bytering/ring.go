// Package bytering is a bounded queue of variable-sized records between
// goroutines, bounded in bytes, that allocates nothing per record. The live
// pipeline's frame queue and the HEP sender's queue are both one.
package bytering

import "sync/atomic"

// Ring is a bounded queue of variable-sized records between one
// producer and one consumer goroutine: the bytes sit back to back in one
// preallocated buffer, so memory is bounded in bytes whatever the record
// sizes, and a record's place travels to the consumer as a span over a
// channel of fixed capacity. Nothing is allocated per record.
//
// The producer owns the logical write position; the consumer gives bytes
// back by advancing the read position once it is done with a record. A
// record never wraps: when it does not fit before the buffer's end, the
// tail is skipped and given back with that record.
type Ring[M any] struct {
	buf   []byte
	wpos  uint64 // producer's; logical, grows for ever
	rpos  atomic.Uint64
	spans chan Span[M]

	pending uint64 // logical start of the reserved record, set by reserve
}

// Span locates one record: buf[off:off+n], and the write position just
// after it, which becomes the read position once the record is consumed.
type Span[M any] struct {
	off, n uint32
	end    uint64
	Meta   M
}

// New makes a ring of size bytes holding at most maxRecords records.
// size must be at least the largest record reserve will be asked for.
func New[M any](size, maxRecords int) *Ring[M] {
	return &Ring[M]{buf: make([]byte, size), spans: make(chan Span[M], maxRecords)}
}

// reserve returns n bytes for the producer to fill, or nil when the ring or
// the record queue is full (the caller counts a drop). Only the producer
// calls it, and commit must follow before the next reserve.
func (r *Ring[M]) Reserve(n int) []byte {
	size := uint64(len(r.buf))
	if uint64(n) > size {
		return nil
	}
	pos := r.wpos
	off := pos % size
	if off+uint64(n) > size {
		pos += size - off
		off = 0
	}
	if pos+uint64(n)-r.rpos.Load() > size || len(r.spans) == cap(r.spans) {
		return nil
	}
	r.pending = pos
	return r.buf[off : off+uint64(n)]
}

// commit hands the first n bytes of what reserve returned to the consumer,
// with meta. It never blocks: reserve checked there was room.
func (r *Ring[M]) Commit(n int, meta M) {
	off := r.pending % uint64(len(r.buf))
	r.wpos = r.pending + uint64(n)
	r.spans <- Span[M]{off: uint32(off), n: uint32(n), end: r.wpos, Meta: meta}
}

// bytes returns the record sp locates; valid until release(sp).
func (r *Ring[M]) Bytes(sp Span[M]) []byte { return r.buf[sp.off : sp.off+sp.n] }

// release gives sp's bytes (and any skipped tail before them) back to the
// producer. Spans are released in the order they were received.
func (r *Ring[M]) Release(sp Span[M]) { r.rpos.Store(sp.end) }

// close tells the consumer no more records come: it drains what is queued
// and then sees the channel closed.
func (r *Ring[M]) Close() { close(r.spans) }

// Spans delivers the committed records in order; it is closed by Close.
func (r *Ring[M]) Spans() <-chan Span[M] { return r.spans }

// Size is the ring's capacity in bytes.
func (r *Ring[M]) Size() int { return len(r.buf) }

// InFlight is how many bytes are committed and not yet released (a skipped
// tail counts with the record after it). Only the producer may call it.
func (r *Ring[M]) InFlight() uint64 { return r.wpos - r.rpos.Load() }
