package quality

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// capturesDir holds the third-party captures and their tshark 4.0.17 oracle
// output (see its MANIFEST.tsv).
const capturesDir = "../testdata/captures"

// statsFor runs every packet of key through a fresh RTPStats, in capture
// order, with the clock tshark would use without SDP.
func statsFor(base int64, packets []rtpPacket, key streamKey) *RTPStats {
	var s RTPStats
	for _, p := range packets {
		if p.key() != key {
			continue
		}
		s.Update(RelMs(p.TSNs, base), p.Seq, p.TS, p.PT, p.Marker, ClockRate(p.PT), p.PayloadLen)
	}
	return &s
}

// diffAgainstOracle lists every column where s disagrees with tshark's row,
// comparing numbers formatted as tshark prints them.
func diffAgainstOracle(s *RTPStats, row oracleStream) []string {
	var st Stream
	s.Fill(&st)
	var diffs []string
	check := func(col, got, want string) {
		if got != want {
			diffs = append(diffs, fmt.Sprintf("%s: got %s, tshark %s", col, got, want))
		}
	}
	check("start", fmt.Sprintf("%.6f", s.StartMs()/1000), row.Start)
	check("end", fmt.Sprintf("%.6f", s.EndMs()/1000), row.End)
	check("payload", s.PayloadNames(), row.Payload)
	check("packets", fmt.Sprint(st.Packets), fmt.Sprint(row.Packets))
	check("lost", fmt.Sprint(st.Lost), fmt.Sprint(row.Lost))
	check("lost%", fmt.Sprintf("%.1f", s.LostPercent()), row.LostPct)
	check("min delta", fmt.Sprintf("%.3f", st.MinDeltaMs), row.MinDelta)
	check("mean delta", fmt.Sprintf("%.3f", st.MeanDeltaMs), row.MeanDelta)
	check("max delta", fmt.Sprintf("%.3f", st.MaxDeltaMs), row.MaxDelta)
	check("min jitter", fmt.Sprintf("%.3f", st.MinJitterMs), row.MinJitter)
	check("mean jitter", fmt.Sprintf("%.3f", st.MeanJitterMs), row.MeanJitter)
	check("max jitter", fmt.Sprintf("%.3f", st.MaxJitterMs), row.MaxJitter)
	check("problem", fmt.Sprint(s.Problem()), fmt.Sprint(row.Problem))
	return diffs
}

func TestRTPStatsMatchTsharkOnRealCaptures(t *testing.T) {
	oracles, err := filepath.Glob(filepath.Join(capturesDir, "*.tshark.txt"))
	if err != nil || len(oracles) == 0 {
		t.Fatalf("no tshark oracle files in %s (err %v)", capturesDir, err)
	}
	// Rows each named capture must contribute, so that a parser that finds
	// nothing cannot pass.
	wantRows := map[string]int{
		"heplify__rtp_rtcp_sip_ipv4_udp.pcap": 3 + 5,
		"heplify__sip_ipv4_tcp.pcap":          2 + 2,
		"sipp__g711a.pcap":                    1,
		"sipp__dtmf_2833_1.pcap":              1,
		"sngrep__aaa.pcap":                    1 + 1,
	}
	compared := 0
	for _, oracle := range oracles {
		text, err := os.ReadFile(oracle)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := parseRTPStreams(string(text))
		if err != nil {
			t.Fatalf("%s: %v", oracle, err)
		}
		capture := strings.TrimSuffix(filepath.Base(oracle), ".tshark.txt")
		if want, ok := wantRows[capture]; ok && len(rows) != want {
			t.Errorf("%s: oracle has %d rtp,streams rows, expected %d", capture, len(rows), want)
		}
		if len(rows) == 0 {
			continue
		}
		base, packets, err := readRTPCandidates(filepath.Join(capturesDir, capture))
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			name := fmt.Sprintf("%s/%s/%s->%s/%08X", capture, row.Table, row.Src, row.Dst, row.SSRC)
			t.Run(name, func(t *testing.T) {
				s := statsFor(base, packets, oracleKey(row))
				for _, d := range diffAgainstOracle(s, row) {
					t.Error(d)
				}
			})
			compared++
		}
	}
	minimum := 0
	for _, n := range wantRows {
		minimum += n
	}
	if compared < minimum {
		t.Errorf("compared %d rows with tshark, expected at least %d", compared, minimum)
	}
}

func TestRelMsSplitsSecondsLikeTshark(t *testing.T) {
	tests := []struct {
		name     string
		ts, base int64
		want     float64
	}{
		// 24 s and 615848000 ns: 24000 + 615.848 rounds differently from
		// 24615848000/1e6 = 24615.848, and tshark computes the former.
		{"seconds and nanoseconds are added after conversion", 24_615_848_000 + 9, 9, 24615.847999999998},
		{"a time after the base with odd nanoseconds", 1_700_000_000_123_456_789, 1_700_000_000_000_000_000, 123.456789},
		{"the base itself is zero", 5, 5, 0},
		{"a time before the base gives two negative parts", 1_000_000_000, 2_500_000_000, -1500},
		{"less than a second before the base has zero seconds", 2_100_000_000, 2_500_000_000, -400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RelMs(tt.ts, tt.base); got != tt.want {
				t.Errorf("RelMs = %.17g, want %.17g", got, tt.want)
			}
		})
	}
}

func TestRTPStatsBeforeAnyPacketFillsZeros(t *testing.T) {
	var s RTPStats
	st := Stream{Packets: 9, MinDeltaMs: 3}
	s.Fill(&st)
	if st.Packets != 0 || st.Expected != 0 || st.Lost != 0 || st.MinDeltaMs != 0 || st.MaxJitterMs != 0 {
		t.Errorf("empty stats filled %+v", st)
	}
	if s.LostPercent() != 0 || s.Problem() || s.PayloadNames() != "" {
		t.Error("empty stats report something")
	}
}

func TestRTPStatsFirstPacketOnlyInitialises(t *testing.T) {
	var s RTPStats
	s.Update(100, 500, 8000, 8, true, 8000, 160)
	var st Stream
	s.Fill(&st)
	want := Stream{Packets: 1, Expected: 1, MinDeltaMs: -1, MinJitterMs: -1}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("after one packet got %+v, want %+v", st, want)
	}
}

func TestRTPStatsDoesNotAllocatePerPacket(t *testing.T) {
	var s RTPStats
	seq, ts, now := uint16(0), uint32(0), 0.0
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		ts += 160
		now += 20
		s.Update(now, seq, ts, 8, false, 8000, 160)
	})
	if allocs != 0 {
		t.Errorf("Update allocates %v times per packet", allocs)
	}
}

func BenchmarkRTPStatsUpdate(b *testing.B) {
	var s RTPStats
	seq, ts, now := uint16(0), uint32(0), 0.0
	b.ReportAllocs()
	for b.Loop() {
		seq++
		ts += 160
		now += 20.001
		s.Update(now, seq, ts, 8, false, 8000, 160)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mupdates/s")
}

// FuzzRTPStatsUpdate feeds arbitrary packet sequences (12 bytes each) and
// checks that nothing panics and the counters stay consistent.
func FuzzRTPStatsUpdate(f *testing.F) {
	f.Add([]byte("\x00\x14\x00\x01\x00\x00\x00\xa0\x08\x00\x00\x00\x00\x14\x00\x02\x00\x00\x01\x40\x08\x00\x00\x00"))
	f.Add([]byte("\xff\xff\xff\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x8d\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s RTPStats
		now := 0.0
		n := 0
		for ; len(data) >= 12; data = data[12:] {
			now += float64(int16(uint16(data[0])<<8|uint16(data[1]))) / 7
			seq := uint16(data[2])<<8 | uint16(data[3])
			ts := uint32(data[4])<<24 | uint32(data[5])<<16 | uint32(data[6])<<8 | uint32(data[7])
			pt := data[8]
			clock := [...]uint32{0, 8000, 16000, 44100, 90000, 1, 999, 1000}[data[9]&7]
			s.Update(now, seq, ts, pt, data[10]&1 != 0, clock, int(int8(data[11])))
			n++
		}
		var st Stream
		s.Fill(&st)
		if st.Packets != n || s.Packets() != n {
			t.Fatalf("Packets = %d, fed %d", st.Packets, n)
		}
		if n == 0 {
			return
		}
		if st.SeqErrors < 0 || st.SeqErrors > n-1 {
			t.Fatalf("SeqErrors = %d with %d packets", st.SeqErrors, n)
		}
		if st.Lost != int(int32(uint32(st.Expected)-uint32(st.Packets))) {
			t.Fatalf("Lost %d inconsistent with Expected %d and Packets %d", st.Lost, st.Expected, st.Packets)
		}
		if st.MinJitterMs != -1 && st.MinJitterMs < 0 {
			t.Fatalf("MinJitter = %v", st.MinJitterMs)
		}
		if st.MinDeltaMs != -1 && st.MinDeltaMs > st.MaxDeltaMs {
			t.Fatalf("MinDelta %v > MaxDelta %v", st.MinDeltaMs, st.MaxDeltaMs)
		}
		_ = s.PayloadNames()
		_ = s.LostPercent()
		_ = StreamMOS(&st, s.PayloadNames(), 1)
	})
}
