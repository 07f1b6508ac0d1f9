package pipeline

import (
	"github.com/sipscope/sipscope/quality"
)

// handleUDPTL counts a datagram of a flow SDP moved to T.38: a stream of
// its own (payload "t38"), figures from the UDPTL sequence numbers.
func (p *Pipeline) handleUDPTL(pl []byte) {
	if err := p.udptl.Unmarshal(pl); err != nil {
		p.counts.decodeErrors["udptl_malformed"]++
		return
	}
	p.counts.udptlPackets++
	s := p.stream(streamKey{src: p.pkt.Src, dst: p.pkt.Dst, epoch: p.epoch, t38: true}, 0)
	s.fax.observe(p.udptl.Seq, p.pkt.TS, s.last)
	s.last = p.pkt.TS
	s.dirty = true
}

// faxWindow is how many sequence numbers below the highest a T.38 stream
// remembers to tell a duplicate (redundant UDPTL resends an IFP inside
// later packets, not as a packet of its own, so a repeated number is a
// real duplicate).
const faxWindow = 64

// faxCounts are a T.38 stream's figures from UDPTL sequence numbers, in
// the manner of RTP's: expected from the first to the highest (extended
// over wraps), lost = expected − distinct packets, duplicates apart.
type faxCounts struct {
	packets, dups, seqErrors int
	first, max               uint32 // extended sequence numbers
	seen                     uint64 // bit i: max−i was received
	started                  bool
	minDelta, maxDelta       int64
	sumDelta                 int64
	deltas                   int
}

func (f *faxCounts) observe(seq uint16, ts, prevTS int64) {
	f.packets++
	if !f.started {
		f.started = true
		f.first, f.max, f.seen = uint32(seq), uint32(seq), 1
		return
	}
	if d := ts - prevTS; d >= 0 {
		if f.deltas == 0 || d < f.minDelta {
			f.minDelta = d
		}
		f.maxDelta = max(f.maxDelta, d)
		f.sumDelta += d
		f.deltas++
	}
	// The extended number closest to the highest seen.
	ext := f.max&^0xffff | uint32(seq)
	switch diff := int32(ext - f.max); {
	case diff < -0x8000:
		ext += 0x10000
	case diff > 0x8000 && ext >= 0x10000:
		ext -= 0x10000
	}
	switch {
	case ext > f.max:
		if ext != f.max+1 {
			f.seqErrors++
		}
		shift := ext - f.max
		if shift >= 64 {
			f.seen = 0
		} else {
			f.seen <<= shift
		}
		f.seen |= 1
		f.max = ext
	case f.max-ext < faxWindow:
		bit := uint64(1) << (f.max - ext)
		if f.seen&bit != 0 {
			f.dups++
			return
		}
		f.seen |= bit
		f.seqErrors++ // out of order
		if ext < f.first {
			f.first = ext
		}
	default:
		// Too old to tell: counted as a packet, and a sequence error.
		f.seqErrors++
	}
}

func (f *faxCounts) fill(st *quality.Stream) {
	st.Payload = "t38"
	st.Packets = f.packets
	st.Duplicates = f.dups
	st.SeqErrors = f.seqErrors
	if f.started {
		st.Expected = int(f.max-f.first) + 1
	}
	st.Lost = max(st.Expected-(f.packets-f.dups), 0)
	if f.deltas > 0 {
		st.MinDeltaMs = float64(f.minDelta) / 1e6
		st.MaxDeltaMs = float64(f.maxDelta) / 1e6
		st.MeanDeltaMs = float64(f.sumDelta) / float64(f.deltas) / 1e6
	}
}
