package quality

import "math"

// RTPStats accumulates the statistics of one RTP stream (one SSRC from one
// source to one destination) exactly as tshark 4.0's "-z rtp,streams" does
// (Wireshark's rtppacket_analyse and rtpstream_info_calculate), so that our
// numbers can be checked against tshark to the printed 0.001 ms.
//
// Matching tshark means keeping its quirks, among them:
//   - the first packet only initialises state;
//   - whether a packet is "in time sequence" is judged against the first
//     packet's 32-bit timestamp (within half the timestamp range, allowing
//     one wrap), not against the previous packet;
//   - mean delta and mean jitter are running means that are updated only for
//     "regular" packets but always divided by the count of all packets so far;
//   - min delta and min jitter start at -1 and stay there when no regular
//     packet (or no known clock) was seen;
//   - expected = stop + cycles*65536 - start + 1 uses the LAST packet's
//     sequence number, so a late final packet or duplicates make Lost
//     negative.
//
// The zero value is ready to use. RTPStats is not safe for concurrent use.
type RTPStats struct {
	started bool
	under   bool // a sequence wrap has been counted and not yet left behind
	problem bool // tshark's "Problems?" column: a wrong sequence or timestamp was seen

	firstTS   uint32
	startSeq  uint16
	stopSeq   uint16
	expectSeq uint16 // last in-order sequence number (tshark's seq_num)
	lastPT    uint8
	firstPT   uint8
	mainPT    uint8 // first payload type that is not comfort noise
	hasMainPT bool

	seqCycles int
	total     int
	seqErrors int
	bytes     uint64

	startMs     float64
	lastMs      float64 // arrival of the last packet, in or out of sequence
	seqMs       float64 // arrival of the last in-time-sequence packet
	lastNominal float64 // RTP timestamp of the last clocked packet, in ms since the first one
	delta       float64
	jitter      float64

	minDelta, meanDelta, maxDelta    float64
	minJitter, meanJitter, maxJitter float64

	seenPT [2]uint64 // bitmap of the (7-bit) payload types seen
}

// RelMs converts a packet time to milliseconds since the capture's first
// frame the way tshark does (nstime_delta then nstime_to_msec): the
// difference is split into whole seconds and nanoseconds with the same sign,
// and only then combined in floating point. Computing float64(ts-base)/1e6
// instead differs in the last bits and can move a %.3f rounding.
func RelMs(tsNs, baseNs int64) float64 {
	d := tsNs - baseNs
	secs := d / 1_000_000_000  // Go truncates toward zero: both parts share d's sign,
	nsecs := d % 1_000_000_000 // which is what nstime_delta guarantees.
	return float64(secs)*1000 + float64(nsecs)/1_000_000
}

// Update adds one RTP packet. relMs is its arrival time from RelMs; clockRate
// is the RTP clock in Hz, 0 when unknown (then only delta is computed, no
// jitter; tshark uses 0 for telephone-event and for dynamic payload types it
// has no SDP for). payloadLen is the RTP payload size in bytes.
func (s *RTPStats) Update(relMs float64, seq uint16, ts uint32, pt uint8, marker bool, clockRate uint32, payloadLen int) {
	pt &= 0x7f
	s.seenPT[pt>>6] |= 1 << (pt & 63)
	if payloadLen > 0 {
		s.bytes += uint64(payloadLen)
	}
	s.lastMs = relMs
	if !s.hasMainPT && pt != ptCN && pt != ptCNOld {
		s.mainPT, s.hasMainPT = pt, true
	}

	if !s.started {
		s.started = true
		s.startSeq, s.stopSeq, s.expectSeq = seq, seq, seq
		s.firstTS = ts
		s.startMs, s.seqMs = relMs, relMs
		s.lastPT, s.firstPT = pt, pt
		s.minDelta, s.minJitter = -1, -1
		s.total = 1
		return
	}

	inTime := timestampInSequence(s.firstTS, ts)

	// Count sequence-number cycles. "under" remembers that we are in the
	// part of a cycle below the start number so that one wrap counts once.
	switch {
	case seq < s.startSeq && inTime && !s.under:
		s.seqCycles++
		s.under = true
	case seq == 0 && s.stopSeq == 65535 && inTime && !s.under:
		s.seqCycles++
		s.under = true
	case seq > s.startSeq && inTime && s.under:
		s.under = false
	}

	wrongSeq := false
	last, cur := int(s.expectSeq), int(seq)
	switch {
	case inTime && last+1 == cur:
		s.expectSeq = seq
	case inTime && last == 65535 && cur == 0:
		s.expectSeq = seq
	case inTime && (last+1 < cur || last-cur > 0xFF00):
		// A gap, or a jump so far back that it must be a wrap with losses.
		s.expectSeq = seq
		wrongSeq = true
	case last+1 > cur:
		// Late or duplicated; the expectation stays where it was.
		wrongSeq = true
	}
	if wrongSeq {
		s.seqErrors++
	}

	isCN := pt == ptCN || pt == ptCNOld
	followsCN := s.lastPT == ptCN || s.lastPT == ptCNOld
	s.lastPT = pt

	if inTime {
		// Nominal time is measured from the first packet's timestamp; the
		// uint32 subtraction is the one-wrap difference tshark computes.
		nominal := float64(ts - s.firstTS)
		if clockRate != 0 {
			// tshark divides by the clock in kHz as an integer (44100 -> 44).
			nominal /= float64(clockRate / 1000)
			expected := s.seqMs + (nominal - s.lastNominal)
			diff := math.Abs(relMs - expected)
			s.jitter = (15*s.jitter + diff) / 16
			s.delta = relMs - s.seqMs
			s.lastNominal = nominal
		} else {
			s.delta = relMs - s.seqMs
		}
	}

	if inTime && !marker && !isCN && !followsCN {
		if s.delta > s.maxDelta {
			s.maxDelta = s.delta
		}
		if s.minDelta == -1 || s.delta < s.minDelta {
			s.minDelta = s.delta
		}
		// total still counts the packets before this one, i.e. the deltas.
		n := float64(s.total)
		s.meanDelta = (s.meanDelta*(n-1) + s.delta) / n
		if clockRate != 0 {
			if s.jitter > s.maxJitter {
				s.maxJitter = s.jitter
			}
			s.meanJitter = (s.meanJitter*(n-1) + s.jitter) / n
			if s.minJitter == -1 || s.jitter < s.minJitter {
				s.minJitter = s.jitter
			}
		}
	}

	if wrongSeq || !inTime {
		s.problem = true
	}
	if inTime {
		s.seqMs = relMs
	}
	s.stopSeq = seq
	s.total++
}

// timestampInSequence reports whether ts lies within half the 32-bit
// timestamp range after the stream's first timestamp, allowing one wrap.
// The two branches are kept as tshark 4.0 wrote them: with a wrap the
// boundary is inclusive (distance 2^31 still counts), without it it is not.
func timestampInSequence(first, ts uint32) bool {
	if first <= ts {
		return int64(ts)-int64(first) < 0x80000000
	}
	return (0xFFFFFFFF-int64(first))+int64(ts) < 0x80000000
}

// Fill writes the statistics into out: Packets, Expected, Lost, SeqErrors
// and the delta and jitter figures. Other fields (addresses, SSRC, payload,
// times, MOS, Call-ID) are left as they are. A stream that saw no packet
// fills zeros.
func (s *RTPStats) Fill(out *Stream) {
	if !s.started {
		out.Packets, out.Expected, out.Lost, out.SeqErrors = 0, 0, 0, 0
		out.MinDeltaMs, out.MeanDeltaMs, out.MaxDeltaMs = 0, 0, 0
		out.MinJitterMs, out.MeanJitterMs, out.MaxJitterMs = 0, 0, 0
		return
	}
	expected := s.expected()
	out.Packets = s.total
	out.Expected = int(expected)
	// tshark subtracts in 32 bits and prints the result as signed.
	out.Lost = int(int32(expected - uint32(s.total)))
	out.SeqErrors = s.seqErrors
	out.MinDeltaMs, out.MeanDeltaMs, out.MaxDeltaMs = s.minDelta, s.meanDelta, s.maxDelta
	out.MinJitterMs, out.MeanJitterMs, out.MaxJitterMs = s.minJitter, s.meanJitter, s.maxJitter
}

// expected is tshark's packet_expected, a 32-bit unsigned value: it wraps
// when the last packet's sequence number is below the first one's without a
// counted cycle.
func (s *RTPStats) expected() uint32 {
	return uint32(int(s.stopSeq)+s.seqCycles*0x10000) - uint32(s.startSeq) + 1
}

// LostPercent is tshark's loss percentage (lost*100/expected, 0 when
// nothing is expected), as printed in parentheses in the Lost column.
func (s *RTPStats) LostPercent() float64 {
	if !s.started {
		return 0
	}
	expected := s.expected()
	if expected == 0 {
		return 0
	}
	lost := int32(expected - uint32(s.total))
	return float64(lost*100) / float64(expected)
}

// Problem reports tshark's "Problems?" flag: some packet had a wrong
// sequence number or a timestamp outside the stream's time sequence.
func (s *RTPStats) Problem() bool { return s.problem }

// Packets is the number of packets seen so far.
func (s *RTPStats) Packets() int { return s.total }

// PayloadBytes is the sum of the payload lengths passed to Update.
func (s *RTPStats) PayloadBytes() uint64 { return s.bytes }

// StartMs and EndMs are the relative arrival times of the first and the
// most recent packet.
func (s *RTPStats) StartMs() float64 { return s.startMs }

// EndMs is the relative arrival time of the most recent packet.
func (s *RTPStats) EndMs() float64 { return s.lastMs }

// PayloadType is the stream's main payload type: the first one seen that is
// not comfort noise, or the first payload type when only CN was seen.
func (s *RTPStats) PayloadType() uint8 {
	if s.hasMainPT {
		return s.mainPT
	}
	return s.firstPT
}

// SawPayloadType reports whether any packet carried payload type pt.
func (s *RTPStats) SawPayloadType(pt uint8) bool {
	if pt > 127 {
		return false
	}
	return s.seenPT[pt>>6]&(1<<(pt&63)) != 0
}

// PayloadNames joins the tshark names of every payload type seen, in
// payload-type order and separated by ", ", as tshark's Payload column
// shows them (for example "g711A, CN") when no SDP named them.
func (s *RTPStats) PayloadNames() string {
	var b []byte
	for pt := 0; pt < 128; pt++ {
		if !s.SawPayloadType(uint8(pt)) {
			continue
		}
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		b = append(b, PayloadName(uint8(pt))...)
	}
	return string(b)
}
