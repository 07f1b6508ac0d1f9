package quality

import (
	"fmt"
	"math"
)

// JitterBufferMode selects the receiver jitter buffer that JitterBuffer
// simulates. The zero value is the adaptive buffer.
type JitterBufferMode uint8

const (
	// JitterBufferAdaptive follows the observed delay variation, from
	// jbAdaptiveFloorMs up to jbAdaptiveMaxMs (see JitterBuffer).
	JitterBufferAdaptive JitterBufferMode = iota
	// JitterBufferFixed50 holds every packet until 50 ms after the
	// fastest recent packet would have played.
	JitterBufferFixed50
	// JitterBufferFixed200 is the same with 200 ms.
	JitterBufferFixed200
)

// String is the name Stream.JitterBuffer carries and
// ParseJitterBufferMode accepts.
func (m JitterBufferMode) String() string {
	switch m {
	case JitterBufferAdaptive:
		return "adaptive"
	case JitterBufferFixed50:
		return "fixed-50ms"
	case JitterBufferFixed200:
		return "fixed-200ms"
	}
	return fmt.Sprintf("JitterBufferMode(%d)", uint8(m))
}

// ParseJitterBufferMode reads a mode name: "adaptive" (or ""), "fixed-50ms"
// ("fixed50"), "fixed-200ms" ("fixed200").
func ParseJitterBufferMode(s string) (JitterBufferMode, error) {
	switch s {
	case "", "adaptive":
		return JitterBufferAdaptive, nil
	case "fixed-50ms", "fixed50":
		return JitterBufferFixed50, nil
	case "fixed-200ms", "fixed200":
		return JitterBufferFixed200, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrBadJitterMode, s)
}

func (m JitterBufferMode) valid() bool { return m <= JitterBufferFixed200 }

// Playout is what a simulated jitter buffer did with one packet.
type Playout uint8

const (
	// PlayoutOnTime: the packet arrived before its playout instant.
	PlayoutOnTime Playout = iota
	// PlayoutLate: the packet arrived after its playout instant; the
	// receiver discarded it, so for the listener it is lost.
	PlayoutLate
	// PlayoutDuplicate: a copy of a packet already buffered; ignored.
	PlayoutDuplicate
	// PlayoutUnjudged: no clock rate was given (telephone events, unknown
	// dynamic payload types), so there is no playout instant to miss.
	PlayoutUnjudged
)

// Simulation constants. They describe a typical VoIP receiver, not a
// particular product.
const (
	// jbWindowMs: the buffer's reference is the fastest packet of the last
	// one to two windows of arrival time. Following it lets clock drift
	// and route changes shift the reference within seconds, as real
	// buffers resynchronise, while one window still holds 100 packets at
	// 20 ms to find the fastest among.
	jbWindowMs = 2000
	// jbResyncMs: a packet this far behind the reference means a
	// timestamp discontinuity (a sender restarted its clock, or paused it
	// across a hold), not network delay; every real buffer resets then.
	jbResyncMs = 5000
	// jbAdaptiveFloorMs: an adaptive buffer keeps at least one 20 ms frame.
	jbAdaptiveFloorMs = 20
	// jbAdaptiveMaxMs caps the adaptive buffer, as deployed ones do.
	jbAdaptiveMaxMs = 500
	// jbGain is the smoothing gain of the delay mean and deviation
	// estimates (time constant 32 packets, 0.64 s at 20 ms).
	jbGain = 1.0 / 32
	// jbPeakDecay is how fast a delay peak is forgotten, in ms of buffer
	// per ms of arrival time: 20 ms per second, the rate at which a
	// receiver can time-compress speech (about 2 %) without it being heard.
	jbPeakDecay = 0.02
	// jbPeakHeadroomMs is added to the delay of a late packet when the
	// adaptive target jumps to it, so that the decay does not make the
	// very next packet of the same delay late again: one 20 ms frame.
	jbPeakHeadroomMs = 20
)

// JitterBuffer simulates a receiver's jitter buffer over a stream's
// packets to tell which of them arrived too late to be played (for the
// E-model those are lost: "effective loss") and how much delay the buffer
// adds.
//
// The model: a packet's transit is its arrival time minus its media time
// (RTP timestamp over the clock rate), both relative to the first packet.
// The reference transit is the smallest one seen in the last one to two
// jbWindowMs windows: the fastest recent packet. The buffer plays every
// packet at its media time plus the reference plus a target delay, and a
// packet whose transit exceeds reference + target arrived after its
// playout instant: late.
//
//   - Fixed modes use a constant target of 50 or 200 ms. Measuring it from
//     the fastest packet gives a well-aligned fixed buffer; one aligned on
//     an unlucky first packet, as a naive implementation is, does worse.
//   - The adaptive mode estimates the mean d and the mean deviation v of
//     the delay above the reference with exponential smoothing (gain
//     1/32), the playout-delay estimator of Ramjee et al. (1994) that most
//     textbooks give, and targets d + 4v, roughly the 98th percentile of
//     the delay. A late packet shows the estimate was short, so the target
//     jumps to that packet's delay plus one 20 ms frame (a peak), and the
//     peak then decays at 20 ms per second. The target stays between 20 and 500 ms and moves
//     with every packet, as a receiver that time-stretches audio (WebRTC
//     NetEq and most current phones) can.
//
// The delay the buffer adds (MeanDelayMs) is the target averaged over the
// judged packets: the time from when the fastest packet would have been
// played without a buffer to when it is played, i.e. RFC 3611's nominal
// jitter buffer delay. For the fixed modes it is exactly 50 or 200 ms.
//
// Duplicates (by sequence number, within the last 64) are ignored, and
// packets without a clock rate are not judged. A timestamp discontinuity
// resets the reference (counted in Resyncs) rather than making every later
// packet late.
//
// The zero value is an adaptive buffer; Reset selects another mode.
// Observe does not allocate. JitterBuffer is not safe for concurrent use.
type JitterBuffer struct {
	mode    JitterBufferMode
	started bool

	lastTS    uint32
	tickRate  uint32  // clock rate msPerTick was computed for
	msPerTick float64 // 1000 / tickRate
	mediaMs   float64 // media time of the last clocked packet since the first

	curMin, prevMin float64 // smallest transit in the current and the previous window
	windowStart     float64 // arrival of the current window's first packet
	lastArrival     float64

	mean, dev, peak float64 // adaptive estimates, ms above the reference
	target          float64 // playout delay above the reference, ms
	judgedTarget    float64 // target the last judged packet was judged under

	haveSeq bool
	highSeq uint16
	seen    uint64 // bit i: highSeq-i was received

	judged, late, dups, unclocked, resyncs uint64
	delaySum                               float64
}

// Reset empties the buffer and selects mode.
func (b *JitterBuffer) Reset(mode JitterBufferMode) { *b = JitterBuffer{mode: mode} }

// Mode is the simulated buffer's mode.
func (b *JitterBuffer) Mode() JitterBufferMode { return b.mode }

// Observe judges one packet: arrivalMs is its arrival time in ms on any
// fixed origin (RelMs does), ts its RTP timestamp, clockRate the RTP clock
// in Hz (0 when unknown) and seq its sequence number.
func (b *JitterBuffer) Observe(arrivalMs float64, ts uint32, clockRate uint32, seq uint16) Playout {
	if b.haveSeq && seq == b.highSeq+1 {
		b.seen = b.seen<<1 | 1 // the next in order: duplicate's common case, inline
		b.highSeq = seq
	} else if b.duplicate(seq) {
		b.dups++
		return PlayoutDuplicate
	}
	if clockRate == 0 {
		b.unclocked++
		return PlayoutUnjudged
	}
	if clockRate != b.tickRate {
		b.tickRate = clockRate
		b.msPerTick = 1000 / float64(clockRate)
	}
	if !b.started {
		b.started = true
		b.lastTS = ts
		b.restart(arrivalMs, arrivalMs)
	} else {
		// The signed difference follows the timestamp across its wrap and
		// back for reordered packets.
		b.mediaMs += float64(int32(ts-b.lastTS)) * b.msPerTick
		b.lastTS = ts
	}
	transit := arrivalMs - b.mediaMs

	// Slide the window of the fastest recent packet.
	// Arrival times that run backwards (capture clock steps) stay in the
	// current window.
	switch since := arrivalMs - b.windowStart; {
	case since >= 2*jbWindowMs:
		b.prevMin, b.curMin, b.windowStart = math.Inf(1), transit, arrivalMs
	case since >= jbWindowMs:
		b.prevMin, b.curMin, b.windowStart = b.curMin, transit, arrivalMs
	case transit < b.curMin:
		b.curMin = transit
	}
	// Plain comparisons: the builtin min and max spend time on NaN and
	// signed zeros, which cannot occur here, on the per-packet path.
	ref := b.curMin
	if b.prevMin < ref {
		ref = b.prevMin
	}
	excess := transit - ref
	if excess > jbResyncMs {
		b.resyncs++
		b.restart(arrivalMs, transit)
		excess = 0
	}

	target := b.target
	late := excess > target
	b.judgedTarget = target
	b.judged++
	b.delaySum += target
	if late {
		b.late++
	}
	if b.mode == JitterBufferAdaptive {
		b.adapt(excess, late, arrivalMs-b.lastArrival)
	}
	b.lastArrival = arrivalMs
	if late {
		return PlayoutLate
	}
	return PlayoutOnTime
}

// restart makes transit the only reference and puts the target back to
// the mode's starting value.
func (b *JitterBuffer) restart(arrivalMs, transit float64) {
	b.curMin, b.prevMin, b.windowStart = transit, math.Inf(1), arrivalMs
	b.lastArrival = arrivalMs
	b.mean, b.dev, b.peak = 0, 0, 0
	switch b.mode {
	case JitterBufferFixed50:
		b.target = 50
	case JitterBufferFixed200:
		b.target = 200
	default:
		b.target = jbAdaptiveFloorMs
	}
}

// adapt updates the adaptive target after a packet whose delay above the
// reference was excess; elapsedMs is the arrival time since the previous
// judged packet.
func (b *JitterBuffer) adapt(excess float64, late bool, elapsedMs float64) {
	// The deviation is taken from the mean before this packet, which
	// keeps the two updates independent (a shorter dependency chain on
	// the per-packet path); with a gain of 1/32 the difference is noise.
	e := excess - b.mean
	mean := b.mean + e*jbGain
	dev := b.dev + (math.Abs(e)-b.dev)*jbGain
	b.mean, b.dev = mean, dev
	t := mean + 4*dev
	// A peak at or below zero cannot raise the target (its floor is
	// 20 ms), so it stops decaying there.
	if late {
		b.peak = excess + jbPeakHeadroomMs
	} else if b.peak > 0 && elapsedMs > 0 {
		b.peak -= elapsedMs * jbPeakDecay
	}
	if b.peak > t {
		t = b.peak
	}
	switch {
	case t < jbAdaptiveFloorMs:
		t = jbAdaptiveFloorMs
	case t > jbAdaptiveMaxMs:
		t = jbAdaptiveMaxMs
	}
	b.target = t
}

// duplicate reports whether seq was already seen among the last 64
// sequence numbers, and records it.
func (b *JitterBuffer) duplicate(seq uint16) bool {
	if !b.haveSeq {
		b.haveSeq, b.highSeq, b.seen = true, seq, 1
		return false
	}
	if d := seq - b.highSeq; d == 0 {
		return true
	} else if d < 0x8000 {
		if d >= 64 {
			b.seen = 1
		} else {
			b.seen = b.seen<<d | 1
		}
		b.highSeq = seq
		return false
	}
	back := b.highSeq - seq
	if back >= 64 {
		return false // too old to tell; it will be judged late anyway
	}
	bit := uint64(1) << back
	if b.seen&bit != 0 {
		return true
	}
	b.seen |= bit
	return false
}

// TargetMs is the playout delay, above the fastest recent packet, that
// the most recently judged packet was judged under (0 before any).
func (b *JitterBuffer) TargetMs() float64 { return b.judgedTarget }

// Late is the number of packets that arrived after their playout instant.
func (b *JitterBuffer) Late() int { return int(b.late) }

// Judged is the number of packets given a playout instant (neither
// duplicates nor without a clock rate).
func (b *JitterBuffer) Judged() int { return int(b.judged) }

// Duplicates is the number of packets ignored as copies.
func (b *JitterBuffer) Duplicates() int { return int(b.dups) }

// Resyncs is the number of timestamp discontinuities that reset the buffer.
func (b *JitterBuffer) Resyncs() int { return int(b.resyncs) }

// MeanDelayMs is the delay the buffer added, averaged over the judged
// packets; 0 before any.
func (b *JitterBuffer) MeanDelayMs() float64 {
	if b.judged == 0 {
		return 0
	}
	return b.delaySum / float64(b.judged)
}
