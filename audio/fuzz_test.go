package audio

import (
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"
)

// countWriter counts what is written.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// FuzzPlayout lays out arbitrary packet sequences (sequence numbers,
// timestamps, capture steps, payload types and sizes from the input) on
// one channel and renders them with a one-minute limit. The invariants:
// no panic, a render is refused or written to exactly its Size, and the
// work stays bounded by the limit.
func FuzzPlayout(f *testing.F) {
	seed := make([]byte, 0, 80)
	for k := range 8 {
		seed = binary.BigEndian.AppendUint16(seed, uint16(100+k))
		seed = binary.BigEndian.AppendUint32(seed, uint32(5000+160*k))
		seed = append(seed, 20, 0, 160)
	}
	f.Add(seed)
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0, 20, 0, 160, 0, 0, 0, 0, 0, 0, 0, 13, 1})
	f.Add([]byte{0, 1, 0x80, 0, 0, 0, 255, 0, 255, 0, 2, 0, 0, 0, 0, 0, 0, 10})
	f.Fuzz(func(t *testing.T, in []byte) {
		const rec = 9
		var ps []Packet
		capNs := base
		for len(in) >= rec && len(ps) < 2000 {
			capNs += int64(in[6]) * int64(time.Millisecond)
			ps = append(ps, Packet{
				TS:          capNs,
				Seq:         binary.BigEndian.Uint16(in),
				Timestamp:   binary.BigEndian.Uint32(in[2:]),
				PayloadType: in[7] & 0x7F,
				Payload:     make([]byte, int(in[8])),
			})
			in = in[rec:]
		}
		ch := NewChannel(Stream{Codec: PCMU, PayloadType: 0, Packets: ps})
		r, err := NewRender(time.Minute, ch)
		if err != nil {
			if !errors.Is(err, ErrNoAudio) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if r.Samples() < 0 || r.Samples() > 60*SampleRate {
			t.Fatalf("%d samples passed the limit", r.Samples())
		}
		var w countWriter
		n, err := r.WriteTo(io.MultiWriter(&w))
		if err != nil || n != r.Size() || w.n != r.Size() {
			t.Fatalf("wrote %d (%d), Size %d: %v", n, w.n, r.Size(), err)
		}
	})
}
