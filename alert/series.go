package alert

import (
	"math"
	"math/bits"
)

// series is a count over a sliding window of interval slots. It advances
// lazily, when touched, so keys that go quiet cost nothing until seen again.
type series struct {
	epoch int64 // interval number of slots[epoch%maxSlots]
	sum   uint32
	slots [maxSlots]uint32
}

// advance moves the window to epoch e (w slots wide), forgetting slots
// that fell out of it.
func (s *series) advance(e int64, w int) {
	if e <= s.epoch {
		return
	}
	if e-s.epoch >= int64(w) {
		*s = series{epoch: e}
		return
	}
	for s.epoch < e {
		s.epoch++
		i := (s.epoch + int64(w)) % int64(w)
		s.sum -= s.slots[i]
		s.slots[i] = 0
	}
}

func (s *series) add(e int64, w int, n uint32) {
	s.advance(e, w)
	s.slots[s.epoch%int64(w)] += n
	s.sum += n
}

// total is the window's count at epoch e.
func (s *series) total(e int64, w int) uint32 {
	s.advance(e, w)
	return s.sum
}

// distinct estimates how many distinct values a key saw over the last one
// to two windows, by linear counting on a 1024-bit map (no allocation,
// 256 bytes per key; accurate to a few per cent up to ~2000).
type distinct struct {
	epoch int64 // window number of cur
	cur   [16]uint64
	prev  [16]uint64
}

// maxDistinct is where linear counting on 1024 bits stops being useful.
const maxDistinct = 2000

// add records hash h in window we; it reports whether a new bit was set
// (only then can the estimate change).
func (d *distinct) add(we int64, h uint64) bool {
	d.roll(we)
	i, b := (h>>6)&15, uint64(1)<<(h&63)
	if d.cur[i]&b != 0 {
		return false
	}
	d.cur[i] |= b
	return true
}

func (d *distinct) roll(we int64) {
	switch {
	case we == d.epoch:
	case we == d.epoch+1:
		d.prev, d.cur, d.epoch = d.cur, [16]uint64{}, we
	case we > d.epoch:
		d.prev, d.cur, d.epoch = [16]uint64{}, [16]uint64{}, we
	}
}

func (d *distinct) estimate(we int64) float64 {
	d.roll(we)
	ones := 0
	for i := range d.cur {
		ones += bits.OnesCount64(d.cur[i] | d.prev[i])
	}
	const m = 1024
	if ones >= m-1 {
		return distinctSaturated
	}
	return -m * math.Log(float64(m-ones)/m)
}

// distinctSaturated is the estimate of a full map: at least this many.
const distinctSaturated = 1024 * 6.238 // m·ln(m/2)

// pddBounds are the upper bounds (ms) of the post-dial delay histogram.
var pddBounds = [...]float64{250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000, 10000, 15000, 20000, 30000, math.Inf(1)}

// histogram is a windowed histogram of post-dial delays.
type histogram struct {
	epoch int64
	n     uint32
	sums  [len(pddBounds)]uint32
	slots [maxSlots][len(pddBounds)]uint32
}

func (h *histogram) advance(e int64, w int) {
	if e <= h.epoch {
		return
	}
	if e-h.epoch >= int64(w) {
		*h = histogram{epoch: e}
		return
	}
	for h.epoch < e {
		h.epoch++
		s := &h.slots[h.epoch%int64(w)]
		for i, v := range s {
			h.sums[i] -= v
			h.n -= v
		}
		*s = [len(pddBounds)]uint32{}
	}
}

func (h *histogram) add(e int64, w int, ms float64) {
	h.advance(e, w)
	i := 0
	for i < len(pddBounds)-1 && ms > pddBounds[i] {
		i++
	}
	h.slots[h.epoch%int64(w)][i]++
	h.sums[i]++
	h.n++
}

// quantile returns the upper bound of the bucket holding quantile q (so a
// p95 "above 6000" means at least 5 % of delays exceeded 6 s, rounded up
// to the bucket), and the count.
func (h *histogram) quantile(e int64, w int, q float64) (float64, uint32) {
	h.advance(e, w)
	if h.n == 0 {
		return 0, 0
	}
	rank := uint32(math.Ceil(q * float64(h.n)))
	var acc uint32
	for i, v := range h.sums {
		acc += v
		if acc >= rank {
			if math.IsInf(pddBounds[i], 1) {
				return pddBounds[i-1] * 2, h.n
			}
			return pddBounds[i], h.n
		}
	}
	return 0, h.n
}
