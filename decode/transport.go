package decode

import "net/netip"

// udp decodes a UDP header; datagrams to a tunnel port are followed inside.
func (d *Decoder) udp(b []byte, p *Packet) error {
	if len(b) < 8 {
		return ErrTruncated
	}
	srcPort, dstPort := be16(b), be16(b[2:])
	payload := b[8:]
	switch n := int(be16(b[4:])); {
	case n == 0:
		// IPv6 jumbogram or segmentation offload: the IP length rules.
	case n < 8:
		return ErrMalformedTransport
	case n > len(b):
		// The IP length, already applied, is shorter than UDP claims.
		return ErrMalformedTransport
	default:
		payload = b[8:n]
	}
	if tunnel, err := d.udpTunnel(dstPort, payload, p); tunnel {
		return err
	}
	p.Transport = TransportUDP
	p.Src = netip.AddrPortFrom(p.Src.Addr(), srcPort)
	p.Dst = netip.AddrPortFrom(p.Dst.Addr(), dstPort)
	p.Payload = payload
	return nil
}

// tcp decodes a TCP header, options skipped. The payload may be empty (a
// bare ACK, SYN or FIN); TCPSeq and TCPFlags let reassembly order it.
func (d *Decoder) tcp(b []byte, p *Packet) error {
	if len(b) < 20 {
		return ErrTruncated
	}
	n := int(b[12]>>4) * 4
	if n < 20 {
		return ErrMalformedTransport
	}
	if len(b) < n {
		return ErrTruncated
	}
	p.Transport = TransportTCP
	p.Src = netip.AddrPortFrom(p.Src.Addr(), be16(b))
	p.Dst = netip.AddrPortFrom(p.Dst.Addr(), be16(b[2:]))
	p.TCPSeq = be32(b[4:])
	p.TCPFlags = b[13]
	p.Payload = b[n:]
	return nil
}
