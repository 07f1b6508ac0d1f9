package stream

import (
	"encoding/binary"
	"testing"
)

// hepPacket is a HEPv3 header with a length field and filler chunks: the
// reassembler frames by the length only.
func hepPacket(fill byte, n int) string {
	b := []byte("HEP3")
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	for len(b) < n {
		b = append(b, fill)
	}
	return string(b)
}

func TestHEPOverTCPIsFramedByItsLength(t *testing.T) {
	a, b, c := hepPacket('a', 40), hepPacket('b', 300), hepPacket('c', 6)
	stream := a + b + c
	tests := []struct {
		name  string
		segs  []seg
		want  []string
		stats func(Stats) bool
	}{
		{"three packets in one segment", whole(false, stream, len(stream)), []string{a, b, c}, nil},
		{"packets cut across segments, one byte at a time at the start", at(false, stream, 1, 2, 3, 5, 41, 100, 339, 341), []string{a, b, c}, nil},
		{"reordered segments after the SYN wait for the gap", append([]seg{{flags: flagSYN}}, order(at(false, stream, 20, 200), 1, 0, 2)...), []string{a, b, c}, nil},
		{"a stream that loses the framing is given up", whole(false, a+"XXXX"+b, 1000), []string{a},
			func(s Stats) bool { return s.FramingErrors == 1 && s.NotSIPConns == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cv := newConv(stream, "")
			if tt.stats != nil {
				cv = newConv(a+"XXXX"+b, "")
			}
			g := run(Config{}, cv.packets(tt.segs...))
			if len(g.msgs) != len(tt.want) {
				t.Fatalf("got %d packets, want %d", len(g.msgs), len(tt.want))
			}
			for i := range tt.want {
				if g.msgs[i] != tt.want[i] {
					t.Errorf("packet %d: %q, want %q", i, g.msgs[i], tt.want[i])
				}
			}
			if g.stats.HEPConns != 1 || g.stats.HEPPackets != uint64(len(tt.want)) || g.stats.HeldBytes != 0 {
				t.Errorf("stats %+v", g.stats)
			}
			if tt.stats != nil && !tt.stats(g.stats) {
				t.Errorf("stats %+v", g.stats)
			}
		})
	}
}
