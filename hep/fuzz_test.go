package hep

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// within reports whether s lies inside b (an empty s is always fine).
func within(s, b []byte) bool {
	if len(s) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= start && p+uintptr(len(s)) <= start+uintptr(len(b))
}

// FuzzUnmarshal checks that no input makes the decoder panic or point
// outside its input, that FrameLength agrees with Unmarshal about HEPv3
// framing, that whatever decodes re-encodes to the same fields, and that
// inflating a compressed payload respects its bound.
func FuzzUnmarshal(f *testing.F) {
	for _, tc := range roundTripCases() {
		b, err := tc.p.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	f.Add(hep2(2, 2, 17, 5060, 5060, v4, v4, 1700000000, 1, 7, sipOptions))
	f.Add(hep2(1, 10, 6, 5060, 5060, v6, v6, 0, 0, 0, sipOptions))
	f.Add(hep3(chunk(8, 15, []byte("vendor")), chunk(0, 12, u16(1)), chunk(0, 16, zlibbed(f, []byte(sipOptions)))))
	vectors, err := filepath.Glob(filepath.Join("testdata", "*.bin"))
	if err != nil || len(vectors) == 0 {
		f.Fatalf("no test vectors in testdata: %v", err)
	}
	for _, v := range vectors {
		b, err := os.ReadFile(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, in []byte) {
		var p Packet
		err := p.Unmarshal(in)

		n, ferr := FrameLength(in)
		if len(in) >= 4 && string(in[:4]) == "HEP3" {
			if ferr == nil && n <= len(in) && err == ErrTruncated {
				t.Fatalf("FrameLength says %d of %d bytes are there, Unmarshal says truncated", n, len(in))
			}
			if ferr != nil && err != ferr {
				t.Fatalf("FrameLength err %v, Unmarshal err %v", ferr, err)
			}
		}
		if err != nil {
			return
		}
		for name, s := range map[string][]byte{"Payload": p.Payload, "AuthKey": p.AuthKey,
			"NodeName": p.NodeName, "CorrelationID": p.CorrelationID} {
			if !within(s, in) {
				t.Fatalf("%s points outside the input", name)
			}
		}

		// decode(encode(decode(x))) == decode(x), for what fits HEPv3.
		if p.MarshalSize() <= 0xffff {
			b, err := p.Marshal()
			if err != nil {
				t.Fatalf("Marshal of a decoded packet: %v", err)
			}
			var again Packet
			if err := again.Unmarshal(b); err != nil {
				t.Fatalf("re-encoded packet does not decode: %v", err)
			}
			want := p
			want.Version = 3
			if p.IPFamily == 0 {
				want.IPFamily = again.IPFamily // derived from the addresses
			}
			samePacket(t, &again, &want)
		}

		if p.CompressedPayload {
			out, err := p.DecompressPayload(make([]byte, 0, 4096))
			if err == nil && cap(out) > 4096 {
				t.Fatalf("inflated payload grew to %d", cap(out))
			}
		} else if out, _ := p.DecompressPayload(nil); !bytes.Equal(out, p.Payload) {
			t.Fatal("an uncompressed payload changed")
		}
	})
}
