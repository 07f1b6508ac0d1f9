package quality

import "math"

// EModel holds the ITU-T G.107 (06/2015) transmission parameters that a
// passive monitor cannot observe: loudness ratings, sidetone, room and
// circuit noise, echo loss, quantisation and the advantage factor. A packet
// capture tells us the codec, the loss and (sometimes) the delay; the rest
// stays at the G.107 default values, which describe a well-designed
// connection, so the MOS isolates what the network did.
type EModel struct {
	SLR  float64 // send loudness rating, dB
	RLR  float64 // receive loudness rating, dB
	STMR float64 // sidetone masking rating, dB
	LSTR float64 // listener sidetone rating, dB
	Ds   float64 // D-value of the telephone, send side
	Dr   float64 // D-value of the telephone, receive side
	TELR float64 // talker echo loudness rating, dB
	WEPL float64 // weighted echo path loss, dB
	Qdu  float64 // number of quantisation distortion units
	Nc   float64 // circuit noise referred to the 0 dBr point, dBm0p
	Nfor float64 // noise floor at the receive side, dBmp
	Ps   float64 // room noise at the send side, dB(A)
	Pr   float64 // room noise at the receive side, dB(A)
	A    float64 // advantage factor
	MT   float64 // delay (ms) above which absolute delay starts to hurt
	ST   float64 // sensitivity to absolute delay
}

// DefaultEModel returns the G.107 default values (Table 3). With them, no
// loss and no delay the model gives R = 93.2, MOS 4.41 for G.711.
func DefaultEModel() EModel {
	return EModel{
		SLR: 8, RLR: 2, STMR: 15, LSTR: 18, Ds: 3, Dr: 3,
		TELR: 65, WEPL: 110, Qdu: 1,
		Nc: -70, Nfor: -64, Ps: 35, Pr: 35,
		A: 0, MT: 100, ST: 1,
	}
}

// Params describes what was measured on one direction of a call.
type Params struct {
	// Codec names the codec for LookupCodec (a tshark payload name or an
	// SDP encoding name). It is ignored when Bpl is set.
	Codec string
	// Ie and Bpl give the codec values directly; they are used when Bpl > 0.
	Ie, Bpl float64
	// LossPct is the packet loss in percent (Ppl), clamped to 0..100.
	LossPct float64
	// BurstR is G.107's burst ratio: 1 for random loss, above 1 for bursty
	// loss (see LossPattern). 0 means 1; values below 1 are treated as 1
	// because G.107 defines the factor only from random loss upwards.
	BurstR float64
	// OneWayDelayMs is the mouth-to-ear delay in one direction. The model
	// uses it for the echo path (T), the absolute delay (Ta) and, doubled,
	// the round trip of the listener echo (Tr). 0 means unknown, which is
	// G.107's default T = Ta = Tr = 0: a passive capture sees neither the
	// codec and jitter-buffer delays at the ends nor the other direction,
	// so assuming a delay would be a guess presented as a measurement.
	OneWayDelayMs float64
	// JitterBufferMs is added to OneWayDelayMs when the receiver's jitter
	// buffer depth is known.
	JitterBufferMs float64
}

// MOS is the G.107 conversational-quality MOS (MOS-CQE) for p with the
// default transmission parameters.
func MOS(p Params) float64 { return DefaultEModel().MOS(p) }

// RFactor is the G.107 transmission rating R for p with the default
// transmission parameters.
func RFactor(p Params) float64 { return DefaultEModel().R(p) }

// MOS is the conversational-quality MOS for p under m.
func (m EModel) MOS(p Params) float64 { return MOSFromR(m.R(p)) }

// R computes the transmission rating R = Ro - Is - Id - Ie,eff + A.
func (m EModel) R(p Params) float64 {
	ie, bpl := p.Ie, p.Bpl
	if !(bpl > 0) {
		c, _ := LookupCodec(p.Codec)
		ie, bpl = c.Ie, c.Bpl
	}
	ppl := clampNaN(p.LossPct, 0, 100)
	burst := p.BurstR
	if !(burst >= 1) { // also catches NaN
		burst = 1
	}
	delay := clampNaN(p.OneWayDelayMs, 0, math.MaxFloat64) + clampNaN(p.JitterBufferMs, 0, math.MaxFloat64)
	t, ta, tr := delay, delay, 2*delay

	no := m.noise()
	ro := 15 - 1.5*(m.SLR+no)
	ist := m.sidetoneImpairment(t)
	is := m.loudnessImpairment(no) + ist + m.quantisationImpairment(ro)
	id := m.talkerEchoImpairment(no, t, ist) + m.listenerEchoImpairment(ro, tr) + m.absoluteDelayImpairment(ta)
	ieEff := ie + (95-ie)*ppl/(ppl/burst+bpl)
	return ro - is - id - ieEff + m.A
}

// noise is No, the power addition of circuit noise, room noise at both
// ends (as it reaches the line through send path and sidetone) and the
// receive-side noise floor, in dBm0p.
func (m EModel) noise() float64 {
	olr := m.SLR + m.RLR
	nos := m.Ps - m.SLR - m.Ds - 100 + 0.004*sq(m.Ps-olr-m.Ds-14)
	pre := m.Pr + 10*math.Log10(1+math.Pow(10, (10-m.LSTR)/10))
	nor := m.RLR - 121 + pre + 0.008*sq(pre-35)
	nfo := m.Nfor + m.RLR
	return 10 * math.Log10(math.Pow(10, m.Nc/10)+math.Pow(10, nos/10)+math.Pow(10, nor/10)+math.Pow(10, nfo/10))
}

// loudnessImpairment is Iolr: too quiet a connection.
func (m EModel) loudnessImpairment(no float64) float64 {
	xolr := m.SLR + m.RLR + 0.2*(64+no-m.RLR)
	return 20 * (math.Pow(1+math.Pow(xolr/8, 8), 1.0/8) - xolr/8)
}

// sidetoneImpairment is Ist: non-optimum sidetone, including the talker
// echo that arrives so soon (small T) that it is heard as sidetone.
func (m EModel) sidetoneImpairment(t float64) float64 {
	stmro := -10 * math.Log10(math.Pow(10, -m.STMR/10)+math.Exp(-t/4)*math.Pow(10, -m.TELR/10))
	return 12*math.Pow(1+math.Pow((stmro-13)/6, 8), 1.0/8) -
		28*math.Pow(1+math.Pow((stmro+1)/19.4, 35), 1.0/35) -
		13*math.Pow(1+math.Pow((stmro-3)/33, 13), 1.0/13) + 29
}

// quantisationImpairment is Iq, from the qdu count.
func (m EModel) quantisationImpairment(ro float64) float64 {
	q := 37 - 15*math.Log10(m.Qdu)
	g := 1.07 + 0.258*q + 0.0602*q*q
	y := (ro-100)/15 + 46/8.4 - g/9
	z := 46/30.0 - g/40
	return 15 * math.Log10(1+math.Pow(10, y)+math.Pow(10, z))
}

// talkerEchoImpairment is Idte. Echo returning within 1 ms is sidetone and
// already in Ist (G.107 sets Idte = 0 there). With well-controlled echo the
// G.107 formula dips slightly below zero (by at most about 0.17) for T
// between 1 and about 4 ms; it is held at 0 there too, so that more delay
// never raises R. Larger delays, the only ones a real path has, are
// unaffected.
func (m EModel) talkerEchoImpairment(no, t, ist float64) float64 {
	if t < 1 {
		return 0
	}
	terv := m.TELR - 40*math.Log10((1+t/10)/(1+t/150)) + 6*math.Exp(-0.3*t*t)
	if m.STMR < 9 {
		// Low sidetone masking makes echo more audible (G.107 7.3.1).
		terv += ist / 2
	}
	roe := -1.5 * (no - m.RLR)
	re := 80 + 2.5*(terv-14)
	return math.Max(0, ((roe-re)/2+math.Sqrt(sq(roe-re)/4+100)-1)*(1-math.Exp(-t)))
}

// listenerEchoImpairment is Idle, echo heard by the listener after a round
// trip tr.
func (m EModel) listenerEchoImpairment(ro, tr float64) float64 {
	rle := 10.5 * (m.WEPL + 7) * math.Pow(tr+1, -0.25)
	return (ro-rle)/2 + math.Sqrt(sq(ro-rle)/4+169)
}

// absoluteDelayImpairment is Idd, the loss of interactivity when the
// one-way delay ta exceeds MT.
func (m EModel) absoluteDelayImpairment(ta float64) float64 {
	if ta <= m.MT {
		return 0
	}
	x := math.Log10(ta/m.MT) / math.Log10(2)
	e := 6 * m.ST
	return 25 * (math.Pow(1+math.Pow(x, e), 1/e) - 3*math.Pow(1+math.Pow(x/3, e), 1/e) + 2)
}

// MOSFromR maps R to MOS-CQE by G.107 Annex B. The Annex B polynomial dips
// slightly below 1 for 0 < R < 6.5; it is held at 1 there so that MOS never
// rises when R falls.
func MOSFromR(r float64) float64 {
	switch {
	case math.IsNaN(r) || r <= 0:
		return 1
	case r >= 100:
		return 4.5
	}
	mos := 1 + 0.035*r + r*(r-60)*(100-r)*7e-6
	return math.Max(mos, 1)
}

// StreamMOS is the MOS of one direction from its finished statistics: loss
// is Lost/Expected (negative loss from duplicates counts as none), delay is
// unknown, and codec names the codec as LookupCodec accepts it (empty uses
// st.Payload). burstR is the loss burstiness (LossPattern.BurstR; 0 or 1 for
// random). A nil stream or one with nothing expected gives 0.
func StreamMOS(st *Stream, codec string, burstR float64) float64 {
	if st == nil || st.Expected <= 0 || st.Packets <= 0 {
		return 0
	}
	if codec == "" {
		codec = st.Payload
	}
	loss := 0.0
	if st.Lost > 0 {
		loss = 100 * float64(st.Lost) / float64(st.Expected)
	}
	return MOS(Params{Codec: codec, LossPct: loss, BurstR: burstR})
}

func sq(x float64) float64 { return x * x }

// clampNaN limits x to [lo, hi], mapping NaN to lo.
func clampNaN(x, lo, hi float64) float64 {
	if !(x >= lo) {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}
