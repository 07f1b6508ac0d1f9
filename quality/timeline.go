package quality

import (
	"math"
	"slices"
)

// IntervalMOS is the listening quality of one interval of a stream, so that
// a user sees when it dropped rather than only a call-long average.
type IntervalMOS struct {
	StartMs        float64 // interval start, ms of arrival time since the stream's first packet
	DurationMs     float64 // interval length (doubles when a long stream's intervals merge)
	Packets        int     // packets that arrived in the interval, duplicates included
	Lost           int     // sequence numbers that never arrived
	Late           int     // packets that arrived too late for the simulated jitter buffer
	LossPct        float64 // lost and late packets over the packets due, %
	BurstR         float64 // burst ratio of the interval's lost and late packets
	JitterBufferMs float64 // mean delay of the simulated jitter buffer in the interval
	MOS            float64 // E-model MOS-CQ of the interval; 0 when nothing was due
}

// Timeline defaults.
const (
	// DefaultIntervalMs is the timeline's default interval: 5 s.
	DefaultIntervalMs = 5000
	// defaultTimelineSpanMs: by default the timeline holds a day of
	// intervals before it starts merging them.
	defaultTimelineSpanMs = 24 * 3600 * 1000
)

// timeline accumulates a stream's per-interval loss, lateness and jitter
// buffer delay by arrival time.
//
// Memory: an interval costs about 64 bytes and is created only when the
// first packet falling in it arrives (an interval without packets, during
// a hold, is not stored). Intervals are appended to a slice, so opening one
// allocates only when the slice grows (amortised: log2(n) allocations for
// n intervals); packets within an interval never allocate. The number of
// intervals is bounded by MaxIntervals: when a new one would exceed it,
// adjacent intervals are merged pairwise and the interval length doubles,
// so a stream of any length keeps a timeline of bounded size whose
// resolution degrades gracefully.
//
// Packets are counted in the interval they arrived in, lost and late
// sequence numbers in the interval they were due in (playoutOrder), whose
// figures are therefore final only 32 packets later; Fill settles them.
//
// The zero value uses DefaultIntervalMs and a day's worth of intervals.
type timeline struct {
	intervalMs   float64
	maxIntervals int
	started      bool
	startMs      float64 // arrival of the stream's first packet
	nextMs       float64 // arrival time at which the open interval ends
	openStartMs  float64 // arrival time at which the open interval starts
	buckets      []timelineBucket

	// Cached interval MOS values stay valid while the inputs they were
	// computed from do: the codec and the network delay.
	cacheIe, cacheBpl, cacheDelay float64
	cacheValid                    bool
}

type timelineBucket struct {
	idx                                     int64 // interval number since startMs
	packets, lost, late                     uint32
	received, patLost, runs, recvBeforeLoss uint32 // effective (network + late) loss pattern
	judged                                  uint32
	inLoss, patStarted, mosValid            bool
	delaySum                                float64
	mos                                     float64
}

// reset empties the timeline and sets its interval and bound; zero values
// select the defaults (DefaultIntervalMs; a day's worth of intervals).
// Values below 2 intervals are raised to 2.
func (t *timeline) reset(intervalMs float64, maxIntervals int) {
	buckets := t.buckets[:0]
	*t = timeline{intervalMs: intervalMs, maxIntervals: maxIntervals, buckets: buckets}
	t.defaults()
}

func (t *timeline) defaults() {
	if !(t.intervalMs > 0) {
		t.intervalMs = DefaultIntervalMs
	}
	if t.maxIntervals == 0 {
		t.maxIntervals = int(math.Ceil(defaultTimelineSpanMs / t.intervalMs))
	}
	if t.maxIntervals < 2 {
		t.maxIntervals = 2
	}
}

// count is the number of intervals held.
func (t *timeline) count() int { return len(t.buckets) }

// packet records one packet that arrived at relMs, what the jitter buffer
// did with it and the buffer delay it was judged under.
func (t *timeline) packet(relMs float64, p Playout, targetMs float64) {
	var b *timelineBucket
	if t.started && relMs < t.nextMs {
		b = &t.buckets[len(t.buckets)-1] // the common case, kept inline
	} else {
		b = t.bucketFor(relMs)
	}
	b.mosValid = false
	b.packets++
	if p == PlayoutOnTime || p == PlayoutLate {
		b.judged++
		b.delaySum += targetMs
	}
}

// fate records n sequence numbers settled as f, mirroring LossPattern on
// the interval's counters.
func (b *timelineBucket) fate(f fate, n int) {
	b.mosValid = false
	switch f {
	case fateHeard:
		b.received += uint32(n)
		b.inLoss = false
		b.patStarted = true
		return
	case fateLate:
		b.late += uint32(n)
	default:
		b.lost += uint32(n)
	}
	if !b.inLoss {
		b.runs++
		if b.patStarted {
			b.recvBeforeLoss++
		}
	}
	b.patLost += uint32(n)
	b.inLoss = true
	b.patStarted = true
}

// bucketAt returns the interval of set, a suffix of t's intervals (or a
// copy of one), that arrival time relMs falls in: the open interval in the
// common case, else the latest that starts at or before relMs, else set's
// first. nil when set is empty.
func (t *timeline) bucketAt(relMs float64, set []timelineBucket) *timelineBucket {
	if len(set) == 0 {
		return nil
	}
	if relMs >= t.openStartMs {
		return &set[len(set)-1]
	}
	n := int64((relMs - t.startMs) / t.intervalMs)
	for i := len(set) - 1; i >= 0; i-- {
		if set[i].idx <= n {
			return &set[i]
		}
	}
	return &set[0]
}

// tailFrom returns a copy of the intervals from the one relMs falls in to
// the open one.
func (t *timeline) tailFrom(relMs float64) []timelineBucket {
	if len(t.buckets) == 0 {
		return nil
	}
	n := int64((relMs - t.startMs) / t.intervalMs)
	i := len(t.buckets) - 1
	for i > 0 && t.buckets[i].idx > n {
		i--
	}
	return slices.Clone(t.buckets[i:])
}

// bucketFor returns the interval relMs falls in, opening it if needed.
// Packets whose arrival time runs backwards stay in the open interval.
func (t *timeline) bucketFor(relMs float64) *timelineBucket {
	if !t.started {
		t.defaults()
		t.started = true
		t.startMs, t.openStartMs = relMs, relMs
		t.nextMs = relMs + t.intervalMs
		t.buckets = append(t.buckets, timelineBucket{})
	} else if relMs >= t.nextMs {
		t.open(relMs)
	}
	return &t.buckets[len(t.buckets)-1]
}

func (t *timeline) open(relMs float64) {
	idx := int64((relMs - t.startMs) / t.intervalMs)
	for len(t.buckets) >= t.maxIntervals && t.buckets[len(t.buckets)-1].idx != idx {
		t.merge()
		idx = int64((relMs - t.startMs) / t.intervalMs)
	}
	if t.buckets[len(t.buckets)-1].idx != idx {
		t.buckets = append(t.buckets, timelineBucket{idx: idx})
	}
	t.openStartMs = t.startMs + float64(t.buckets[len(t.buckets)-1].idx)*t.intervalMs
	t.nextMs = t.startMs + float64(idx+1)*t.intervalMs
}

// merge doubles the interval length, combining the intervals that now
// share a number.
func (t *timeline) merge() {
	t.intervalMs *= 2
	j := 0
	for i := range t.buckets {
		b := t.buckets[i]
		b.idx /= 2
		if j > 0 && t.buckets[j-1].idx == b.idx {
			t.buckets[j-1].absorb(&b)
			continue
		}
		t.buckets[j] = b
		j++
	}
	t.buckets = t.buckets[:j]
}

// absorb adds the later interval n into b. A loss run that spans the two
// is counted twice, which slightly understates burstiness at the seam.
func (b *timelineBucket) absorb(n *timelineBucket) {
	b.packets += n.packets
	b.lost += n.lost
	b.late += n.late
	b.received += n.received
	b.patLost += n.patLost
	b.runs += n.runs
	b.recvBeforeLoss += n.recvBeforeLoss
	b.judged += n.judged
	b.delaySum += n.delaySum
	b.inLoss, b.patStarted = n.inLoss, b.patStarted || n.patStarted
	b.mosValid = false
}

// appendMOS appends every interval's figures to dst, scoring each with the
// codec values ie/bpl and the one-way network delay (without the jitter
// buffer, whose per-interval delay is added). tail, when not empty, stands
// in for the last len(tail) intervals (a tailFrom copy with the fates
// still pending settled). Scores of intervals that did not change since
// the last call with the same inputs are reused.
func (t *timeline) appendMOS(dst []IntervalMOS, ie, bpl, oneWayMs float64, tail []timelineBucket) []IntervalMOS {
	if !t.cacheValid || t.cacheIe != ie || t.cacheBpl != bpl || t.cacheDelay != oneWayMs {
		for i := range t.buckets {
			t.buckets[i].mosValid = false
		}
		t.cacheIe, t.cacheBpl, t.cacheDelay, t.cacheValid = ie, bpl, oneWayMs, true
	}
	m := DefaultEModel()
	for i := range t.buckets {
		b := &t.buckets[i]
		if k := i - (len(t.buckets) - len(tail)); k >= 0 {
			b = &tail[k]
		}
		due := uint64(b.received) + uint64(b.patLost)
		iv := IntervalMOS{
			StartMs:    float64(b.idx) * t.intervalMs,
			DurationMs: t.intervalMs,
			Packets:    int(b.packets),
			Lost:       int(b.lost),
			Late:       int(b.late),
			BurstR:     burstRatio(uint64(b.received), uint64(b.patLost), uint64(b.runs), uint64(b.recvBeforeLoss)),
		}
		if due > 0 {
			iv.LossPct = 100 * float64(b.patLost) / float64(due)
		}
		if b.judged > 0 {
			iv.JitterBufferMs = b.delaySum / float64(b.judged)
		}
		if !b.mosValid {
			b.mos = 0
			if due > 0 {
				b.mos = m.MOS(Params{Ie: ie, Bpl: bpl, LossPct: iv.LossPct, BurstR: iv.BurstR,
					OneWayDelayMs: oneWayMs, JitterBufferMs: iv.JitterBufferMs})
			}
			b.mosValid = true
		}
		iv.MOS = b.mos
		dst = append(dst, iv)
	}
	return dst
}
