package sip

import "testing"

func benchmarkUnmarshal(b *testing.B, in []byte) {
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := m.Unmarshal(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkUnmarshalInvite(b *testing.B) { benchmarkUnmarshal(b, typicalInvite()) }

func BenchmarkUnmarshal200OK(b *testing.B) { benchmarkUnmarshal(b, typicalOK()) }

func BenchmarkFrameLength(b *testing.B) {
	in := typicalInvite()
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := FrameLength(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLooksLikeSIP(b *testing.B) {
	in := typicalInvite()
	for b.Loop() {
		if !LooksLikeSIP(in) {
			b.Fatal("not SIP")
		}
	}
}
