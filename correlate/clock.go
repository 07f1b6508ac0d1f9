package correlate

// sourceClock is the capture clock of one source (Frame.Node: an interface
// or a HEP agent). A HEP agent stamps messages with its own clock, which
// may lag the collector's by minutes or hours; a call's timers run on the
// clock of the source that carries it, so a lagging agent's ringing call
// is not expired by another source's later time, and capture times are
// never compared with the receiver's wall clock.
type sourceClock struct {
	// now is the source's current time: its latest capture time, moved on
	// by ExpireAt by the time passed on the receiver since then.
	now int64
	// seen is the latest capture time of a message from the source, and
	// arrival when (receiver's clock, Frame.TS) that message arrived.
	seen, arrival int64
}

// maxSourceClocks bounds the clocks kept (node names come off the wire);
// sources beyond it share one clock, counted in Stats.ClockSourcesShared.
const maxSourceClocks = 4096

// clockOf returns node's clock, creating it within maxSourceClocks.
func (c *Correlator) clockOf(node string) *sourceClock {
	if k, ok := c.clocks[node]; ok {
		return k
	}
	if len(c.clocks) >= maxSourceClocks {
		c.stats.ClockSourcesShared++
		return &c.sharedClock
	}
	k := &sourceClock{}
	c.clocks[node] = k
	return k
}

// SetArrival tells when, on the receiver's clock (Unix ns), the frame whose
// messages come next arrived: Frame.TS, which for HEP is the time the
// collector received it while the message's own time is the agent's.
// ExpireAt advances each source's clock from it. Offline analysis need not
// call it.
func (c *Correlator) SetArrival(ts int64) { c.arrival = ts }

// tick notes a message of capture time ts from the current source.
func (c *Correlator) tick(ts int64) {
	k := c.src
	if ts >= k.seen {
		k.seen = ts
		k.arrival = c.arrival
		if k.arrival == 0 {
			k.arrival = ts // no receiver time: the capture time is all there is
		}
	}
	k.now = max(k.now, ts)
}

// ExpireAt is Expire for live capture: wall is the receiver's clock (Unix
// ns), and each source's clock is its latest capture time moved on by the
// receiver time passed since that message arrived. Each dialog's timers
// run on the clock of the source that carried its latest message.
func (c *Correlator) ExpireAt(wall int64) {
	for _, k := range c.clocks {
		k.advance(wall)
	}
	c.sharedClock.advance(wall)
	c.expire()
}

func (k *sourceClock) advance(wall int64) {
	if k.arrival != 0 && wall > k.arrival {
		k.now = max(k.now, k.seen+(wall-k.arrival))
	}
}

// clockNow is the current time of the source that carries d (the latest
// time seen when d has none, e.g. a dialog restored from storage).
func (c *Correlator) clockNow(d *dialog) int64 {
	if d.clock == nil {
		return c.now
	}
	return d.clock.now
}
