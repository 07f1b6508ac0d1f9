package decode

import (
	"fmt"
	"net/netip"
)

// SCTP (RFC 9260) carries SIP (RFC 4168) as one SIP message per user
// message, in DATA chunks, several of which may be bundled in one packet.
// Decode gives the first complete DATA chunk's user data as the Packet's
// Payload, so that an SCTP packet reads like a UDP datagram (and like SCTP
// that arrived in HEP); NextSCTPData walks the DATA chunks bundled behind
// it. SCTPDataChunks does the same walk over an SCTP packet held elsewhere.

const protoSCTP = 132

// ErrSCTPFragment is returned when an SCTP packet's DATA chunks are all
// pieces of fragmented user messages (B and E flags not both set), which
// are not reassembled. It is an ErrUnsupportedTransport, and Reason counts
// it as one.
var ErrSCTPFragment = fmt.Errorf("%w: fragmented SCTP user message", ErrUnsupportedTransport)

// SCTP chunk type and DATA chunk flags.
const (
	sctpChunkData     = 0
	sctpFlagEnd       = 0x01
	sctpFlagBegin     = 0x02
	sctpFlagUnordered = 0x04
)

// sctpState remembers, between Decode and NextSCTPData, the chunks bundled
// after the one a Packet shows.
type sctpState struct {
	rest []byte // chunks after the one delivered
	last []byte // the user data delivered, to recognise the Packet
}

// SCTPData is one DATA chunk. Data points into the packet's bytes.
type SCTPData struct {
	TSN       uint32
	StreamID  uint16
	StreamSeq uint16
	PPID      uint32 // payload protocol identifier; SIP has none assigned, so any is accepted
	Unordered bool
	Data      []byte // user data: one whole SIP message
}

// sctp decodes an SCTP common header and delivers its first complete DATA
// chunk. A packet without DATA chunks (INIT, SACK, HEARTBEAT...) carries
// nothing for us: ErrUnsupportedTransport.
func (d *Decoder) sctp(b []byte, p *Packet) error {
	d.sctpNext = sctpState{}
	if len(b) < 12 {
		return ErrTruncated
	}
	p.Transport = TransportSCTP
	p.Src = netip.AddrPortFrom(p.Src.Addr(), be16(b))
	p.Dst = netip.AddrPortFrom(p.Dst.Addr(), be16(b[2:]))
	// The checksum is not verified, as for IPv4: offload leaves it unset.
	c, rest, fragments, err := nextSCTPData(b[12:])
	switch {
	case err != nil:
		return err
	case c.Data == nil && fragments > 0:
		return ErrSCTPFragment
	case c.Data == nil:
		return ErrUnsupportedTransport
	}
	p.Payload = c.Data
	d.sctpNext = sctpState{rest: rest, last: c.Data}
	return nil
}

// NextSCTPData moves p.Payload to the next complete DATA chunk bundled in
// the SCTP packet that the last Decode put in p, and reports whether there
// was one. Decode itself gives the first, so a caller handles every SIP
// message of a frame with:
//
//	for ok := d.Decode(link, data, ts, &p) == nil; ok; ok = d.NextSCTPData(&p) { ... }
//
// It returns false at once for any other Packet. Fragmented DATA chunks
// bundled among complete ones are skipped (SCTPDataChunks counts them).
func (d *Decoder) NextSCTPData(p *Packet) bool {
	s := &d.sctpNext
	if p.Transport != TransportSCTP || len(p.Payload) == 0 || len(s.last) == 0 ||
		len(p.Payload) != len(s.last) || &p.Payload[0] != &s.last[0] {
		*s = sctpState{}
		return false
	}
	c, rest, _, err := nextSCTPData(s.rest)
	if err != nil || c.Data == nil {
		*s = sctpState{}
		return false
	}
	p.Payload = c.Data
	*s = sctpState{rest: rest, last: c.Data}
	return true
}

// SCTPDataChunks calls fn for every complete DATA chunk of packet, an SCTP
// packet from its common header on, and returns how many fragmented DATA
// chunks it skipped. A chunk that runs past the end of packet stops the
// walk with ErrMalformedTransport; ErrTruncated means no common header.
// fn's argument points into packet. It does not allocate.
func SCTPDataChunks(packet []byte, fn func(SCTPData)) (fragments int, err error) {
	if len(packet) < 12 {
		return 0, ErrTruncated
	}
	b := packet[12:]
	for {
		c, rest, n, err := nextSCTPData(b)
		fragments += n
		if err != nil || c.Data == nil {
			return fragments, err
		}
		fn(c)
		b = rest
	}
}

// nextSCTPData finds the first complete DATA chunk with user data in the
// chunk list b, counting the fragments skipped on the way; c.Data is nil
// when there is none. rest is what follows the chunk.
func nextSCTPData(b []byte) (c SCTPData, rest []byte, fragments int, err error) {
	for len(b) > 0 {
		if len(b) < 4 {
			return SCTPData{}, nil, fragments, ErrMalformedTransport
		}
		typ, flags, n := b[0], b[1], int(be16(b[2:]))
		if n < 4 || n > len(b) {
			return SCTPData{}, nil, fragments, ErrMalformedTransport
		}
		chunk := b[:n]
		// Chunks are padded to 4 bytes; the last one's padding may be cut.
		b = b[min(n+(4-n%4)%4, len(b)):]
		if typ != sctpChunkData {
			continue
		}
		if n < 16 {
			return SCTPData{}, nil, fragments, ErrMalformedTransport
		}
		if flags&(sctpFlagBegin|sctpFlagEnd) != sctpFlagBegin|sctpFlagEnd {
			fragments++
			continue
		}
		if n == 16 {
			continue // no user data: a protocol violation with nothing to deliver
		}
		return SCTPData{
			TSN:       be32(chunk[4:]),
			StreamID:  be16(chunk[8:]),
			StreamSeq: be16(chunk[10:]),
			PPID:      be32(chunk[12:]),
			Unordered: flags&sctpFlagUnordered != 0,
			Data:      chunk[16:],
		}, b, fragments, nil
	}
	return SCTPData{}, nil, fragments, nil
}
