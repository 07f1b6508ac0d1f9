package gen

import (
	"encoding/binary"
	"hash/crc32"
)

// sctpData holds the SCTP fields that vary per DATA chunk.
type sctpData struct {
	vtag uint32 // the receiver's verification tag
	tsn  uint32
	ssn  uint16 // stream sequence number on stream 0
}

// sctpPPIDSIP is the payload protocol identifier of SIP: none is assigned,
// RFC 4168 §5 says to use 0.
const sctpPPIDSIP = 0

// sctpPacket builds an SCTP packet holding one unfragmented DATA chunk on
// stream 0, with its CRC32c checksum.
func sctpPacket(srcPort, dstPort uint16, d *sctpData, payload []byte) []byte {
	const common, chunkHdr = 12, 16
	n := chunkHdr + len(payload)
	pad := (4 - n%4) % 4
	b := make([]byte, common+n+pad)
	binary.BigEndian.PutUint16(b, srcPort)
	binary.BigEndian.PutUint16(b[2:], dstPort)
	binary.BigEndian.PutUint32(b[4:], d.vtag)
	c := b[common:]
	c[0] = 0    // DATA
	c[1] = 0x03 // B and E: the whole message in one chunk, ordered
	binary.BigEndian.PutUint16(c[2:], uint16(n))
	binary.BigEndian.PutUint32(c[4:], d.tsn)
	binary.BigEndian.PutUint16(c[8:], 0) // stream 0
	binary.BigEndian.PutUint16(c[10:], d.ssn)
	binary.BigEndian.PutUint32(c[12:], sctpPPIDSIP)
	copy(c[chunkHdr:], payload)
	// CRC32c (RFC 4960 Appendix B), computed with the field zero and stored
	// least significant byte first, the reflected CRC's natural order.
	binary.LittleEndian.PutUint32(b[8:], crc32c(b))
	return b
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
