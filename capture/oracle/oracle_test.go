package oracle

import (
	"errors"
	"testing"
)

func TestLoadReadsEverySection(t *testing.T) {
	f, err := Load("../../testdata/captures/heplify__rtp_rtcp_sip_ipv4_udp.pcap.tshark.txt")
	if err != nil {
		t.Fatal(err)
	}
	if f.Packets != 4269 || f.SIPPackets != 14 || len(f.CallIDs) != 4 || f.CallIDs["12013223@200.57.7.195"] != 5 {
		t.Errorf("counts: %+v", f)
	}
	if f.Requests["REGISTER"] != 3 || f.Requests["ACK"] != 1 || f.Responses[200] != 4 || f.Responses[100] != 2 {
		t.Errorf("start lines: %v %v", f.Requests, f.Responses)
	}
	sdp, heur := f.StreamsOf(TableSDP), f.StreamsOf(TableHeuristic)
	if len(sdp) != 3 || len(heur) != 5 {
		t.Fatalf("streams: %d sdp, %d heuristic", len(sdp), len(heur))
	}
	s := heur[1]
	if s.Src.String() != "200.57.7.196:40376" || s.SSRC != 0x58F33DEA || s.Payload != "g711A" || s.Packets != 891 ||
		s.MeanDelta != "20.498" || s.MaxJitter != "0.251" || s.LostPct != "0.0" {
		t.Errorf("row: %+v", s)
	}
}

func TestParseRejectsABrokenStreamRow(t *testing.T) {
	text := "## tshark -q -z rtp,streams\n========================= RTP Streams ========================\n" +
		"   1.0 2.0 10.0.0.1 4000 10.0.0.2 4002 0xZZ g711A 5\n"
	if _, err := Parse(text); !errors.Is(err, ErrFormat) {
		t.Errorf("Parse = %v, want ErrFormat", err)
	}
}
