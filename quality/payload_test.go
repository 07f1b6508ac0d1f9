package quality

import "testing"

// PayloadName and ClockRate for every payload type 0-127 are checked against
// tshark itself by the synthetic capture (synthetic_test.go); these cases
// cover what tshark's table cannot show.

func TestPayloadNameOutsideTheRTPRange(t *testing.T) {
	for _, pt := range []uint8{128, 200, 255} {
		if got := PayloadName(pt); got != "Unknown" {
			t.Errorf("PayloadName(%d) = %q, want Unknown", pt, got)
		}
	}
}

func TestClockRateSDP(t *testing.T) {
	tests := []struct {
		name string
		pt   uint8
		enc  string
		rate uint32
		want uint32
	}{
		{"a static type keeps its fixed clock whatever the SDP says", 8, "PCMA", 16000, 8000},
		{"telephone-event has no clock", 101, "telephone-event", 8000, 0},
		{"telephone-event matches case-insensitively", 96, "Telephone-Event", 8000, 0},
		{"the SDP rate wins for a dynamic type", 96, "opus", 48000, 48000},
		{"without a rate a known encoding name gives its clock", 97, "AMR-WB", 0, 16000},
		{"the longer of two names sharing a prefix wins", 97, "AMR", 0, 8000},
		{"tshark 4.0 has no table entry for opus", 111, "opus", 0, 0},
		{"names match as prefixes, as in tshark", 98, "H264-SVC", 0, 90000},
		{"an unknown name without a rate has no clock", 99, "x-secret", 0, 0},
		{"a dynamic type without SDP has no clock", 100, "", 8000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClockRateSDP(tt.pt, tt.enc, tt.rate); got != tt.want {
				t.Errorf("ClockRateSDP(%d, %q, %d) = %d, want %d", tt.pt, tt.enc, tt.rate, got, tt.want)
			}
		})
	}
}

func TestPayloadNamesJoinsInPayloadTypeOrder(t *testing.T) {
	var s RTPStats
	s.Update(0, 1, 0, 13, false, 8000, 1)
	s.Update(20, 2, 160, 18, false, 8000, 20)
	s.Update(40, 3, 320, 101, false, 0, 4)
	s.Update(60, 4, 480, 13, false, 8000, 1)
	if got, want := s.PayloadNames(), "CN, g729, rtpevent"; got != want {
		t.Errorf("PayloadNames = %q, want %q", got, want)
	}
	if got := s.PayloadType(); got != 18 {
		t.Errorf("PayloadType = %d, want the first non-CN type 18", got)
	}
	if !s.SawPayloadType(101) || s.SawPayloadType(0) || s.SawPayloadType(200) {
		t.Error("SawPayloadType disagrees with what was fed")
	}
	if got := s.PayloadBytes(); got != 26 {
		t.Errorf("PayloadBytes = %d, want 26", got)
	}
}
