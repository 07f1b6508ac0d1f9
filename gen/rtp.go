package gen

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// sampleRate of G.711, the RTP clock rate of both laws.
const sampleRate = 8000

// rtpHeaderLen is a fixed RTP header without CSRCs or extensions.
const rtpHeaderLen = 12

// gilbert is a two-state loss model. In the bad state every packet is lost;
// the mean time spent there is the mean burst length.
type gilbert struct {
	enter float64 // P(good -> bad) per packet
	stay  float64 // P(bad -> bad) per packet
	bad   bool
}

// newGilbert sets the transition probabilities so the long-run loss rate is
// lossPct and bursts last burstLen packets on average. burstLen 1 is plain
// independent (Bernoulli) loss: the state then carries no memory at all.
func newGilbert(lossPct float64, burstLen int) gilbert {
	l := lossPct / 100
	if burstLen <= 1 {
		return gilbert{enter: l, stay: l}
	}
	leave := 1 / float64(burstLen)
	// Stationary loss = enter / (enter + leave); solve for enter. Validate
	// caps lossPct at 50 %, which keeps enter <= leave <= 1.
	return gilbert{enter: l * leave / (1 - l), stay: 1 - leave}
}

// drop advances the model by one packet and says whether it is lost. It
// draws exactly one random number per packet so the stream that follows
// does not depend on the loss history.
func (g *gilbert) drop(r *rand.Rand) bool {
	u := r.Float64()
	if g.bad {
		g.bad = u < g.stay
	} else {
		g.bad = u < g.enter
	}
	return g.bad
}

// streamSpec describes one RTP stream to generate.
type streamSpec struct {
	src, dst netip.AddrPort
	codec    codec
	start    time.Time // send time of the first packet
	count    int       // packets sent
	toneHz   int
	callID   string
}

// rtpPacket is one sent packet that reached the capture point.
type rtpPacket struct {
	k       int // index in send order
	arrival time.Time
}

// rtpStream adds the captured packets of one stream to the builder and
// returns its truth. Loss, jitter and late arrival follow the Config; the
// first and last packets are always captured, first and last in the stream,
// so tshark's expected count (last seq - first seq + 1) equals what was sent.
func (b *builder) rtpStream(r *rand.Rand, s streamSpec) StreamTruth {
	cfg := b.cfg
	ptime := cfg.Ptime
	samples := int(ptime * sampleRate / time.Second)
	ssrc := r.Uint32()
	seq0 := uint16(r.Uint32())
	ts0 := r.Uint32()
	loss := newGilbert(cfg.LossPct, cfg.BurstLen)
	// Late packets are kept away from the stream's end so that the last
	// packet really is captured last without being pushed back.
	lateGuard := int(math.Ceil(cfg.LateMs/float64(ptime/time.Millisecond))) + 1

	pkts := make([]rtpPacket, 0, s.count)
	maxArrival := s.start
	for k := range s.count {
		send := s.start.Add(time.Duration(k) * ptime)
		lost := loss.drop(r)
		jitter := randMicros(r, cfg.JitterMs)
		late := r.Float64()*100 < cfg.LatePct
		first, last := k == 0, k == s.count-1
		if first || last {
			lost = false
		}
		if first {
			jitter = 0 // nothing may overtake it: it defines the first seq
		}
		if late && !first && k < s.count-lateGuard {
			jitter += time.Duration(cfg.LateMs * float64(time.Millisecond)).Truncate(time.Microsecond)
		}
		if lost {
			continue
		}
		arrival := send.Add(jitter)
		if last && !arrival.After(maxArrival) {
			arrival = maxArrival.Add(time.Microsecond)
		}
		maxArrival = later(maxArrival, arrival)
		pkts = append(pkts, rtpPacket{k: k, arrival: arrival})
	}

	for _, p := range pkts {
		payload := make([]byte, rtpHeaderLen+samples)
		payload[0] = 0x80 // version 2, no padding, extension or CSRCs
		payload[1] = s.codec.pt
		if p.k == 0 {
			payload[1] |= 0x80 // marker: start of a talkspurt
		}
		binary.BigEndian.PutUint16(payload[2:], seq0+uint16(p.k))
		binary.BigEndian.PutUint32(payload[4:], ts0+uint32(p.k*samples))
		binary.BigEndian.PutUint32(payload[8:], ssrc)
		toneFrame(payload[rtpHeaderLen:], p.k*samples, s.toneHz, s.codec.encode)
		b.add(frame{ts: p.arrival, src: s.src, dst: s.dst, tos: tosMedia, media: true, payload: payload})
	}

	// Capture order within the stream: by arrival, ties in send order (the
	// same order the final stable sort gives them).
	slices.SortStableFunc(pkts, func(a, b rtpPacket) int { return a.arrival.Compare(b.arrival) })
	reordered, maxK := 0, -1
	for _, p := range pkts {
		if p.k < maxK {
			reordered++
		}
		maxK = max(maxK, p.k)
	}
	return StreamTruth{
		SSRC:        fmt.Sprintf("0x%08X", ssrc),
		Src:         s.src,
		Dst:         s.dst,
		PayloadType: s.codec.pt,
		Payload:     s.codec.tshark,
		FirstSeq:    seq0,
		Sent:        s.count,
		Packets:     len(pkts),
		Expected:    s.count,
		Lost:        s.count - len(pkts),
		Reordered:   reordered,
		Start:       Time{pkts[0].arrival},
		End:         Time{pkts[len(pkts)-1].arrival},
		CallID:      s.callID,
	}
}

// randMicros is a uniform duration in [0, maxMs] with microsecond
// resolution, the resolution of a pcap timestamp.
func randMicros(r *rand.Rand, maxMs float64) time.Duration {
	return time.Duration(r.Float64()*maxMs*1000) * time.Microsecond
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
