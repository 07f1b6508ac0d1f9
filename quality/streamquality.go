package quality

import (
	"fmt"
	"time"
)

// Config selects how StreamQuality judges what a listener heard.
type Config struct {
	// JitterBuffer is the simulated receiver buffer (default adaptive).
	JitterBuffer JitterBufferMode
	// Interval is the MOS timeline's interval of arrival time (0: 5 s).
	Interval time.Duration
	// MaxIntervals bounds the timeline (0: a day's worth of intervals);
	// longer streams merge intervals pairwise.
	MaxIntervals int
}

// DefaultConfig is an adaptive jitter buffer and a 5 s timeline.
func DefaultConfig() Config {
	return Config{JitterBuffer: JitterBufferAdaptive, Interval: DefaultIntervalMs * time.Millisecond}
}

// Validate names the first field that cannot work.
func (c Config) Validate() error {
	if !c.JitterBuffer.valid() {
		return fmt.Errorf("JitterBuffer: %w: %d", ErrBadJitterMode, c.JitterBuffer)
	}
	if c.Interval != 0 && (c.Interval < 100*time.Millisecond || c.Interval > time.Hour) {
		return fmt.Errorf("interval: %w: %v", ErrBadInterval, c.Interval)
	}
	if c.MaxIntervals != 0 && c.MaxIntervals < 2 {
		return fmt.Errorf("MaxIntervals: %w: %d", ErrBadMaxInterval, c.MaxIntervals)
	}
	return nil
}

// StreamQuality bundles everything computed per packet of one RTP stream:
// the tshark-exact RTPStats, a simulated jitter buffer, the loss patterns
// in sequence order (what the listener heard: network loss plus packets
// too late for the buffer; and the network's alone) and the MOS timeline.
// The pipeline calls Update once per packet and Fill when it wants the
// record.
//
// The zero value uses DefaultConfig; Init selects another. Update does not
// allocate, except when a packet opens a new timeline interval and the
// interval slice has to grow (see timeline). StreamQuality is not safe for
// concurrent use.
type StreamQuality struct {
	stats RTPStats
	jb    JitterBuffer
	order playoutOrder
	heard LossPattern // network loss plus late packets, in sequence order
	net   LossPattern // network loss alone, in sequence order
	tl    timeline

	clock    uint32 // last nonzero clock rate seen
	rtcp     RTCPReport
	haveRTCP bool
}

// Init empties q and applies cfg, which should have passed Validate (an
// invalid jitter buffer mode falls back to adaptive).
func (q *StreamQuality) Init(cfg Config) {
	mode := cfg.JitterBuffer
	if !mode.valid() {
		mode = JitterBufferAdaptive
	}
	tl := q.tl
	*q = StreamQuality{}
	q.jb.Reset(mode)
	q.tl = tl
	q.tl.reset(float64(cfg.Interval)/float64(time.Millisecond), cfg.MaxIntervals)
}

// Update adds one RTP packet. The arguments are RTPStats.Update's: relMs
// from RelMs, the RTP header fields, the payload's clock rate (0 when
// unknown: such packets are counted but not judged by the jitter buffer)
// and the payload length.
func (q *StreamQuality) Update(relMs float64, seq uint16, ts uint32, pt uint8, marker bool, clockRate uint32, payloadLen int) {
	q.stats.Update(relMs, seq, ts, pt, marker, clockRate, payloadLen)
	if clockRate != 0 {
		q.clock = clockRate
	}
	playout := q.jb.Observe(relMs, ts, clockRate, seq)
	q.tl.packet(relMs, playout, q.jb.TargetMs())
	if playout != PlayoutDuplicate {
		q.order.add(relMs, seq, playout != PlayoutLate, q)
	}
}

// fate makes q the live fateTarget of its playoutOrder.
func (q *StreamQuality) fate(f fate, n int, relMs float64) {
	b := q.tl.bucketAt(relMs, q.tl.buckets)
	if f == fateHeard && n == 1 && b != nil {
		// The common case, spelled out: one packet heard.
		q.heard.Received()
		q.net.Received()
		b.received++
		b.inLoss, b.patStarted, b.mosValid = false, true, false
		return
	}
	recordFate(&q.heard, &q.net, b, f, n)
}

// UseRTCP gives q what RTCP reported about its SSRC: the round trip then
// sets the E-model's one-way delay (RTT/2, from the mean of the measured
// round trips; without one, an XR VoIP block's round trip delay), and the
// report is copied into the
// Stream by Fill. The reported jitter is reconverted to ms with the
// stream's own clock rate when it has one.
func (q *StreamQuality) UseRTCP(r RTCPReport) {
	if q.clock != 0 {
		r.JitterMs = float64(r.Jitter) * 1000 / float64(q.clock)
		r.MaxJitterMs = float64(r.MaxJitter) * 1000 / float64(q.clock)
	}
	q.rtcp, q.haveRTCP = r, true
}

// RTTMs is the round trip the E-model uses, from the report UseRTCP
// provided; 0 without one.
func (q *StreamQuality) RTTMs() float64 {
	if !q.haveRTCP {
		return 0
	}
	if q.rtcp.RTTSamples > 0 {
		return q.rtcp.MeanRTTMs
	}
	if q.rtcp.XR.Reports > 0 && q.rtcp.XR.RoundTripDelayMs > 0 {
		return float64(q.rtcp.XR.RoundTripDelayMs)
	}
	return 0
}

// Stats is the tshark-exact statistics, for PayloadType, PayloadNames and
// the other accessors.
func (q *StreamQuality) Stats() *RTPStats { return &q.stats }

// NetworkLoss is the loss pattern of the network alone, in sequence
// order, without the sequence numbers still in the reordering window.
func (q *StreamQuality) NetworkLoss() *LossPattern { return &q.net }

// HeardLoss is the loss pattern the listener experienced, network loss
// plus packets too late for the jitter buffer, in sequence order, without
// the sequence numbers still in the reordering window.
func (q *StreamQuality) HeardLoss() *LossPattern { return &q.heard }

// Buffer is the simulated jitter buffer.
func (q *StreamQuality) Buffer() *JitterBuffer { return &q.jb }

// Fill writes the stream's figures into out: everything RTPStats.Fill
// writes (unchanged, tshark-exact), then Late, EffectiveLost,
// JitterBuffer, JitterBufferMs, BurstR, RTTMs, R, MOS, MOSTimeline and
// RTCP. Addresses, SSRC, payload, times and Call-ID are left to the
// caller. codec names the codec as LookupCodec takes it; empty uses
// out.Payload, or the payload types seen when that is empty too.
//
// EffectiveLost counts the sequence numbers, from the first packet's to
// the highest, that were never heard: missing or late. It equals
// max(Lost, 0) + Late except where tshark's Lost is thrown by reordering
// (a late final packet, reordering across the sequence wrap) or a packet
// arrives more than 32 places late. The MOS is the G.107 MOS-CQ with
// EffectiveLost over those sequence numbers as the loss, the burst ratio
// of that loss, and a one-way delay of RTT/2 plus the jitter buffer's
// delay. Fill does not change q, so it may be called again as more
// packets arrive; MOSTimeline is a new slice each time, so a record
// already handed on is never changed.
func (q *StreamQuality) Fill(out *Stream, codec string) {
	q.stats.Fill(out)

	// Settle the sequence numbers still in the reordering window, on
	// copies.
	heard, net := q.heard, q.net
	order := q.order
	var tail []timelineBucket
	if at, ok := order.earliestDue(); ok {
		tail = q.tl.tailFrom(at)
	}
	order.flush(&fateSink{heard: &heard, net: &net, tl: &q.tl, buckets: tail})

	out.Late = q.jb.Late()
	out.EffectiveLost = heard.LostCount()
	due := heard.LostCount() + heard.ReceivedCount()
	out.JitterBuffer = q.jb.Mode().String()
	out.JitterBufferMs = q.jb.MeanDelayMs()
	out.BurstR = heard.BurstR()
	out.RTTMs = q.RTTMs()
	out.RTCP = RTCPReport{}
	if q.haveRTCP {
		out.RTCP = q.rtcp
	}

	if codec == "" {
		codec = out.Payload
	}
	if codec == "" && q.stats.Packets() > 0 {
		codec = q.stats.PayloadNames()
	}
	c, _ := LookupCodec(codec)
	oneWay := out.RTTMs / 2

	out.R, out.MOS = 0, 0
	if due > 0 {
		out.R = DefaultEModel().R(Params{
			Ie: c.Ie, Bpl: c.Bpl,
			LossPct:        100 * float64(out.EffectiveLost) / float64(due),
			BurstR:         out.BurstR,
			OneWayDelayMs:  oneWay,
			JitterBufferMs: out.JitterBufferMs,
		})
		out.MOS = MOSFromR(out.R)
	}
	out.MOSTimeline = nil
	if q.tl.count() > 0 {
		out.MOSTimeline = q.tl.appendMOS(make([]IntervalMOS, 0, q.tl.count()), c.Ie, c.Bpl, oneWay, tail)
	}
}
