package decode

import (
	"net/netip"
	"time"
)

// DefragConfig bounds IP reassembly. Zero fields take the defaults shown.
type DefragConfig struct {
	MaxDatagrams int           // datagrams in progress at once, all flows (1024)
	MaxPerFlow   int           // datagrams in progress per address pair (16)
	MaxBytes     int           // fragment bytes held, all datagrams (16 MiB)
	MaxFragments int           // fragments in one datagram, duplicates included (64)
	Timeout      time.Duration // from a datagram's first fragment, in capture time (30 s, as Linux)
}

func (c DefragConfig) withDefaults() DefragConfig {
	if c.MaxDatagrams <= 0 {
		c.MaxDatagrams = 1024
	}
	if c.MaxPerFlow <= 0 {
		c.MaxPerFlow = 16
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 16 << 20
	}
	if c.MaxFragments <= 0 {
		c.MaxFragments = 64
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	return c
}

// DefragStats counts what a Defragmenter did. Fragments it throws away are
// counted here and never silently lost.
type DefragStats struct {
	Reassembled uint64 // datagrams completed
	Pending     int    // datagrams in progress now
	HeldBytes   int    // fragment bytes held now
	Expired     uint64 // datagrams dropped incomplete after Timeout
	Evicted     uint64 // datagrams dropped incomplete to make room under MaxDatagrams/MaxBytes
	Rejected    uint64 // fragments refused: over MaxPerFlow or MaxFragments, past 64 KiB, overlapping, or inconsistent
}

// fragKey identifies one datagram (RFC 791: addresses, protocol and ID;
// RFC 8200: addresses and ID, with protocol left zero).
type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
}

type flowKey struct{ src, dst netip.Addr }

type span struct{ start, end int }

// datagram is one datagram in progress.
type datagram struct {
	key   fragKey
	first int64  // capture time of its first fragment
	buf   []byte // payload bytes at their offsets; gaps hold garbage
	spans []span // received ranges, sorted and disjoint
	total int    // payload length once the last fragment is seen, else -1
	frags int    // fragments received, duplicates included
	proto uint8  // protocol after reassembly (IPv6: the first fragment's next header)
	done  bool   // completed or dropped; its queue entry is stale
}

// Defragmenter reassembles IPv4 and IPv6 fragments within the bounds of its
// DefragConfig. Like Decoder it belongs to one goroutine. It never looks at
// the wall clock: time advances with the timestamps of the frames given.
type Defragmenter struct {
	cfg     DefragConfig
	pending map[fragKey]*datagram
	flows   map[flowKey]int
	queue   []*datagram // by first fragment, so also by expiry; finished ones linger until popped
	stale   int         // finished datagrams still in queue
	bufs    [][]byte    // buffers of finished datagrams, for reuse
	out     []byte      // the last reassembled payload
	stats   DefragStats
}

// NewDefragmenter returns an empty Defragmenter.
func NewDefragmenter(cfg DefragConfig) *Defragmenter {
	return &Defragmenter{
		cfg:     cfg.withDefaults(),
		pending: make(map[fragKey]*datagram),
		flows:   make(map[flowKey]int),
	}
}

// Stats reports the counters so far.
func (f *Defragmenter) Stats() DefragStats { return f.stats }

// maxDatagram is the largest payload a fragment may reach (the IPv4 total
// length field's limit; IPv6 jumbograms are never fragmented).
const maxDatagram = 65535

// add takes one fragment: its payload starts at byte offset off of the
// datagram, and more says whether fragments follow. When the datagram is
// complete it returns the whole payload, valid until the next call, and
// its protocol; otherwise nil and ErrFragmentHeld, or ErrFragment when the
// fragment was refused.
func (f *Defragmenter) add(key fragKey, proto uint8, off int, more bool, payload []byte, ts int64) ([]byte, uint8, error) {
	f.expire(ts)
	f.compact()
	end := off + len(payload)
	// Every fragment but the last carries a multiple of 8 bytes.
	if end > maxDatagram || (more && len(payload)%8 != 0) || (more && len(payload) == 0) {
		f.stats.Rejected++
		return nil, 0, ErrFragment
	}
	dg := f.pending[key]
	if dg == nil {
		flow := flowKey{key.src, key.dst}
		if f.flows[flow] >= f.cfg.MaxPerFlow {
			f.stats.Rejected++
			return nil, 0, ErrFragment
		}
		for len(f.pending) >= f.cfg.MaxDatagrams && len(f.queue) > 0 {
			f.evictOldest()
		}
		dg = f.newDatagram(key, ts)
		f.pending[key] = dg
		f.flows[flow]++
		f.queue = append(f.queue, dg)
		f.stats.Pending++
	}
	// Duplicates count too: they cost work all the same.
	if dg.frags++; dg.frags > f.cfg.MaxFragments {
		f.drop(dg)
		f.stats.Rejected++
		return nil, 0, ErrFragment
	}
	if dg.duplicate(off, end, more, payload) {
		return nil, 0, ErrFragmentHeld
	}
	if !dg.insert(off, end, more) {
		f.drop(dg)
		f.stats.Rejected++
		return nil, 0, ErrFragment
	}
	if off == 0 {
		dg.proto = proto
	}
	if len(dg.buf) < end {
		f.stats.HeldBytes += end - len(dg.buf)
		dg.buf = append(dg.buf, make([]byte, end-len(dg.buf))...)
	}
	copy(dg.buf[off:end], payload)
	for f.stats.HeldBytes > f.cfg.MaxBytes && len(f.queue) > 0 {
		f.evictOldest()
	}
	if dg.done { // evicted itself to respect MaxBytes
		return nil, 0, ErrFragment
	}
	if dg.total < 0 || len(dg.spans) != 1 || dg.spans[0] != (span{0, dg.total}) {
		return nil, 0, ErrFragmentHeld
	}
	f.out = append(f.out[:0], dg.buf[:dg.total]...)
	proto = dg.proto
	f.stats.Reassembled++
	f.drop(dg)
	return f.out, proto, nil
}

// insert records [start,end) and reports whether the datagram is still
// consistent: any overlap spoils it (RFC 5722, and the classic evasion
// trick), as do two different ends or data past the end. Duplicates are
// filtered out before.
func (dg *datagram) insert(start, end int, more bool) bool {
	if !more {
		if dg.total >= 0 && dg.total != end {
			return false
		}
		dg.total = end
	}
	if dg.total >= 0 && end > dg.total {
		return false
	}
	i := 0
	for i < len(dg.spans) && dg.spans[i].end <= start {
		i++
	}
	if i < len(dg.spans) && dg.spans[i].start < end {
		// Overlap: the caller accepts it only as a duplicate, which must
		// lie inside data already received and match it.
		return false
	}
	if start == end {
		return true
	}
	// Insert at i, merging with touching neighbours.
	dg.spans = append(dg.spans, span{})
	copy(dg.spans[i+1:], dg.spans[i:])
	dg.spans[i] = span{start, end}
	if i+1 < len(dg.spans) && dg.spans[i+1].start == end {
		dg.spans[i].end = dg.spans[i+1].end
		dg.spans = append(dg.spans[:i+1], dg.spans[i+2:]...)
	}
	if i > 0 && dg.spans[i-1].end == start {
		dg.spans[i-1].end = dg.spans[i].end
		dg.spans = append(dg.spans[:i], dg.spans[i+1:]...)
	}
	return true
}

// duplicate reports whether a fragment repeats bytes already received
// (a retransmission, or a capture seeing the same packet twice): it lies
// inside one received range, holds the same bytes, and agrees on the end.
func (dg *datagram) duplicate(start, end int, more bool, payload []byte) bool {
	if !more && dg.total != end {
		return false
	}
	for _, s := range dg.spans {
		if s.start <= start && end <= s.end {
			return string(dg.buf[start:end]) == string(payload)
		}
	}
	return false
}

func (f *Defragmenter) newDatagram(key fragKey, ts int64) *datagram {
	dg := &datagram{key: key, first: ts, total: -1}
	if n := len(f.bufs); n > 0 {
		dg.buf, f.bufs = f.bufs[n-1], f.bufs[:n-1]
	}
	return dg
}

// drop forgets a datagram, completed or not, and keeps its buffer for the
// next one. Its queue entry, now empty, goes when it reaches the head.
func (f *Defragmenter) drop(dg *datagram) {
	if dg.done {
		return
	}
	dg.done = true
	delete(f.pending, dg.key)
	flow := flowKey{dg.key.src, dg.key.dst}
	if f.flows[flow]--; f.flows[flow] <= 0 {
		delete(f.flows, flow)
	}
	f.stats.Pending--
	f.stats.HeldBytes -= len(dg.buf)
	f.stale++ // still in queue: expire, evictOldest and compact remove it
	if len(f.bufs) < 64 {
		f.bufs = append(f.bufs, dg.buf[:0])
	}
	dg.buf, dg.spans = nil, nil
}

func (f *Defragmenter) pop() *datagram {
	dg := f.queue[0]
	f.queue[0] = nil
	f.queue = f.queue[1:]
	if dg.done {
		f.stale--
	}
	return dg
}

// compact removes finished datagrams from the queue once they are most of
// it, so that a datagram lingering at its head cannot make the queue grow
// with every one completed behind it. Amortised, O(1) per datagram.
func (f *Defragmenter) compact() {
	if f.stale <= 64 || f.stale <= len(f.queue)/2 {
		return
	}
	live := f.queue[:0]
	for _, dg := range f.queue {
		if !dg.done {
			live = append(live, dg)
		}
	}
	clear(f.queue[len(live):])
	f.queue = live
	f.stale = 0
}

func (f *Defragmenter) evictOldest() {
	for len(f.queue) > 0 {
		dg := f.queue[0]
		evict := !dg.done
		if evict {
			f.drop(dg)
			f.stats.Evicted++
		}
		f.pop()
		if evict {
			return
		}
	}
}

// expire drops the datagrams whose first fragment is older than Timeout.
func (f *Defragmenter) expire(now int64) {
	limit := now - int64(f.cfg.Timeout)
	for len(f.queue) > 0 && (f.queue[0].done || f.queue[0].first < limit) {
		if dg := f.queue[0]; !dg.done {
			f.drop(dg)
			f.stats.Expired++
		}
		f.pop()
	}
}
