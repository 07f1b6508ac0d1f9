package storage

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/quality"
)

func TestEveryStreamQualityFieldLandsInItsColumn(t *testing.T) {
	start := time.Unix(1700000000, 0)
	s := quality.Stream{
		SSRC: 9, MOS: 3.9, Late: 4, EffectiveLost: -2, JitterBuffer: "fixed-50ms", JitterBufferMs: 50, BurstR: 1.25,
		RTTMs: 80.5, R: 77.5,
		RTCP: quality.RTCPReport{Reports: 6, CNAME: "c", Bye: true, SenderReports: 3, SenderPackets: 100, SenderOctets: 16000,
			ReceiverReports: 3, FractionLostPct: 1.5, MaxFractionLostPct: 2.5, CumulativeLost: -1, JitterMs: 2, MaxJitterMs: 3,
			RTTMs: 81, MeanRTTMs: 80.5, MaxRTTMs: 90, RTTSamples: 2,
			XR: quality.XRVoIPMetrics{Reports: 1, LossRatePct: 0.5, DiscardRatePct: 0.25, RoundTripDelayMs: 82,
				EndSystemDelayMs: 40, RFactor: -1, MOSLQ: 4.1, MOSCQ: -1, JBNominalMs: 20, JBMaxMs: 60}},
		MOSTimeline: []quality.IntervalMOS{
			{StartMs: 0, DurationMs: 5000, Packets: 250, LossPct: 0, BurstR: 1, JitterBufferMs: 50, MOS: 4.4},
			{StartMs: 5000, DurationMs: 5000, Packets: 240, Lost: 8, Late: 2, LossPct: 4, BurstR: 2, JitterBufferMs: 51, MOS: 3.1},
		},
		DTMF: []quality.DTMFEvent{{Event: 10, Digit: "*", Start: start, Timestamp: 77, DurationMs: 120, Volume: 9,
			Ended: true, StartSeen: false, Packets: 6}},
	}
	row := streamRow(&s, 5)
	got := map[string]any{}
	for i, c := range streamsTable().columns {
		got[c.Name] = row[i]
	}
	want := map[string]any{
		"mos": 3.9, "late": int64(4), "effective_lost": int64(-2), "jitter_buffer": "fixed-50ms", "jitter_buffer_ms": 50.0,
		"burst_r": 1.25, "rtt_ms": 80.5, "r_factor": 77.5,
		"rtcp_reports": uint32(6), "rtcp_cname": "c", "rtcp_bye": uint8(1), "rtcp_sender_reports": uint32(3),
		"rtcp_sender_packets": uint32(100), "rtcp_sender_octets": uint32(16000), "rtcp_receiver_reports": uint32(3),
		"rtcp_fraction_lost_pct": 1.5, "rtcp_max_fraction_lost_pct": 2.5, "rtcp_cumulative_lost": int64(-1),
		"rtcp_jitter_ms": 2.0, "rtcp_max_jitter_ms": 3.0, "rtcp_rtt_ms": 81.0, "rtcp_mean_rtt_ms": 80.5,
		"rtcp_max_rtt_ms": 90.0, "rtcp_rtt_samples": uint32(2),
		"rtcp_xr_reports": uint32(1), "rtcp_xr_loss_rate_pct": 0.5, "rtcp_xr_discard_rate_pct": 0.25,
		"rtcp_xr_rtt_ms": int64(82), "rtcp_xr_end_system_delay_ms": int64(40), "rtcp_xr_r_factor": int64(-1),
		"rtcp_xr_mos_lq": 4.1, "rtcp_xr_mos_cq": -1.0, "rtcp_xr_jb_nominal_ms": int64(20), "rtcp_xr_jb_max_ms": int64(60),
		"timeline_start_ms": []float64{0, 5000}, "timeline_duration_ms": []float64{5000, 5000},
		"timeline_packets": []uint32{250, 240}, "timeline_lost": []uint32{0, 8}, "timeline_late": []uint32{0, 2},
		"timeline_loss_pct": []float64{0, 4}, "timeline_burst_r": []float64{1, 2},
		"timeline_jitter_buffer_ms": []float64{50, 51}, "timeline_mos": []float64{4.4, 3.1},
		"dtmf_event": []uint32{10}, "dtmf_digit": []string{"*"}, "dtmf_start_us": []uint64{uint64(start.UnixMicro())},
		"dtmf_timestamp": []uint32{77}, "dtmf_duration_ms": []float64{120}, "dtmf_volume": []uint32{9},
		"dtmf_ended": []uint32{1}, "dtmf_start_seen": []uint32{0}, "dtmf_packets": []uint32{6},
		"version": uint64(5),
	}
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	// No timeline or DTMF: empty arrays, never nil (a driver may refuse nil).
	row = streamRow(&quality.Stream{}, 1)
	for i, c := range streamsTable().columns {
		if v := reflect.ValueOf(row[i]); v.Kind() == reflect.Slice && (v.IsNil() || v.Len() != 0) {
			t.Errorf("%s of a stream without figures is %#v, want an empty slice", c.Name, row[i])
		}
	}
}

func TestTheStreamSelectReadsEveryColumnItWrites(t *testing.T) {
	var s streamScan
	names, dest := s.columns()
	got := strings.Split(names, ", ")
	if len(got) != len(dest) {
		t.Fatalf("%d names for %d destinations", len(got), len(dest))
	}
	var want []string
	for _, c := range streamsTable().columns {
		switch c.Name {
		case "date", "start_time": // derived
		default: // version too: FINAL over Distributed on 18.16 needs it selected
			want = append(want, c.Name)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("selected %q\nwritten %q", got, want)
	}
}

func TestTimelineAndDTMFArraysOfDifferentLengthsAreABadRow(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*streamScan)
	}{
		{"a timeline column shorter than the others", func(s *streamScan) {
			s.tlStart, s.tlDur, s.tlLossPct, s.tlBurst, s.tlJB = []float64{0, 1}, []float64{5, 5}, []float64{0, 0}, []float64{1, 1}, []float64{0, 0}
			s.tlPackets, s.tlLost, s.tlLate, s.tlMOS = []uint32{1, 1}, []uint32{0, 0}, []uint32{0, 0}, []float64{4}
		}},
		{"DTMF digits without their events", func(s *streamScan) { s.dtmfDigit = []string{"1"} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s streamScan
			c.mod(&s)
			if _, err := s.stream(); !errors.Is(err, ErrBadRow) {
				t.Errorf("error %v, want ErrBadRow", err)
			}
		})
	}
}

func TestAStoredStreamWithoutRTCPHasNoRTCPSSRC(t *testing.T) {
	s := streamScan{ssrc: 77}
	got, err := s.stream()
	if err != nil {
		t.Fatal(err)
	}
	if got.RTCP.SSRC != 0 || got.MOSTimeline != nil || got.DTMF != nil {
		t.Errorf("stream without RTCP, timeline or DTMF read back as %+v", got)
	}
	s.rtcpReports = 1
	if got, _ := s.stream(); got.RTCP.SSRC != 77 {
		t.Errorf("a report about the stream names SSRC %d, want 77", got.RTCP.SSRC)
	}
}
