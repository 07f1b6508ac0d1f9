package hepjson

import "testing"

// FuzzRTPStats: any payload is read or refused with a sentinel, without
// panicking; what is read has its required fields.
func FuzzRTPStats(f *testing.F) {
	f.Add([]byte(statsReport))
	f.Add([]byte(`{"SSRC":7,"SRC_IP":"10.0.0.1","SRC_PORT":1,"DST_IP":"10.0.0.2","DST_PORT":2,"TOTAL_PK":1}`))
	f.Add([]byte(`{"CORRELATION_ID":"\ud83d\ude00\ud800x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r RTPStats
		if err := r.Unmarshal(b); err == nil && (!r.Src.IsValid() || !r.Dst.IsValid()) {
			t.Fatalf("read a report without addresses: %+v", r)
		}
	})
}

// FuzzRTCP: any payload is read or refused; what is read rebuilds to
// RTCP whose length fields tile the bytes exactly.
func FuzzRTCP(f *testing.F) {
	f.Add([]byte(rtcpReport))
	f.Add([]byte(fortyBlocks()))
	f.Add([]byte(`{"ssrc":3,"type":201,"report_blocks":null,"report_blocks_xr":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r RTCP
		if r.Unmarshal(b) != nil {
			return
		}
		raw := r.AppendBinary(nil)
		for len(raw) > 0 {
			if len(raw) < 4 || raw[0]>>6 != 2 {
				t.Fatalf("rebuilt a bad header: %x", raw)
			}
			n := (int(raw[2])<<8 | int(raw[3]) + 1) * 4
			if n > len(raw) {
				t.Fatalf("rebuilt packet says %d bytes, %d left", n, len(raw))
			}
			raw = raw[n:]
		}
	})
}
