package stream

import "encoding/binary"

// Opcode is a WebSocket frame's opcode (RFC 6455 §5.2).
type Opcode uint8

// Opcodes that RFC 6455 defines; the others are reserved.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xa
)

// IsControl reports whether o is a control opcode (close, ping, pong).
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// MaxFramePayload bounds the payload length ParseFrame accepts: one frame
// never needs to carry more than the largest SIP message.
const MaxFramePayload = maxSIPMessage

// Frame is one parsed WebSocket frame header. Payload points into the
// buffer given to ParseFrame and is still masked when Masked is set; use
// AppendPayload to get the application bytes.
type Frame struct {
	Fin     bool
	RSV     uint8 // the three reserved bits, RSV1 as 0x4; non-zero means an extension (e.g. permessage-deflate)
	Opcode  Opcode
	Masked  bool
	MaskKey [4]byte
	Payload []byte
}

// ParseFrame parses the WebSocket frame at the start of b (RFC 6455 §5.2)
// and returns it with its total length (header plus payload). When b holds
// only part of the frame it returns ErrIncomplete with n the total length
// once known (0 while the header itself is cut). ErrBadFrame and
// ErrFrameTooLarge mean the stream cannot be framed further. It neither
// copies nor allocates.
func ParseFrame(b []byte) (f Frame, n int, err error) {
	f, hdr, length, err := parseFrameHeader(b)
	if err != nil {
		return Frame{}, 0, err
	}
	n = hdr + length
	if len(b) < n {
		return Frame{}, n, ErrIncomplete
	}
	f.Payload = b[hdr:n]
	return f, n, nil
}

// parseFrameHeader parses a frame header: its fields but the payload, its
// length and the payload's.
func parseFrameHeader(b []byte) (f Frame, hdr, length int, err error) {
	if len(b) < 2 {
		return Frame{}, 0, 0, ErrIncomplete
	}
	f.Fin = b[0]&0x80 != 0
	f.RSV = b[0] >> 4 & 0x7
	f.Opcode = Opcode(b[0] & 0x0f)
	switch f.Opcode {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		return Frame{}, 0, 0, ErrBadFrame
	}
	f.Masked = b[1]&0x80 != 0
	n := uint64(b[1] & 0x7f)
	hdr = 2
	switch n {
	case 126:
		if len(b) < 4 {
			return Frame{}, 0, 0, ErrIncomplete
		}
		n = uint64(binary.BigEndian.Uint16(b[2:]))
		hdr = 4
	case 127:
		if len(b) < 10 {
			return Frame{}, 0, 0, ErrIncomplete
		}
		n = binary.BigEndian.Uint64(b[2:])
		if n>>63 != 0 {
			return Frame{}, 0, 0, ErrBadFrame
		}
		hdr = 10
	}
	if f.Opcode.IsControl() && (!f.Fin || n > 125) {
		return Frame{}, 0, 0, ErrBadFrame
	}
	if n > MaxFramePayload {
		return Frame{}, 0, 0, ErrFrameTooLarge
	}
	if f.Masked {
		if len(b) < hdr+4 {
			return Frame{}, 0, 0, ErrIncomplete
		}
		f.MaskKey = [4]byte(b[hdr : hdr+4])
		hdr += 4
	}
	return f, hdr, int(n), nil
}

// AppendPayload appends the frame's unmasked payload to dst.
func (f *Frame) AppendPayload(dst []byte) []byte {
	if !f.Masked {
		return append(dst, f.Payload...)
	}
	start := len(dst)
	dst = append(dst, f.Payload...)
	unmask(dst[start:], f.MaskKey, 0)
	return dst
}

// unmask XORs b in place with key, starting at key position pos, eight
// bytes at a time where it can.
func unmask(b []byte, key [4]byte, pos int) {
	var k [8]byte
	for i := range k {
		k[i] = key[(pos+i)&3]
	}
	k8 := binary.LittleEndian.Uint64(k[:])
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k8)
	}
	for ; i < len(b); i++ {
		b[i] ^= k[i&7]
	}
}
