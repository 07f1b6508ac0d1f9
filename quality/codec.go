package quality

import "strings"

// Codec is what the E-model needs to know about a speech codec: its
// equipment impairment factor Ie (quality lost to coding alone, R-scale
// points) and its packet-loss robustness factor Bpl (how gracefully its
// loss concealment copes: higher is more robust).
type Codec struct {
	Name string
	Ie   float64
	Bpl  float64
}

// Codec values. Sources:
//   - ITU-T G.113 (11/2007) Appendix I, Table I.1 (Ie) and Table I.3 (Bpl,
//     random loss): G.711 Ie 0 with Bpl 4.3 without PLC and 25.1 with the
//     PLC of G.711 Appendix I; G.729A+VAD Ie 11, Bpl 19.0; G.723.1+VAD
//     6.3 kbit/s Ie 15, Bpl 16.1; G.723.1 5.3 kbit/s Ie 19; GSM-FR (RPE-LTP)
//     Ie 20; GSM-EFR Ie 5, Bpl 10.0.
//   - Choices where G.113 gives no narrowband value, documented per entry.
//
// codecG711PLC is also the fallback for unknown names: the commonest VoIP
// codec with the concealment every current endpoint applies.
func codecG711PLC() Codec { return Codec{Name: "G.711", Ie: 0, Bpl: 25.1} }

// LookupCodec returns the E-model values for a codec name. It accepts
// tshark's payload names ("g711A", "g729", "GSM", "g723", "g722"), SDP
// encoding names ("PCMU", "PCMA", "G729", "iLBC", "opus") and common
// spellings ("G.711", "G.729A", "G.723.1"), case-insensitively, ignoring
// dots, dashes, underscores and spaces. A tshark multi-payload name such as
// "g711A, CN" resolves to its first known codec. Unknown names return the
// G.711-with-PLC values and false.
func LookupCodec(name string) (Codec, bool) {
	rest := name
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		if c, ok := lookupOneCodec(part); ok {
			return c, true
		}
	}
	return codecG711PLC(), false
}

func lookupOneCodec(name string) (Codec, bool) {
	var buf [24]byte
	key := normalizeCodecName(buf[:0], name)
	switch string(key) {
	case "g711", "g711u", "g711a", "g711mu", "g711ulaw", "g711alaw", "pcmu", "pcma",
		"g711plc", "pcmuplc", "pcmaplc":
		// G.711 with PLC is the default: every current endpoint conceals
		// lost packets, and Bpl 4.3 would make 1 % loss cost about 18 R points.
		return codecG711PLC(), true
	case "g711noplc", "pcmunoplc", "pcmanoplc":
		return Codec{Name: "G.711 without PLC", Ie: 0, Bpl: 4.3}, true
	case "g729", "g729a", "g729ab", "g729b":
		// PT 18 does not tell G.729 from G.729A, and Annex A (with Annex B
		// VAD) is what is deployed; G.113 lists Bpl only for G.729A+VAD,
		// so all spellings use that row (plain G.729's Ie would be 10).
		return Codec{Name: "G.729A", Ie: 11, Bpl: 19.0}, true
	case "g723", "g7231", "g72363", "g723163":
		return Codec{Name: "G.723.1 6.3k", Ie: 15, Bpl: 16.1}, true
	case "g72353", "g723153":
		// G.113 measured Bpl only at 6.3 kbit/s; the 5.3k rate shares the
		// codec's concealment, so it reuses that Bpl with its own Ie.
		return Codec{Name: "G.723.1 5.3k", Ie: 19, Bpl: 16.1}, true
	case "gsm", "gsmfr":
		// Ie from G.113 Table I.1. G.113 gives no Bpl for full-rate GSM;
		// its frame substitution/muting (GSM 06.11) is of the same kind as
		// EFR's, so it takes EFR's 10.0.
		return Codec{Name: "GSM-FR", Ie: 20, Bpl: 10.0}, true
	case "gsmefr":
		return Codec{Name: "GSM-EFR", Ie: 5, Bpl: 10.0}, true
	case "g722":
		// G.722 is wideband; the narrowband E-model (G.107) cannot credit
		// that (G.107.1 would, on a different R scale). Ie 0 says "no worse
		// than G.711", and its PLC (G.722 Appendices III/IV) is at least as
		// good as G.711's, so it shares G.711-with-PLC's Bpl. The MOS is
		// therefore capped at the narrowband 4.41.
		return Codec{Name: "G.722", Ie: 0, Bpl: 25.1}, true
	case "opus":
		// Not in G.113. Same reasoning as G.722: at VoIP bit rates Opus is
		// not worse than G.711 and its concealment is strong, so the
		// narrowband model sees it as G.711 with PLC. Provisional.
		return Codec{Name: "Opus", Ie: 0, Bpl: 25.1}, true
	case "ilbc":
		// Not in G.113. Provisional: Ie 11 places 13.33 kbit/s iLBC with
		// the other 8-16 kbit/s CELP-family codecs, and Bpl 32 reflects
		// that iLBC was designed for lossy IP links (frames are coded
		// independently), so loss hurts it less than G.729A (19).
		return Codec{Name: "iLBC", Ie: 11, Bpl: 32}, true
	}
	return Codec{}, false
}

// normalizeCodecName lowercases name into dst, dropping separators and
// anything from a '/' on (an SDP rtpmap's "PCMU/8000"), without allocating
// for names that fit in dst.
func normalizeCodecName(dst []byte, name string) []byte {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		name = name[:i]
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.' || c == '-' || c == '_' || c == ' ' || c == '\t':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
