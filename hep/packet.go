package hep

import (
	"encoding/binary"
	"net/netip"
)

// Address families as HEP carries them (the Linux AF_INET and AF_INET6
// values, which every HEP implementation uses whatever its platform).
const (
	FamilyIPv4 = 2
	FamilyIPv6 = 10
)

// Payload types of the HEPv3 "protocol type" chunk that sipscope cares
// about. Homer assigns many more; any value is carried through unchanged.
const (
	ProtoSIP       = 1   // a SIP message
	ProtoRTP       = 4   // an RTP packet
	ProtoRTCP      = 5   // RTCP (captagent and heplify send it as JSON)
	ProtoQoSReport = 32  // a JSON quality report (Kamailio, rtpengine)
	ProtoMOSFull   = 34  // a JSON RTP agent report
	ProtoMOSShort  = 35  // a JSON RTCP-XR summary
	ProtoDNS       = 53  // a DNS message
	ProtoLog       = 100 // a log line
)

// HEPv3 generic chunk types (vendor 0), from the HEP3 specification.
// Types this package does not keep (keep-alive timer, MAC addresses,
// Ethernet type, TCP flags, TOS, MOS, ...) are skipped.
const (
	chunkIPFamily      = 0x0001 // uint8
	chunkIPProtocol    = 0x0002 // uint8
	chunkIPv4Src       = 0x0003 // 4 bytes
	chunkIPv4Dst       = 0x0004 // 4 bytes
	chunkIPv6Src       = 0x0005 // 16 bytes
	chunkIPv6Dst       = 0x0006 // 16 bytes
	chunkSrcPort       = 0x0007 // uint16
	chunkDstPort       = 0x0008 // uint16
	chunkTimeSec       = 0x0009 // uint32
	chunkTimeUsec      = 0x000a // uint32
	chunkProtoType     = 0x000b // uint8
	chunkCaptureID     = 0x000c // uint32 (uint16 from some old agents)
	chunkAuthKey       = 0x000e // string
	chunkPayload       = 0x000f // bytes
	chunkCompressed    = 0x0010 // zlib- or gzip-compressed bytes
	chunkCorrelationID = 0x0011 // string
	chunkVLAN          = 0x0012 // uint16
	chunkNodeName      = 0x0013 // string ("group id" in older revisions)
)

const (
	hep3Magic      = "HEP3"
	hep3HeaderLen  = 6 // "HEP3" + uint16 total length
	chunkHeaderLen = 6 // vendor id, type id, length (all uint16)
	maxHEP3Len     = 0xffff

	legacyHeaderLen = 8  // version, length, family, protocol, ports
	legacyTimeLen   = 12 // HEPv2: seconds, microseconds, capture id, 2 padding bytes
)

// Packet is one decoded HEP packet. Unmarshal fills it in place; its byte
// slices point into the buffer given to Unmarshal and are valid only as long
// as that buffer is. The zero Packet is ready to use and to reuse.
type Packet struct {
	Version  uint8 // 1, 2 or 3: the encapsulation version
	IPFamily uint8 // FamilyIPv4 or FamilyIPv6, as sent
	Protocol uint8 // IP protocol of the captured packet (17 UDP, 6 TCP, 132 SCTP)

	SrcIP, DstIP     netip.Addr
	SrcPort, DstPort uint16

	// Capture time of the encapsulated packet, as the sender stamped it.
	TimestampSec, TimestampUsec uint32

	ProtoType uint8  // what Payload holds: ProtoSIP, ProtoRTCP, ... (HEPv1/v2: always SIP)
	NodeID    uint32 // capture agent id (HEPv2: 16 bits)
	NodeName  []byte // capture agent name, if sent
	AuthKey   []byte // authentication key, if sent

	CorrelationID []byte // correlation id (a Call-ID for RTCP and QoS reports), if sent
	VLAN          uint16 // VLAN id, if sent

	// Payload is the captured message. When CompressedPayload is set it came
	// in the compressed-payload chunk and DecompressPayload inflates it.
	Payload           []byte
	CompressedPayload bool
}

// UnixNano returns the sender's capture time in Unix nanoseconds.
func (p *Packet) UnixNano() int64 {
	return int64(p.TimestampSec)*1e9 + int64(p.TimestampUsec)*1e3
}

// Unmarshal decodes one HEP packet of any version from b, replacing
// everything p held. It neither allocates nor copies: p's slices point into
// b. Bytes after a HEPv3 packet's declared total length are ignored; a
// HEPv1/v2 payload runs to the end of b, since those versions carry no
// total length. Errors are this package's sentinels, returned bare.
func (p *Packet) Unmarshal(b []byte) error {
	*p = Packet{}
	if len(b) >= len(hep3Magic) && string(b[:len(hep3Magic)]) == hep3Magic {
		return p.unmarshalV3(b)
	}
	if len(b) > 0 && (b[0] == 1 || b[0] == 2) {
		return p.unmarshalLegacy(b)
	}
	if isMagicPrefix(b) {
		return ErrTruncated
	}
	return ErrNotHEP
}

// isMagicPrefix reports whether b is a strict prefix of "HEP3" (including
// empty): too short to say whether it is HEP.
func isMagicPrefix(b []byte) bool {
	return len(b) < len(hep3Magic) && string(b) == hep3Magic[:len(b)]
}

func (p *Packet) unmarshalV3(b []byte) error {
	total, err := FrameLength(b)
	if err != nil {
		return err
	}
	if total > len(b) {
		return ErrTruncated
	}
	b = b[:total]
	p.Version = 3
	for off := hep3HeaderLen; off < len(b); {
		if len(b)-off < chunkHeaderLen {
			return ErrBadChunk
		}
		vendor := binary.BigEndian.Uint16(b[off:])
		typ := binary.BigEndian.Uint16(b[off+2:])
		n := int(binary.BigEndian.Uint16(b[off+4:]))
		if n < chunkHeaderLen || n > len(b)-off {
			return ErrBadChunk
		}
		data := b[off+chunkHeaderLen : off+n]
		off += n
		if vendor != 0 {
			continue // vendor extensions mean nothing to us
		}
		if err := p.setChunk(typ, data); err != nil {
			return err
		}
	}
	return nil
}

// setChunk stores one generic chunk. Fixed-size chunks of the wrong size are
// errors: a sender that gets those wrong cannot be trusted with the rest.
func (p *Packet) setChunk(typ uint16, data []byte) error {
	switch typ {
	case chunkIPFamily, chunkIPProtocol, chunkProtoType:
		if len(data) != 1 {
			return ErrBadChunk
		}
		switch typ {
		case chunkIPFamily:
			p.IPFamily = data[0]
		case chunkIPProtocol:
			p.Protocol = data[0]
		default:
			p.ProtoType = data[0]
		}
	case chunkIPv4Src, chunkIPv4Dst:
		if len(data) != 4 {
			return ErrBadChunk
		}
		a := netip.AddrFrom4([4]byte(data))
		if typ == chunkIPv4Src {
			p.SrcIP = a
		} else {
			p.DstIP = a
		}
	case chunkIPv6Src, chunkIPv6Dst:
		if len(data) != 16 {
			return ErrBadChunk
		}
		a := netip.AddrFrom16([16]byte(data))
		if typ == chunkIPv6Src {
			p.SrcIP = a
		} else {
			p.DstIP = a
		}
	case chunkSrcPort, chunkDstPort, chunkVLAN:
		if len(data) != 2 {
			return ErrBadChunk
		}
		v := binary.BigEndian.Uint16(data)
		switch typ {
		case chunkSrcPort:
			p.SrcPort = v
		case chunkDstPort:
			p.DstPort = v
		default:
			p.VLAN = v
		}
	case chunkTimeSec, chunkTimeUsec:
		if len(data) != 4 {
			return ErrBadChunk
		}
		if typ == chunkTimeSec {
			p.TimestampSec = binary.BigEndian.Uint32(data)
		} else {
			p.TimestampUsec = binary.BigEndian.Uint32(data)
		}
	case chunkCaptureID:
		// The specification says uint32; early agents sent a uint16.
		switch len(data) {
		case 4:
			p.NodeID = binary.BigEndian.Uint32(data)
		case 2:
			p.NodeID = uint32(binary.BigEndian.Uint16(data))
		default:
			return ErrBadChunk
		}
	case chunkAuthKey:
		p.AuthKey = data
	case chunkPayload, chunkCompressed:
		p.Payload = data
		p.CompressedPayload = typ == chunkCompressed
	case chunkCorrelationID:
		p.CorrelationID = data
	case chunkNodeName:
		p.NodeName = data
	}
	return nil
}

// unmarshalLegacy decodes HEPv1 and HEPv2. Their fixed header is
//
//	version(1) length(1) family(1) protocol(1) srcport(2) dstport(2)
//	srcaddr dstaddr (4+4 or 16+16 bytes)
//	HEPv2 only: seconds(4) microseconds(4) captureid(2) padding(2)
//	payload, to the end of the datagram
//
// Ports and addresses are in network order; the HEPv2 time header is a C
// struct copied in the sender's byte order, which is little-endian on every
// platform that ever sent it (Kamailio reads it so). The length byte is
// ignored, as Kamailio does: senders disagree on what it counts, and sngrep
// writes a truncated total length there.
func (p *Packet) unmarshalLegacy(b []byte) error {
	if len(b) < legacyHeaderLen {
		return ErrTruncated
	}
	var alen int
	switch b[2] {
	case FamilyIPv4:
		alen = 4
	case FamilyIPv6:
		alen = 16
	default:
		return ErrBadFamily
	}
	version := b[0]
	need := legacyHeaderLen + 2*alen
	if version == 2 {
		need += legacyTimeLen
	}
	if len(b) < need {
		return ErrTruncated
	}
	p.Version = version
	p.IPFamily = b[2]
	p.Protocol = b[3]
	p.SrcPort = binary.BigEndian.Uint16(b[4:])
	p.DstPort = binary.BigEndian.Uint16(b[6:])
	addrs := b[legacyHeaderLen:]
	if alen == 4 {
		p.SrcIP = netip.AddrFrom4([4]byte(addrs[0:4]))
		p.DstIP = netip.AddrFrom4([4]byte(addrs[4:8]))
	} else {
		p.SrcIP = netip.AddrFrom16([16]byte(addrs[0:16]))
		p.DstIP = netip.AddrFrom16([16]byte(addrs[16:32]))
	}
	if version == 2 {
		t := addrs[2*alen:]
		p.TimestampSec = binary.LittleEndian.Uint32(t[0:])
		p.TimestampUsec = binary.LittleEndian.Uint32(t[4:])
		p.NodeID = uint32(binary.LittleEndian.Uint16(t[8:]))
	}
	p.ProtoType = ProtoSIP // HEPv1/v2 only ever carried SIP
	p.Payload = b[need:]
	return nil
}

// FrameLength returns the total length of the HEPv3 packet that b starts
// with, as its header announces; b may hold less (the caller reads on) or
// more (the next packets of a stream). It needs the 6 header bytes and
// returns ErrTruncated until it has them. A stream that does not start with
// "HEP3" gives ErrNotHEP as soon as the first wrong byte is seen, and a
// length below the header's own size gives ErrBadLength: either way the
// stream has lost its framing. HEPv1/v2 carry no total length, so they
// cannot be framed on a stream and are reported as ErrNotHEP.
func FrameLength(b []byte) (int, error) {
	for i := 0; i < len(b) && i < len(hep3Magic); i++ {
		if b[i] != hep3Magic[i] {
			return 0, ErrNotHEP
		}
	}
	if len(b) < hep3HeaderLen {
		return 0, ErrTruncated
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if n < hep3HeaderLen {
		return 0, ErrBadLength
	}
	return n, nil
}
