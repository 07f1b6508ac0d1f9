package quality

import (
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"
)

func TestTimelineMergesIntervalsToStayBounded(t *testing.T) {
	g := newGen(1000).gilbert(&splitmix{state: 12}, 0.03, 0.97) // 20 s
	tr := g.truth(50)
	st, q := g.run(Config{JitterBuffer: JitterBufferFixed50, Interval: time.Second, MaxIntervals: 4}, 0)
	if q.tl.count() > 4 {
		t.Fatalf("%d intervals, bound 4", q.tl.count())
	}
	packets, lost := 0, 0
	for i, iv := range st.MOSTimeline {
		packets += iv.Packets
		lost += iv.Lost
		if iv.DurationMs != 8000 || iv.StartMs != float64(i)*8000 {
			t.Errorf("interval %d: start %v duration %v, want 1 s doubled three times", i, iv.StartMs, iv.DurationMs)
		}
	}
	if packets != st.Packets || lost != tr.lost {
		t.Errorf("merged intervals hold %d packets and %d lost, the stream %d and %d", packets, lost, st.Packets, tr.lost)
	}
}

func TestTimelineSkipsIntervalsWithoutPackets(t *testing.T) {
	// 5 s of audio, a 30 s hold without packets, 5 s more.
	g := newGen(2000)
	for i := 250; i < 1750; i++ {
		g.lost[i] = true
	}
	var q StreamQuality
	for _, p := range g.packets() {
		if p.seq >= 1000+1750 {
			p.seq -= 1500 // the sender did not send during the hold
		}
		q.Update(p.arrival, p.seq, p.ts, 0, false, 8000, 160)
	}
	var st Stream
	q.Fill(&st, "")
	var starts []float64
	for _, iv := range st.MOSTimeline {
		starts = append(starts, iv.StartMs)
	}
	if fmt.Sprint(starts) != "[0 35000]" {
		t.Errorf("interval starts %v, want [0 35000]", starts)
	}
	if st.EffectiveLost != 0 || st.Late != 0 {
		t.Errorf("a hold is not loss: effective loss %d, late %d", st.EffectiveLost, st.Late)
	}
}

func TestFillDoesNotChangeTheStream(t *testing.T) {
	g := newGen(3000).gilbert(&splitmix{state: 13}, 0.02, 0.5).jitter(&splitmix{state: 14}, func(r *splitmix) float64 { return float64(r.IntN(120)) })
	pkts := g.packets()
	var a, b StreamQuality
	var mid Stream
	for i, p := range pkts {
		a.Update(p.arrival, p.seq, p.ts, 8, false, 8000, 160)
		b.Update(p.arrival, p.seq, p.ts, 8, false, 8000, 160)
		if i%97 == 0 {
			a.Fill(&mid, "g711A") // a live view, now and then
		}
	}
	var sa, sb Stream
	a.Fill(&sa, "g711A")
	b.Fill(&sb, "g711A")
	if !reflect.DeepEqual(sa, sb) {
		t.Errorf("filled along the way:\n%+v\nfilled once:\n%+v", sa, sb)
	}
	var again Stream
	a.Fill(&again, "g711A")
	if !reflect.DeepEqual(sa, again) {
		t.Error("a second Fill differs from the first")
	}
}

func TestTimelineAllocatesOnlyWhenAnIntervalSliceGrows(t *testing.T) {
	var q StreamQuality
	q.Init(Config{Interval: 100 * time.Millisecond})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 500_000 // 10 000 s: 100 000 intervals, merged at 864 000
	for i := range n {
		q.Update(float64(i)*20, uint16(i), uint32(i)*160, 8, false, 8000, 160)
	}
	runtime.ReadMemStats(&after)
	if allocs := after.Mallocs - before.Mallocs; allocs > 40 {
		t.Errorf("%d allocations for 100 000 intervals, want about log2 of it", allocs)
	}
	if q.tl.count() != n*20/100 {
		t.Errorf("%d intervals", q.tl.count())
	}
}
