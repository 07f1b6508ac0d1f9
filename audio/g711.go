package audio

// G.711 expansion (ITU-T G.711 tables 1a/1b and 2a/2b). Each law is a
// 256-entry table built once from the standard's segment formulas; the
// decoded values are the standard's reconstruction levels scaled to 16
// bits (A-law's 13-bit levels ×8, µ-law's 14-bit levels ×4), as every
// telephony stack plays them.

var (
	ulawTable = buildTable(expandULaw)
	alawTable = buildTable(expandALaw)
)

func buildTable(expand func(byte) int16) [256]int16 {
	var t [256]int16
	for i := range t {
		t[i] = expand(byte(i))
	}
	return t
}

// expandULaw: the character is sent inverted; its sign bit set means
// positive. The magnitude is (2·mantissa + 33)·2^exponent − 33 in 14-bit
// units, i.e. ((mantissa<<3) + 0x84) << exponent − 0x84 in 16-bit units.
func expandULaw(u byte) int16 {
	u = ^u
	exp := (u >> 4) & 7
	mant := int32(u & 0x0F)
	mag := ((mant<<3 + 0x84) << exp) - 0x84
	if u&0x80 != 0 {
		return int16(-mag)
	}
	return int16(mag)
}

// expandALaw: the even bits are sent inverted (XOR 0x55); the sign bit set
// means positive. Segment 0 is linear with steps of 2 (13-bit units, level
// 2·mantissa + 1); segment s ≥ 1 has its level at (2·mantissa + 33)·2^(s−1).
func expandALaw(a byte) int16 {
	a ^= 0x55
	seg := (a >> 4) & 7
	mant := int32(a & 0x0F)
	var mag int32
	if seg == 0 {
		mag = mant<<4 + 8
	} else {
		mag = (mant<<4 + 0x108) << (seg - 1)
	}
	if a&0x80 != 0 {
		return int16(mag)
	}
	return int16(-mag)
}

// ULaw returns the 16-bit linear value of one µ-law byte.
func ULaw(b byte) int16 { return ulawTable[b] }

// ALaw returns the 16-bit linear value of one A-law byte.
func ALaw(b byte) int16 { return alawTable[b] }
