package sdp

import "net/netip"

// Capacities of the fixed arrays in Session and Media. What does not fit
// is counted or flagged (FlagTruncated), never an error.
const (
	MaxMedia   = 8
	MaxFormats = 16
	MaxRTPMaps = 16
	MaxFMTPs   = 16
)

// RTPMap is one a=rtpmap attribute: "PT encoding/clock[/channels]".
type RTPMap struct {
	PT        uint8
	Encoding  []byte
	ClockRate uint32
	Channels  uint8 // 0 when not written (one channel for audio)
}

// FMTP is one a=fmtp attribute: "PT params".
type FMTP struct {
	PT     uint8
	Params []byte
}

// Media is one m= section with the attributes that matter for binding and
// judging RTP streams.
type Media struct {
	Type     []byte // "audio", "video", "image", "application", ...
	Port     uint16 // 0 means the stream is disabled or rejected
	NumPorts uint16 // 1 unless the m= line says "port/n"
	Proto    []byte // "RTP/AVP", "RTP/SAVPF", "udptl", ...
	Fmt      []byte // the format list as written
	// Formats are the numeric formats (RTP payload types, 0..127) in
	// order of preference; non-numeric formats ("t38", "*") are only in Fmt.
	Formats    [MaxFormats]uint8
	NumFormats int
	// Connection is this section's c= line; Connection.Address is nil
	// when it has none (see Session.MediaAddr).
	Connection Connection
	// Direction is this section's direction attribute, if any (see
	// Session.MediaDirection).
	Direction  Direction
	RTPMaps    [MaxRTPMaps]RTPMap
	NumRTPMaps int
	FMTPs      [MaxFMTPs]FMTP
	NumFMTPs   int
	RTCPPort   uint16     // a=rtcp port, 0 when absent
	RTCPAddr   netip.Addr // a=rtcp address, zero when absent
	RTCPMux    bool       // a=rtcp-mux
	Ptime      uint32     // a=ptime in milliseconds (integer part), 0 when absent
	MaxPtime   uint32     // a=maxptime in milliseconds, 0 when absent
}

// reset zeroes m. Entries past the counts are always zero, so only the
// used ones are cleared: the arrays are most of a Media's 1.4 kB.
func (m *Media) reset() {
	clear(m.Formats[:m.NumFormats])
	clear(m.RTPMaps[:m.NumRTPMaps])
	clear(m.FMTPs[:m.NumFMTPs])
	m.Type, m.Port, m.NumPorts, m.Proto, m.Fmt = nil, 0, 0, nil, nil
	m.NumFormats = 0
	m.Connection = Connection{}
	m.Direction = DirectionUnspecified
	m.NumRTPMaps, m.NumFMTPs = 0, 0
	m.RTCPPort, m.RTCPAddr, m.RTCPMux = 0, netip.Addr{}, false
	m.Ptime, m.MaxPtime = 0, 0
}

// IsRTP reports whether the transport protocol is RTP-based (RTP/AVP,
// RTP/SAVPF, UDP/TLS/RTP/SAVPF, ...).
func (m *Media) IsRTP() bool {
	for i := 0; i+4 <= len(m.Proto); i++ {
		if equalFold(m.Proto[i:i+4], "RTP/") {
			return true
		}
	}
	return false
}

func (m *Media) rtpmap(pt uint8) *RTPMap {
	for i := 0; i < m.NumRTPMaps; i++ {
		if m.RTPMaps[i].PT == pt {
			return &m.RTPMaps[i]
		}
	}
	return nil
}

// ClockRate returns the RTP clock rate of payload type pt: from a=rtpmap,
// else from the static payload table of RFC 3551 (G.722 is 8000), else 0.
func (m *Media) ClockRate(pt uint8) uint32 {
	if r := m.rtpmap(pt); r != nil {
		return r.ClockRate
	}
	return static(pt).clock
}

// EncodingName returns the encoding name of payload type pt as written in
// a=rtpmap (any case), else the RFC 3551 name of a static payload type,
// else nil. The slice must not be modified.
func (m *Media) EncodingName(pt uint8) []byte {
	if r := m.rtpmap(pt); r != nil {
		return r.Encoding
	}
	return static(pt).name()
}

// Channels returns the channel count of payload type pt: from a=rtpmap,
// else from the static table, defaulting to 1 for audio encodings.
func (m *Media) Channels(pt uint8) uint8 {
	if r := m.rtpmap(pt); r != nil {
		if r.Channels == 0 {
			return 1
		}
		return r.Channels
	}
	return static(pt).channels
}

// FormatParams returns the a=fmtp parameters of payload type pt, or nil.
func (m *Media) FormatParams(pt uint8) []byte {
	for i := 0; i < m.NumFMTPs; i++ {
		if m.FMTPs[i].PT == pt {
			return m.FMTPs[i].Params
		}
	}
	return nil
}

// parseMedia parses the value of an m= line into m, or only validates it
// when m is nil (media beyond MaxMedia). Without full, the numeric
// formats are not extracted (Fmt still holds the list).
func parseMedia(v []byte, m *Media, full bool) (truncated bool, ok bool) {
	typ, i := field(v, 0)
	port, i := field(v, i)
	proto, i := field(v, i)
	if len(typ) == 0 || len(port) == 0 || len(proto) == 0 {
		return false, false
	}
	numPorts := uint64(1)
	if slash := indexByte(port, '/'); slash >= 0 {
		n, ok := parseUint(port[slash+1:], 65535)
		if !ok || n == 0 {
			return false, false
		}
		numPorts, port = n, port[:slash]
	}
	p, ok := parseUint(port, 65535)
	if !ok {
		return false, false
	}
	if m == nil {
		return false, true
	}
	m.Type, m.Port, m.NumPorts, m.Proto = typ, uint16(p), uint16(numPorts), proto
	rest := v[i:]
	m.Fmt = trimSpace(rest)
	for j := 0; full; {
		var f []byte
		f, j = field(rest, j)
		if len(f) == 0 {
			break
		}
		pt, ok := parseUint(f, 127)
		if !ok {
			continue
		}
		if m.NumFormats == MaxFormats {
			truncated = true
			continue
		}
		m.Formats[m.NumFormats] = uint8(pt)
		m.NumFormats++
	}
	return truncated, true
}

// parseRTPMap parses "PT encoding/clock[/channels]".
func parseRTPMap(v []byte) (RTPMap, bool) {
	ptf, i := field(v, 0)
	pt, ok := parseUint(ptf, 127)
	if !ok {
		return RTPMap{}, false
	}
	spec, i := field(v, i)
	if f, _ := field(v, i); len(f) != 0 || len(spec) == 0 {
		return RTPMap{}, false
	}
	slash := indexByte(spec, '/')
	if slash <= 0 {
		return RTPMap{}, false
	}
	r := RTPMap{PT: uint8(pt), Encoding: spec[:slash]}
	rate := spec[slash+1:]
	var channels []byte
	if s := indexByte(rate, '/'); s >= 0 {
		rate, channels = rate[:s], rate[s+1:]
	}
	clock, ok := parseUint(rate, 1<<32-1)
	if !ok {
		return RTPMap{}, false
	}
	r.ClockRate = uint32(clock)
	if channels != nil {
		n, ok := parseUint(channels, 255)
		if !ok {
			return RTPMap{}, false
		}
		r.Channels = uint8(n)
	}
	return r, true
}

// parseFMTP parses "PT params"; ok is false for a non-numeric format
// (not an RTP payload type) or a malformed line.
func parseFMTP(v []byte) (FMTP, bool) {
	ptf, i := field(v, 0)
	pt, ok := parseUint(ptf, 127)
	if !ok {
		return FMTP{}, false
	}
	return FMTP{PT: uint8(pt), Params: trimSpace(v[i:])}, true
}

// parseMilliseconds parses a ptime value ("20", "20.0", "0.125"), keeping
// the integer part.
func parseMilliseconds(v []byte) (uint32, bool) {
	whole, frac := v, []byte(nil)
	if dot := indexByte(v, '.'); dot >= 0 {
		whole, frac = v[:dot], v[dot+1:]
	}
	for _, c := range frac {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	if len(whole) == 0 {
		return 0, len(frac) > 0
	}
	n, ok := parseUint(whole, 1<<32-1)
	return uint32(n), ok
}
