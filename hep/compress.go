package hep

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
)

// DecompressPayload returns p's payload in plain form. An uncompressed
// payload is returned as is (p.Payload itself, not a copy). A compressed one
// (zlib, as captagent sends it, or gzip) is inflated into dst[:0], growing
// it never beyond cap(dst): a payload that would inflate past that is
// refused with ErrPayloadTooLarge, so a small compressed packet cannot make
// the receiver allocate without bound. Inflating allocates the
// decompressor's state; this is the one path of the package that does.
func (p *Packet) DecompressPayload(dst []byte) ([]byte, error) {
	if !p.CompressedPayload {
		return p.Payload, nil
	}
	var (
		r   io.Reader
		err error
		src = bytes.NewReader(p.Payload)
	)
	switch b := p.Payload; {
	case len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		r, err = gzip.NewReader(src)
	case len(b) >= 2 && b[0]&0x0f == 8 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0:
		// RFC 1950 header: deflate method, and a check value that makes
		// the first two bytes a multiple of 31.
		r, err = zlib.NewReader(src)
	default:
		return nil, ErrBadCompression
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCompression, err)
	}
	out := dst[:0]
	for {
		if len(out) == cap(out) {
			// Full: the stream must end here, or it is too large.
			var probe [1]byte
			n, err := io.ReadFull(r, probe[:])
			if n > 0 {
				return nil, ErrPayloadTooLarge
			}
			if err == io.EOF {
				return out, nil
			}
			return nil, fmt.Errorf("%w: %w", ErrBadCompression, err)
		}
		n, err := r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadCompression, err)
		}
	}
}
