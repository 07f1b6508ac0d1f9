package quality

import (
	"fmt"
	"math"
	"testing"
)

func TestEModelDefaultsGiveTheG107ReferenceValues(t *testing.T) {
	m := DefaultEModel()
	no := m.noise()
	ro := 15 - 1.5*(m.SLR+no)
	is := m.loudnessImpairment(no) + m.sidetoneImpairment(0) + m.quantisationImpairment(ro)
	checks := []struct{ what, got, want string }{
		{"Ro", fmt.Sprintf("%.2f", ro), "94.77"},
		{"Is", fmt.Sprintf("%.2f", is), "1.41"},
		{"R", fmt.Sprintf("%.1f", RFactor(Params{})), "93.2"},
		{"MOS", fmt.Sprintf("%.2f", MOS(Params{})), "4.41"},
		{"R of G.711 named explicitly", fmt.Sprintf("%.1f", RFactor(Params{Codec: "PCMA"})), "93.2"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %s, G.107 gives %s", c.what, c.got, c.want)
		}
	}
}

func TestEModelWorkedValues(t *testing.T) {
	// Expected R values worked by hand from R = 93.206 - Ie,eff with
	// Ie,eff = Ie + (95-Ie)·Ppl/(Ppl/BurstR + Bpl), delay 0.
	tests := []struct {
		name  string
		p     Params
		wantR string
	}{
		{"G.711 with PLC at 1 % random loss", Params{Codec: "g711A", LossPct: 1}, "89.57"},                         // 95/26.1 = 3.640
		{"G.711 with PLC at 5 % random loss", Params{Codec: "g711U", LossPct: 5}, "77.43"},                         // 475/30.1 = 15.781
		{"G.711 without PLC at 1 % loss", Params{Codec: "g711-noplc", LossPct: 1}, "75.28"},                        // 95/5.3 = 17.925
		{"G.711 with PLC at 2 % loss in bursts of ratio 2", Params{Codec: "PCMU", LossPct: 2, BurstR: 2}, "85.93"}, // 190/26.1 = 7.280
		{"G.729A without loss", Params{Codec: "g729"}, "82.21"},
		{"G.729A at 2 % loss", Params{Codec: "G.729A", LossPct: 2}, "74.21"}, // 11 + 84·2/21 = 19.0
		{"G.723.1 6.3k without loss", Params{Codec: "g723"}, "78.21"},
		{"GSM full rate without loss", Params{Codec: "GSM"}, "73.21"},
		{"explicit Ie and Bpl win over the codec name", Params{Codec: "g729", Ie: 0, Bpl: 25.1, LossPct: 1}, "89.57"},
		{"unknown codec is treated as G.711 with PLC", Params{Codec: "RTPType-96", LossPct: 1}, "89.57"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprintf("%.2f", RFactor(tt.p)); got != tt.wantR {
				t.Errorf("R = %s, want %s", got, tt.wantR)
			}
		})
	}
}

func TestEModelAbsoluteDelayImpairment(t *testing.T) {
	m := DefaultEModel()
	// X = log2(Ta/100); Idd = 25((1+X^6)^(1/6) - 3(1+(X/3)^6)^(1/6) + 2).
	for _, c := range []struct {
		ta   float64
		want string
	}{{50, "0.000"}, {100, "0.000"}, {200, "3.044"}, {400, "24.070"}} {
		if got := fmt.Sprintf("%.3f", m.absoluteDelayImpairment(c.ta)); got != c.want {
			t.Errorf("Idd(%v ms) = %s, want %s", c.ta, got, c.want)
		}
	}
}

func TestMOSFromRFollowsAnnexB(t *testing.T) {
	tests := []struct {
		r    float64
		want string
	}{
		{-5, "1.000"},
		{0, "1.000"},
		{3, "1.000"}, // the polynomial dips to 0.989 here; held at 1
		{50, "2.575"},
		{80, "4.024"},
		{93.2, "4.409"},
		{100, "4.500"},
		{120, "4.500"},
		{math.NaN(), "1.000"},
	}
	for _, tt := range tests {
		if got := fmt.Sprintf("%.3f", MOSFromR(tt.r)); got != tt.want {
			t.Errorf("MOSFromR(%v) = %s, want %s", tt.r, got, tt.want)
		}
	}
}

func TestMOSNeverRisesWithMoreLossDelayOrBurstiness(t *testing.T) {
	codecs := []string{"g711A", "g711-noplc", "g729", "g723", "GSM", "iLBC", "g722"}
	delays := []float64{0, 20, 80, 150, 250, 400, 800}
	bursts := []float64{1, 1.5, 3, 8}
	for _, codec := range codecs {
		for _, delay := range delays {
			for _, burst := range bursts {
				prev := math.Inf(1)
				for loss := 0.0; loss <= 100; loss += 0.25 {
					mos := MOS(Params{Codec: codec, LossPct: loss, BurstR: burst, OneWayDelayMs: delay})
					if mos < 1 || mos > 4.5 {
						t.Fatalf("%s delay %v burst %v loss %v: MOS %v outside [1, 4.5]", codec, delay, burst, loss, mos)
					}
					if mos > prev {
						t.Fatalf("%s delay %v burst %v: MOS rises from %v to %v at %v %% loss", codec, delay, burst, prev, mos, loss)
					}
					prev = mos
				}
			}
		}
		for _, loss := range []float64{0, 1, 5, 20} {
			prev := math.Inf(1)
			for delay := 0.0; delay <= 1500; delay += 0.5 {
				r := RFactor(Params{Codec: codec, LossPct: loss, OneWayDelayMs: delay})
				if r > prev {
					t.Fatalf("%s loss %v: R rises from %v to %v at %v ms", codec, loss, prev, r, delay)
				}
				prev = r
			}
			prev = math.Inf(1)
			for burst := 1.0; burst <= 20; burst += 0.25 {
				r := RFactor(Params{Codec: codec, LossPct: loss, BurstR: burst})
				if r > prev {
					t.Fatalf("%s loss %v: R rises from %v to %v at BurstR %v", codec, loss, prev, r, burst)
				}
				prev = r
			}
		}
	}
}

func TestEModelParamsOutOfRangeAreClamped(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		same Params
	}{
		{"negative loss counts as none", Params{LossPct: -3}, Params{}},
		{"loss above 100 % counts as 100 %", Params{LossPct: 250}, Params{LossPct: 100}},
		{"NaN loss counts as none", Params{LossPct: math.NaN()}, Params{}},
		{"BurstR 0 means random", Params{LossPct: 3, BurstR: 0}, Params{LossPct: 3, BurstR: 1}},
		{"BurstR below 1 is treated as random", Params{LossPct: 3, BurstR: 0.4}, Params{LossPct: 3, BurstR: 1}},
		{"negative delay counts as none", Params{OneWayDelayMs: -50}, Params{}},
		{"jitter buffer adds to the delay", Params{OneWayDelayMs: 150, JitterBufferMs: 60}, Params{OneWayDelayMs: 210}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := RFactor(tt.p), RFactor(tt.same); got != want {
				t.Errorf("R = %v, want %v", got, want)
			}
		})
	}
}

func TestLookupCodecAcceptsTsharkAndSDPNames(t *testing.T) {
	tests := []struct {
		name     string
		wantName string
		wantOK   bool
	}{
		{"g711U", "G.711", true},
		{"PCMA/8000", "G.711", true},
		{"g711A, CN", "G.711", true},
		{"CN, g729", "G.729A", true},
		{"G.729A", "G.729A", true},
		{"G.723.1", "G.723.1 6.3k", true},
		{"g723.1-5.3", "G.723.1 5.3k", true},
		{"GSM", "GSM-FR", true},
		{"GSM-EFR", "GSM-EFR", true},
		{"g722", "G.722", true},
		{"iLBC", "iLBC", true},
		{"opus", "Opus", true},
		{"G711 no PLC", "G.711 without PLC", true},
		{"RTPType-96", "G.711", false},
		{"", "G.711", false},
		{"CN", "G.711", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := LookupCodec(tt.name)
			if c.Name != tt.wantName || ok != tt.wantOK {
				t.Errorf("LookupCodec(%q) = %q, %v; want %q, %v", tt.name, c.Name, ok, tt.wantName, tt.wantOK)
			}
		})
	}
}

func TestStreamMOS(t *testing.T) {
	tests := []struct {
		name   string
		st     *Stream
		codec  string
		burstR float64
		want   float64
	}{
		{"a nil stream has no MOS", nil, "g711A", 1, 0},
		{"a stream with nothing expected has no MOS", &Stream{}, "g711A", 1, 0},
		{"loss is Lost over Expected", &Stream{Packets: 95, Expected: 100, Lost: 5}, "g711A", 1, MOS(Params{Codec: "g711A", LossPct: 5})},
		{"duplicates (negative loss) count as no loss", &Stream{Packets: 12, Expected: 10, Lost: -2}, "g711A", 1, MOS(Params{Codec: "g711A"})},
		{"the stream's payload names the codec when none is given", &Stream{Packets: 98, Expected: 100, Lost: 2, Payload: "g729"}, "", 1, MOS(Params{Codec: "g729", LossPct: 2})},
		{"burstiness lowers the MOS", &Stream{Packets: 95, Expected: 100, Lost: 5}, "g711A", 3, MOS(Params{Codec: "g711A", LossPct: 5, BurstR: 3})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StreamMOS(tt.st, tt.codec, tt.burstR); got != tt.want {
				t.Errorf("StreamMOS = %v, want %v", got, tt.want)
			}
		})
	}
	clean := StreamMOS(&Stream{Packets: 100, Expected: 100}, "g711A", 1)
	lossy := StreamMOS(&Stream{Packets: 95, Expected: 100, Lost: 5}, "g711A", 1)
	bursty := StreamMOS(&Stream{Packets: 95, Expected: 100, Lost: 5}, "g711A", 3)
	if !(clean > lossy && lossy > bursty) {
		t.Errorf("MOS clean %v, lossy %v, bursty %v: not strictly decreasing", clean, lossy, bursty)
	}
}

func BenchmarkMOS(b *testing.B) {
	b.ReportAllocs()
	p := Params{Codec: "g711A, CN", LossPct: 1.5, BurstR: 1.3, OneWayDelayMs: 120}
	for b.Loop() {
		_ = MOS(p)
	}
}
