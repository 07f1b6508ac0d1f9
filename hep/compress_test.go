package hep

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"testing"
)

func zlibbed(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecompressPayloadInflatesWithinTheCallersBound(t *testing.T) {
	plain := []byte(sipOptions)
	huge := bytes.Repeat([]byte("A"), 1<<20) // a 1 MiB bomb compresses to about 1 KiB
	corrupt := zlibbed(t, plain)
	corrupt[len(corrupt)-1] ^= 0xff // breaks the Adler-32 checksum
	for _, tc := range []struct {
		name       string
		p          Packet
		bufCap     int
		want       []byte
		wantErr    error
		sameBuffer bool // the result must live in the caller's buffer
	}{
		{name: "a zlib payload (captagent) is inflated", p: Packet{Payload: zlibbed(t, plain), CompressedPayload: true},
			bufCap: 4096, want: plain, sameBuffer: true},
		{name: "a gzip payload is inflated", p: Packet{Payload: gzipped(t, plain), CompressedPayload: true},
			bufCap: 4096, want: plain, sameBuffer: true},
		{name: "a payload that exactly fills the buffer is accepted", p: Packet{Payload: zlibbed(t, plain), CompressedPayload: true},
			bufCap: len(plain), want: plain, sameBuffer: true},
		{name: "one byte more than the buffer holds is refused", p: Packet{Payload: zlibbed(t, plain), CompressedPayload: true},
			bufCap: len(plain) - 1, wantErr: ErrPayloadTooLarge},
		{name: "a decompression bomb is refused", p: Packet{Payload: zlibbed(t, huge), CompressedPayload: true},
			bufCap: 64 << 10, wantErr: ErrPayloadTooLarge},
		{name: "an empty compressed stream gives an empty payload", p: Packet{Payload: zlibbed(t, nil), CompressedPayload: true},
			bufCap: 0, want: []byte{}},
		{name: "bytes that are neither zlib nor gzip are refused", p: Packet{Payload: []byte("plain text"), CompressedPayload: true},
			bufCap: 4096, wantErr: ErrBadCompression},
		{name: "a stream with a bad checksum is refused", p: Packet{Payload: corrupt, CompressedPayload: true},
			bufCap: 4096, wantErr: ErrBadCompression},
		{name: "a cut-off stream is refused", p: Packet{Payload: gzipped(t, plain)[:20], CompressedPayload: true},
			bufCap: 4096, wantErr: ErrBadCompression},
		{name: "an uncompressed payload is returned as is", p: Packet{Payload: plain},
			bufCap: 0, want: plain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, 0, tc.bufCap)
			got, err := tc.p.DecompressPayload(buf)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if cap(got) > tc.bufCap && tc.p.CompressedPayload {
				t.Errorf("result grew to cap %d beyond the bound %d", cap(got), tc.bufCap)
			}
			if tc.sameBuffer && len(got) > 0 && &got[0] != &buf[:1][0] {
				t.Error("result does not use the caller's buffer")
			}
		})
	}
}

func TestACompressedPacketSurvivesTheWire(t *testing.T) {
	plain := []byte(sipOptions)
	p := roundTripCases()[0].p
	p.Payload, p.CompressedPayload = zlibbed(t, plain), true
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var got Packet
	if err := got.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	inflated, err := got.DecompressPayload(make([]byte, 0, 64<<10))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(inflated, plain) {
		t.Errorf("inflated %q, want %q", inflated, plain)
	}
}
