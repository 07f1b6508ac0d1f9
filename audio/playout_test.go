package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"
)

// base is an arbitrary capture time, on a sample boundary.
var base = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC).UnixNano()

const spp = 160 // samples per 20 ms G.711 packet

// pkt is a 20 ms µ-law packet whose 160 samples all carry code.
func pkt(seq uint16, ts uint32, capMs float64, pt uint8, code byte) Packet {
	return Packet{TS: base + int64(capMs*1e6), Seq: seq, Timestamp: ts, PayloadType: pt,
		Payload: bytes.Repeat([]byte{code}, spp)}
}

// run is n packets in order from seq0/ts0, one every 20 ms, packet k
// carrying code k+1 (0x01, 0x02, ...: loud µ-law levels, never zero).
func run(seq0 uint16, ts0 uint32, n int) []Packet {
	out := make([]Packet, n)
	for k := range n {
		out[k] = pkt(seq0+uint16(k), ts0+uint32(k*spp), float64(20*k), 0, byte(k+1))
	}
	return out
}

// without returns ps without the packets at the given indexes.
func without(ps []Packet, drop ...int) []Packet {
	var out []Packet
	for k, p := range ps {
		keep := true
		for _, d := range drop {
			keep = keep && d != k
		}
		if keep {
			out = append(out, p)
		}
	}
	return out
}

// samplesOf renders ch mono and returns its samples.
func samplesOf(t *testing.T, chans ...*Channel) ([]int16, *Render) {
	t.Helper()
	r, err := NewRender(DefaultMaxDuration, chans...)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := r.WriteTo(&buf)
	if err != nil || n != r.Size() || int64(buf.Len()) != r.Size() {
		t.Fatalf("wrote %d bytes (buffer %d), Size %d: %v", n, buf.Len(), r.Size(), err)
	}
	out := make([]int16, (buf.Len()-wavHeaderLen)/2)
	if err := binary.Read(bytes.NewReader(buf.Bytes()[wavHeaderLen:]), binary.LittleEndian, out); err != nil {
		t.Fatal(err)
	}
	return out, r
}

// checkBlocks compares samples with 20 ms blocks, each all the µ-law level
// of its code, or all zero for code 0.
func checkBlocks(t *testing.T, got []int16, blocks []byte) {
	t.Helper()
	if len(got) != len(blocks)*spp {
		t.Fatalf("%d samples (%.1f blocks), want %d blocks", len(got), float64(len(got))/spp, len(blocks))
	}
	for b, code := range blocks {
		want := int16(0)
		if code != 0 {
			want = ULaw(code)
		}
		for i := b * spp; i < (b+1)*spp; i++ {
			if got[i] != want {
				t.Fatalf("block %d sample %d: %d, want %d (code 0x%02X)", b, i-b*spp, got[i], want, code)
			}
		}
	}
}

func TestPlayoutPlacesPacketsByTheirTimestamps(t *testing.T) {
	jittered := run(100, 5000, 5)
	for k := 1; k < len(jittered); k++ {
		jittered[k].TS += int64(k%3) * int64(7*time.Millisecond) // up to 14 ms late
	}
	reordered := run(100, 5000, 4)
	reordered[1], reordered[2] = reordered[2], reordered[1]
	reordered[1].TS, reordered[2].TS = reordered[2].TS, reordered[1].TS
	dtx := run(100, 5000, 3)
	dtx[2].Timestamp += 4 * spp // 80 ms of silence suppressed
	dtx[2].TS += int64(80 * time.Millisecond)
	jump := run(100, 5000, 4)
	jump[2].Timestamp += 1 << 30 // the sender's clock restarted
	jump[3].Timestamp += 1 << 30
	dup := run(100, 5000, 3)
	dup = append(dup[:2], dup[1:]...)
	dup[2].TS += int64(time.Millisecond)
	lateDup := append(run(100, 5000, 4), run(100, 5000, 2)[1])
	lateDup[4].TS = lateDup[3].TS + int64(time.Millisecond)
	cn := run(100, 5000, 3)
	cn[1].PayloadType, cn[1].Payload = 13, []byte{40}
	second := run(7000, 123456789, 2)
	for k := range second {
		second[k].TS += int64(100 * time.Millisecond)
		second[k].Payload = bytes.Repeat([]byte{byte(0x20 + k)}, spp)
	}

	cases := []struct {
		name    string
		streams [][]Packet
		blocks  []byte
		want    Stats
	}{
		{"a stream without loss plays back to back whatever its jitter", [][]Packet{jittered},
			[]byte{1, 2, 3, 4, 5}, Stats{Packets: 5, Played: 5}},
		{"a lost packet leaves silence of its length", [][]Packet{without(run(100, 5000, 5), 2)},
			[]byte{1, 2, 0, 4, 5}, Stats{Packets: 4, Played: 4, Lost: 1}},
		{"a burst of lost packets leaves silence of its length", [][]Packet{without(run(100, 5000, 6), 1, 2, 3)},
			[]byte{1, 0, 0, 0, 5, 6}, Stats{Packets: 3, Played: 3, Lost: 3}},
		{"sequence numbers and timestamps wrap without a gap", [][]Packet{without(run(65533, 1<<32-2*spp, 6), 3)},
			[]byte{1, 2, 3, 0, 5, 6}, Stats{Packets: 5, Played: 5, Lost: 1}},
		{"a timestamp jump the capture clock confirms is suppressed silence", [][]Packet{dtx},
			[]byte{1, 2, 0, 0, 0, 0, 3}, Stats{Packets: 3, Played: 3}},
		{"a timestamp jump the capture clock contradicts is placed by capture time", [][]Packet{jump},
			[]byte{1, 2, 3, 4}, Stats{Packets: 4, Played: 4, Discontinuities: 1}},
		{"a duplicate packet plays once", [][]Packet{dup},
			[]byte{1, 2, 3}, Stats{Packets: 4, Played: 3, Duplicates: 1}},
		{"a duplicate long after the original plays once", [][]Packet{lateDup},
			[]byte{1, 2, 3, 4}, Stats{Packets: 5, Played: 4, Overlapping: 1}},
		{"a reordered packet plays in its place", [][]Packet{reordered},
			[]byte{1, 2, 3, 4}, Stats{Packets: 4, Played: 4}},
		{"comfort noise plays as silence of its packet's span", [][]Packet{cn},
			[]byte{1, 0, 3}, Stats{Packets: 3, Played: 2, Silent: 1}},
		{"a second stream starts at its first packet's capture time", [][]Packet{run(100, 5000, 3), second},
			[]byte{1, 2, 3, 0, 0, 0x20, 0x21}, Stats{Packets: 5, Played: 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var streams []Stream
			for _, ps := range tc.streams {
				streams = append(streams, Stream{Codec: PCMU, PayloadType: 0, Packets: ps})
			}
			ch := NewChannel(streams...)
			got, r := samplesOf(t, ch)
			checkBlocks(t, got, tc.blocks)
			if ch.Stats != tc.want {
				t.Errorf("stats %+v, want %+v", ch.Stats, tc.want)
			}
			if r.Start() != tc.streams[0][0].TS {
				t.Errorf("starts at %d, want the first packet's capture time %d", r.Start(), tc.streams[0][0].TS)
			}
		})
	}
}

func TestPlayoutOfPacketsLongerThanARead(t *testing.T) {
	// One 1 s packet and one after it: pieces cut across reads still
	// play whole.
	ps := []Packet{
		{TS: base, Seq: 1, Timestamp: 0, Payload: bytes.Repeat([]byte{1}, 8000)},
		{TS: base + int64(time.Second), Seq: 2, Timestamp: 8000, Payload: bytes.Repeat([]byte{2}, 8000)},
	}
	got, _ := samplesOf(t, NewChannel(Stream{Codec: PCMU, Packets: ps}))
	if len(got) != 16000 {
		t.Fatalf("%d samples", len(got))
	}
	for i, s := range got {
		want := ULaw(1)
		if i >= 8000 {
			want = ULaw(2)
		}
		if s != want {
			t.Fatalf("sample %d: %d, want %d", i, s, want)
		}
	}
}

func TestStereoChannelsAlignOnCaptureTime(t *testing.T) {
	left := run(100, 5000, 3)
	right := run(900, 77777, 3)
	for k := range right {
		right[k].TS += int64(40 * time.Millisecond) // answers two packets later
		right[k].Payload = bytes.Repeat([]byte{byte(0x30 + k)}, spp)
	}
	got, r := samplesOf(t, NewChannel(Stream{Codec: PCMU, Packets: left}), NewChannel(Stream{Codec: PCMU, Packets: right}))
	if r.Channels() != 2 || r.Samples() != 5*spp || r.Duration() != 100*time.Millisecond {
		t.Fatalf("%d channels, %d samples, %v", r.Channels(), r.Samples(), r.Duration())
	}
	var l, rr []int16
	for i := 0; i < len(got); i += 2 {
		l, rr = append(l, got[i]), append(rr, got[i+1])
	}
	checkBlocks(t, l, []byte{1, 2, 3, 0, 0})
	checkBlocks(t, rr, []byte{0, 0, 0x30, 0x31, 0x32})
}

func TestAStereoRenderWithOneSilentSideKeepsTwoChannels(t *testing.T) {
	alaw := run(1, 1, 2)
	for k := range alaw {
		alaw[k].PayloadType = 8
	}
	got, r := samplesOf(t, NewChannel(), NewChannel(Stream{Codec: PCMA, PayloadType: 8, Packets: alaw}))
	if r.Channels() != 2 || len(got) != 2*2*spp {
		t.Fatalf("%d channels, %d samples", r.Channels(), len(got))
	}
	for i := 0; i < len(got); i += 2 {
		if got[i] != 0 || got[i+1] != ALaw(byte(1+i/2/spp)) {
			t.Fatalf("frame %d: %d %d, want silence left and A-law right", i/2, got[i], got[i+1])
		}
	}
}

func TestRenderRefusals(t *testing.T) {
	long := []Packet{pkt(1, 0, 0, 0, 1), pkt(2, 3600*8000, 3600*1000, 0, 2)}
	for _, tc := range []struct {
		name  string
		max   time.Duration
		chans []*Channel
		want  error
	}{
		{"no channel is refused", time.Hour, nil, ErrChannels},
		{"three channels are refused", time.Hour, []*Channel{NewChannel(), NewChannel(), NewChannel()}, ErrChannels},
		{"channels without audio are refused", time.Hour, []*Channel{NewChannel(), NewChannel()}, ErrNoAudio},
		{"audio longer than the limit is refused", 30 * time.Minute, []*Channel{NewChannel(Stream{Codec: PCMU, Packets: long})}, ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewRender(tc.max, tc.chans...); !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
		})
	}
	r, err := NewRender(2*time.Hour, NewChannel(Stream{Codec: PCMU, Packets: long}))
	if err != nil || r.Duration() != time.Hour+20*time.Millisecond {
		t.Fatalf("within the limit: %v, %v", r, err)
	}
}

func TestWAVHeaderDescribes16BitPCMAt8kHz(t *testing.T) {
	for _, nch := range []int{1, 2} {
		chans := []*Channel{NewChannel(Stream{Codec: PCMU, Packets: run(1, 1, 2)})}
		if nch == 2 {
			chans = append(chans, NewChannel())
		}
		r, err := NewRender(time.Minute, chans...)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := r.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		h := buf.Bytes()
		le := binary.LittleEndian
		data := uint32(2 * spp * nch * 2)
		checks := []struct {
			name      string
			got, want any
		}{
			{"RIFF", string(h[0:4]), "RIFF"},
			{"RIFF size", le.Uint32(h[4:]), 36 + data},
			{"WAVE", string(h[8:12]), "WAVE"},
			{"fmt", string(h[12:16]), "fmt "},
			{"format PCM", le.Uint16(h[20:]), uint16(1)},
			{"channels", le.Uint16(h[22:]), uint16(nch)},
			{"rate", le.Uint32(h[24:]), uint32(8000)},
			{"byte rate", le.Uint32(h[28:]), uint32(8000 * 2 * nch)},
			{"block align", le.Uint16(h[32:]), uint16(2 * nch)},
			{"bits", le.Uint16(h[34:]), uint16(16)},
			{"data", string(h[36:40]), "data"},
			{"data size", le.Uint32(h[40:]), data},
			{"file length", uint32(len(h)), 44 + data},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%d channels: %s is %v, want %v", nch, c.name, c.got, c.want)
			}
		}
	}
}

// BenchmarkRenderAnHourOfStereo lays out and writes an hour of 20 ms
// packets each way (180,000 packets, 1 % lost) as a stereo WAV.
func BenchmarkRenderAnHourOfStereo(b *testing.B) {
	mk := func(seq0 uint16, ts0 uint32) []Packet {
		ps := make([]Packet, 0, 180000)
		payload := bytes.Repeat([]byte{0x15}, spp)
		for k := range 180000 {
			if k%100 == 50 {
				continue
			}
			ps = append(ps, Packet{TS: base + int64(k)*int64(20*time.Millisecond), Seq: seq0 + uint16(k),
				Timestamp: ts0 + uint32(k*spp), Payload: payload})
		}
		return ps
	}
	left, right := mk(1, 1000), mk(40000, 99999)
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewRender(DefaultMaxDuration, NewChannel(Stream{Codec: PCMU, Packets: left}), NewChannel(Stream{Codec: PCMU, Packets: right}))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
