package quality

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// jbPacket is one packet as a jitter buffer sees it.
type jbPacket struct {
	arrival float64
	ts      uint32
	seq     uint16
}

// voiceArrivals is n packets of 20 ms G.711 (160 ticks at 8 kHz) sent every
// 20 ms, arriving 30 ms later plus extra(i).
func voiceArrivals(n int, extra func(i int) float64) []jbPacket {
	out := make([]jbPacket, n)
	for i := range out {
		out[i] = jbPacket{arrival: float64(i)*20 + 30 + extra(i), ts: 1000 + uint32(i)*160, seq: uint16(7 + i)}
	}
	return out
}

func feed(b *JitterBuffer, pkts []jbPacket) (late int) {
	for _, p := range pkts {
		if b.Observe(p.arrival, p.ts, 8000, p.seq) == PlayoutLate {
			late++
		}
	}
	return late
}

func TestJitterBufferFixedModesCountExactlyThePacketsDelayedBeyondTheirDepth(t *testing.T) {
	// Every 10th packet takes the fastest path, so the reference stays at
	// 30 ms and the ground truth is simply extra > depth.
	r := &splitmix{state: 11}
	extras := make([]float64, 3000)
	for i := range extras {
		if i%10 == 0 {
			continue
		}
		switch r.IntN(10) {
		case 0:
			extras[i] = 40 + float64(r.IntN(300)) + 0.5 // a delay spike
		default:
			extras[i] = float64(r.IntN(45)) + 0.25
		}
	}
	for _, tt := range []struct {
		mode  JitterBufferMode
		depth float64
	}{{JitterBufferFixed50, 50}, {JitterBufferFixed200, 200}} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			want := 0
			for _, e := range extras {
				if e > tt.depth {
					want++
				}
			}
			var b JitterBuffer
			b.Reset(tt.mode)
			pkts := voiceArrivals(len(extras), func(i int) float64 { return extras[i] })
			slices.SortStableFunc(pkts, func(a, b jbPacket) int { return cmp.Compare(a.arrival, b.arrival) })
			got := feed(&b, pkts)
			if got != want || b.Late() != want {
				t.Errorf("late %d (Late() %d), ground truth %d", got, b.Late(), want)
			}
			if b.MeanDelayMs() != tt.depth {
				t.Errorf("mean delay %v, want the fixed depth %v", b.MeanDelayMs(), tt.depth)
			}
			if b.Judged() != len(extras) || b.Duplicates() != 0 || b.Resyncs() != 0 {
				t.Errorf("judged %d duplicates %d resyncs %d", b.Judged(), b.Duplicates(), b.Resyncs())
			}
		})
	}
}

func TestJitterBufferAdaptive(t *testing.T) {
	r := &splitmix{state: 5}
	tests := []struct {
		name             string
		extra            func(i int) float64
		maxLate          int
		minDelay, maxDel float64
	}{
		{"without jitter it stays at its 20 ms floor", func(int) float64 { return 0 }, 0, 20, 20},
		{"uniform jitter of 0-40 ms is absorbed", func(int) float64 { return float64(r.IntN(40)) }, 5, 30, 80},
		{"one 150 ms spike loses one packet", func(i int) float64 {
			if i == 500 {
				return 150
			}
			return 0
		}, 1, 20, 40},
		{"jitter of a second is capped at 500 ms", func(int) float64 { return float64(r.IntN(1000)) }, 2000, 400, 500},
		{"a route 100 ms slower after 10 s costs a packet", func(i int) float64 {
			if i >= 500 {
				return 100
			}
			return 0
		}, 1, 20, 60},
		{"a clock 200 ppm slower than the capture's never makes a packet late", func(i int) float64 { return float64(i) * 20 * 200e-6 }, 0, 20, 20},
		{"a clock 200 ppm faster than the capture's never makes a packet late", func(i int) float64 { return 100 - float64(i)*20*200e-6 }, 0, 20, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b JitterBuffer
			pkts := voiceArrivals(3000, tt.extra)
			maxTarget := 0.0
			for _, p := range pkts {
				b.Observe(p.arrival, p.ts, 8000, p.seq)
				maxTarget = max(maxTarget, b.TargetMs())
			}
			if b.Late() > tt.maxLate {
				t.Errorf("%d late, want at most %d", b.Late(), tt.maxLate)
			}
			if d := b.MeanDelayMs(); d < tt.minDelay || d > tt.maxDel {
				t.Errorf("mean delay %.2f ms, want %v-%v", d, tt.minDelay, tt.maxDel)
			}
			if maxTarget > jbAdaptiveMaxMs {
				t.Errorf("target reached %v ms, above the %v ms cap", maxTarget, jbAdaptiveMaxMs)
			}
		})
	}
}

func TestJitterBufferAdaptiveShrinksAfterASpike(t *testing.T) {
	var b JitterBuffer
	pkts := voiceArrivals(2000, func(i int) float64 {
		if i == 100 {
			return 300
		}
		return 0
	})
	feed(&b, pkts[:101])
	if got := b.TargetMs(); got != jbAdaptiveFloorMs {
		t.Fatalf("the spike packet was judged under %v ms, want the floor", got)
	}
	feed(&b, pkts[101:102])
	if got := b.TargetMs(); got < 290 {
		t.Fatalf("after the spike the buffer is %v ms, want about 300", got)
	}
	feed(&b, pkts[102:])
	// 20 ms per second: 300 ms are gone after 15 s (750 packets).
	if got := b.TargetMs(); got != jbAdaptiveFloorMs {
		t.Errorf("38 s later the buffer is %v ms, want back at the floor", got)
	}
}

func TestJitterBufferIgnoresDuplicatesAndJudgesReorderedPacketsByTheirTimestamp(t *testing.T) {
	var b JitterBuffer
	b.Reset(JitterBufferFixed50)
	pkts := voiceArrivals(20, func(int) float64 { return 0 })
	// Packet 5 arrives after packet 8: 70 ms late relative to its
	// timestamp, beyond 50 ms. Packet 6 arrives after 7 but only 25 ms
	// behind: reordered, still in time.
	pkts[5].arrival += 70
	pkts[6].arrival += 25
	order := []jbPacket{pkts[0], pkts[1], pkts[2], pkts[3], pkts[4], pkts[7], pkts[6], pkts[8], pkts[5], pkts[9], pkts[9], pkts[4]}
	var got []Playout
	for _, p := range order {
		got = append(got, b.Observe(p.arrival, p.ts, 8000, p.seq))
	}
	want := []Playout{PlayoutOnTime, PlayoutOnTime, PlayoutOnTime, PlayoutOnTime, PlayoutOnTime, PlayoutOnTime,
		PlayoutOnTime, PlayoutOnTime, PlayoutLate, PlayoutOnTime, PlayoutDuplicate, PlayoutDuplicate}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("playout %v, want %v", got, want)
	}
	if b.Duplicates() != 2 || b.Late() != 1 || b.Judged() != 10 {
		t.Errorf("duplicates %d late %d judged %d", b.Duplicates(), b.Late(), b.Judged())
	}
}

func TestJitterBufferDoesNotJudgePacketsWithoutAClock(t *testing.T) {
	var b JitterBuffer
	if p := b.Observe(0, 0, 0, 1); p != PlayoutUnjudged {
		t.Errorf("got %v", p)
	}
	if b.Judged() != 0 || b.MeanDelayMs() != 0 {
		t.Errorf("judged %d, delay %v", b.Judged(), b.MeanDelayMs())
	}
}

func TestJitterBufferResyncsOnATimestampJump(t *testing.T) {
	var b JitterBuffer
	b.Reset(JitterBufferFixed200)
	pkts := voiceArrivals(1000, func(int) float64 { return 0 })
	// The sender restarts its timestamps 10 s back at packet 400.
	for i := 400; i < len(pkts); i++ {
		pkts[i].ts -= 80000
	}
	if late := feed(&b, pkts); late != 0 || b.Resyncs() != 1 {
		t.Errorf("late %d, resyncs %d; want 0 and 1", late, b.Resyncs())
	}
}

func TestJitterBufferFollowsTheTimestampAcrossItsWrap(t *testing.T) {
	var b JitterBuffer
	b.Reset(JitterBufferFixed50)
	for i := range 100 {
		ts := uint32(0xFFFFF000) + uint32(i)*160
		if p := b.Observe(float64(i)*20, ts, 8000, uint16(65500+i)); p != PlayoutOnTime {
			t.Fatalf("packet %d: %v", i, p)
		}
	}
}

func TestJitterBufferDoesNotAllocate(t *testing.T) {
	var b JitterBuffer
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		i++
		b.Observe(float64(i)*20+float64(i%7), uint32(i)*160, 8000, uint16(i))
	})
	if allocs != 0 {
		t.Errorf("Observe allocates %v times", allocs)
	}
}

func TestParseJitterBufferMode(t *testing.T) {
	for _, m := range []JitterBufferMode{JitterBufferAdaptive, JitterBufferFixed50, JitterBufferFixed200} {
		got, err := ParseJitterBufferMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseJitterBufferMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseJitterBufferMode("fixed-75ms"); !errors.Is(err, ErrBadJitterMode) {
		t.Errorf("unknown mode: err %v", err)
	}
	if s := JitterBufferMode(9).String(); s != "JitterBufferMode(9)" {
		t.Errorf("String of an unknown mode: %q", s)
	}
}
