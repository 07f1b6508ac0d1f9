package hepsend

import (
	"encoding/binary"
	"strconv"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/hep"
)

// RTCP packet types (RFC 3550 §12.1, RFC 3611).
const (
	rtcpSR   = 200
	rtcpRR   = 201
	rtcpSDES = 202
	rtcpXR   = 207

	rtcpHeaderLen     = 4
	rtcpReportLen     = 24 // one reception report block
	rtcpSenderInfoLen = 20
	xrVoIPMetrics     = 7  // XR block type of the VoIP metrics block (RFC 3611 §4.7)
	xrVoIPMetricsLen  = 36 // its length, block header included
)

// rtcpView is the part of a compound RTCP packet that heplify puts into its
// JSON, with the report blocks still in the packet's bytes. Homer's
// collector (heplify-server) and UI read these names, so sipscope sends
// exactly that shape rather than raw RTCP.
type rtcpView struct {
	typ, count uint8  // type and report count of the packet that leads the compound
	ssrc       uint32 // sender SSRC of the first SR, RR or XR
	sdesSSRC   uint32 // first chunk's SSRC of the first SDES
	// sender information of the first SR
	ntpSec, ntpFrac, rtpTS, packets, octets uint32
	haveSender                              bool
	// blocks holds the reception report blocks of every SR and RR, each a
	// 24-byte slice of the packet; at most rtcpMaxBlocks are kept.
	blocks  [rtcpMaxBlocks][]byte
	nblocks int
	xrType  uint8  // block type of the first XR block
	xrVoIP  []byte // the first XR VoIP metrics block, header included
}

// rtcpMaxBlocks bounds the report blocks one forwarded packet lists (RC is
// 5 bits: one SR or RR holds at most 31; a compound rarely holds more than
// two reports).
const rtcpMaxBlocks = 64

// parse walks a compound RTCP packet. It keeps what it could read before
// a sub-packet that runs past the end or has the wrong version, as heplify
// does, and reports whether anything heplify would show was found.
func (v *rtcpView) parse(b []byte) bool {
	*v = rtcpView{}
	found := false
	for len(b) >= rtcpHeaderLen {
		if b[0]>>6 != 2 {
			break
		}
		n := (int(binary.BigEndian.Uint16(b[2:4])) + 1) * 4
		if n > len(b) {
			break
		}
		p := b[:n]
		b = b[n:]
		rc, pt := p[0]&0x1f, p[1]
		switch pt {
		case rtcpSR, rtcpRR:
			hdr := rtcpHeaderLen + 4
			if pt == rtcpSR {
				hdr += rtcpSenderInfoLen
			}
			if len(p) < hdr {
				continue
			}
			v.lead(pt, rc, &found)
			if v.ssrc == 0 {
				v.ssrc = binary.BigEndian.Uint32(p[4:])
			}
			if pt == rtcpSR && !v.haveSender {
				v.haveSender = true
				si := p[8:]
				v.ntpSec = binary.BigEndian.Uint32(si[0:])
				v.ntpFrac = binary.BigEndian.Uint32(si[4:])
				v.rtpTS = binary.BigEndian.Uint32(si[8:])
				v.packets = binary.BigEndian.Uint32(si[12:])
				v.octets = binary.BigEndian.Uint32(si[16:])
			}
			blocks := p[hdr:]
			for i := 0; i < int(rc) && len(blocks) >= rtcpReportLen && v.nblocks < rtcpMaxBlocks; i++ {
				v.blocks[v.nblocks] = blocks[:rtcpReportLen]
				v.nblocks++
				blocks = blocks[rtcpReportLen:]
			}
		case rtcpSDES:
			if len(p) < rtcpHeaderLen+4 {
				continue
			}
			v.lead(pt, rc, &found)
			if v.sdesSSRC == 0 {
				v.sdesSSRC = binary.BigEndian.Uint32(p[4:])
			}
		case rtcpXR:
			if len(p) < rtcpHeaderLen+4 {
				continue
			}
			v.lead(pt, rc, &found)
			if v.ssrc == 0 {
				v.ssrc = binary.BigEndian.Uint32(p[4:])
			}
			for blk := p[8:]; len(blk) >= 4 && v.xrVoIP == nil; {
				bn := (int(binary.BigEndian.Uint16(blk[2:4])) + 1) * 4
				if bn > len(blk) {
					break
				}
				if v.xrType == 0 {
					v.xrType = blk[0]
				}
				if blk[0] == xrVoIPMetrics && bn >= xrVoIPMetricsLen {
					v.xrType = xrVoIPMetrics
					v.xrVoIP = blk[:bn]
				}
				blk = blk[bn:]
			}
		}
	}
	return found
}

// lead records the type and count of the first understood sub-packet: the
// report that RFC 3550 puts at the head of a compound.
func (v *rtcpView) lead(pt, rc uint8, found *bool) {
	if !*found {
		v.typ, v.count = pt, rc
		*found = true
	}
}

// appendJSON appends the view as heplify's RTCP JSON, keys in heplify's
// order. Absent parts are zero, as heplify writes them; cumulative loss is
// its raw 24-bit field, as heplify reads it.
func (v *rtcpView) appendJSON(b []byte) []byte {
	b = append(b, `{"sender_information":{"ntp_timestamp_sec":`...)
	b = strconv.AppendUint(b, uint64(v.ntpSec), 10)
	b = append(b, `,"ntp_timestamp_usec":`...)
	b = strconv.AppendUint(b, uint64(v.ntpFrac), 10)
	b = append(b, `,"rtp_timestamp":`...)
	b = strconv.AppendUint(b, uint64(v.rtpTS), 10)
	b = append(b, `,"packets":`...)
	b = strconv.AppendUint(b, uint64(v.packets), 10)
	b = append(b, `,"octets":`...)
	b = strconv.AppendUint(b, uint64(v.octets), 10)
	b = append(b, `},"ssrc":`...)
	b = strconv.AppendUint(b, uint64(v.ssrc), 10)
	b = append(b, `,"type":`...)
	b = strconv.AppendUint(b, uint64(v.typ), 10)
	b = append(b, `,"report_count":`...)
	b = strconv.AppendUint(b, uint64(v.count), 10)
	b = append(b, `,"report_blocks":[`...)
	for i, rb := range v.blocks[:v.nblocks] {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"source_ssrc":`...)
		b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(rb[0:])), 10)
		b = append(b, `,"fraction_lost":`...)
		b = strconv.AppendUint(b, uint64(rb[4]), 10)
		b = append(b, `,"packets_lost":`...)
		b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(rb[4:])&0xffffff), 10)
		b = append(b, `,"highest_seq_no":`...)
		b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(rb[8:])), 10)
		b = append(b, `,"ia_jitter":`...)
		b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(rb[12:])), 10)
		b = append(b, `,"lsr":`...)
		b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(rb[16:])), 10)
		b = append(b, `,"dlsr":`...)
		b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(rb[20:])), 10)
		b = append(b, '}')
	}
	var xr [xrVoIPMetricsLen]byte // zeros when there is no VoIP metrics block
	copy(xr[:], v.xrVoIP)
	b = append(b, `],"report_blocks_xr":{"type":`...)
	b = strconv.AppendUint(b, uint64(v.xrType), 10)
	b = append(b, `,"id":`...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(xr[4:])), 10)
	b = append(b, `,"fraction_lost":`...)
	b = strconv.AppendUint(b, uint64(xr[8]), 10)
	b = append(b, `,"fraction_discard":`...)
	b = strconv.AppendUint(b, uint64(xr[9]), 10)
	b = append(b, `,"burst_density":`...)
	b = strconv.AppendUint(b, uint64(xr[10]), 10)
	b = append(b, `,"gap_density":`...)
	b = strconv.AppendUint(b, uint64(xr[11]), 10)
	b = append(b, `,"burst_duration":`...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(xr[12:])), 10)
	b = append(b, `,"gap_duration":`...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(xr[14:])), 10)
	b = append(b, `,"round_trip_delay":`...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(xr[16:])), 10)
	b = append(b, `,"end_system_delay":`...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(xr[18:])), 10)
	b = append(b, `},"sdes_ssrc":`...)
	b = strconv.AppendUint(b, uint64(v.sdesSSRC), 10)
	return append(b, '}')
}

// sendRTCP queues one captured RTCP packet as heplify does: HEP type 5,
// the JSON above as payload, the call's Call-ID as correlation id. RTCP
// that no call's SDP explains is counted and not sent (heplify-server
// stores RTCP only under a correlation id). It is the pipeline's onRTCP
// hook, with send's rules; it allocates nothing once its buffers have grown.
func (s *Sender) sendRTCP(pkt *decode.Packet, raw []byte, callID string) {
	if s.closed {
		return
	}
	c := &s.counts[hepKindRTCP]
	if callID == "" {
		c.noCall.Add(1)
		return
	}
	if !s.rtcp.parse(raw) {
		c.malformed.Add(1)
		return
	}
	s.json = s.rtcp.appendJSON(s.json[:0])
	s.cid = append(s.cid[:0], callID...)
	s.setFlow(pkt.Src, pkt.Dst, pkt.TS)
	h := &s.hdr
	h.ProtoType = hep.ProtoRTCP
	h.Protocol = ipProtocol(pkt.Transport)
	h.Payload, h.CorrelationID = s.json, s.cid
	s.enqueue(hepKindRTCP)
}
