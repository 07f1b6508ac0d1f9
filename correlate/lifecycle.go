package correlate

import (
	"cmp"
	"slices"
	"time"
)

// A dialog lives in c.dialogs from its first message until Expire or
// eviction drops it. While it lives, every change puts it on the changed
// list that Updates drains ("a call is emitted as soon as it has news, and
// updated until it ends"). When it is dropped, its last record goes to the
// pending list (if Updates has not seen it yet) and, with Retain, to the
// retained list that Calls keeps returning.

// pushTail appends d to the idle list: it is the most recently active.
func (c *Correlator) pushTail(d *dialog) {
	d.prev, d.next = c.tail, nil
	if c.tail != nil {
		c.tail.next = d
	} else {
		c.head = d
	}
	c.tail = d
}

func (c *Correlator) unlinkIdle(d *dialog) {
	if d.prev != nil {
		d.prev.next = d.next
	} else {
		c.head = d.next
	}
	if d.next != nil {
		d.next.prev = d.prev
	} else {
		c.tail = d.prev
	}
	d.prev, d.next = nil, nil
}

// touch marks d as the most recently active dialog.
func (c *Correlator) touch(d *dialog) {
	if d.kind == kindRegistration && c.rtail != d {
		c.unlinkReg(d)
		c.pushRegTail(d)
	}
	if c.tail == d {
		return
	}
	c.unlinkIdle(d)
	c.pushTail(d)
}

// pushRegTail appends registration d to the registrations' idle list.
func (c *Correlator) pushRegTail(d *dialog) {
	r := d.reg
	r.rprev, r.rnext = c.rtail, nil
	if c.rtail != nil {
		c.rtail.reg.rnext = d
	} else {
		c.rhead = d
	}
	c.rtail = d
	c.nregs++
}

func (c *Correlator) unlinkReg(d *dialog) {
	r := d.reg
	if r.rprev != nil {
		r.rprev.reg.rnext = r.rnext
	} else {
		c.rhead = r.rnext
	}
	if r.rnext != nil {
		r.rnext.reg.rprev = r.rprev
	} else {
		c.rtail = r.rprev
	}
	r.rprev, r.rnext = nil, nil
	c.nregs--
}

// markDirty queues d's record for the next Updates or UpdatedRegistrations.
func (c *Correlator) markDirty(d *dialog) {
	if d.dirty || d.removed || d.kind == kindOther {
		return
	}
	d.dirty = true
	c.ndirty[d.kind]++
	d.dprev, d.dnext = c.dtail, nil
	if c.dtail != nil {
		c.dtail.dnext = d
	} else {
		c.dhead = d
	}
	c.dtail = d
}

func (c *Correlator) unlinkDirty(d *dialog) {
	if !d.dirty {
		return
	}
	if d.dprev != nil {
		d.dprev.dnext = d.dnext
	} else {
		c.dhead = d.dnext
	}
	if d.dnext != nil {
		d.dnext.dprev = d.dprev
	} else {
		c.dtail = d.dprev
	}
	d.dprev, d.dnext = nil, nil
	d.dirty = false
	c.ndirty[d.kind]--
}

// dueAt is when an unfinished dialog's timer runs out (Unix ns).
func (c *Correlator) dueAt(d *dialog) int64 {
	cfg := &c.cfg
	switch d.kind {
	case kindCall:
		switch code := d.call.FinalCode; {
		case d.up() && d.byeTS != 0:
			return d.last + int64(cfg.InviteTimeout) // BYE without a response (Timer F)
		case d.up():
			return d.first + int64(cfg.MaxCallAge)
		case code == 401 || code == 407:
			return d.last + int64(cfg.AuthTimeout) // the retry with credentials never came
		case d.proceeding && !d.cancelSeen:
			return d.last + int64(cfg.ProceedingTimeout)
		}
	case kindRegistration:
		if code := d.reg.FinalCode; code == 401 || code == 407 {
			return d.last + int64(cfg.RegistrationLinger)
		}
	}
	return d.last + int64(cfg.InviteTimeout)
}

// dropAt is when a finished dialog leaves memory.
func (c *Correlator) dropAt(d *dialog) int64 {
	if d.kind == kindRegistration {
		return d.last + int64(c.cfg.RegistrationLinger)
	}
	return d.last + int64(c.cfg.Linger)
}

// minIdle is the shortest time a dialog must have been idle before any
// timer can act on it: Expire walks the idle list no further.
func (c *Correlator) minIdle() int64 {
	cfg := &c.cfg
	return int64(min(cfg.InviteTimeout, cfg.ProceedingTimeout, cfg.MaxCallAge, cfg.AuthTimeout, cfg.Linger, cfg.RegistrationLinger))
}

// Expire ends dialogs whose timers have run out at now (Unix ns, the
// capture clock) and drops finished dialogs that have lingered long enough,
// freeing their media bindings. Their last records stay available to
// Updates/UpdatedRegistrations (and, with Retain, to Calls/Registrations).
// Call it periodically, e.g. every second, with the latest packet time.
//
// The cost is the number of dialogs idle for at least the shortest timer;
// an answered call that keeps exchanging messages (session refreshes) is
// only ended by MaxCallAge once it falls idle.
//
// now is taken as the time of every source; live capture with sources on
// different clocks calls ExpireAt.
func (c *Correlator) Expire(now int64) {
	if now > c.now {
		c.now = now
	}
	for _, k := range c.clockList {
		k.now = max(k.now, now)
	}
	c.expire()
}

// expire ends and drops what is due, each dialog by its source's clock.
// The idle list is in the order messages arrived; a dialog's latest
// message is idle for its own clock as long as it is for the receiver, so
// the first dialog not idle long enough on its own clock ends the walk.
func (c *Correlator) expire() {
	idle := c.minIdle()
	for d := c.head; d != nil; {
		next := d.next
		now := c.clockNow(d)
		if now > c.now {
			c.now = now
		}
		if d.last+idle > now {
			break
		}
		if !d.finished && c.dueAt(d) <= now {
			c.finish(d, now)
			c.stats.TimedOut++
		}
		if d.finished && c.dropAt(d) <= now {
			c.drop(d)
		}
		d = next
	}
}

// EndOfCapture tells the correlator that its capture file has ended:
// calls still waiting for a final response end as capture_ended rather
// than in_progress, and every record is final (Finished), since no more
// news can come. Offline analysis (analyze, import) calls it after the
// last frame, with that frame's capture time (Unix ns; 0 when unknown),
// which calls carry as CaptureEndNs; a live correlator never calls it, and
// its calls stay in progress until a message or a timer ends them. Calls
// that changed are handed out again by Updates.
func (c *Correlator) EndOfCapture(lastFrame int64) {
	c.captureEnded = true
	c.captureEnd = max(lastFrame, c.now)
	for d := c.head; d != nil; d = d.next {
		if d.kind == kindCall && !d.finished {
			c.markDirty(d)
		}
	}
}

// finish ends d at now without a message saying so (timer or eviction).
func (c *Correlator) finish(d *dialog, now int64) {
	d.finished = true
	if now > d.updated {
		d.updated = now
	}
	if d.kind == kindRegistration && d.reg.FinalCode == 0 {
		d.reg.Failed = true
	}
	c.markDirty(d)
}

// evictOldest makes room for a new dialog by dropping the one idle longest.
func (c *Correlator) evictOldest() {
	d := c.head
	if d == nil {
		return
	}
	c.stats.Evicted++
	if !d.finished {
		c.stats.EvictedActive++
		c.finish(d, c.now)
	}
	c.drop(d)
}

// evictOldestRegistration makes room for a new registration by dropping
// the one idle longest.
func (c *Correlator) evictOldestRegistration() {
	d := c.rhead
	if d == nil {
		return
	}
	c.stats.RegistrationsEvicted++
	if !d.finished {
		c.finish(d, c.now)
	}
	c.drop(d)
}

// drop removes d from memory, handing its last record to the pending and
// retained lists, and remembers its Call-ID for a while so that late
// copies of its messages do not start a new, headless record that would
// overwrite it in storage.
func (c *Correlator) drop(d *dialog) {
	c.dialogs.remove(d)
	c.unlinkIdle(d)
	if d.kind == kindRegistration {
		c.unlinkReg(d)
	}
	c.freeMedia(d)
	c.unlinkLegs(d)
	emit := d.dirty
	c.unlinkDirty(d)
	d.removed = true
	switch d.kind {
	case kindCall:
		keep(c, &c.calls, d, emit, c.snapshotCall)
	case kindRegistration:
		keep(c, &c.regs, d, emit, c.snapshotReg)
	}
	c.tombs.add(d.hash, c.now)
	c.recycle(d)
}

// maxSpareDialogs bounds the dropped dialogs kept for reuse (under a
// megabyte). Expire, run about once a second, drops about as many as
// arrive meanwhile; beyond this many, dropped dialogs go to the garbage
// collector as before.
const maxSpareDialogs = 1024

// recycle keeps a dropped dialog for the next new one. Nothing refers to
// it any more: the tables, lists and media and leg indexes let go of it
// above, and the records kept are copies. Reusing it spares the garbage
// collector most of what a live correlator allocates besides its output.
func (c *Correlator) recycle(d *dialog) {
	if len(c.spare) < maxSpareDialogs {
		*d = dialog{}
		c.spare = append(c.spare, d)
	}
}

// allocDialog returns a zeroed dialog, reused when one is spare.
func (c *Correlator) allocDialog() *dialog {
	if n := len(c.spare); n > 0 {
		d := c.spare[n-1]
		c.spare[n-1] = nil
		c.spare = c.spare[:n-1]
		return d
	}
	return new(dialog)
}

// pendingLimit bounds the dropped records waiting for Updates: generous,
// since a burst of drops between two Updates is normal, but finite.
func (c *Correlator) pendingLimit() int { return max(4*c.cfg.MaxDialogs, 1<<16) }

// appendBounded appends unless the list already holds limit records: a
// live correlator whose Updates is never called must not grow forever.
func appendBounded[T any](list []T, v T, limit int, dropped *int) []T {
	if len(list) >= limit {
		*dropped++
		return list
	}
	return append(list, v)
}

// keep holds the record of a dialog that left the table: every one with
// Retain (offline), else only one with news Updates has not handed out.
// The record is only built when it is kept: a live call that lingered
// after its last update leaves nothing to build.
func keep[T any](c *Correlator, rs *records[T], d *dialog, emit bool, snapshot func(*dialog) T) {
	if c.cfg.Retain {
		rs.retain = append(rs.retain, held[T]{rec: snapshot(d), seq: d.seq, emit: emit})
	} else if emit {
		rs.pending = appendBounded(rs.pending, held[T]{rec: snapshot(d), seq: d.seq}, c.pendingLimit(), &c.stats.UpdatesDropped)
	}
}

// Updates returns the calls that changed since the last call, each once,
// in the order they first changed: new calls, calls with news, and calls
// that ended (Finished) including those Expire or eviction dropped since.
// A live pipeline writes them to storage; a later record of a call
// replaces the earlier one.
func (c *Correlator) Updates() []Call { return c.AppendUpdates(nil) }

// AppendUpdates is Updates appending to dst, so that a caller that is done
// with an earlier batch can hand its memory back.
func (c *Correlator) AppendUpdates(dst []Call) []Call {
	return updates(c, dst, &c.calls, kindCall, c.fillCall)
}

// UpdatedRegistrations is Updates for registrations.
func (c *Correlator) UpdatedRegistrations() []Registration { return c.AppendUpdatedRegistrations(nil) }

// AppendUpdatedRegistrations is AppendUpdates for registrations.
func (c *Correlator) AppendUpdatedRegistrations(dst []Registration) []Registration {
	return updates(c, dst, &c.regs, kindRegistration, c.fillReg)
}

func updates[T any](c *Correlator, out []T, rs *records[T], kind dialogKind, fill func(*T, *dialog)) []T {
	out = slices.Grow(out, len(rs.pending)+len(rs.retain)-rs.retainN+c.ndirty[kind])
	for _, h := range rs.pending {
		out = append(out, h.rec)
	}
	clear(rs.pending)
	rs.pending = rs.pending[:0]
	for i := rs.retainN; i < len(rs.retain); i++ {
		if h := &rs.retain[i]; h.emit {
			out = append(out, h.rec)
			h.emit = false
		}
	}
	rs.retainN = len(rs.retain)
	for d := c.dhead; d != nil; {
		next := d.dnext
		if d.kind == kind {
			if len(out) < cap(out) {
				out = out[:len(out)+1] // fill overwrites the whole record; the count is exact
			} else {
				var zero T
				out = append(out, zero)
			}
			fill(&out[len(out)-1], d)
			c.unlinkDirty(d)
		}
		d = next
	}
	return out
}

// Calls returns every call held, plus those dropped but not yet handed out
// by Updates, plus (with Retain) every call dropped before, ordered by
// start time (first seen on ties).
func (c *Correlator) Calls() []Call {
	return all(c, &c.calls, kindCall, c.snapshotCall, func(x Call) time.Time { return x.Start })
}

// Registrations returns registrations the way Calls returns calls.
func (c *Correlator) Registrations() []Registration {
	return all(c, &c.regs, kindRegistration, c.snapshotReg, func(x Registration) time.Time { return x.Start })
}

func all[T any](c *Correlator, rs *records[T], kind dialogKind, snapshot func(*dialog) T, start func(T) time.Time) []T {
	var hs []held[T]
	hs = append(hs, rs.retain...)
	if !c.cfg.Retain {
		hs = append(hs, rs.pending...)
	}
	for d := c.head; d != nil; d = d.next {
		if d.kind == kind {
			hs = append(hs, held[T]{rec: snapshot(d), seq: d.seq})
		}
	}
	slices.SortFunc(hs, func(a, b held[T]) int {
		if n := start(a.rec).Compare(start(b.rec)); n != 0 {
			return n
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]T, len(hs))
	for i := range hs {
		out[i] = hs[i].rec
	}
	return out
}
