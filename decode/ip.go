package decode

import "net/netip"

// IP protocol numbers this package follows.
const (
	protoHopByHop = 0
	protoIPIP     = 4
	protoTCP      = 6
	protoUDP      = 17
	protoIPv6     = 41
	protoRouting  = 43
	protoFragment = 44
	protoGRE      = 47
	protoAH       = 51
	protoDestOpts = 60
)

// ipByVersion decodes an IP packet of either version, as found on raw-IP
// link types and after an MPLS stack.
func (d *Decoder) ipByVersion(b []byte, p *Packet) error {
	if len(b) == 0 {
		return ErrTruncated
	}
	switch b[0] >> 4 {
	case 4:
		return d.ipv4(b, p)
	case 6:
		return d.ipv6(b, p)
	}
	return ErrMalformedIP
}

// ipv4 decodes an IPv4 header. The checksum is not verified: captures taken
// on the sending host carry checksums the NIC has not filled in yet.
func (d *Decoder) ipv4(b []byte, p *Packet) error {
	if len(b) < 20 {
		return ErrTruncated
	}
	if b[0]>>4 != 4 {
		return ErrMalformedIP
	}
	hl := int(b[0]&0x0f) * 4
	if hl < 20 {
		return ErrMalformedIP
	}
	if len(b) < hl {
		return ErrTruncated
	}
	switch total := int(be16(b[2:])); {
	case total == 0:
		// Segmentation offload: the stack leaves the length for the NIC to
		// fill, so the captured bytes are all there is.
	case total < hl:
		return ErrMalformedIP
	case total > len(b):
		return ErrTruncated
	default:
		b = b[:total] // drop Ethernet padding and trailers
	}
	src, dst := netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
	p.Src, p.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
	proto, payload := b[9], b[hl:]
	// More-fragments flag or a non-zero offset.
	if frag := be16(b[6:]); frag&0x3fff != 0 {
		if d.defrag == nil {
			return ErrFragment
		}
		key := fragKey{src: src, dst: dst, id: uint32(be16(b[4:])), proto: proto}
		var err error
		payload, proto, err = d.defrag.add(key, proto, int(frag&0x1fff)*8, frag&0x2000 != 0, payload, p.TS)
		if err != nil {
			return err
		}
	}
	return d.ipPayload(proto, payload, p)
}

// ipv6 decodes an IPv6 header and walks its extension headers.
func (d *Decoder) ipv6(b []byte, p *Packet) error {
	if len(b) < 40 {
		return ErrTruncated
	}
	if b[0]>>4 != 6 {
		return ErrMalformedIP
	}
	rest := b[40:]
	if n := int(be16(b[4:])); n != 0 { // zero: jumbogram or offload, keep all
		if n > len(rest) {
			return ErrTruncated
		}
		rest = rest[:n]
	}
	src, dst := netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
	p.Src, p.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
	next := b[6]
	// Every extension header is at least 8 bytes, and every reassembly
	// uses up a datagram the Defragmenter held, so this loop ends.
	for {
		switch next {
		case protoHopByHop, protoRouting, protoDestOpts:
			if len(rest) < 8 {
				return ErrTruncated
			}
			n := (int(rest[1]) + 1) * 8
			if len(rest) < n {
				return ErrTruncated
			}
			next, rest = rest[0], rest[n:]
		case protoAH:
			if len(rest) < 8 {
				return ErrTruncated
			}
			n := (int(rest[1]) + 2) * 4
			if len(rest) < n || n < 8 {
				return ErrTruncated
			}
			next, rest = rest[0], rest[n:]
		case protoFragment:
			if len(rest) < 8 {
				return ErrTruncated
			}
			// An offset or the M flag makes it a real fragment; an
			// "atomic" fragment header (both zero) is just skipped.
			frag := be16(rest[2:])
			if frag&0xfff9 == 0 {
				next, rest = rest[0], rest[8:]
				continue
			}
			if d.defrag == nil {
				return ErrFragment
			}
			// What follows is the reassembled fragmentable part.
			key := fragKey{src: src, dst: dst, id: be32(rest[4:])}
			var err error
			rest, next, err = d.defrag.add(key, rest[0], int(frag&0xfff8), frag&1 != 0, rest[8:], p.TS)
			if err != nil {
				return err
			}
		default:
			return d.ipPayload(next, rest, p)
		}
	}
}

// ipPayload follows the protocol field of the innermost IP header seen.
func (d *Decoder) ipPayload(proto uint8, b []byte, p *Packet) error {
	switch proto {
	case protoUDP:
		return d.udp(b, p)
	case protoTCP:
		return d.tcp(b, p)
	case protoIPIP:
		if err := enterTunnel(p); err != nil {
			return err
		}
		return d.ipv4(b, p)
	case protoIPv6:
		if err := enterTunnel(p); err != nil {
			return err
		}
		return d.ipv6(b, p)
	case protoGRE:
		if err := enterTunnel(p); err != nil {
			return err
		}
		return d.gre(b, p)
	case protoSCTP:
		return d.sctp(b, p)
	}
	// ICMP, ESP, OSPF, VRRP, IPv6 "no next header", ...
	return ErrUnsupportedTransport
}
