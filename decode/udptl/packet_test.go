package udptl

import (
	"bytes"
	"testing"
)

func TestUnmarshal(t *testing.T) {
	long := bytes.Repeat([]byte{0xd0}, 200)
	for _, tc := range []struct {
		name     string
		b        []byte
		err      error
		seq      uint16
		ifp, rec []byte
	}{
		{name: "a T.30 indicator with redundancy decodes", b: []byte{0x12, 0x34, 0x01, 0x02, 0x00, 0x01, 0x01, 0x00},
			seq: 0x1234, ifp: []byte{0x02}, rec: []byte{0x00, 0x01, 0x01, 0x00}},
		{name: "a sequence number that looks like RTP version 2 decodes", b: []byte{0x80, 0x08, 0x02, 0xc0, 0x01},
			seq: 0x8008, ifp: []byte{0xc0, 0x01}, rec: []byte{}},
		{name: "a two-byte length decodes", b: append([]byte{0, 7, 0x80, 200}, long...), seq: 7, ifp: long, rec: []byte{}},
		{name: "two bytes are too short", b: []byte{0, 1}, err: ErrTooShort},
		{name: "a two-byte length cut off is too short", b: []byte{0, 1, 0x81}, err: ErrTooShort},
		{name: "a fragmented length is refused", b: []byte{0, 1, 0xc1, 0}, err: ErrFragmented},
		{name: "an IFP past the end is refused", b: []byte{0, 1, 5, 1, 2}, err: ErrIFPOverflow},
		{name: "an empty IFP is refused", b: []byte{0, 1, 0, 0}, err: ErrEmptyIFP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Packet
			err := p.Unmarshal(tc.b)
			if err != tc.err {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if p.Seq != tc.seq || !bytes.Equal(p.IFP, tc.ifp) || !bytes.Equal(p.Recovery, tc.rec) {
				t.Fatalf("got seq %#x IFP %x recovery %x", p.Seq, p.IFP, p.Recovery)
			}
			out, err := p.Marshal()
			if err != nil || !bytes.Equal(out, tc.b) {
				t.Fatalf("round trip %x (%v), want %x", out, err, tc.b)
			}
		})
	}
}

func TestUnmarshalDoesNotAllocate(t *testing.T) {
	b := []byte{0x12, 0x34, 0x01, 0x02, 0x00}
	var p Packet
	if n := testing.AllocsPerRun(100, func() { _ = p.Unmarshal(b) }); n != 0 {
		t.Errorf("Unmarshal allocates %.1f times", n)
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte{0x12, 0x34, 0x01, 0x02, 0x00, 0x01, 0x01, 0x00})
	f.Add([]byte{0x80, 0x08, 0x02, 0xc0, 0x01})
	f.Add(append([]byte{0, 7, 0x80, 130}, bytes.Repeat([]byte{1}, 130)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		err := p.Unmarshal(b)
		switch err {
		case nil:
		case ErrTooShort, ErrFragmented, ErrIFPOverflow, ErrEmptyIFP:
			return
		default:
			t.Fatalf("unknown error %v", err)
		}
		if len(p.IFP) == 0 || len(p.IFP)+len(p.Recovery) >= len(b) {
			t.Fatalf("IFP %d + recovery %d bytes of %d", len(p.IFP), len(p.Recovery), len(b))
		}
		out, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		var q Packet
		if err := q.Unmarshal(out); err != nil || q.Seq != p.Seq || !bytes.Equal(q.IFP, p.IFP) || !bytes.Equal(q.Recovery, p.Recovery) {
			t.Fatalf("re-decoding %x: %v", out, err)
		}
	})
}
