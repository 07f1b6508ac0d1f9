package hepjson

import "testing"

func BenchmarkRTPStats(b *testing.B) {
	in := []byte(statsReport)
	var r RTPStats
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := r.Unmarshal(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRTCPToBinary(b *testing.B) {
	in, buf := []byte(rtcpReport), make([]byte, 0, 512)
	var r RTCP
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := r.Unmarshal(in); err != nil {
			b.Fatal(err)
		}
		buf = r.AppendBinary(buf[:0])
	}
}
