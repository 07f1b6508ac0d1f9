package gen

import "math"

// G.711 encoders (ITU-T G.711, the classic segment/mantissa formulation).
// The payload carries a real tone rather than constant bytes so a decoder or
// player downstream hears something and a compressor can't fold it away.

const (
	ulawBias = 0x84  // added so every magnitude has a leading one in bits 7..14
	ulawClip = 32635 // largest magnitude that still fits after the bias
)

// ulaw encodes one 16-bit linear sample as μ-law.
func ulaw(sample int16) byte {
	s := int32(sample)
	var sign byte
	if s < 0 {
		s = -s
		sign = 0x80
	}
	s = min(s, ulawClip) + ulawBias
	exp := byte(7)
	for mask := int32(0x4000); s&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := byte(s>>(exp+3)) & 0x0F
	return ^(sign | exp<<4 | mant)
}

// alaw encodes one 16-bit linear sample as A-law.
func alaw(sample int16) byte {
	v := int32(sample) >> 3 // A-law works on 13 bits
	mask := byte(0xD5)      // sign bit set, even bits inverted
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	// Upper bounds of the eight A-law segments of a 13-bit magnitude.
	segEnd := [8]int32{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF}
	seg := 0
	for seg < len(segEnd) && v > segEnd[seg] {
		seg++
	}
	if seg == len(segEnd) {
		return 0x7F ^ mask
	}
	out := byte(seg << 4)
	if seg < 2 {
		out |= byte(v>>1) & 0x0F
	} else {
		out |= byte(v>>seg) & 0x0F
	}
	return out ^ mask
}

// toneAmplitude is about -20 dBFS: loud enough to hear, far from clipping.
const toneAmplitude = 3277

// toneFrame fills dst with G.711 samples of a sine tone of hz at 8 kHz,
// starting at absolute sample index n so phase runs on across packets. The
// phase argument is reduced with integers first so results do not drift with
// stream length.
func toneFrame(dst []byte, n int, hz int, encode func(int16) byte) {
	for i := range dst {
		phase := float64(((n+i)*hz)%8000) / 8000
		s := int16(math.Round(toneAmplitude * math.Sin(2*math.Pi*phase)))
		dst[i] = encode(s)
	}
}
