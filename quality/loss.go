package quality

// LossPattern estimates G.107's burst ratio BurstR from a stream's sequence
// of received and lost packets, modelled as a two-state Markov chain
// (G.107 Note to 7.4; the Gilbert model of G.1020): p is the probability of
// a loss after a received packet, q of a reception after a lost one, and
// BurstR = 1/(p+q). Independent (random) loss gives p+q = 1, so BurstR = 1;
// clustered loss gives a larger value.
//
// Feed it either explicit events (Received, Lost) or sequence numbers
// (ObserveSeq), not both. The zero value is ready; it does not allocate.
type LossPattern struct {
	received uint64 // packets received
	lost     uint64 // packets lost
	runs     uint64 // maximal runs of consecutive losses
	// recvBeforeLoss counts receptions followed by a loss: the
	// received->lost transitions.
	recvBeforeLoss uint64
	inLoss         bool // the last event was a loss
	started        bool

	haveSeq bool
	lastSeq uint16
}

// Received records one packet that arrived.
func (l *LossPattern) Received() {
	l.received++
	l.inLoss = false
	l.started = true
}

// Lost records n consecutive packets that did not arrive.
func (l *LossPattern) Lost(n int) {
	if n <= 0 {
		return
	}
	if !l.inLoss {
		l.runs++
		if l.started {
			l.recvBeforeLoss++
		}
	}
	l.lost += uint64(n)
	l.inLoss = true
	l.started = true
}

// ObserveSeq records the arrival of the packet with sequence number seq and
// treats a forward gap from the highest sequence number seen so far as
// losses. Late and duplicated packets (at or behind that point, within
// half the sequence space) count neither as received nor as lost: the loss
// they seemed to cause was already recorded, which slightly overstates it,
// as a receiver that played the stream without reordering would also have.
func (l *LossPattern) ObserveSeq(seq uint16) {
	if lost, ahead := l.advanceSeq(seq); ahead {
		l.Lost(lost)
		l.Received()
	}
}

// advanceSeq is ObserveSeq's bookkeeping without the events: it reports
// whether seq is ahead of the highest sequence number seen (the first one
// is) and, if so, how many numbers it skipped, and moves to it.
func (l *LossPattern) advanceSeq(seq uint16) (lost int, ahead bool) {
	if !l.haveSeq {
		l.haveSeq = true
		l.lastSeq = seq
		return 0, true
	}
	gap := seq - l.lastSeq // modulo 2^16
	if gap == 0 || gap >= 0x8000 {
		return 0, false
	}
	l.lastSeq = seq
	return int(gap) - 1, true
}

// LossPct is the percentage of packets recorded as lost.
func (l *LossPattern) LossPct() float64 {
	total := l.received + l.lost
	if total == 0 {
		return 0
	}
	return 100 * float64(l.lost) / float64(total)
}

// BurstR returns the burst ratio. It is 1 when nothing (or everything) was
// lost, since then no burstiness can be observed, and below 1 when losses
// are spread more evenly than random ones would be (Params treats that as
// random). q is estimated as runs per
// lost packet (one over the mean burst length), counting a burst still open
// at the end as ended, and p as received->lost transitions per received
// packet.
func (l *LossPattern) BurstR() float64 {
	return burstRatio(l.received, l.lost, l.runs, l.recvBeforeLoss)
}

// LostCount is the number of packets recorded as lost.
func (l *LossPattern) LostCount() int { return int(l.lost) }

// ReceivedCount is the number of packets recorded as received.
func (l *LossPattern) ReceivedCount() int { return int(l.received) }

// burstRatio is BurstR from the pattern's counters: received and lost
// packets, runs of losses, and received->lost transitions.
func burstRatio(received, lost, runs, recvBeforeLoss uint64) float64 {
	if lost == 0 || received == 0 {
		return 1
	}
	p := float64(recvBeforeLoss) / float64(received)
	q := float64(runs) / float64(lost)
	return 1 / (p + q)
}
