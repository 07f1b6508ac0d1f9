package hepjson

import (
	"math"
	"net/netip"
)

// RTPStats is one RTP agent report (HEP type 34): what an agent measured
// of one RTP stream so far, under the keys Homer knows (hepsend writes
// them; see hepsend/stats.go). Values are cumulative over the stream;
// times are Unix seconds, delays and jitter milliseconds. Byte slices are
// the struct's own buffers, valid until the next Unmarshal.
type RTPStats struct {
	CallID []byte // CORRELATION_ID, else RTP_SIP_CALL_ID, unescaped
	Final  bool   // TYPE "FINAL": the stream ended, no report follows

	ReportTS, Start, End int64 // REPORT_TS, REPORT_START, REPORT_END

	SSRC        uint32
	Src, Dst    netip.AddrPort
	PayloadType uint8  // CODEC_PT
	Codec       []byte // CODEC_NAME
	Clock       uint32 // CLOCK, Hz

	Packets    int64 // TOTAL_PK
	Expected   int64 // EXPECTED_PK
	PacketLoss int64 // PACKET_LOSS (never negative)

	MeanDeltaMs, MaxDeltaMs                float64 // DELTA, MAX_DELTA
	JitterMs, MeanJitterMs, MaxJitterMs    float64 // JITTER, MEAN_JITTER, MAX_JITTER
	MOS, MinMOS, MeanMOS, RFactor          float64
	HasExpected, HasMeanJitter, HasPackets bool // which optional keys were present

	sc       scanner
	callAlt  []byte // RTP_SIP_CALL_ID, used when CORRELATION_ID is absent
	srcIP    netip.Addr
	dstIP    netip.Addr
	srcPort  uint16
	dstPort  uint16
	haveSSRC bool
}

// Unmarshal reads one report, replacing what r held. Unknown keys are
// skipped; SSRC, SRC_IP, SRC_PORT, DST_IP, DST_PORT and TOTAL_PK are
// required (ErrMissingField). Errors are this package's sentinels.
func (r *RTPStats) Unmarshal(b []byte) error {
	r.reset()
	r.sc = scanner{b: b}
	s := &r.sc
	err := s.object(func(key []byte) error { return r.field(key) })
	if err == nil {
		err = s.end()
	}
	r.sc = scanner{}
	if err != nil {
		return err
	}
	if len(r.CallID) == 0 {
		r.CallID = append(r.CallID, r.callAlt...)
	}
	if !r.haveSSRC || !r.srcIP.IsValid() || !r.dstIP.IsValid() || r.srcPort == 0 || r.dstPort == 0 || !r.HasPackets {
		return ErrMissingField
	}
	r.Src = netip.AddrPortFrom(r.srcIP, r.srcPort)
	r.Dst = netip.AddrPortFrom(r.dstIP, r.dstPort)
	return nil
}

func (r *RTPStats) reset() {
	callID, codec, alt := r.CallID[:0], r.Codec[:0], r.callAlt[:0]
	*r = RTPStats{CallID: callID, Codec: codec, callAlt: alt}
}

// field reads the value of key.
func (r *RTPStats) field(key []byte) error {
	s := &r.sc
	var err error
	switch string(key) {
	case "CORRELATION_ID":
		r.CallID, err = s.appendString(r.CallID[:0])
	case "RTP_SIP_CALL_ID":
		r.callAlt, err = s.appendString(r.callAlt[:0])
	case "TYPE":
		var raw []byte
		raw, _, err = s.str()
		r.Final = string(raw) == "FINAL"
	case "REPORT_TS":
		r.ReportTS, err = s.int(0, math.MaxUint32)
	case "REPORT_START":
		r.Start, err = s.int(0, math.MaxUint32)
	case "REPORT_END":
		r.End, err = s.int(0, math.MaxUint32)
	case "SSRC":
		r.SSRC, err = r.ssrc()
		r.haveSSRC = err == nil
	case "SRC_IP":
		r.srcIP, err = r.addr()
	case "DST_IP":
		r.dstIP, err = r.addr()
	case "SRC_PORT":
		r.srcPort, err = r.port()
	case "DST_PORT":
		r.dstPort, err = r.port()
	case "CODEC_PT":
		var v int64
		v, err = s.int(0, 127)
		r.PayloadType = uint8(v)
	case "CODEC_NAME":
		r.Codec, err = s.appendString(r.Codec[:0])
	case "CLOCK":
		var v int64
		v, err = s.int(0, math.MaxUint32)
		r.Clock = uint32(v)
	case "TOTAL_PK":
		r.Packets, err = s.int(0, math.MaxInt32)
		r.HasPackets = err == nil
	case "EXPECTED_PK":
		r.Expected, err = s.int(0, math.MaxInt32)
		r.HasExpected = err == nil
	case "PACKET_LOSS":
		r.PacketLoss, err = s.int(0, math.MaxInt32)
	case "DELTA":
		r.MeanDeltaMs, err = s.float()
	case "MAX_DELTA":
		r.MaxDeltaMs, err = s.float()
	case "JITTER":
		r.JitterMs, err = s.float()
	case "MEAN_JITTER":
		r.MeanJitterMs, err = s.float()
		r.HasMeanJitter = err == nil
	case "MAX_JITTER":
		r.MaxJitterMs, err = s.float()
	case "MOS":
		r.MOS, err = s.float()
	case "MIN_MOS":
		r.MinMOS, err = s.float()
	case "MEAN_MOS":
		r.MeanMOS, err = s.float()
	case "RFACTOR":
		r.RFactor, err = s.float()
	default:
		err = s.skipValue(1)
	}
	return err
}

// ssrc reads an SSRC written as "0x1a2b3c4d" (hepsend, Homer's agents) or
// as a number.
func (r *RTPStats) ssrc() (uint32, error) {
	s := &r.sc
	if s.peek() != '"' {
		v, err := s.int(0, math.MaxUint32)
		return uint32(v), err
	}
	raw, _, err := s.str()
	if err != nil {
		return 0, err
	}
	if len(raw) > 2 && raw[0] == '0' && (raw[1] == 'x' || raw[1] == 'X') {
		raw = raw[2:]
	} else {
		return 0, ErrBadValue
	}
	if len(raw) > 8 {
		return 0, ErrBadValue
	}
	var v uint32
	for _, c := range raw {
		d, ok := hexDigit(c)
		if !ok {
			return 0, ErrBadValue
		}
		v = v<<4 | uint32(d)
	}
	return v, nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (r *RTPStats) port() (uint16, error) {
	v, err := r.sc.int(1, math.MaxUint16)
	return uint16(v), err
}

// addr reads an IP address string; an IPv4 one without allocating.
func (r *RTPStats) addr() (netip.Addr, error) {
	raw, escaped, err := r.sc.str()
	if err != nil {
		return netip.Addr{}, err
	}
	if escaped || len(raw) > 64 {
		return netip.Addr{}, ErrBadValue
	}
	if a, ok := parseIPv4(raw); ok {
		return a, nil
	}
	a, err := netip.ParseAddr(string(raw))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, ErrBadValue
	}
	return a.Unmap(), nil
}

// parseIPv4 reads dotted-quad IPv4 without leading zeros.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var out [4]byte
	n, digits, v := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || n == 4 {
				return netip.Addr{}, false
			}
			out[n] = byte(v)
			n, digits, v = n+1, 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || (digits == 1 && v == 0) {
			return netip.Addr{}, false
		}
		v = v*10 + int(c-'0')
		digits++
		if v > 255 {
			return netip.Addr{}, false
		}
	}
	if n != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(out), true
}
