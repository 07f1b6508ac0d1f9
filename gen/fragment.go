package gen

import "encoding/binary"

// ipv6FragHeaderLen is the IPv6 fragment extension header's size.
const ipv6FragHeaderLen = 8

// fragment cuts the IP packet ip of f into fragments of at most
// s.cfg.FragmentMTU bytes, in order, as the sending host's stack does. Every
// fragment but the last carries a multiple of 8 payload bytes.
func (s *serializer) fragment(f *frame, ip []byte) [][]byte {
	if ip[0]>>4 == 4 {
		return s.fragment4(ip)
	}
	return s.fragment6(f, ip)
}

func (s *serializer) fragment4(ip []byte) [][]byte {
	hl := int(ip[0]&0x0f) * 4
	hdr, data := ip[:hl], ip[hl:]
	step := (s.cfg.FragmentMTU - hl) &^ 7
	var out [][]byte
	for off := 0; off < len(data); off += step {
		end := min(off+step, len(data))
		b := make([]byte, hl, hl+end-off)
		copy(b, hdr)
		b = append(b, data[off:end]...)
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		flags := uint16(off / 8)
		if end < len(data) {
			flags |= 0x2000 // more fragments
		}
		binary.BigEndian.PutUint16(b[6:], flags)
		binary.BigEndian.PutUint16(b[10:], 0)
		binary.BigEndian.PutUint16(b[10:], ipv4Checksum(b[:hl]))
		out = append(out, b)
	}
	return out
}

// fragment6 inserts a fragment header after the fixed IPv6 header (the
// generator sends no other extension headers).
func (s *serializer) fragment6(f *frame, ip []byte) [][]byte {
	const hl = 40
	hdr, data := ip[:hl], ip[hl:]
	next := hdr[6]
	id := s.nextFragID(f.src.Addr())
	step := (s.cfg.FragmentMTU - hl - ipv6FragHeaderLen) &^ 7
	var out [][]byte
	for off := 0; off < len(data); off += step {
		end := min(off+step, len(data))
		b := make([]byte, hl+ipv6FragHeaderLen, hl+ipv6FragHeaderLen+end-off)
		copy(b, hdr)
		b[6] = 44 // next header: fragment
		fh := b[hl:]
		fh[0] = next
		m := uint16(0)
		if end < len(data) {
			m = 1
		}
		binary.BigEndian.PutUint16(fh[2:], uint16(off)|m) // offset in 8-byte units, already shifted by 3
		binary.BigEndian.PutUint32(fh[4:], id)
		b = append(b, data[off:end]...)
		binary.BigEndian.PutUint16(b[4:], uint16(len(b)-hl))
		out = append(out, b)
	}
	return out
}

// ipv4Checksum is the RFC 791 header checksum of hdr (checksum field zero).
func ipv4Checksum(hdr []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(hdr); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(hdr[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
