package sdp

import "testing"

func BenchmarkUnmarshal(b *testing.B) {
	in := crlf(offer)
	var s Session
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := s.Unmarshal(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sdps/s")
}

func BenchmarkUnmarshalEndpoints(b *testing.B) {
	in := crlf(offer)
	var s Session
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := s.UnmarshalEndpoints(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sdps/s")
}
