package correlate

import (
	"cmp"
	"hash/maphash"
	"slices"
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
	if c.tail == d {
		return
	}
	c.unlinkIdle(d)
	c.pushTail(d)
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
		case d.answered && d.byeTS != 0:
			return d.last + int64(cfg.InviteTimeout) // BYE without a response (Timer F)
		case d.answered:
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
func (c *Correlator) Expire(now int64) {
	if now > c.now {
		c.now = now
	}
	idle := c.minIdle()
	for d := c.head; d != nil; {
		next := d.next
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

// drop removes d from memory, handing its last record to the pending and
// retained lists, and remembers its Call-ID for a while so that late
// copies of its messages do not start a new, headless record that would
// overwrite it in storage.
func (c *Correlator) drop(d *dialog) {
	if c.dialogs[d.callID] == d {
		delete(c.dialogs, d.callID)
	}
	c.unlinkIdle(d)
	c.freeMedia(d)
	c.unlinkLegs(d)
	emit := d.dirty
	c.unlinkDirty(d)
	d.removed = true
	switch d.kind {
	case kindCall:
		call := c.snapshotCall(d)
		if c.cfg.Retain {
			c.retainCalls = append(c.retainCalls, heldCall{call: call, seq: d.seq, emit: emit})
		} else if emit {
			c.pendingCalls = appendBounded(c.pendingCalls, heldCall{call: call, seq: d.seq}, c.pendingLimit(), &c.stats.UpdatesDropped)
		}
	case kindRegistration:
		reg := c.snapshotReg(d)
		if c.cfg.Retain {
			c.retainRegs = append(c.retainRegs, heldReg{reg: reg, seq: d.seq, emit: emit})
		} else if emit {
			c.pendingRegs = appendBounded(c.pendingRegs, heldReg{reg: reg, seq: d.seq}, c.pendingLimit(), &c.stats.UpdatesDropped)
		}
	}
	c.tombs.add(maphash.String(c.seed, d.callID), c.now)
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

// Updates returns the calls that changed since the last call, each once,
// in the order they first changed: new calls, calls with news, and calls
// that ended (Finished) including those Expire or eviction dropped since.
// A live pipeline writes them to storage; a later record of a call
// replaces the earlier one.
func (c *Correlator) Updates() []Call {
	out := make([]Call, 0, len(c.pendingCalls)+len(c.retainCalls)-c.retainCallsN+c.ndirty[kindCall])
	for _, h := range c.pendingCalls {
		out = append(out, h.call)
	}
	clear(c.pendingCalls)
	c.pendingCalls = c.pendingCalls[:0]
	for i := c.retainCallsN; i < len(c.retainCalls); i++ {
		if h := &c.retainCalls[i]; h.emit {
			out = append(out, h.call)
			h.emit = false
		}
	}
	c.retainCallsN = len(c.retainCalls)
	for d := c.dhead; d != nil; {
		next := d.dnext
		if d.kind == kindCall {
			out = append(out, c.snapshotCall(d))
			c.unlinkDirty(d)
		}
		d = next
	}
	return out
}

// UpdatedRegistrations is Updates for registrations.
func (c *Correlator) UpdatedRegistrations() []Registration {
	out := make([]Registration, 0, len(c.pendingRegs)+len(c.retainRegs)-c.retainRegsN+c.ndirty[kindRegistration])
	for _, h := range c.pendingRegs {
		out = append(out, h.reg)
	}
	clear(c.pendingRegs)
	c.pendingRegs = c.pendingRegs[:0]
	for i := c.retainRegsN; i < len(c.retainRegs); i++ {
		if h := &c.retainRegs[i]; h.emit {
			out = append(out, h.reg)
			h.emit = false
		}
	}
	c.retainRegsN = len(c.retainRegs)
	for d := c.dhead; d != nil; {
		next := d.dnext
		if d.kind == kindRegistration {
			out = append(out, c.snapshotReg(d))
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
	var all []heldCall
	all = append(all, c.retainCalls...)
	if !c.cfg.Retain {
		all = append(all, c.pendingCalls...)
	}
	for d := c.head; d != nil; d = d.next {
		if d.kind == kindCall {
			all = append(all, heldCall{call: c.snapshotCall(d), seq: d.seq})
		}
	}
	slices.SortFunc(all, func(a, b heldCall) int {
		if n := a.call.Start.Compare(b.call.Start); n != 0 {
			return n
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]Call, len(all))
	for i := range all {
		out[i] = all[i].call
	}
	return out
}

// Registrations returns registrations the way Calls returns calls.
func (c *Correlator) Registrations() []Registration {
	var all []heldReg
	all = append(all, c.retainRegs...)
	if !c.cfg.Retain {
		all = append(all, c.pendingRegs...)
	}
	for d := c.head; d != nil; d = d.next {
		if d.kind == kindRegistration {
			all = append(all, heldReg{reg: c.snapshotReg(d), seq: d.seq})
		}
	}
	slices.SortFunc(all, func(a, b heldReg) int {
		if n := a.reg.Start.Compare(b.reg.Start); n != 0 {
			return n
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]Registration, len(all))
	for i := range all {
		out[i] = all[i].reg
	}
	return out
}
