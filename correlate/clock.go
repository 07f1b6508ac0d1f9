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
// sources beyond it share the last one, counted in
// Stats.ClockSourcesShared.
const maxSourceClocks = 4096

// clockOf returns the index of node's clock, creating it within
// maxSourceClocks.
func (c *Correlator) clockOf(node string) uint16 {
	if i, ok := c.clocks[node]; ok {
		return i
	}
	if len(c.clockList) >= maxSourceClocks {
		c.stats.ClockSourcesShared++
		return maxSourceClocks - 1
	}
	i := uint16(len(c.clockList))
	c.clockList = append(c.clockList, &sourceClock{})
	c.clocks[node] = i
	return i
}

// SetArrival tells the receiver's wall clock (Unix ns) as the messages
// that come next are handled; ExpireAt advances each source's clock by the
// wall time passed since. Offline analysis need not call it.
func (c *Correlator) SetArrival(ts int64) { c.arrival = ts }

// tick notes a message of capture time ts from the current source.
func (c *Correlator) tick(ts int64) {
	k := c.src
	if ts >= k.seen {
		k.seen = ts
		k.arrival = c.arrival // 0 without SetArrival: ExpireAt then leaves the clock where messages put it
	}
	k.now = max(k.now, ts)
}

// ExpireAt is Expire for live capture: wall is the receiver's clock (Unix
// ns), and each source's clock is its latest capture time moved on by the
// receiver time passed since that message arrived. Each dialog's timers
// run on the clock of the source that carried its latest message.
func (c *Correlator) ExpireAt(wall int64) {
	for _, k := range c.clockList {
		k.advance(wall)
	}
	c.expire()
}

func (k *sourceClock) advance(wall int64) {
	if k.arrival != 0 && wall > k.arrival {
		k.now = max(k.now, k.seen+(wall-k.arrival))
	}
}

// clockNow is the current time of the source that carries d.
func (c *Correlator) clockNow(d *dialog) int64 { return c.clockList[d.clock].now }
