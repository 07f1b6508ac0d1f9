package decode

// UDP ports on which a datagram is taken to be a tunnel (IANA-assigned).
const (
	portVXLAN  = 4789
	portGeneve = 6081
	portTZSP   = 37008
)

// TZSP (TaZmen Sniffer Protocol, as MikroTik and other sensors stream
// mirrored traffic): version 1, a type, the encapsulated protocol, then
// tagged fields ending with an END tag.
const (
	tzspVersion      = 1
	tzspTypeReceived = 0 // frame the sensor received
	tzspTypeSent     = 1 // frame the sensor sent
	tzspEthernet     = 1
	tzspTagPadding   = 0 // one byte, no length
	tzspTagEnd       = 1 // one byte, no length; the frame follows
	// maxTZSPTags bounds the walk over the tagged fields.
	maxTZSPTags = 32
)

// gre decodes a GRE header (RFC 2784/2890: optional checksum, key and
// sequence number) and follows its protocol type, which is an EtherType.
func (d *Decoder) gre(b []byte, p *Packet) error {
	if len(b) < 4 {
		return ErrTruncated
	}
	flags, proto := be16(b), be16(b[2:])
	// Version 1 is PPTP's enhanced GRE; the routing bit is RFC 1701's
	// long-deprecated source routing.
	if flags&0x0007 != 0 || flags&0x4000 != 0 {
		return ErrUnsupportedTunnel
	}
	n := 4
	for _, bit := range [...]uint16{0x8000, 0x2000, 0x1000} { // checksum, key, sequence
		if flags&bit != 0 {
			n += 4
		}
	}
	if len(b) < n {
		return ErrTruncated
	}
	b = b[n:]
	switch proto {
	case etherTypeTEB:
		return d.ethernet(b, p)
	case etherTypeERSPAN2:
		// Type I has no sequence number and no header of its own.
		if flags&0x1000 == 0 {
			return d.ethernet(b, p)
		}
		if len(b) < 8 {
			return ErrTruncated
		}
		if b[0]>>4 != 1 {
			return ErrUnsupportedTunnel
		}
		return d.ethernet(b[8:], p)
	case etherTypeERSPAN3:
		return d.erspan3(b, p)
	}
	return d.etherType(proto, b, p)
}

// erspan3 decodes an ERSPAN type III header: 12 bytes, then an optional
// 8-byte platform-specific subheader, then an Ethernet frame or IP packet.
func (d *Decoder) erspan3(b []byte, p *Packet) error {
	if len(b) < 12 {
		return ErrTruncated
	}
	if b[0]>>4 != 2 {
		return ErrUnsupportedTunnel
	}
	frameType := b[10] >> 2 & 0x1f
	n := 12
	if b[11]&1 != 0 {
		n += 8
	}
	if len(b) < n {
		return ErrTruncated
	}
	switch frameType {
	case 0:
		return d.ethernet(b[n:], p)
	case 2:
		return d.ipByVersion(b[n:], p)
	}
	return ErrUnsupportedTunnel
}

// udpTunnel reports whether a UDP datagram to port carries a tunnel header
// that this package removes, and decodes what is inside it. A datagram on a
// tunnel port whose header does not look right is left as plain UDP.
func (d *Decoder) udpTunnel(dstPort uint16, b []byte, p *Packet) (bool, error) {
	switch dstPort {
	case portVXLAN:
		// RFC 7348: flags with the I (VNI valid) bit, 3 reserved bytes, VNI, reserved.
		if len(b) < 8 || b[0]&0x08 == 0 {
			return false, nil
		}
		if err := enterTunnel(p); err != nil {
			return true, err
		}
		return true, d.ethernet(b[8:], p)
	case portTZSP:
		if len(b) < 5 || b[0] != tzspVersion || (b[1] != tzspTypeReceived && b[1] != tzspTypeSent) {
			return false, nil
		}
		n, ok := tzspTags(b[4:])
		if !ok {
			return false, nil
		}
		if err := enterTunnel(p); err != nil {
			return true, err
		}
		if be16(b[2:]) != tzspEthernet {
			// 802.11, Prism and the like carry no IP we could use.
			return true, ErrUnsupportedTunnel
		}
		return true, d.ethernet(b[4+n:], p)
	case portGeneve:
		// RFC 8926: version 0, option length in 4-byte words, protocol type.
		if len(b) < 8 || b[0]>>6 != 0 {
			return false, nil
		}
		n := 8 + int(b[0]&0x3f)*4
		if len(b) < n {
			return false, nil
		}
		if err := enterTunnel(p); err != nil {
			return true, err
		}
		proto := be16(b[2:])
		if proto == etherTypeTEB {
			return true, d.ethernet(b[n:], p)
		}
		return true, d.etherType(proto, b[n:], p)
	}
	return false, nil
}

// tzspTags returns the length of TZSP's tagged fields up to and including
// the END tag, or false when they are malformed or too many.
func tzspTags(b []byte) (int, bool) {
	n := 0
	for range maxTZSPTags {
		if n >= len(b) {
			return 0, false
		}
		switch b[n] {
		case tzspTagEnd:
			return n + 1, true
		case tzspTagPadding:
			n++
		default:
			if n+1 >= len(b) {
				return 0, false
			}
			n += 2 + int(b[n+1])
		}
	}
	return 0, false
}
