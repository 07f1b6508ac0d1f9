package decode

import "encoding/binary"

// EtherTypes this package follows.
const (
	etherTypeIPv4     = 0x0800
	etherTypeIPv6     = 0x86dd
	etherTypeVLAN     = 0x8100 // 802.1Q C-tag
	etherTypeQinQ     = 0x88a8 // 802.1ad S-tag
	etherTypeQinQOld  = 0x9100 // pre-standard S-tag
	etherTypeMPLS     = 0x8847
	etherTypeMPLSMcst = 0x8848
	etherTypePPPoE    = 0x8864 // PPPoE session stage
	etherTypeTEB      = 0x6558 // Transparent Ethernet Bridging (GRE, Geneve)
	etherTypeERSPAN2  = 0x88be // ERSPAN type I and II (GRE)
	etherTypeERSPAN3  = 0x22eb // ERSPAN type III (GRE)
)

// ethernet decodes an Ethernet II header (no preamble, no FCS expected;
// an FCS or padding is cut off later by the IP length).
func (d *Decoder) ethernet(b []byte, p *Packet) error {
	if len(b) < 14 {
		return ErrTruncated
	}
	return d.etherType(be16(b[12:]), b[14:], p)
}

// etherType follows an EtherType, peeling VLAN tags on the way.
func (d *Decoder) etherType(et uint16, b []byte, p *Packet) error {
	for tags := 0; ; tags++ {
		switch et {
		case etherTypeIPv4:
			return d.ipv4(b, p)
		case etherTypeIPv6:
			return d.ipv6(b, p)
		case etherTypeVLAN, etherTypeQinQ, etherTypeQinQOld:
			if tags >= maxTags {
				return ErrTooManyTags
			}
			if len(b) < 4 {
				return ErrTruncated
			}
			et, b = be16(b[2:]), b[4:]
		case etherTypeMPLS, etherTypeMPLSMcst:
			return d.mpls(b, p)
		case etherTypePPPoE:
			return d.pppoe(b, p)
		default:
			// ARP, LLC/STP/CDP (a length, not a type), LLDP, ...
			return ErrNotIP
		}
	}
}

// mpls pops a label stack. What follows the bottom label is not named
// anywhere, so it is guessed from the first nibble as routers do: 4 or 6 is
// IP, 0 is an Ethernet pseudowire with its control word (RFC 4448).
func (d *Decoder) mpls(b []byte, p *Packet) error {
	for labels := 0; ; labels++ {
		if labels >= maxLabels {
			return ErrTooManyTags
		}
		if len(b) < 4 {
			return ErrTruncated
		}
		bottom := b[2]&1 != 0
		b = b[4:]
		if bottom {
			break
		}
	}
	if len(b) == 0 {
		return ErrTruncated
	}
	switch b[0] >> 4 {
	case 4:
		return d.ipv4(b, p)
	case 6:
		return d.ipv6(b, p)
	case 0:
		if len(b) < 4 {
			return ErrTruncated
		}
		if err := enterTunnel(p); err != nil {
			return err
		}
		return d.ethernet(b[4:], p)
	}
	return ErrNotIP
}

// pppoe decodes a PPPoE session header and the PPP protocol field after it.
func (d *Decoder) pppoe(b []byte, p *Packet) error {
	if len(b) < 8 {
		return ErrTruncated
	}
	if b[0] != 0x11 || b[1] != 0 { // version 1, type 1, session data
		return ErrNotIP
	}
	// The length covers the PPP protocol field and its payload.
	n := int(be16(b[4:]))
	if n < 2 {
		return ErrNotIP
	}
	if n > len(b)-6 {
		return ErrTruncated
	}
	b = b[6 : 6+n]
	switch be16(b) {
	case 0x0021:
		return d.ipv4(b[2:], p)
	case 0x0057:
		return d.ipv6(b[2:], p)
	}
	return ErrNotIP
}

// sll decodes a Linux "cooked" v1 header (LINKTYPE_LINUX_SLL): packet type,
// ARPHRD type, address length, 8 address bytes, protocol.
func (d *Decoder) sll(b []byte, p *Packet) error {
	if len(b) < 16 {
		return ErrTruncated
	}
	return d.etherType(be16(b[14:]), b[16:], p)
}

// sll2 decodes a Linux "cooked" v2 header (LINKTYPE_LINUX_SLL2), which puts
// the protocol first and is 20 bytes long.
func (d *Decoder) sll2(b []byte, p *Packet) error {
	if len(b) < 20 {
		return ErrTruncated
	}
	return d.etherType(be16(b), b[20:], p)
}

// null decodes the BSD loopback header: a 4-byte address family in the
// byte order of the machine that captured (LINKTYPE_NULL) or in network
// order (LINKTYPE_LOOP). Families are small numbers, so the order is
// whichever reads as one.
func (d *Decoder) null(b []byte, p *Packet) error {
	if len(b) < 4 {
		return ErrTruncated
	}
	family := binary.LittleEndian.Uint32(b)
	if family > 0xffff {
		family = binary.BigEndian.Uint32(b)
	}
	switch family {
	case 2: // AF_INET everywhere
		return d.ipv4(b[4:], p)
	case 24, 28, 30: // AF_INET6 on NetBSD/OpenBSD, FreeBSD, Darwin
		// Linux's 10 never appears: Linux loopback captures are Ethernet.
		return d.ipv6(b[4:], p)
	}
	return ErrNotIP
}
