package hepjson

import (
	"encoding/binary"
	"math"
)

// RTCP packet types (RFC 3550 §12.1, RFC 3611).
const (
	rtcpSR = 200
	rtcpRR = 201
	rtcpXR = 207

	xrVoIPMetrics = 7 // XR block type of the VoIP metrics block (RFC 3611 §4.7)
	// xrUnavailable is RFC 3611's "unavailable" for the metrics heplify's
	// JSON does not carry (levels, R factors, MOS).
	xrUnavailable = 127
	// maxReportCount is what the 5-bit RC field of one SR or RR holds.
	maxReportCount = 31
)

// MaxBlocks bounds the reception report blocks one RTCP holds; more are
// skipped and counted in SkippedBlocks.
const MaxBlocks = 64

// ReportBlock is one reception report block as heplify writes it.
type ReportBlock struct {
	SourceSSRC   uint32
	FractionLost uint8
	PacketsLost  uint32 // the raw 24-bit cumulative loss field
	HighestSeq   uint32
	Jitter       uint32 // interarrival jitter, RTP timestamp units
	LSR, DLSR    uint32
}

// XRVoIP is what heplify's JSON keeps of an RTCP XR VoIP metrics block.
type XRVoIP struct {
	Type                                                  uint8  // block type of the first XR block (7: VoIP metrics)
	SSRC                                                  uint32 // "id": the SSRC the block is about
	LossRate, DiscardRate, BurstDensity, GapDensity       uint8
	BurstDuration, GapDuration, RoundTrip, EndSystemDelay uint16
}

// RTCP is heplify's JSON of one RTCP compound (HEP type 5, as hepsend
// writes it): the lead packet's type, the first SR's sender information,
// every reception report block, and the first XR VoIP metrics block.
type RTCP struct {
	SSRC        uint32 // sender SSRC of the first SR, RR or XR
	Type        uint8  // type of the compound's lead packet
	ReportCount uint8
	// Sender information of the first SR (all zero without one).
	NTPSec, NTPFrac, RTPTimestamp, SenderPackets, SenderOctets uint32

	Blocks        [MaxBlocks]ReportBlock
	NBlocks       int
	SkippedBlocks int // blocks beyond MaxBlocks

	XR       XRVoIP
	SDESSSRC uint32

	sc scanner
}

// Unmarshal reads one heplify RTCP JSON object, replacing what r held.
// Unknown keys are skipped; "ssrc" is required (ErrMissingField).
func (r *RTCP) Unmarshal(b []byte) error {
	*r = RTCP{sc: scanner{b: b}}
	haveSSRC := false
	s := &r.sc
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "sender_information":
			return s.object(r.senderField)
		case "ssrc":
			v, err := s.int(0, math.MaxUint32)
			r.SSRC, haveSSRC = uint32(v), err == nil
			return err
		case "type":
			v, err := s.int(0, 255)
			r.Type = uint8(v)
			return err
		case "report_count":
			v, err := s.int(0, 255)
			r.ReportCount = uint8(v)
			return err
		case "report_blocks":
			if s.peek() == 'n' {
				return s.literal() // heplify writes null for none
			}
			return s.array(r.block)
		case "report_blocks_xr":
			if s.peek() == 'n' {
				return s.literal()
			}
			return s.object(r.xrField)
		case "sdes_ssrc":
			v, err := s.int(0, math.MaxUint32)
			r.SDESSSRC = uint32(v)
			return err
		}
		return s.skipValue(1)
	})
	if err == nil {
		err = s.end()
	}
	r.sc = scanner{}
	if err != nil {
		return err
	}
	if !haveSSRC {
		return ErrMissingField
	}
	return nil
}

func (r *RTCP) u32() (uint32, error) {
	v, err := r.sc.int(0, math.MaxUint32)
	return uint32(v), err
}

func (r *RTCP) u16() (uint16, error) {
	v, err := r.sc.int(0, math.MaxUint16)
	return uint16(v), err
}

func (r *RTCP) u8() (uint8, error) {
	v, err := r.sc.int(0, math.MaxUint8)
	return uint8(v), err
}

func (r *RTCP) senderField(key []byte) error {
	var err error
	switch string(key) {
	case "ntp_timestamp_sec":
		r.NTPSec, err = r.u32()
	case "ntp_timestamp_usec":
		// heplify's name; the value is the NTP fraction as sent.
		r.NTPFrac, err = r.u32()
	case "rtp_timestamp":
		r.RTPTimestamp, err = r.u32()
	case "packets":
		r.SenderPackets, err = r.u32()
	case "octets":
		r.SenderOctets, err = r.u32()
	default:
		err = r.sc.skipValue(2)
	}
	return err
}

// block reads one element of report_blocks.
func (r *RTCP) block() error {
	var blk ReportBlock
	err := r.sc.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "source_ssrc":
			blk.SourceSSRC, err = r.u32()
		case "fraction_lost":
			blk.FractionLost, err = r.u8()
		case "packets_lost":
			var v int64
			v, err = r.sc.int(-(1 << 23), 1<<24-1)
			blk.PacketsLost = uint32(v) & 0xffffff // a signed reading goes back to 24 bits
		case "highest_seq_no":
			blk.HighestSeq, err = r.u32()
		case "ia_jitter":
			blk.Jitter, err = r.u32()
		case "lsr":
			blk.LSR, err = r.u32()
		case "dlsr":
			blk.DLSR, err = r.u32()
		default:
			err = r.sc.skipValue(3)
		}
		return err
	})
	if err != nil {
		return err
	}
	if r.NBlocks == MaxBlocks {
		r.SkippedBlocks++
		return nil
	}
	r.Blocks[r.NBlocks] = blk
	r.NBlocks++
	return nil
}

func (r *RTCP) xrField(key []byte) error {
	x := &r.XR
	var err error
	switch string(key) {
	case "type":
		x.Type, err = r.u8()
	case "id":
		x.SSRC, err = r.u32()
	case "fraction_lost":
		x.LossRate, err = r.u8()
	case "fraction_discard":
		x.DiscardRate, err = r.u8()
	case "burst_density":
		x.BurstDensity, err = r.u8()
	case "gap_density":
		x.GapDensity, err = r.u8()
	case "burst_duration":
		x.BurstDuration, err = r.u16()
	case "gap_duration":
		x.GapDuration, err = r.u16()
	case "round_trip_delay":
		x.RoundTrip, err = r.u16()
	case "end_system_delay":
		x.EndSystemDelay, err = r.u16()
	default:
		err = r.sc.skipValue(2)
	}
	return err
}

// HasSender tells whether the compound had a sender report.
func (r *RTCP) HasSender() bool {
	return r.Type == rtcpSR || r.NTPSec|r.NTPFrac|r.RTPTimestamp|r.SenderPackets|r.SenderOctets != 0
}

// AppendBinary appends the RTCP compound the JSON describes, as RFC 3550
// and RFC 3611 lay it out: an SR (or RR) from SSRC with the report blocks
// (further RRs when there are more than 31), then an XR with the VoIP
// metrics block. Metrics the JSON does not carry are written as RFC 3611's
// "unavailable" (levels, R factors, MOS) or 0 (jitter buffer). It appends
// nothing when the JSON holds no report (an SDES- or BYE-only compound).
func (r *RTCP) AppendBinary(b []byte) []byte {
	blocks := r.Blocks[:r.NBlocks]
	if r.HasSender() || len(blocks) > 0 || r.Type == rtcpRR {
		first := true
		for first || len(blocks) > 0 {
			n := min(len(blocks), maxReportCount)
			pt, hdr := uint8(rtcpRR), 8
			if first && r.HasSender() {
				pt, hdr = rtcpSR, 28
			}
			size := hdr + 24*n
			b = append(b, 0x80|uint8(n), pt)
			b = binary.BigEndian.AppendUint16(b, uint16(size/4-1))
			b = binary.BigEndian.AppendUint32(b, r.SSRC)
			if pt == rtcpSR {
				b = binary.BigEndian.AppendUint32(b, r.NTPSec)
				b = binary.BigEndian.AppendUint32(b, r.NTPFrac)
				b = binary.BigEndian.AppendUint32(b, r.RTPTimestamp)
				b = binary.BigEndian.AppendUint32(b, r.SenderPackets)
				b = binary.BigEndian.AppendUint32(b, r.SenderOctets)
			}
			for _, rb := range blocks[:n] {
				b = binary.BigEndian.AppendUint32(b, rb.SourceSSRC)
				b = binary.BigEndian.AppendUint32(b, uint32(rb.FractionLost)<<24|rb.PacketsLost&0xffffff)
				b = binary.BigEndian.AppendUint32(b, rb.HighestSeq)
				b = binary.BigEndian.AppendUint32(b, rb.Jitter)
				b = binary.BigEndian.AppendUint32(b, rb.LSR)
				b = binary.BigEndian.AppendUint32(b, rb.DLSR)
			}
			blocks = blocks[n:]
			first = false
		}
	}
	if x := &r.XR; x.Type == xrVoIPMetrics {
		const size = 8 + 36 // XR header and sender SSRC, one VoIP metrics block
		b = append(b, 0x80, rtcpXR)
		b = binary.BigEndian.AppendUint16(b, size/4-1)
		b = binary.BigEndian.AppendUint32(b, r.SSRC)
		b = append(b, xrVoIPMetrics, 0)
		b = binary.BigEndian.AppendUint16(b, 36/4-1)
		b = binary.BigEndian.AppendUint32(b, x.SSRC)
		b = append(b, x.LossRate, x.DiscardRate, x.BurstDensity, x.GapDensity)
		b = binary.BigEndian.AppendUint16(b, x.BurstDuration)
		b = binary.BigEndian.AppendUint16(b, x.GapDuration)
		b = binary.BigEndian.AppendUint16(b, x.RoundTrip)
		b = binary.BigEndian.AppendUint16(b, x.EndSystemDelay)
		// signal level, noise level, RERL, Gmin; R, external R, MOS-LQ, MOS-CQ
		b = append(b, xrUnavailable, xrUnavailable, xrUnavailable, 0, xrUnavailable, xrUnavailable, xrUnavailable, xrUnavailable)
		// RX config, reserved, JB nominal, JB maximum, JB absolute maximum
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	return b
}
