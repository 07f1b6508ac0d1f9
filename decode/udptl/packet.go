package udptl

import "encoding/binary"

// Packet is a decoded UDPTL datagram. IFP and Recovery point into the
// buffer given to Unmarshal.
type Packet struct {
	Seq uint16 // seq-number: the first two bytes
	// IFP is the primary IFP packet (T.38 §7): a T.30 indicator or data.
	IFP []byte
	// Recovery is the error-recovery part (redundant IFPs or FEC), undecoded.
	Recovery []byte
}

// Unmarshal decodes b (ASN.1 PER, aligned, as T.38 §9.1 specifies): the
// 16-bit sequence number, then the primary IFP as an open type with its
// length determinant (one byte below 128, two bytes with the top bit set
// up to 16383).
func (p *Packet) Unmarshal(b []byte) error {
	*p = Packet{}
	if len(b) < 3 {
		return ErrTooShort
	}
	p.Seq = binary.BigEndian.Uint16(b)
	n, off := int(b[2]), 3
	switch {
	case n&0xc0 == 0xc0:
		return ErrFragmented
	case n&0x80 != 0:
		if len(b) < 4 {
			return ErrTooShort
		}
		n, off = int(binary.BigEndian.Uint16(b[2:])&0x3fff), 4
	}
	if n == 0 {
		return ErrEmptyIFP
	}
	if off+n > len(b) {
		return ErrIFPOverflow
	}
	p.IFP = b[off : off+n]
	p.Recovery = b[off+n:]
	return nil
}

// Marshal encodes p: the generator writes T.38 this way and tests decode
// what it wrote.
func (p *Packet) Marshal() ([]byte, error) {
	b := make([]byte, p.MarshalSize())
	_, err := p.MarshalTo(b)
	return b, err
}

// MarshalSize is the encoded length of p.
func (p *Packet) MarshalSize() int {
	n := 3 + len(p.IFP) + len(p.Recovery)
	if len(p.IFP) >= 128 {
		n++
	}
	return n
}

// MarshalTo writes p into b and returns the bytes written.
func (p *Packet) MarshalTo(b []byte) (int, error) {
	switch {
	case len(p.IFP) == 0:
		return 0, ErrEmptyIFP
	case len(p.IFP) > 0x3fff:
		return 0, ErrFragmented
	case len(b) < p.MarshalSize():
		return 0, ErrTooShort
	}
	binary.BigEndian.PutUint16(b, p.Seq)
	off := 3
	if len(p.IFP) < 128 {
		b[2] = byte(len(p.IFP))
	} else {
		binary.BigEndian.PutUint16(b[2:], 0x8000|uint16(len(p.IFP)))
		off = 4
	}
	off += copy(b[off:], p.IFP)
	off += copy(b[off:], p.Recovery)
	return off, nil
}
