package storage

import (
	"fmt"
	"math"
	"strings"

	"github.com/sipscope/sipscope/quality"
)

// A quality.Stream is one row of rtp_streams. Its MOS timeline and DTMF
// events become parallel arrays, element i of every timeline_* (dtmf_*)
// column being interval (event) i.
//
// Of the RTCP report the row keeps what an operator compares with the
// captured figures: report counts, CNAME and BYE, the sender's own packet
// and octet counts, the latest and worst reported loss and jitter (in ms),
// the cumulative loss, the round trips, and of the XR VoIP metrics the
// loss and discard rates, round trip, end system delay, R, MOS-LQ, MOS-CQ
// and the nominal and maximum jitter buffer. Not kept: the arrival time of
// the latest report, APP counts, the reporter's SSRC, the highest sequence
// number, jitter in timestamp units, and the XR burst/gap, level, echo and
// configuration fields. RTCP.SSRC is not stored either: it is the
// stream's own SSRC whenever there was a report.

func streamRow(s *quality.Stream, version uint64) []any {
	r, xr := &s.RTCP, &s.RTCP.XR
	row := []any{
		dateOf(s.Start), secondsOf(s.Start), microsOf(s.Start), microsOf(s.End),
		s.CallID, s.SSRC, addrString(s.Src.Addr()), s.Src.Port(), addrString(s.Dst.Addr()), s.Dst.Port(),
		s.PayloadType, s.Payload,
		int64(s.Packets), int64(s.Expected), int64(s.Lost), int64(s.SeqErrors),
		s.MinDeltaMs, s.MeanDeltaMs, s.MaxDeltaMs, s.MinJitterMs, s.MeanJitterMs, s.MaxJitterMs,
		s.MOS,
		int64(s.Late), int64(s.EffectiveLost), s.JitterBuffer, s.JitterBufferMs, s.BurstR, s.RTTMs, s.R,
		clampUint32(r.Reports), r.CNAME, flag(r.Bye),
		clampUint32(r.SenderReports), r.SenderPackets, r.SenderOctets,
		clampUint32(r.ReceiverReports), r.FractionLostPct, r.MaxFractionLostPct, int64(r.CumulativeLost),
		r.JitterMs, r.MaxJitterMs, r.RTTMs, r.MeanRTTMs, r.MaxRTTMs, clampUint32(r.RTTSamples),
		clampUint32(xr.Reports), xr.LossRatePct, xr.DiscardRatePct,
		int64(xr.RoundTripDelayMs), int64(xr.EndSystemDelayMs), int64(xr.RFactor), xr.MOSLQ, xr.MOSCQ,
		int64(xr.JBNominalMs), int64(xr.JBMaxMs),
	}
	row = appendTimeline(row, s.MOSTimeline)
	row = appendDTMF(row, s.DTMF)
	return append(row, version)
}

// appendTimeline appends the timeline_* column values of tl.
func appendTimeline(row []any, tl []quality.IntervalMOS) []any {
	n := len(tl)
	start, dur, lossPct, burst, jb, mos := make([]float64, n), make([]float64, n), make([]float64, n),
		make([]float64, n), make([]float64, n), make([]float64, n)
	packets, lost, late := make([]uint32, n), make([]uint32, n), make([]uint32, n)
	for i, iv := range tl {
		start[i], dur[i] = iv.StartMs, iv.DurationMs
		packets[i], lost[i], late[i] = clampUint32(iv.Packets), clampUint32(iv.Lost), clampUint32(iv.Late)
		lossPct[i], burst[i], jb[i], mos[i] = iv.LossPct, iv.BurstR, iv.JitterBufferMs, iv.MOS
	}
	return append(row, start, dur, packets, lost, late, lossPct, burst, jb, mos)
}

// appendDTMF appends the dtmf_* column values of events.
func appendDTMF(row []any, events []quality.DTMFEvent) []any {
	n := len(events)
	code, ts, vol, ended, startSeen, packets := make([]uint32, n), make([]uint32, n), make([]uint32, n),
		make([]uint32, n), make([]uint32, n), make([]uint32, n)
	digit, startUS, dur := make([]string, n), make([]uint64, n), make([]float64, n)
	for i, e := range events {
		code[i], digit[i], startUS[i], ts[i] = uint32(e.Event), e.Digit, microsOf(e.Start), e.Timestamp
		dur[i], vol[i], ended[i], startSeen[i] = e.DurationMs, uint32(e.Volume), uint32(flag(e.Ended)), uint32(flag(e.StartSeen))
		packets[i] = clampUint32(e.Packets)
	}
	return append(row, code, digit, startUS, ts, dur, vol, ended, startSeen, packets)
}

// streamScan holds one rtp_streams row as read.
type streamScan struct {
	version                               uint64 // read only for FINAL over Distributed (see callSelect)
	ssrc                                  uint32
	srcIP                                 string
	srcPort                               uint16
	dstIP                                 string
	dstPort                               uint16
	payloadType                           uint8
	payload                               string
	startUS, endUS                        uint64
	packets, expected, lost, seqErrors    int64
	minDelta, meanDelta, maxDelta         float64
	minJitter, meanJitter, maxJitter, mos float64
	callID                                string

	late, effectiveLost            int64
	jitterBuffer                   string
	jitterBufferMs, burstR, rtt, r float64

	rtcpReports                            uint32
	rtcpCNAME                              string
	rtcpBye                                uint8
	rtcpSRs, rtcpSenderPackets, rtcpOctets uint32
	rtcpRRs                                uint32
	rtcpFraction, rtcpMaxFraction          float64
	rtcpCumLost                            int64
	rtcpJitter, rtcpMaxJitter              float64
	rtcpRTT, rtcpMeanRTT, rtcpMaxRTT       float64
	rtcpRTTSamples                         uint32
	xrReports                              uint32
	xrLoss, xrDiscard                      float64
	xrRTT, xrEndSystem, xrR                int64
	xrMOSLQ, xrMOSCQ                       float64
	xrJBNominal, xrJBMax                   int64

	tlStart, tlDur, tlLossPct, tlBurst, tlJB, tlMOS []float64
	tlPackets, tlLost, tlLate                       []uint32

	dtmfCode, dtmfTS, dtmfVol, dtmfEnded, dtmfStartSeen, dtmfPackets []uint32
	dtmfDigit                                                        []string
	dtmfStartUS                                                      []uint64
	dtmfDur                                                          []float64
}

// columns is the SELECT list and the pointers its values are read into,
// paired here so that they cannot disagree.
func (s *streamScan) columns() (string, []any) {
	fields := []struct {
		name string
		dest any
	}{
		{"ssrc", &s.ssrc}, {"src_ip", &s.srcIP}, {"src_port", &s.srcPort},
		{"dst_ip", &s.dstIP}, {"dst_port", &s.dstPort}, {"payload_type", &s.payloadType}, {"payload", &s.payload},
		{"start_us", &s.startUS}, {"end_us", &s.endUS},
		{"packets", &s.packets}, {"expected", &s.expected}, {"lost", &s.lost}, {"seq_errors", &s.seqErrors},
		{"min_delta_ms", &s.minDelta}, {"mean_delta_ms", &s.meanDelta}, {"max_delta_ms", &s.maxDelta},
		{"min_jitter_ms", &s.minJitter}, {"mean_jitter_ms", &s.meanJitter}, {"max_jitter_ms", &s.maxJitter},
		{"mos", &s.mos}, {"call_id", &s.callID}, {"version", &s.version},
		{"late", &s.late}, {"effective_lost", &s.effectiveLost}, {"jitter_buffer", &s.jitterBuffer},
		{"jitter_buffer_ms", &s.jitterBufferMs}, {"burst_r", &s.burstR}, {"rtt_ms", &s.rtt}, {"r_factor", &s.r},
		{"rtcp_reports", &s.rtcpReports}, {"rtcp_cname", &s.rtcpCNAME}, {"rtcp_bye", &s.rtcpBye},
		{"rtcp_sender_reports", &s.rtcpSRs}, {"rtcp_sender_packets", &s.rtcpSenderPackets},
		{"rtcp_sender_octets", &s.rtcpOctets}, {"rtcp_receiver_reports", &s.rtcpRRs},
		{"rtcp_fraction_lost_pct", &s.rtcpFraction}, {"rtcp_max_fraction_lost_pct", &s.rtcpMaxFraction},
		{"rtcp_cumulative_lost", &s.rtcpCumLost}, {"rtcp_jitter_ms", &s.rtcpJitter},
		{"rtcp_max_jitter_ms", &s.rtcpMaxJitter}, {"rtcp_rtt_ms", &s.rtcpRTT}, {"rtcp_mean_rtt_ms", &s.rtcpMeanRTT},
		{"rtcp_max_rtt_ms", &s.rtcpMaxRTT}, {"rtcp_rtt_samples", &s.rtcpRTTSamples},
		{"rtcp_xr_reports", &s.xrReports}, {"rtcp_xr_loss_rate_pct", &s.xrLoss},
		{"rtcp_xr_discard_rate_pct", &s.xrDiscard}, {"rtcp_xr_rtt_ms", &s.xrRTT},
		{"rtcp_xr_end_system_delay_ms", &s.xrEndSystem}, {"rtcp_xr_r_factor", &s.xrR},
		{"rtcp_xr_mos_lq", &s.xrMOSLQ}, {"rtcp_xr_mos_cq", &s.xrMOSCQ},
		{"rtcp_xr_jb_nominal_ms", &s.xrJBNominal}, {"rtcp_xr_jb_max_ms", &s.xrJBMax},
		{"timeline_start_ms", &s.tlStart}, {"timeline_duration_ms", &s.tlDur},
		{"timeline_packets", &s.tlPackets}, {"timeline_lost", &s.tlLost}, {"timeline_late", &s.tlLate},
		{"timeline_loss_pct", &s.tlLossPct}, {"timeline_burst_r", &s.tlBurst},
		{"timeline_jitter_buffer_ms", &s.tlJB}, {"timeline_mos", &s.tlMOS},
		{"dtmf_event", &s.dtmfCode}, {"dtmf_digit", &s.dtmfDigit}, {"dtmf_start_us", &s.dtmfStartUS},
		{"dtmf_timestamp", &s.dtmfTS}, {"dtmf_duration_ms", &s.dtmfDur}, {"dtmf_volume", &s.dtmfVol},
		{"dtmf_ended", &s.dtmfEnded}, {"dtmf_start_seen", &s.dtmfStartSeen}, {"dtmf_packets", &s.dtmfPackets},
	}
	names := make([]string, len(fields))
	dest := make([]any, len(fields))
	for i, f := range fields {
		names[i], dest[i] = f.name, f.dest
	}
	return strings.Join(names, ", "), dest
}

func (s *streamScan) stream() (quality.Stream, error) {
	src, err := addrPort(s.srcIP, s.srcPort)
	if err != nil {
		return quality.Stream{}, err
	}
	dst, err := addrPort(s.dstIP, s.dstPort)
	if err != nil {
		return quality.Stream{}, err
	}
	st := quality.Stream{
		SSRC: s.ssrc, Src: src, Dst: dst, PayloadType: s.payloadType, Payload: s.payload,
		Start: timeOfMicros(s.startUS), End: timeOfMicros(s.endUS),
		Packets: int(s.packets), Expected: int(s.expected), Lost: int(s.lost), SeqErrors: int(s.seqErrors),
		MinDeltaMs: s.minDelta, MeanDeltaMs: s.meanDelta, MaxDeltaMs: s.maxDelta,
		MinJitterMs: s.minJitter, MeanJitterMs: s.meanJitter, MaxJitterMs: s.maxJitter,
		MOS: s.mos, CallID: s.callID,
		Late: int(s.late), EffectiveLost: int(s.effectiveLost), JitterBuffer: s.jitterBuffer,
		JitterBufferMs: s.jitterBufferMs, BurstR: s.burstR, RTTMs: s.rtt, R: s.r,
		RTCP: quality.RTCPReport{
			Reports: int(s.rtcpReports), CNAME: s.rtcpCNAME, Bye: s.rtcpBye != 0,
			SenderReports: int(s.rtcpSRs), SenderPackets: s.rtcpSenderPackets, SenderOctets: s.rtcpOctets,
			ReceiverReports: int(s.rtcpRRs), FractionLostPct: s.rtcpFraction, MaxFractionLostPct: s.rtcpMaxFraction,
			CumulativeLost: int(s.rtcpCumLost), JitterMs: s.rtcpJitter, MaxJitterMs: s.rtcpMaxJitter,
			RTTMs: s.rtcpRTT, MeanRTTMs: s.rtcpMeanRTT, MaxRTTMs: s.rtcpMaxRTT, RTTSamples: int(s.rtcpRTTSamples),
			XR: quality.XRVoIPMetrics{
				Reports: int(s.xrReports), LossRatePct: s.xrLoss, DiscardRatePct: s.xrDiscard,
				RoundTripDelayMs: int(s.xrRTT), EndSystemDelayMs: int(s.xrEndSystem), RFactor: int(s.xrR),
				MOSLQ: s.xrMOSLQ, MOSCQ: s.xrMOSCQ, JBNominalMs: int(s.xrJBNominal), JBMaxMs: int(s.xrJBMax),
			},
		},
	}
	if st.RTCP.Reports > 0 {
		st.RTCP.SSRC = s.ssrc
	}
	if st.MOSTimeline, err = s.timeline(); err != nil {
		return quality.Stream{}, err
	}
	if st.DTMF, err = s.dtmf(); err != nil {
		return quality.Stream{}, err
	}
	return st, nil
}

// sameLengths reports whether every length equals the first.
func sameLengths(n ...int) bool {
	for _, m := range n[1:] {
		if m != n[0] {
			return false
		}
	}
	return true
}

// timeline rebuilds the MOS timeline; nil when the stream had none.
func (s *streamScan) timeline() ([]quality.IntervalMOS, error) {
	n := len(s.tlStart)
	if !sameLengths(n, len(s.tlDur), len(s.tlPackets), len(s.tlLost), len(s.tlLate),
		len(s.tlLossPct), len(s.tlBurst), len(s.tlJB), len(s.tlMOS)) {
		return nil, fmt.Errorf("%w: stream %08x: timeline arrays of different lengths", ErrBadRow, s.ssrc)
	}
	if n == 0 {
		return nil, nil
	}
	tl := make([]quality.IntervalMOS, n)
	for i := range tl {
		tl[i] = quality.IntervalMOS{
			StartMs: s.tlStart[i], DurationMs: s.tlDur[i],
			Packets: int(s.tlPackets[i]), Lost: int(s.tlLost[i]), Late: int(s.tlLate[i]),
			LossPct: s.tlLossPct[i], BurstR: s.tlBurst[i], JitterBufferMs: s.tlJB[i], MOS: s.tlMOS[i],
		}
	}
	return tl, nil
}

// dtmf rebuilds the DTMF events; nil when the stream carried none.
func (s *streamScan) dtmf() ([]quality.DTMFEvent, error) {
	n := len(s.dtmfCode)
	if !sameLengths(n, len(s.dtmfDigit), len(s.dtmfStartUS), len(s.dtmfTS), len(s.dtmfDur),
		len(s.dtmfVol), len(s.dtmfEnded), len(s.dtmfStartSeen), len(s.dtmfPackets)) {
		return nil, fmt.Errorf("%w: stream %08x: DTMF arrays of different lengths", ErrBadRow, s.ssrc)
	}
	if n == 0 {
		return nil, nil
	}
	ev := make([]quality.DTMFEvent, n)
	for i := range ev {
		ev[i] = quality.DTMFEvent{
			Event: uint8(min(s.dtmfCode[i], math.MaxUint8)), Digit: s.dtmfDigit[i],
			Start: timeOfMicros(s.dtmfStartUS[i]), Timestamp: s.dtmfTS[i], DurationMs: s.dtmfDur[i],
			Volume: uint8(min(s.dtmfVol[i], math.MaxUint8)), Ended: s.dtmfEnded[i] != 0,
			StartSeen: s.dtmfStartSeen[i] != 0, Packets: int(s.dtmfPackets[i]),
		}
	}
	return ev, nil
}
