package audio

import (
	"slices"
	"time"
)

// Packet is one RTP packet of a stream as it was captured.
type Packet struct {
	TS          int64 // capture time, Unix nanoseconds
	Seq         uint16
	Timestamp   uint32 // RTP timestamp
	PayloadType uint8
	Payload     []byte // the RTP payload, not copied: it must outlive the render
}

// Stream is one RTP stream (one SSRC from one source to one destination):
// its packets in capture order and the codec of its audio payload type.
// Packets of another payload type (comfort noise, RFC 4733 events) keep
// the stream's timing but play as silence.
type Stream struct {
	Codec       Codec
	PayloadType uint8
	Packets     []Packet
}

// maxSkew is how far an RTP timestamp step may disagree with the capture
// clock before it is taken for a discontinuity (a sender that restarted
// its clock, a relay that rewrote it) rather than a gap: beyond it the
// packet is placed by its capture time instead. Ten seconds leaves room
// for jitter and packets held up for seconds, and is far below the
// random jump of a restarted clock (hours on average).
const maxSkew = 10 * SampleRate

// nsPerSample is the capture-clock length of one sample at 8 kHz.
const nsPerSample = int64(time.Second) / SampleRate

// samplePos is a capture time on the sample clock (samples since the Unix
// epoch), rounded to the nearest sample.
func samplePos(ns int64) int64 {
	if ns >= 0 {
		return (ns + nsPerSample/2) / nsPerSample
	}
	return -((-ns + nsPerSample/2) / nsPerSample)
}

// piece is one packet's samples placed on the sample clock.
type piece struct {
	pos     int64 // first sample, samples since the Unix epoch
	codec   Codec
	payload []byte
}

func (p *piece) end() int64 { return p.pos + int64(p.codec.samples(p.payload)) }

// Stats say what a channel's layout did with its packets.
type Stats struct {
	Packets         int // packets given
	Played          int // packets whose audio is in the channel (wholly or in part)
	Silent          int // packets of another payload type (comfort noise, events)
	Duplicates      int // same sequence number and timestamp as the packet before
	Overlapping     int // audio already covered by an earlier piece (a late duplicate, a second stream)
	Lost            int // sequence numbers never received, summed over the streams
	Discontinuities int // RTP timestamp steps the capture clock contradicted
}

// Channel is one channel of audio: the pieces of one or more streams laid
// out on the capture clock.
type Channel struct {
	pieces     []piece
	first, end int64 // sample clock span of the pieces; end exclusive
	Stats      Stats
}

// NewChannel lays streams out on one channel. Within a stream each packet
// goes where its RTP timestamp puts it relative to the packet captured
// before it (so loss and silence suppression leave gaps of the right
// length, and reordered packets land in order); the stream as a whole, and
// any packet whose timestamp step the capture clock contradicts by more
// than maxSkew, is placed by capture time. Sequence numbers tell
// duplicates and losses; both wrap. Where pieces overlap the earliest
// placed plays.
func NewChannel(streams ...Stream) *Channel {
	n := 0
	for i := range streams {
		n += len(streams[i].Packets)
	}
	ch := &Channel{pieces: make([]piece, 0, n)}
	for i := range streams {
		ch.add(&streams[i])
	}
	// Stable: of two pieces at one place the one laid out first plays.
	slices.SortStableFunc(ch.pieces, func(a, b piece) int {
		switch {
		case a.pos < b.pos:
			return -1
		case a.pos > b.pos:
			return 1
		}
		return 0
	})
	for i := range ch.pieces {
		p := &ch.pieces[i]
		if i == 0 || p.pos < ch.first {
			ch.first = p.pos
		}
		ch.end = max(ch.end, p.end())
	}
	ch.countOverlaps()
	return ch
}

func (ch *Channel) add(s *Stream) {
	var (
		prev       *Packet
		prevExt    int64 // unwrapped RTP timestamp of prev
		prevPos    int64 // where prev went on the sample clock
		shift      int64 // sample clock = unwrapped timestamp + shift
		seqExt     int64 // unwrapped sequence number of prev
		seqLo      int64
		seqHi      int64
		received   int
		seenBefore bool
	)
	for i := range s.Packets {
		p := &s.Packets[i]
		ch.Stats.Packets++
		var ext int64
		if prev == nil {
			ext = int64(p.Timestamp)
			shift = samplePos(p.TS) - ext
			seqExt = int64(p.Seq)
			seqLo, seqHi = seqExt, seqExt
		} else {
			if p.Seq == prev.Seq && p.Timestamp == prev.Timestamp {
				ch.Stats.Duplicates++
				continue
			}
			ext = prevExt + int64(int32(p.Timestamp-prev.Timestamp))
			capStep := samplePos(p.TS) - samplePos(prev.TS)
			if d := ext - prevExt - capStep; d > maxSkew || d < -maxSkew {
				// The clock jumped: keep the capture clock's step.
				shift = prevPos + capStep - ext
				ch.Stats.Discontinuities++
			}
			seqExt += int64(int16(p.Seq - prev.Seq))
			seqLo, seqHi = min(seqLo, seqExt), max(seqHi, seqExt)
		}
		received++
		pos := ext + shift
		prev, prevExt, prevPos, seenBefore = p, ext, pos, true
		if p.PayloadType != s.PayloadType {
			ch.Stats.Silent++
			continue
		}
		if s.Codec.samples(p.Payload) == 0 {
			continue
		}
		ch.pieces = append(ch.pieces, piece{pos: pos, codec: s.Codec, payload: p.Payload})
	}
	if seenBefore {
		ch.Stats.Lost += max(int(seqHi-seqLo+1)-received, 0)
	}
}

// countOverlaps counts the pieces that will not play in full.
func (ch *Channel) countOverlaps() {
	cursor := int64(0)
	for i := range ch.pieces {
		p := &ch.pieces[i]
		if i > 0 && p.pos < cursor {
			ch.Stats.Overlapping++
			if p.end() <= cursor {
				continue
			}
		}
		ch.Stats.Played++
		cursor = max(cursor, p.end())
	}
}

// Empty reports whether the channel holds no audio at all.
func (ch *Channel) Empty() bool { return len(ch.pieces) == 0 }

// Start is the capture time of the channel's first sample, Unix ns.
func (ch *Channel) Start() int64 { return ch.first * nsPerSample }

// Samples is the channel's length from its first sample to its last.
func (ch *Channel) Samples() int64 { return ch.end - ch.first }

// reader plays a channel's pieces from a sample clock position on, in
// order, silence between them.
type reader struct {
	ch     *Channel
	next   int   // first piece not yet wholly played
	cursor int64 // sample clock position of the next sample to read
}

// read fills dst with the samples from r.cursor on and advances it. Of
// overlapping pieces the one sorted first plays; the others fill only
// what it left uncovered.
func (r *reader) read(dst []int16) {
	base := r.cursor
	end := base + int64(len(dst))
	clear(dst)
	covered := base // dst is final before this position
	for r.next < len(r.ch.pieces) {
		p := &r.ch.pieces[r.next]
		if p.pos >= end {
			break
		}
		pend := p.end()
		if from, to := max(p.pos, covered), min(pend, end); from < to {
			p.codec.decode(dst[from-base:to-base], p.payload[from-p.pos:to-p.pos])
			covered = to
		}
		if pend > end {
			break // its rest, and what it hides, come in the next read
		}
		r.next++
	}
	r.cursor = end
}
