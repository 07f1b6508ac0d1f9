package storetest

import (
	"time"

	"github.com/sipscope/sipscope/quality"
)

// qualityStream is a stream with every field quality fills set to a
// distinct, awkward value: negative counts where they are allowed,
// unavailable (-1) XR values, a CNAME with quotes, backslashes and a NUL,
// a timeline whose intervals merged (doubled durations) and a DTMF event
// whose start packet was lost. Fields storage does not keep are set too,
// so that storedStream is what proves which ones those are.
func qualityStream(base time.Time, ssrc uint32, callID string) quality.Stream {
	us := time.Microsecond
	return quality.Stream{
		SSRC: ssrc, Src: ap("192.0.2.10:40002"), Dst: ap("[2001:db8::20]:50002"), PayloadType: 0,
		Payload: "g711U", Start: base.Add(4*time.Second + 7*us), End: base.Add(93 * time.Second),
		Packets: 4470, Expected: 4500, Lost: 30, SeqErrors: 1,
		MinDeltaMs: 0.5, MeanDeltaMs: 20.0001, MaxDeltaMs: 180.25, MinJitterMs: 0.01, MeanJitterMs: 3.5, MaxJitterMs: 41.75,
		MOS: 3.2871, CallID: callID,

		Late: 12, EffectiveLost: 42, JitterBuffer: "adaptive", JitterBufferMs: 61.5,
		BurstR: 1.734, RTTMs: 148.25, R: 64.123456789,
		MOSTimeline: []quality.IntervalMOS{
			{StartMs: 0, DurationMs: 10000, Packets: 500, Lost: 0, Late: 0, LossPct: 0, BurstR: 1, JitterBufferMs: 40, MOS: 4.38},
			{StartMs: 10000, DurationMs: 10000, Packets: 470, Lost: 25, Late: 5, LossPct: 6.000001, BurstR: 2.5, JitterBufferMs: 95.125, MOS: 2.91},
			{StartMs: 20000, DurationMs: 10000, Packets: 0, Lost: 0, Late: 0, LossPct: 0, BurstR: 0, JitterBufferMs: 0, MOS: 0},
			{StartMs: 30000, DurationMs: 10000, Packets: 3500, Lost: 5, Late: 7, LossPct: 0.3418, BurstR: 1.1, JitterBufferMs: 55, MOS: 4.02},
		},
		RTCP: quality.RTCPReport{
			SSRC: ssrc, Reports: 31, LastNs: base.Add(90 * time.Second).UnixNano(), CNAME: "alice@'host'\\\x00",
			Bye: true, App: 2,
			SenderReports: 17, SenderPackets: 4499, SenderOctets: 719840,
			ReceiverReports: 14, Reporter: 0xcafe, FractionLostPct: 0.390625, MaxFractionLostPct: 5.078125,
			CumulativeLost: -3, HighestSeq: 70123, Jitter: 28, MaxJitter: 340, JitterMs: 3.5, MaxJitterMs: 42.5,
			RTTMs: 150.5, MeanRTTMs: 148.25, MaxRTTMs: 201.125, RTTSamples: 13,
			XR: quality.XRVoIPMetrics{
				Reports: 4, Reporter: 0xcafe, LossRatePct: 0.78125, DiscardRatePct: 0.390625,
				BurstDensityPct: 12.5, GapDensityPct: 0.5, BurstDurationMs: 120, GapDurationMs: 30000,
				RoundTripDelayMs: 152, EndSystemDelayMs: 60, SignalLevelDBm: -20, NoiseLevelDBm: 127, RERLDB: 127,
				Gmin: 16, RFactor: -1, ExtRFactor: -1, MOSLQ: 3.9, MOSCQ: -1, RXConfig: 0x80,
				JBNominalMs: 40, JBMaxMs: 120, JBAbsMaxMs: 400,
			},
		},
		DTMF: []quality.DTMFEvent{
			{Event: 1, Digit: "1", Start: base.Add(20*time.Second + 123456*us), Timestamp: 160000, DurationMs: 100,
				Volume: 10, Ended: true, StartSeen: true, Packets: 8},
			{Event: 11, Digit: "#", Start: base.Add(21*time.Second + 1*us), Timestamp: 168000, DurationMs: 250.125,
				Volume: 63, Ended: false, StartSeen: false, Packets: 3},
			{Event: 200, Digit: "200", Start: base.Add(22 * time.Second), Timestamp: 4294967295, DurationMs: 8191.875,
				Volume: 0, Ended: true, StartSeen: true, Packets: 1},
		},
	}
}

// storedStream is s as a store gives it back: the RTCP report reduced to
// the fields storage keeps (storage/streams.go lists them) and times at
// microseconds.
func storedStream(s quality.Stream) quality.Stream {
	r := s.RTCP
	s.RTCP = quality.RTCPReport{
		Reports: r.Reports, CNAME: r.CNAME, Bye: r.Bye,
		SenderReports: r.SenderReports, SenderPackets: r.SenderPackets, SenderOctets: r.SenderOctets,
		ReceiverReports: r.ReceiverReports, FractionLostPct: r.FractionLostPct, MaxFractionLostPct: r.MaxFractionLostPct,
		CumulativeLost: r.CumulativeLost, JitterMs: r.JitterMs, MaxJitterMs: r.MaxJitterMs,
		RTTMs: r.RTTMs, MeanRTTMs: r.MeanRTTMs, MaxRTTMs: r.MaxRTTMs, RTTSamples: r.RTTSamples,
		XR: quality.XRVoIPMetrics{
			Reports: r.XR.Reports, LossRatePct: r.XR.LossRatePct, DiscardRatePct: r.XR.DiscardRatePct,
			RoundTripDelayMs: r.XR.RoundTripDelayMs, EndSystemDelayMs: r.XR.EndSystemDelayMs,
			RFactor: r.XR.RFactor, MOSLQ: r.XR.MOSLQ, MOSCQ: r.XR.MOSCQ,
			JBNominalMs: r.XR.JBNominalMs, JBMaxMs: r.XR.JBMaxMs,
		},
	}
	if r.Reports > 0 {
		s.RTCP.SSRC = s.SSRC
	}
	if len(s.MOSTimeline) == 0 {
		s.MOSTimeline = nil
	}
	if len(s.DTMF) > 0 {
		d := make([]quality.DTMFEvent, len(s.DTMF))
		for i, e := range s.DTMF {
			e.Start = norm(e.Start)
			d[i] = e
		}
		s.DTMF = d
	} else {
		s.DTMF = nil
	}
	return s
}
