package quality

import "strconv"

// Payload types the statistics treat specially.
const (
	ptCN    = 13 // comfort noise (RFC 3389)
	ptCNOld = 19 // comfort noise, the old reserved number
)

// PayloadName returns the name tshark 4.0 prints in the Payload column of
// -z rtp,streams for payload type pt when no SDP named it. Static types use
// Wireshark's short names; dynamic types are "RTPType-N", except those that
// tshark's default preferences hand to a payload dissector: 99 (RFC 2198
// redundancy, "rtp.rfc2198") and 100/101 (RFC 2833 events and Cisco NSE,
// both "rtpevent"). Values above 127 cannot occur in RTP and give "Unknown".
func PayloadName(pt uint8) string {
	switch pt {
	case 0:
		return "g711U"
	case 1:
		return "fs-1016"
	case 2:
		return "g721"
	case 3:
		return "GSM"
	case 4:
		return "g723"
	case 5:
		return "DVI4 8k"
	case 6:
		return "DVI4 16k"
	case 7:
		return "Exp. from Xerox PARC"
	case 8:
		return "g711A"
	case 9:
		return "g722"
	case 10:
		return "16-bit audio, stereo"
	case 11:
		return "16-bit audio, monaural"
	case 12:
		return "Qualcomm"
	case ptCN:
		return "CN"
	case 14:
		return "MPEG-I/II Audio"
	case 15:
		return "g728"
	case 16:
		return "DVI4 11k"
	case 17:
		return "DVI4 22k"
	case 18:
		return "g729"
	case ptCNOld:
		return "CN(old)"
	case 25:
		return "CellB"
	case 26:
		return "JPEG"
	case 28:
		return "NV"
	case 31:
		return "h261"
	case 32:
		return "MPEG-I/II Video"
	case 33:
		return "MPEG-II streams"
	case 34:
		return "h263"
	case 72, 73, 74, 75, 76:
		return "Reserved for RTCP conflict avoidance"
	case 99:
		return "rtp.rfc2198"
	case 100, 101:
		return "rtpevent"
	}
	switch {
	case pt < 96:
		return "Unassigned"
	case pt < 128:
		return "RTPType-" + strconv.Itoa(int(pt))
	}
	return "Unknown"
}

// ClockRate returns the RTP clock rate in Hz tshark assumes for a static
// payload type (its clock_map, from the IANA RTP parameters registry), or 0
// for dynamic and unassigned types. Note that G.722 is 8000 here, as RFC 3551
// prescribes, although it samples at 16 kHz.
func ClockRate(pt uint8) uint32 {
	switch pt {
	case 0, 1, 2, 3, 4, 5, 7, 8, 9, 12, ptCN, 15, 18, ptCNOld:
		return 8000
	case 6:
		return 16000
	case 10, 11:
		return 44100
	case 16:
		return 11025
	case 17:
		return 22050
	case 14, 25, 26, 28, 31, 32, 33, 34:
		return 90000
	}
	return 0
}

// ClockRateSDP returns the clock rate tshark uses for a packet whose payload
// type an SDP described with encoding name enc and clock rate sdpRate (0
// when the rtpmap gave none). Static types keep their fixed clock whatever
// the SDP says. For dynamic types telephone-event gets 0 (its timestamp does
// not advance during an event, so jitter would be meaningless), otherwise
// the SDP rate wins, and without one tshark's table of well-known encoding
// names is consulted.
func ClockRateSDP(pt uint8, enc string, sdpRate uint32) uint32 {
	if pt < 96 {
		return ClockRate(pt)
	}
	if enc == "" {
		return 0
	}
	if hasPrefixFold(enc, "telephone-event") {
		return 0
	}
	if sdpRate != 0 {
		return sdpRate
	}
	return encodingClockRate(enc)
}

// encodingClockRate is tshark's mimetype_and_clock_map lookup. tshark
// matches a table name as a case-insensitive prefix of enc, scanning from
// the end of its alphabetical table so that the longer of two names sharing
// a prefix ("AMR-WB" before "AMR") wins; the order below is that scan order.
// tshark 4.0's table has no "opus" (later versions added it), so Opus gets
// a clock only from the SDP rate, which its rtpmap always carries.
func encodingClockRate(enc string) uint32 {
	for _, e := range [...]struct {
		name string
		rate uint32
	}{
		{"telephone-event", 8000},
		{"t140", 1000},
		{"SMV0", 8000},
		{"SMV", 8000},
		{"red", 1000},
		{"raw", 90000},
		{"pointer", 90000},
		{"mpa-robust", 90000},
		{"MP4V-ES", 90000},
		{"MP2P", 90000},
		{"MP1S", 90000},
		{"H264", 90000},
		{"H263-2000", 90000},
		{"H263-1998", 90000},
		{"GSM-EFR", 8000},
		{"G729E", 8000},
		{"G729D", 8000},
		{"G726-40", 8000},
		{"G726-32", 8000},
		{"G726-24", 8000},
		{"G726-16", 8000},
		{"G7221", 16000},
		{"EVS", 16000},
		{"EVRCWB1", 16000},
		{"EVRCWB0", 16000},
		{"EVRCWB", 16000},
		{"EVRCB1", 8000},
		{"EVRCB0", 8000},
		{"EVRCB", 8000},
		{"EVRC1", 8000},
		{"EVRC0", 8000},
		{"EVRC", 8000},
		{"DV", 90000},
		{"BT656", 90000},
		{"BMPEG", 90000},
		{"AMR-WB", 16000},
		{"AMR", 8000},
	} {
		if hasPrefixFold(enc, e.name) {
			return e.rate
		}
	}
	return 0
}

// hasPrefixFold is g_ascii_strncasecmp(prefix, s, len(prefix)) == 0: only
// ASCII letters fold, unlike strings.EqualFold.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != lowerASCII(prefix[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
