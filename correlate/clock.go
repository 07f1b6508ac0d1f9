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
	// node is the source's name (Frame.Node), for Call.Nodes.
	node string
}

// maxCallNodes bounds Call.Nodes: a call crosses a few capture points (an
// SBC's two sides, an edge and a core), not dozens.
const maxCallNodes = 4

// maxNodeSets bounds the distinct sets of capture points kept; calls that
// would need another leave the new point out (Stats.CallNodesDropped).
const maxNodeSets = 4096

// nodeSet is one set of capture points that carried a call, shared by
// every dialog with that set: a dialog holds its index (two bytes, not a
// slice), and its records share names, built once.
type nodeSet struct {
	clocks [maxCallNodes]uint16 // first seen first
	n      uint8
	names  []string // Call.Nodes: the clocks' names, files' unnamed source left out
}

// noteNode adds the current source to the capture points that carried d.
// A source past maxSourceClocks has no clock (and no name) of its own.
func (c *Correlator) noteNode(d *dialog) {
	set := &c.nodeSets[d.nodeSet]
	for _, k := range set.clocks[:set.n] {
		if k == c.srcIndex {
			return
		}
	}
	next := *set
	if c.srcShared || int(next.n) == maxCallNodes {
		c.dropNode(d)
		return
	}
	next.clocks[next.n] = c.srcIndex
	next.n++
	key := nodeSetKey{next.clocks, next.n}
	id, ok := c.nodeSetIDs[key]
	if !ok {
		if len(c.nodeSets) >= maxNodeSets {
			c.dropNode(d)
			return
		}
		next.names = nil // a new slice: records of the smaller set keep theirs
		for _, k := range next.clocks[:next.n] {
			if name := c.clockList[k].node; name != "" {
				next.names = append(next.names, name)
			}
		}
		id = uint16(len(c.nodeSets))
		c.nodeSets = append(c.nodeSets, next)
		c.nodeSetIDs[key] = id
	}
	d.nodeSet = id
}

type nodeSetKey struct {
	clocks [maxCallNodes]uint16
	n      uint8
}

// dropNode counts, once per call, a capture point left out of its Nodes.
func (c *Correlator) dropNode(d *dialog) {
	if !d.nodesDropped {
		d.nodesDropped = true
		c.stats.CallNodesDropped++
	}
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
	c.clockList = append(c.clockList, &sourceClock{node: node})
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
