package quality

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

// The evidence for the listener's view: streams generated here as packet
// sequences with a known loss pattern, delay and lateness, whose ground
// truth is computed from the generator's own record, and an E-model
// reference written independently of emodel.go.

// genStream is a generated 20 ms G.711 stream: packet i is sent at i*20 ms
// with timestamp i*160 and, unless lost, arrives 30 ms + extra[i] later.
type genStream struct {
	lost  []bool
	extra []float64
	seq0  uint16
}

func newGen(n int) *genStream {
	return &genStream{lost: make([]bool, n), extra: make([]float64, n), seq0: 1000}
}

// gilbert marks losses with a two-state Markov chain: p is P(loss | the
// previous packet arrived), q is P(arrival | the previous one was lost).
// Random loss of rate p is q = 1-p. The first and last packets always
// arrive, so that tshark's Expected is the number sent.
func (g *genStream) gilbert(r *splitmix, p, q float64) *genStream {
	lost := false
	for i := 1; i < len(g.lost)-1; i++ {
		u := float64(r.Uint64()>>11) / (1 << 53)
		if lost {
			lost = u >= q
		} else {
			lost = u < p
		}
		g.lost[i] = lost
	}
	return g
}

// jitter adds a delay to every packet but every 10th (those take the
// fastest path, which keeps a fixed buffer's reference at 30 ms) and the
// last 25 (so that the last packet sent arrives last, as tshark's Expected
// assumes).
func (g *genStream) jitter(r *splitmix, f func(r *splitmix) float64) *genStream {
	for i := range g.extra {
		if i%10 != 0 && i < len(g.extra)-25 {
			g.extra[i] = f(r)
		}
	}
	return g
}

type genPacket struct {
	arrival float64
	seq     uint16
	ts      uint32
}

// packets returns the received packets in arrival order.
func (g *genStream) packets() []genPacket {
	var out []genPacket
	for i := range g.lost {
		if !g.lost[i] {
			out = append(out, genPacket{arrival: 1000 + float64(i)*20 + 30 + g.extra[i], seq: g.seq0 + uint16(i), ts: 5000 + uint32(i)*160})
		}
	}
	slices.SortStableFunc(out, func(a, b genPacket) int { return cmp.Compare(a.arrival, b.arrival) })
	return out
}

func (g *genStream) run(cfg Config, rttMs float64) (Stream, *StreamQuality) {
	var q StreamQuality
	q.Init(cfg)
	for _, p := range g.packets() {
		q.Update(p.arrival, p.seq, p.ts, 8, false, 8000, 160)
	}
	if rttMs > 0 {
		q.UseRTCP(RTCPReport{RTTMs: rttMs, MeanRTTMs: rttMs, RTTSamples: 1})
	}
	var st Stream
	q.Fill(&st, "g711A")
	return st, &q
}

// truth is what the generator knows happened, for a fixed buffer of depth
// depthMs (packets later than that, above the 30 ms fastest path, are late).
type truth struct {
	lost, late int
	burstR     float64
	maxJitter  float64 // RFC 3550 A.8 jitter's maximum, ms
}

func (g *genStream) truth(depthMs float64) truth {
	var tr truth
	var received, lostEv, runs, recvBeforeLoss int
	prevLost, started := false, false
	for i := range g.lost {
		heardLost := g.lost[i] || g.extra[i] > depthMs
		if g.lost[i] {
			tr.lost++
		} else if g.extra[i] > depthMs {
			tr.late++
		}
		if heardLost {
			if !prevLost {
				runs++
				if started {
					recvBeforeLoss++
				}
			}
			lostEv++
		} else {
			received++
		}
		prevLost, started = heardLost, true
	}
	tr.burstR = 1
	if lostEv > 0 && received > 0 {
		tr.burstR = 1 / (float64(recvBeforeLoss)/float64(received) + float64(runs)/float64(lostEv))
	}
	// RFC 3550 A.8 over packets in arrival order: D is the difference of
	// transit times, J += (|D| - J)/16.
	pk := g.packets()
	j := 0.0
	for k := 1; k < len(pk); k++ {
		d := (pk[k].arrival - pk[k-1].arrival) - float64(int32(pk[k].ts-pk[k-1].ts))/8
		j += (math.Abs(d) - j) / 16
		tr.maxJitter = max(tr.maxJitter, j)
	}
	return tr
}

// refMOS is an independent statement of G.107 (06/2015) for the default
// parameters of its Table 3, where No = -61.18 dBm0p, Ro = 94.77 and
// Is = 1.41 (the values G.107 itself quotes), so that R depends only on the
// one-way delay T (echo and absolute delay), the loss Ppl, BurstR and the
// codec's Ie and Bpl.
func refMOS(ie, bpl, ppl, burstR, t float64) float64 {
	const no, rlr, telr, wepl, ro, is = -61.18, 2.0, 65.0, 110.0, 94.77, 1.41
	// Talker echo (G.107 7.3.1).
	terv := telr - 40*math.Log10((1+t/10)/(1+t/150)) + 6*math.Exp(-0.3*t*t)
	roe := -1.5 * (no - rlr)
	re := 80 + 2.5*(terv-14)
	idte := 0.0
	if t >= 1 {
		idte = ((roe-re)/2 + math.Sqrt((roe-re)*(roe-re)/4+100) - 1) * (1 - math.Exp(-t))
	}
	// Listener echo with Tr = 2T.
	rle := 10.5 * (wepl + 7) * math.Pow(2*t+1, -0.25)
	idle := (ro-rle)/2 + math.Sqrt((ro-rle)*(ro-rle)/4+169)
	// Absolute delay above mT = 100 ms, sT = 1.
	idd := 0.0
	if t > 100 {
		x := math.Log2(t / 100)
		idd = 25 * (math.Pow(1+math.Pow(x, 6), 1.0/6) - 3*math.Pow(1+math.Pow(x/3, 6), 1.0/6) + 2)
	}
	// BurstR is 1 for random loss and above for bursty loss; G.107 does
	// not define it below 1.
	burstR = max(burstR, 1)
	ieEff := ie + (95-ie)*ppl/(ppl/burstR+bpl)
	r := ro - is - (idte + idle + idd) - ieEff
	switch {
	case r < 0:
		return 1
	case r > 100:
		return 4.5
	}
	return 1 + 0.035*r + r*(r-60)*(100-r)*7e-6
}

const g711Ie, g711Bpl = 0, 25.1

func TestStreamQualityMatchesTheGeneratorsGroundTruth(t *testing.T) {
	uniform := func(lo, hi int) func(r *splitmix) float64 {
		return func(r *splitmix) float64 { return float64(lo+r.IntN(hi-lo)) + 0.5 }
	}
	spikes := func(share int, lo, hi int) func(r *splitmix) float64 {
		return func(r *splitmix) float64 {
			if r.IntN(100) < share {
				return float64(lo+r.IntN(hi-lo)) + 0.5
			}
			return float64(r.IntN(40)) + 0.25
		}
	}
	fixed50 := Config{JitterBuffer: JitterBufferFixed50}
	fixed200 := Config{JitterBuffer: JitterBufferFixed200}
	tests := []struct {
		name    string
		gen     func(r *splitmix) *genStream
		cfg     Config
		depthMs float64 // the buffer's delay: its depth, or the adaptive floor
		rttMs   float64
	}{
		{"random loss of 1 %", func(r *splitmix) *genStream { return newGen(30000).gilbert(r, 0.01, 0.99) }, fixed50, 50, 0},
		{"random loss of 5 %", func(r *splitmix) *genStream { return newGen(30000).gilbert(r, 0.05, 0.95) }, fixed50, 50, 0},
		{"random loss of 5 % under the adaptive buffer", func(r *splitmix) *genStream { return newGen(30000).gilbert(r, 0.05, 0.95) }, Config{}, jbAdaptiveFloorMs, 0},
		{"bursts of 4 packets on average", func(r *splitmix) *genStream { return newGen(30000).gilbert(r, 0.01, 0.25) }, fixed50, 50, 0},
		{"bursts of 10 packets on average", func(r *splitmix) *genStream { return newGen(30000).gilbert(r, 0.005, 0.1) }, fixed200, 200, 0},
		{"jitter within the buffer and 2 % loss", func(r *splitmix) *genStream {
			return newGen(30000).gilbert(r, 0.02, 0.98).jitter(r, uniform(0, 45))
		}, fixed50, 50, 0},
		{"3 % delay spikes late for a 50 ms buffer", func(r *splitmix) *genStream {
			return newGen(30000).gilbert(r, 0.01, 0.99).jitter(r, spikes(3, 60, 400))
		}, fixed50, 50, 0},
		{"3 % delay spikes, some late for a 200 ms buffer", func(r *splitmix) *genStream {
			return newGen(30000).gilbert(r, 0.01, 0.99).jitter(r, spikes(3, 60, 400))
		}, fixed200, 200, 0},
		{"a 300 ms round trip adds 150 ms of delay", func(r *splitmix) *genStream { return newGen(30000).gilbert(r, 0.02, 0.98) }, fixed50, 50, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.gen(&splitmix{state: 2024})
			tr := g.truth(tt.depthMs)
			st, _ := g.run(tt.cfg, tt.rttMs)
			if st.Expected != len(g.lost) || st.Lost != tr.lost {
				t.Errorf("expected %d lost %d, ground truth %d and %d", st.Expected, st.Lost, len(g.lost), tr.lost)
			}
			if st.Late != tr.late || st.EffectiveLost != tr.lost+tr.late {
				t.Errorf("late %d effective loss %d, ground truth %d and %d", st.Late, st.EffectiveLost, tr.late, tr.lost+tr.late)
			}
			if math.Abs(st.MaxJitterMs-tr.maxJitter) > 1e-9 {
				t.Errorf("max jitter %.6f ms, RFC 3550 on the generated arrivals gives %.6f", st.MaxJitterMs, tr.maxJitter)
			}
			if math.Abs(st.BurstR-tr.burstR) > 1e-12 {
				t.Errorf("BurstR %.4f, ground truth %.4f", st.BurstR, tr.burstR)
			}
			if st.JitterBufferMs != tt.depthMs || st.RTTMs != tt.rttMs {
				t.Errorf("buffer delay %v RTT %v, want %v and %v", st.JitterBufferMs, st.RTTMs, tt.depthMs, tt.rttMs)
			}
			ppl := 100 * float64(tr.lost+tr.late) / float64(len(g.lost))
			want := refMOS(g711Ie, g711Bpl, ppl, tr.burstR, tt.depthMs+tt.rttMs/2)
			if math.Abs(st.MOS-want) > 0.05 {
				t.Errorf("MOS %.3f, E-model reference %.3f (loss %.2f %%, BurstR %.3f)", st.MOS, want, ppl, tr.burstR)
			}
			t.Logf("loss %d late %d BurstR %.3f (truth %.3f) MOS %.3f (reference %.3f)", st.Lost, st.Late, st.BurstR, tr.burstR, st.MOS, want)
		})
	}
}

func TestEffectiveLossSurvivesReorderingThatThrowsTsharksCount(t *testing.T) {
	// Jitter across the sequence number wrap: tshark's cycle counting
	// (kept by RTPStats) counts the wrap twice when a packet from before
	// it arrives after one from after it. The listener's count does not
	// depend on it.
	g := newGen(3000).gilbert(&splitmix{state: 6}, 0.02, 0.98).jitter(&splitmix{state: 7}, func(r *splitmix) float64 { return float64(r.IntN(45)) })
	g.seq0 = 64000
	g.extra[1535], g.extra[1536] = 44, 0 // seq 65535 arrives after seq 0
	tr := g.truth(50)
	st, _ := g.run(Config{JitterBuffer: JitterBufferFixed50}, 0)
	if st.Lost == tr.lost {
		t.Fatalf("tshark's Lost %d equals the truth; the scenario no longer exercises its quirk", st.Lost)
	}
	if st.EffectiveLost != tr.lost+tr.late || math.Abs(st.BurstR-tr.burstR) > 1e-12 {
		t.Errorf("effective loss %d BurstR %.4f, ground truth %d and %.4f (tshark's Lost: %d)", st.EffectiveLost, st.BurstR, tr.lost+tr.late, tr.burstR, st.Lost)
	}
	want := refMOS(g711Ie, g711Bpl, 100*float64(tr.lost+tr.late)/3000, tr.burstR, 50)
	if math.Abs(st.MOS-want) > 0.05 {
		t.Errorf("MOS %.3f, reference %.3f", st.MOS, want)
	}
}

func TestRefMOSReproducesG107ReferenceValues(t *testing.T) {
	// The reference itself: G.107's default connection is R 93.2 (MOS
	// 4.41); G.113 Appendix I gives G.729A Ie 11, so R 82.2.
	if got := fmt.Sprintf("%.2f", refMOS(0, 25.1, 0, 1, 0)); got != "4.41" {
		t.Errorf("default MOS %s", got)
	}
	if got, want := refMOS(11, 19, 0, 1, 0), MOSFromR(82.2); math.Abs(got-want) > 0.005 {
		t.Errorf("G.729A MOS %.3f, want %.3f", got, want)
	}
}

func TestStreamQualityKeepsTheTsharkNumbers(t *testing.T) {
	// Whatever StreamQuality adds, the tshark fields of the record are
	// exactly RTPStats', which the oracle tests compare with tshark.
	r := &splitmix{state: 99}
	for _, name := range []string{"heplify__rtp_rtcp_sip_ipv4_udp.pcap", "heplify__sip_ipv4_tcp.pcap", "sipp__g711a.pcap", "sngrep__aaa.pcap"} {
		base, packets, err := readRTPCandidates(capturesDir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		type both struct {
			stats RTPStats
			q     StreamQuality
		}
		streams := map[streamKey]*both{}
		for _, p := range packets {
			s := streams[p.key()]
			if s == nil {
				s = &both{}
				s.q.Init(Config{JitterBuffer: JitterBufferMode(r.IntN(3))})
				streams[p.key()] = s
			}
			rel := RelMs(p.TSNs, base)
			s.stats.Update(rel, p.Seq, p.TS, p.PT, p.Marker, ClockRate(p.PT), p.PayloadLen)
			s.q.Update(rel, p.Seq, p.TS, p.PT, p.Marker, ClockRate(p.PT), p.PayloadLen)
		}
		for k, s := range streams {
			var a, b Stream
			s.stats.Fill(&a)
			s.q.Fill(&b, "")
			b.Late, b.EffectiveLost, b.JitterBuffer, b.JitterBufferMs, b.BurstR, b.RTTMs, b.R, b.MOS, b.MOSTimeline = 0, 0, "", 0, 0, 0, 0, 0, nil
			if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
				t.Errorf("%s %v:\nRTPStats      %+v\nStreamQuality %+v", name, k, a, b)
			}
		}
	}
}

func TestStreamMOSNeverRisesWithMoreLoss(t *testing.T) {
	// The same uniform draws with a rising threshold: each loss set
	// contains the previous one.
	r := &splitmix{state: 3}
	u := make([]float64, 20000)
	for i := range u {
		u[i] = float64(r.Uint64()>>11) / (1 << 53)
	}
	prev := math.Inf(1)
	for _, rate := range []float64{0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4} {
		g := newGen(len(u))
		for i := 1; i < len(u)-1; i++ {
			g.lost[i] = u[i] < rate
		}
		for _, cfg := range []Config{{}, {JitterBuffer: JitterBufferFixed50}} {
			st, _ := g.run(cfg, 0)
			if cfg.JitterBuffer == JitterBufferFixed50 {
				if st.MOS > prev {
					t.Errorf("MOS rises from %.4f to %.4f at %v loss", prev, st.MOS, rate)
				}
				prev = st.MOS
			}
		}
	}
}

func TestStreamMOSNeverRisesWithBurstierLoss(t *testing.T) {
	// 5 % loss in runs of 1, 2, 4, ... packets, evenly spaced.
	prevMOS, prevBurst := math.Inf(1), 0.0
	for _, run := range []int{1, 2, 4, 8, 16, 32} {
		g := newGen(20000)
		for start := 10; start+run < len(g.lost)-1; start += run * 20 {
			for i := start; i < start+run; i++ {
				g.lost[i] = true
			}
		}
		st, _ := g.run(Config{JitterBuffer: JitterBufferFixed50}, 0)
		if st.BurstR <= prevBurst || st.MOS > prevMOS {
			t.Errorf("runs of %d: BurstR %.3f MOS %.4f after BurstR %.3f MOS %.4f", run, st.BurstR, st.MOS, prevBurst, prevMOS)
		}
		prevMOS, prevBurst = st.MOS, st.BurstR
	}
}

func TestStreamMOSNeverRisesWithMoreLatePackets(t *testing.T) {
	r := &splitmix{state: 8}
	order := make([]int, 0, 20000)
	for i := 1; i < 19999; i++ {
		if i%10 != 0 {
			order = append(order, i)
		}
	}
	// A random order in which packets get a delay spike; k spikes are the
	// first k of it, so each set contains the previous one.
	for i := len(order) - 1; i > 0; i-- {
		j := r.IntN(i + 1)
		order[i], order[j] = order[j], order[i]
	}
	for _, cfg := range []Config{{}, {JitterBuffer: JitterBufferFixed50}, {JitterBuffer: JitterBufferFixed200}} {
		prev := math.Inf(1)
		for _, k := range []int{0, 10, 50, 200, 500, 1000, 2000, 4000} {
			g := newGen(20000)
			for _, i := range order[:k] {
				g.extra[i] = 250
			}
			st, _ := g.run(cfg, 0)
			if st.MOS > prev {
				t.Errorf("%s: MOS rises from %.4f to %.4f with %d delayed packets", cfg.JitterBuffer, prev, st.MOS, k)
			}
			prev = st.MOS
		}
	}
}

func TestStreamMOSNeverRisesWithMoreDelay(t *testing.T) {
	g := newGen(5000).gilbert(&splitmix{state: 4}, 0.01, 0.99)
	prev := math.Inf(1)
	for rtt := 0.0; rtt <= 1200; rtt += 10 {
		st, _ := g.run(Config{}, rtt)
		if st.MOS > prev {
			t.Fatalf("MOS rises from %.4f to %.4f at RTT %v ms", prev, st.MOS, rtt)
		}
		prev = st.MOS
	}
	a, _ := g.run(Config{JitterBuffer: JitterBufferFixed50}, 0)
	b, _ := g.run(Config{JitterBuffer: JitterBufferFixed200}, 0)
	if !(b.MOS < a.MOS) {
		t.Errorf("without jitter a 200 ms buffer (MOS %.4f) should score below a 50 ms one (%.4f)", b.MOS, a.MOS)
	}
}

func TestStreamQualityTimelineShowsWhenQualityDropped(t *testing.T) {
	// 20 s of clean audio but for seconds 10-15, which lose every 5th packet.
	g := newGen(1000)
	truthLost := 0
	for i := 500; i < 750; i++ {
		if i%5 == 0 {
			g.lost[i] = true
			truthLost++
		}
	}
	st, _ := g.run(Config{JitterBuffer: JitterBufferFixed50, Interval: 5 * time.Second}, 0)
	if len(st.MOSTimeline) != 4 {
		t.Fatalf("%d intervals, want 4: %+v", len(st.MOSTimeline), st.MOSTimeline)
	}
	clean := refMOS(g711Ie, g711Bpl, 0, 1, 50)
	for i, iv := range st.MOSTimeline {
		if iv.StartMs != float64(i)*5000 || iv.DurationMs != 5000 {
			t.Errorf("interval %d starts at %v and lasts %v", i, iv.StartMs, iv.DurationMs)
		}
		if i == 2 {
			want := refMOS(g711Ie, g711Bpl, 20, 1, 50)
			if iv.Lost != truthLost || math.Abs(iv.MOS-want) > 0.05 || iv.LossPct != 20 {
				t.Errorf("the lossy interval: lost %d (truth %d) loss %.2f %% MOS %.3f (reference %.3f)", iv.Lost, truthLost, iv.LossPct, iv.MOS, want)
			}
			continue
		}
		if iv.Lost != 0 || math.Abs(iv.MOS-clean) > 0.005 || iv.Packets != 250 {
			t.Errorf("clean interval %d: %+v, want MOS %.3f", i, iv, clean)
		}
	}
	if !(st.MOSTimeline[2].MOS < st.MOS && st.MOS < st.MOSTimeline[1].MOS) {
		t.Errorf("stream MOS %.3f should lie between the bad interval's %.3f and a clean one's %.3f", st.MOS, st.MOSTimeline[2].MOS, st.MOSTimeline[1].MOS)
	}
}

func TestStreamQualityBeforeAnyPacket(t *testing.T) {
	var q StreamQuality
	st := Stream{MOS: 3, MOSTimeline: []IntervalMOS{{}}}
	q.Fill(&st, "")
	if st.MOS != 0 || st.R != 0 || st.MOSTimeline != nil || st.Packets != 0 || st.JitterBuffer != "adaptive" {
		t.Errorf("empty stream filled %+v", st)
	}
}

func TestStreamQualityUsesTheRTCPRoundTripAndReconvertsJitter(t *testing.T) {
	g := newGen(500)
	var q StreamQuality
	q.Init(Config{JitterBuffer: JitterBufferFixed50})
	for _, p := range g.packets() {
		q.Update(p.arrival, p.seq, 2*p.ts, 9, false, 16000, 320) // a 16 kHz clock
	}
	q.UseRTCP(RTCPReport{SSRC: 7, Reports: 3, Jitter: 160, MaxJitter: 320, JitterMs: 20, XR: XRVoIPMetrics{Reports: 1, RoundTripDelayMs: 240}})
	var st Stream
	q.Fill(&st, "g722")
	if st.RTTMs != 240 || st.RTCP.SSRC != 7 || st.RTCP.JitterMs != 10 || st.RTCP.MaxJitterMs != 20 {
		t.Errorf("without a measured RTT the XR round trip is used: RTT %v, RTCP %+v", st.RTTMs, st.RTCP)
	}
	q.UseRTCP(RTCPReport{SSRC: 7, RTTMs: 100, MeanRTTMs: 80, RTTSamples: 2, XR: XRVoIPMetrics{Reports: 1, RoundTripDelayMs: 240}})
	q.Fill(&st, "g722")
	if st.RTTMs != 80 {
		t.Errorf("the mean measured round trip wins over XR's: %v", st.RTTMs)
	}
	if want := refMOS(0, 25.1, 0, 1, 50+40); math.Abs(st.MOS-want) > 0.005 {
		t.Errorf("MOS %.4f, reference %.4f", st.MOS, want)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"the default is valid", DefaultConfig(), true},
		{"the zero config is valid", Config{}, true},
		{"an unknown buffer mode is not", Config{JitterBuffer: 7}, false},
		{"a 10 ms interval is too short", Config{Interval: 10 * time.Millisecond}, false},
		{"a day-long interval is too long", Config{Interval: 24 * time.Hour}, false},
		{"one interval cannot merge", Config{MaxIntervals: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

func TestStreamQualityDoesNotAllocatePerPacket(t *testing.T) {
	var q StreamQuality
	i := 0
	// Warm up past the first few intervals so that the interval slice has
	// room; then one interval (250 packets) is measured at a time.
	for ; i < 5000; i++ {
		q.Update(float64(i)*20, uint16(i), uint32(i)*160, 8, false, 8000, 160)
	}
	allocs := testing.AllocsPerRun(200, func() {
		i++
		q.Update(float64(i)*20+float64(i%3), uint16(i+i%5/4), uint32(i)*160, 8, false, 8000, 160)
	})
	if allocs != 0 {
		t.Errorf("Update allocates %v times per packet", allocs)
	}
}

// BenchmarkStreamQualityUpdate is the whole per-packet path: tshark
// statistics, loss patterns, jitter buffer and timeline.
func BenchmarkStreamQualityUpdate(b *testing.B) {
	for _, mode := range []JitterBufferMode{JitterBufferAdaptive, JitterBufferFixed50} {
		b.Run(mode.String(), func(b *testing.B) {
			var q StreamQuality
			q.Init(Config{JitterBuffer: mode})
			seq, ts, now := uint16(0), uint32(0), 0.0
			b.ReportAllocs()
			cpu := processCPUNs()
			for b.Loop() {
				seq++
				ts += 160
				now += 20.001
				q.Update(now, seq, ts, 8, false, 8000, 160)
			}
			cpuPerOp := float64(processCPUNs()-cpu) / float64(b.N)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpackets/s")
			b.ReportMetric(cpuPerOp, "cpu-ns/op")
			if cpuPerOp > 0 {
				b.ReportMetric(1e3/cpuPerOp, "Mpackets/cpu-s")
			}
		})
	}
}

func BenchmarkStreamQualityFill(b *testing.B) {
	var q StreamQuality
	for i := range 90000 { // 30 minutes, 360 intervals
		q.Update(float64(i)*20, uint16(i), uint32(i)*160, 8, false, 8000, 160)
	}
	var st Stream
	b.ReportAllocs()
	for b.Loop() {
		q.Fill(&st, "g711A")
	}
}

// FuzzStreamQualityUpdate feeds arbitrary packet sequences (10 bytes each:
// arrival step, sequence number, timestamp, payload type, clock) under each
// buffer mode and checks that the listener's figures stay consistent.
func FuzzStreamQualityUpdate(f *testing.F) {
	f.Add([]byte("\x00\x14\x00\x01\x00\x00\x00\xa0\x08\x01\x00\x14\x00\x02\x00\x00\x01\x40\x08\x01"))
	f.Add([]byte("\x7f\xff\xff\xff\xff\xff\xff\xff\x08\x01\x80\x00\x00\x00\x00\x00\x00\x00\x65\x00\x00\x01\x00\x05\x00\x00\x03\x20\x00\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var q StreamQuality
		q.Init(Config{JitterBuffer: JitterBufferMode(len(data) % 3), Interval: 100 * time.Millisecond, MaxIntervals: 3})
		now, n := 0.0, 0
		for ; len(data) >= 10; data = data[10:] {
			now += float64(int16(uint16(data[0])<<8|uint16(data[1]))) / 3
			seq := uint16(data[2])<<8 | uint16(data[3])
			ts := uint32(data[4])<<24 | uint32(data[5])<<16 | uint32(data[6])<<8 | uint32(data[7])
			clock := [...]uint32{0, 8000, 16000, 48000}[data[9]&3]
			q.Update(now, seq, ts, data[8]&0x7f, data[9]&4 != 0, clock, 160)
			n++
		}
		var st Stream
		q.Fill(&st, "")
		if st.Packets != n || st.Late > n || st.EffectiveLost < 0 || q.tl.count() > 3 {
			t.Fatalf("packets %d (fed %d) late %d effective loss %d intervals %d", st.Packets, n, st.Late, st.EffectiveLost, q.tl.count())
		}
		if n > 0 && (st.MOS < 1 || st.MOS > 4.5) {
			t.Fatalf("MOS %v", st.MOS)
		}
		sum := 0
		for _, iv := range st.MOSTimeline {
			sum += iv.Packets
			if iv.LossPct < 0 || iv.LossPct > 100 || (iv.MOS != 0 && (iv.MOS < 1 || iv.MOS > 4.5)) {
				t.Fatalf("interval %+v", iv)
			}
		}
		if sum != n {
			t.Fatalf("intervals hold %d packets, fed %d", sum, n)
		}
		if d := st.JitterBufferMs; d < 0 || d > jbAdaptiveMaxMs {
			t.Fatalf("buffer delay %v", d)
		}
	})
}
