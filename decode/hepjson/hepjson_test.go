package hepjson

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/pion/rtcp"
)

// statsReport is a final report as hepsend writes it (hepsend/stats.go),
// with a Call-ID that needs escaping.
const statsReport = `{"CORRELATION_ID":"a\"b\\c\u00e9@host","RTP_SIP_CALL_ID":"a\"b\\c\u00e9@host","REPORT_TS":1700000010,` +
	`"REPORT_START":1700000000,"REPORT_END":1700000010,"TYPE":"FINAL","SSRC":"0x0badcafe","SRC_IP":"192.0.2.10",` +
	`"SRC_PORT":40000,"DST_IP":"2001:db8::1","DST_PORT":40002,"CODEC_PT":8,"CODEC_NAME":"g711A","CLOCK":8000,` +
	`"TOTAL_PK":498,"EXPECTED_PK":500,"PACKET_LOSS":2,"DELTA":20.004,"MAX_DELTA":41.5,"JITTER":0.125,` +
	`"MEAN_JITTER":0.125,"MAX_JITTER":1.75,"MOS":4.093,"MIN_MOS":3.9,"MEAN_MOS":4.05,"RFACTOR":81.25}`

func TestRTPStatsReadsAFinalReportAsHepsendWritesIt(t *testing.T) {
	var r RTPStats
	if err := r.Unmarshal([]byte(statsReport)); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"the Call-ID is unescaped", string(r.CallID), "a\"b\\cé@host"},
		{"a final report says so", r.Final, true},
		{"the start is read", r.Start, int64(1700000000)},
		{"the end is read", r.End, int64(1700000010)},
		{"the SSRC is read from hex", r.SSRC, uint32(0x0badcafe)},
		{"the source is IPv4", r.Src, netip.MustParseAddrPort("192.0.2.10:40000")},
		{"the destination is IPv6", r.Dst, netip.MustParseAddrPort("[2001:db8::1]:40002")},
		{"the payload type is read", r.PayloadType, uint8(8)},
		{"the codec is read", string(r.Codec), "g711A"},
		{"the clock is read", r.Clock, uint32(8000)},
		{"the packets are read", r.Packets, int64(498)},
		{"the expected packets are read", r.Expected, int64(500)},
		{"the loss is read", r.PacketLoss, int64(2)},
		{"the mean delta is read", r.MeanDeltaMs, 20.004},
		{"the max delta is read", r.MaxDeltaMs, 41.5},
		{"the mean jitter is read", r.MeanJitterMs, 0.125},
		{"the max jitter is read", r.MaxJitterMs, 1.75},
		{"the MOS is read", r.MOS, 4.093},
		{"the R factor is read", r.RFactor, 81.25},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	in := []byte(statsReport)
	if allocs := testing.AllocsPerRun(100, func() {
		if err := r.Unmarshal(in); err != nil {
			t.Fatal(err)
		}
	}); allocs > 1 { // the IPv6 destination is parsed by netip
		t.Errorf("reading a report allocates %.0f times", allocs)
	}
	v4 := []byte(`{"SSRC":"0x1","SRC_IP":"10.0.0.1","SRC_PORT":1,"DST_IP":"10.0.0.2","DST_PORT":2,"TOTAL_PK":1,"CORRELATION_ID":"x"}`)
	if allocs := testing.AllocsPerRun(100, func() { _ = r.Unmarshal(v4) }); allocs != 0 {
		t.Errorf("reading an IPv4 report allocates %.0f times", allocs)
	}
}

func TestRTPStatsRejectsWhatIsNotAReport(t *testing.T) {
	cases := []struct {
		name, in string
		want     error
	}{
		{"an empty payload is not JSON", ``, ErrSyntax},
		{"an array is not a report", `[1,2]`, ErrSyntax},
		{"trailing bytes after the object are refused", `{"SSRC":1} x`, ErrSyntax},
		{"a report without addresses misses fields", `{"SSRC":"0x1","TOTAL_PK":3}`, ErrMissingField},
		{"a report without packets misses a field", `{"SSRC":"0x1","SRC_IP":"10.0.0.1","SRC_PORT":1,"DST_IP":"10.0.0.2","DST_PORT":2}`, ErrMissingField},
		{"an SSRC of nine hex digits is out of range", `{"SSRC":"0x123456789"}`, ErrBadValue},
		{"a negative packet count is out of range", `{"TOTAL_PK":-1}`, ErrBadValue},
		{"a port above 65535 is out of range", `{"SRC_PORT":65536}`, ErrBadValue},
		{"an address that is not one is refused", `{"SRC_IP":"10.0.0.256"}`, ErrBadValue},
		{"a string where a number belongs is refused", `{"TOTAL_PK":"3"}`, ErrBadValue},
		{"a fraction where an integer belongs is refused", `{"TOTAL_PK":3.5}`, ErrBadValue},
		{"deep nesting in an unknown key is bounded", `{"X":` + nest(100) + `}`, ErrTooDeep},
		{"an unterminated string is refused", `{"CORRELATION_ID":"abc`, ErrSyntax},
		{"a bad escape is refused", `{"CORRELATION_ID":"a\qb"}`, ErrSyntax},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r RTPStats
			if err := r.Unmarshal([]byte(c.in)); !errors.Is(err, c.want) {
				t.Errorf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestRTPStatsSkipsUnknownKeysAndTakesTheSIPCallIDWithoutACorrelationID(t *testing.T) {
	in := `{"X":{"a":[1,{"b":null}],"c":true},"SSRC":7,"SRC_IP":"10.0.0.1","SRC_PORT":1,"DST_IP":"10.0.0.2",` +
		`"DST_PORT":2,"TOTAL_PK":1.0e2,"RTP_SIP_CALL_ID":"call-1","TYPE":"PERIODIC"}`
	var r RTPStats
	if err := r.Unmarshal([]byte(in)); err != nil {
		t.Fatal(err)
	}
	if string(r.CallID) != "call-1" || r.SSRC != 7 || r.Packets != 100 || r.Final {
		t.Errorf("read %+v", r)
	}
}

func nest(n int) string {
	s := ""
	for range n {
		s += "["
	}
	for range n {
		s += "]"
	}
	return s
}

// rtcpReport is heplify's JSON of an SR with two report blocks and an XR
// VoIP metrics block, as hepsend writes it (hepsend/rtcp.go).
const rtcpReport = `{"sender_information":{"ntp_timestamp_sec":3900000000,"ntp_timestamp_usec":2147483648,` +
	`"rtp_timestamp":160000,"packets":500,"octets":80000},"ssrc":3405691582,"type":200,"report_count":2,` +
	`"report_blocks":[{"source_ssrc":287454020,"fraction_lost":26,"packets_lost":16777215,"highest_seq_no":70000,` +
	`"ia_jitter":31,"lsr":77,"dlsr":99},{"source_ssrc":5,"fraction_lost":0,"packets_lost":3,"highest_seq_no":1,` +
	`"ia_jitter":2,"lsr":0,"dlsr":0}],"report_blocks_xr":{"type":7,"id":287454020,"fraction_lost":12,` +
	`"fraction_discard":3,"burst_density":40,"gap_density":2,"burst_duration":120,"gap_duration":5000,` +
	`"round_trip_delay":88,"end_system_delay":61},"sdes_ssrc":3405691582}`

func TestRTCPJSONBecomesTheBinaryRTCPItDescribes(t *testing.T) {
	var r RTCP
	if err := r.Unmarshal([]byte(rtcpReport)); err != nil {
		t.Fatal(err)
	}
	raw := r.AppendBinary(nil)
	pkts, err := rtcp.Unmarshal(raw)
	if err != nil {
		t.Fatalf("pion cannot read the rebuilt RTCP: %v", err)
	}
	if len(pkts) != 2 {
		t.Fatalf("rebuilt %d packets, want an SR and an XR", len(pkts))
	}
	sr, ok := pkts[0].(*rtcp.SenderReport)
	if !ok {
		t.Fatalf("first packet is %T", pkts[0])
	}
	if sr.SSRC != 3405691582 || sr.NTPTime != 3900000000<<32|2147483648 || sr.RTPTime != 160000 ||
		sr.PacketCount != 500 || sr.OctetCount != 80000 || len(sr.Reports) != 2 {
		t.Errorf("sender report %+v", sr)
	}
	want := rtcp.ReceptionReport{SSRC: 287454020, FractionLost: 26, TotalLost: 0xffffff, LastSequenceNumber: 70000, Jitter: 31, LastSenderReport: 77, Delay: 99}
	if len(sr.Reports) > 0 && sr.Reports[0] != want {
		t.Errorf("first block %+v, want %+v", sr.Reports[0], want)
	}
	xr, ok := pkts[1].(*rtcp.ExtendedReport)
	if !ok || len(xr.Reports) != 1 {
		t.Fatalf("second packet %+v", pkts[1])
	}
	vm, ok := xr.Reports[0].(*rtcp.VoIPMetricsReportBlock)
	if !ok {
		t.Fatalf("XR block %T", xr.Reports[0])
	}
	if xr.SenderSSRC != 3405691582 || vm.SSRC != 287454020 || vm.LossRate != 12 || vm.DiscardRate != 3 || vm.BurstDensity != 40 ||
		vm.GapDensity != 2 || vm.BurstDuration != 120 || vm.GapDuration != 5000 || vm.RoundTripDelay != 88 || vm.EndSystemDelay != 61 ||
		vm.MOSLQ != 127 || vm.RFactor != 127 {
		t.Errorf("VoIP metrics %+v", vm)
	}
	buf, in := make([]byte, 0, 512), []byte(rtcpReport)
	if allocs := testing.AllocsPerRun(100, func() {
		_ = r.Unmarshal(in)
		buf = r.AppendBinary(buf[:0])
	}); allocs != 0 {
		t.Errorf("reading and rebuilding allocates %.0f times", allocs)
	}
}

func TestRTCPJSONShapes(t *testing.T) {
	cases := []struct {
		name      string
		in        string
		wantTypes []uint8 // packet types of the rebuilt compound
	}{
		{"a receiver report with one block becomes an RR",
			`{"sender_information":{"ntp_timestamp_sec":0,"ntp_timestamp_usec":0,"rtp_timestamp":0,"packets":0,"octets":0},"ssrc":1,"type":201,"report_count":1,"report_blocks":[{"source_ssrc":2,"fraction_lost":0,"packets_lost":0,"highest_seq_no":9,"ia_jitter":1,"lsr":0,"dlsr":0}],"report_blocks_xr":{"type":0,"id":0},"sdes_ssrc":0}`,
			[]uint8{rtcpRR}},
		{"an SDES-only compound becomes nothing",
			`{"sender_information":{"ntp_timestamp_sec":0},"ssrc":0,"type":202,"report_count":1,"report_blocks":[],"report_blocks_xr":{"type":0},"sdes_ssrc":9}`,
			nil},
		{"null report lists are read as none",
			`{"ssrc":3,"type":201,"report_blocks":null,"report_blocks_xr":null}`,
			[]uint8{rtcpRR}},
		{"forty blocks become an RR of 31 and one of 9", fortyBlocks(), []uint8{rtcpRR, rtcpRR}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r RTCP
			if err := r.Unmarshal([]byte(c.in)); err != nil {
				t.Fatal(err)
			}
			raw := r.AppendBinary(nil)
			var got []uint8
			for b := raw; len(b) >= 4; b = b[(int(b[2])<<8|int(b[3])+1)*4:] {
				got = append(got, b[1])
			}
			if len(got) != len(c.wantTypes) {
				t.Fatalf("rebuilt types %v, want %v", got, c.wantTypes)
			}
			for i := range got {
				if got[i] != c.wantTypes[i] {
					t.Fatalf("rebuilt types %v, want %v", got, c.wantTypes)
				}
			}
			if len(raw) > 0 {
				if _, err := rtcp.Unmarshal(raw); err != nil {
					t.Errorf("pion cannot read it: %v", err)
				}
			}
		})
	}
}

func fortyBlocks() string {
	s := `{"ssrc":1,"type":201,"report_blocks":[`
	for i := range 40 {
		if i > 0 {
			s += ","
		}
		s += `{"source_ssrc":2,"packets_lost":1}`
	}
	return s + `]}`
}
