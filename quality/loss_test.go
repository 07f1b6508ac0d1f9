package quality

import (
	"fmt"
	"math"
	"testing"
)

func TestLossPatternOfSimpleSequences(t *testing.T) {
	tests := []struct {
		name       string
		events     string // r = received, l = lost
		wantBurstR float64
		wantLoss   float64
	}{
		{"no loss is random", "rrrrrrrrrr", 1, 0},
		{"nothing received is reported as random", "llll", 1, 100},
		// BurstR = 1/(p+q) with p = received->lost transitions per
		// received packet and q = loss runs per lost packet.
		{"isolated single losses", "rrlrrlrr", 1 / (2.0/6 + 2.0/2), 25},
		{"one long burst", "rrrrllllrrrr", 1 / (1.0/8 + 1.0/4), 100.0 / 3},
		{"alternating loss is less bursty than random", "rlrlrlrl", 1 / (4.0/4 + 4.0/4), 50},
		{"a burst still open at the end counts as ended", "rrrrrrll", 1 / (1.0/6 + 1.0/2), 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l LossPattern
			for _, e := range tt.events {
				if e == 'r' {
					l.Received()
				} else {
					l.Lost(1)
				}
			}
			if got := l.BurstR(); math.Abs(got-tt.wantBurstR) > 1e-12 {
				t.Errorf("BurstR = %v, want %v", got, tt.wantBurstR)
			}
			if got := l.LossPct(); math.Abs(got-tt.wantLoss) > 1e-9 {
				t.Errorf("LossPct = %v, want %v", got, tt.wantLoss)
			}
		})
	}
}

func TestLossPatternLostCountsARunOnce(t *testing.T) {
	var a, b LossPattern
	a.Received()
	a.Lost(3)
	a.Received()
	b.Received()
	b.Lost(1)
	b.Lost(2)
	b.Lost(0)
	b.Lost(-4)
	b.Received()
	if a != b {
		t.Errorf("Lost(3) gives %+v, Lost(1)+Lost(2) gives %+v", a, b)
	}
}

func TestLossPatternRecoversTheModelThatMadeTheLoss(t *testing.T) {
	tests := []struct {
		name string
		p, q float64 // P(loss | received), P(received | lost)
	}{
		{"random loss of 2 %", 0.02, 0.98},
		{"random loss of 10 %", 0.10, 0.90},
		{"bursty loss with mean burst of 4", 0.01, 0.25},
		{"very bursty loss with mean burst of 10", 0.005, 0.10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &splitmix{state: 77}
			var l LossPattern
			lost := false
			for range 2_000_000 {
				u := float64(r.Uint64()>>11) / (1 << 53)
				if lost {
					lost = u >= tt.q
				} else {
					lost = u < tt.p
				}
				if lost {
					l.Lost(1)
				} else {
					l.Received()
				}
			}
			want := 1 / (tt.p + tt.q)
			if got := l.BurstR(); math.Abs(got-want)/want > 0.03 {
				t.Errorf("BurstR = %.3f, model has %.3f", got, want)
			}
			wantLoss := 100 * tt.p / (tt.p + tt.q)
			if got := l.LossPct(); math.Abs(got-wantLoss)/wantLoss > 0.03 {
				t.Errorf("LossPct = %.3f, model has %.3f", got, wantLoss)
			}
		})
	}
}

func TestLossPatternFromSequenceNumbers(t *testing.T) {
	tests := []struct {
		name string
		seqs []uint16
		same string // the equivalent event string
	}{
		{"in-order packets are all received", []uint16{10, 11, 12, 13}, "rrrr"},
		{"a gap is a run of losses", []uint16{10, 11, 15, 16}, "rrlllrr"},
		{"gaps across the wrap count", []uint16{65534, 65535, 2, 3}, "rrllrr"},
		{"duplicates and late packets are ignored", []uint16{10, 11, 11, 13, 12, 14}, "rrlrr"},
		{"a jump backwards by more than half the space is a late packet", []uint16{100, 101, 40000, 102}, "rrr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fromSeq, fromEvents LossPattern
			for _, s := range tt.seqs {
				fromSeq.ObserveSeq(s)
			}
			for _, e := range tt.same {
				if e == 'r' {
					fromEvents.Received()
				} else {
					fromEvents.Lost(1)
				}
			}
			got := fmt.Sprintf("%.6f %.6f", fromSeq.BurstR(), fromSeq.LossPct())
			want := fmt.Sprintf("%.6f %.6f", fromEvents.BurstR(), fromEvents.LossPct())
			if got != want {
				t.Errorf("from sequence numbers %s, from events %q %s", got, tt.same, want)
			}
		})
	}
}

func TestLossPatternDoesNotAllocate(t *testing.T) {
	var l LossPattern
	seq := uint16(0)
	allocs := testing.AllocsPerRun(1000, func() {
		seq += 1 + seq%3/2
		l.ObserveSeq(seq)
	})
	if allocs != 0 {
		t.Errorf("ObserveSeq allocates %v times", allocs)
	}
}
