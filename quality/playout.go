package quality

// fate is what became of one sequence number, as the listener's device
// plays the stream in sequence order.
type fate uint8

const (
	fateHeard   fate = iota // arrived in time to be played
	fateLate                // arrived after its playout time
	fateMissing             // never arrived
)

// playoutWindow is how many sequence numbers behind the highest one a
// packet may arrive and still take its place: 32 packets, 640 ms at 20 ms,
// beyond what a 500 ms buffer waits for at usual packet times.
const playoutWindow = 32

// playoutOrder puts a stream's packets back into sequence order, so that
// loss patterns see what a receiver plays: a packet that overtook another
// does not make that one look lost, and a late packet is a loss at its own
// place in the sequence. Each sequence number's fate is settled when it
// falls out of the window (or by flush), oldest first, and goes to a
// fateSink with the time it was due: the arrival of the packet that
// brought the sequence to it. It does not allocate.
type playoutOrder struct {
	started bool
	highest uint16
	valid   uint8                  // window slots that hold sequence numbers due (the stream's first ones may not)
	arrived uint64                 // bit k: highest-k arrived
	onTime  uint64                 // bit k: highest-k arrived in time
	due     [playoutWindow]float64 // by sequence number mod playoutWindow: when it was due
}

// add records the arrival at relMs of seq (not a duplicate), in time or
// late.
func (o *playoutOrder) add(relMs float64, seq uint16, inTime bool, s fateTarget) {
	if !o.started {
		o.started, o.highest, o.valid = true, seq, 1
		o.arrived, o.onTime = 1, b2u(inTime)
		o.due[seq%playoutWindow] = relMs
		return
	}
	d := seq - o.highest
	if d == 1 && o.valid == playoutWindow {
		// The common case, without the loop below.
		o.settle(playoutWindow-1, s)
		o.arrived = o.arrived<<1 | 1
		o.onTime = o.onTime<<1 | b2u(inTime)
		o.highest = seq
		o.due[seq%playoutWindow] = relMs
		return
	}
	if d == 0 {
		return // a duplicate the caller did not catch
	}
	if d >= 0x8000 {
		// Behind the highest: fill its slot if still in the window; an
		// older packet was already settled as missing.
		if back := o.highest - seq; back < uint16(o.valid) {
			o.arrived |= 1 << back
			o.onTime |= b2u(inTime) << back
		}
		return
	}
	if d > 2*playoutWindow {
		// Everything in the window is settled, the numbers jumped over
		// that will not fit in the new window are missing, and the new
		// window holds the rest of the gap and seq.
		o.flush(s)
		s.fate(fateMissing, int(d)-playoutWindow, relMs)
		o.highest, o.valid = seq, playoutWindow
		o.arrived, o.onTime = 1, b2u(inTime)
		for i := range o.due {
			o.due[i] = relMs
		}
		return
	}
	for range d {
		if o.valid == playoutWindow {
			o.settle(playoutWindow-1, s)
		} else {
			o.valid++
		}
		o.arrived <<= 1
		o.onTime <<= 1
		o.highest++
		o.due[o.highest%playoutWindow] = relMs
	}
	o.arrived |= 1
	o.onTime |= b2u(inTime)
}

// settle hands slot k's fate to s.
func (o *playoutOrder) settle(k uint8, s fateTarget) {
	at := o.due[(o.highest-uint16(k))%playoutWindow]
	switch {
	case o.onTime>>k&1 != 0:
		s.fate(fateHeard, 1, at)
	case o.arrived>>k&1 != 0:
		s.fate(fateLate, 1, at)
	default:
		s.fate(fateMissing, 1, at)
	}
}

// flush settles every slot of the window, oldest first, and empties it.
func (o *playoutOrder) flush(s fateTarget) {
	for k := int(o.valid) - 1; k >= 0; k-- {
		o.settle(uint8(k), s)
	}
	o.valid, o.arrived, o.onTime = 0, 0, 0
}

// earliestDue is the earliest time a sequence number still in the window
// was due; ok is false when the window is empty.
func (o *playoutOrder) earliestDue() (at float64, ok bool) {
	for k := range uint16(o.valid) {
		t := o.due[(o.highest-k)%playoutWindow]
		if !ok || t < at {
			at, ok = t, true
		}
	}
	return at, ok
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// fateTarget is where settled fates go: f for n consecutive sequence
// numbers that were due at relMs.
type fateTarget interface {
	fate(f fate, n int, relMs float64)
}

// fateSink records fates in loss patterns (what the listener heard, and
// the network alone) and in the timeline interval each sequence number
// was due in. StreamQuality is the live target; Fill uses a fateSink over
// copies.
type fateSink struct {
	heard, net *LossPattern
	tl         *timeline
	buckets    []timelineBucket // tl's intervals, or a copy of its last ones
}

func (s *fateSink) fate(f fate, n int, relMs float64) {
	recordFate(s.heard, s.net, s.tl.bucketAt(relMs, s.buckets), f, n)
}

// recordFate is fateSink.fate on explicit targets; b may be nil.
func recordFate(heard, net *LossPattern, b *timelineBucket, f fate, n int) {
	if n <= 0 {
		return
	}
	switch f {
	case fateHeard:
		for range n {
			heard.Received()
			net.Received()
		}
	case fateLate:
		heard.Lost(n)
		for range n {
			net.Received()
		}
	default:
		heard.Lost(n)
		net.Lost(n)
	}
	if b != nil {
		b.fate(f, n)
	}
}
