package rtp

import "encoding/binary"

// HeaderLen is the length of the fixed RTP header, without CSRCs or extension.
const HeaderLen = 12

// Header is a decoded RTP header. Payload points into the bytes given to
// Unmarshal and is valid only as long as they are.
type Header struct {
	Version          uint8
	Padding          bool
	Extension        bool
	Marker           bool
	PayloadType      uint8
	SequenceNumber   uint16
	Timestamp        uint32
	SSRC             uint32
	CSRCCount        uint8
	ExtensionProfile uint16 // zero without an extension
	Payload          []byte // after CSRCs and extension, before padding
	PaddingLen       uint8  // zero without padding
}

// Unmarshal fills h from an RTP packet (a whole UDP payload: the padding
// count is its last byte). It does not allocate. On error h is left
// partly filled and must not be used.
func (h *Header) Unmarshal(b []byte) error {
	if len(b) < HeaderLen {
		return ErrTooShort
	}
	if b[0]>>6 != 2 {
		return ErrVersion
	}
	*h = Header{
		Version:        2,
		Padding:        b[0]&0x20 != 0,
		Extension:      b[0]&0x10 != 0,
		CSRCCount:      b[0] & 0x0f,
		Marker:         b[1]&0x80 != 0,
		PayloadType:    b[1] & 0x7f,
		SequenceNumber: binary.BigEndian.Uint16(b[2:]),
		Timestamp:      binary.BigEndian.Uint32(b[4:]),
		SSRC:           binary.BigEndian.Uint32(b[8:]),
	}
	off := HeaderLen + 4*int(h.CSRCCount)
	if h.Extension {
		// Profile-defined 16 bits (0xBEDE and 0x100x for RFC 8285), then
		// the extension's length in 32-bit words.
		if len(b) < off+4 {
			return ErrHeaderOverflow
		}
		h.ExtensionProfile = binary.BigEndian.Uint16(b[off:])
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	if len(b) < off {
		return ErrHeaderOverflow
	}
	end := len(b)
	if h.Padding {
		n := int(b[end-1])
		if n == 0 || n > end-off {
			return ErrPadding
		}
		h.PaddingLen = uint8(n)
		end -= n
	}
	h.Payload = b[off:end]
	return nil
}
