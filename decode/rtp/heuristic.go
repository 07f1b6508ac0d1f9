package rtp

import "encoding/binary"

// RTCP packet types (RFC 3550, 4585, 3611) that LooksLikeRTCP accepts.
const (
	rtcpSR    = 200
	rtcpRR    = 201
	rtcpSDES  = 202
	rtcpBYE   = 203
	rtcpAPP   = 204
	rtcpRTPFB = 205
	rtcpPSFB  = 206
	rtcpXR    = 207
)

// LooksLikeRTP reports whether a UDP payload is plausibly an RTP packet, for
// ports no SDP has described: version 2, CSRC list, extension and padding
// consistent with the length, a payload type outside 72-76 (where a marker
// bit would make the second byte an RTCP SR/RR/SDES/BYE/APP type), and not
// a well-formed RTCP compound packet (which catches types 205-207).
// Zero-length payloads are accepted: some endpoints send them as keepalives.
func LooksLikeRTP(b []byte) bool {
	var h Header
	if h.Unmarshal(b) != nil {
		return false
	}
	if h.PayloadType >= 72 && h.PayloadType <= 76 {
		return false
	}
	return !LooksLikeRTCP(b)
}

// LooksLikeRTCP reports whether a UDP payload is plausibly a (compound) RTCP
// packet: every packet in it has version 2, a type from 200 (SR) to 207
// (XR), a length at least the minimum its type and count imply, padding
// only in the last one, and the lengths chain to exactly the end of the
// datagram (give or take up to 3 trailing zero bytes). SRTCP, whose
// trailer breaks the chain, is not recognised.
func LooksLikeRTCP(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for off := 0; off < len(b); {
		p := b[off:]
		if len(p) < 4 {
			// Too short for another header: accept only zero bytes after at
			// least one packet. Real stacks leave them (the 2005 Wireshark
			// sample SIP_CALL_RTP_G711 has 2 after an SR+RR+SDES compound,
			// and tshark takes it for RTCP).
			return off > 0 && allZero(p)
		}
		if p[0]>>6 != 2 {
			return false
		}
		count := int(p[0] & 0x1f)
		n := (int(binary.BigEndian.Uint16(p[2:])) + 1) * 4
		if n > len(p) {
			return false
		}
		var least int
		switch p[1] {
		case rtcpSR:
			least = 28 + 24*count // sender info, then report blocks
		case rtcpRR:
			least = 8 + 24*count
		case rtcpSDES:
			least = 4 + 8*count // each chunk: SSRC and at least one padded END
		case rtcpBYE:
			least = 4 + 4*count
		case rtcpAPP:
			least = 12 // SSRC and name
		case rtcpRTPFB, rtcpPSFB:
			least = 12 // sender and media SSRC
		case rtcpXR:
			least = 8
		default:
			return false
		}
		if n < least {
			return false
		}
		if p[0]&0x20 != 0 {
			// Padding belongs to the last packet of a compound only, and
			// its count (the last byte) must fit after the header.
			if n != len(p) {
				return false
			}
			if pad := int(p[n-1]); pad == 0 || pad > n-4 {
				return false
			}
		}
		off += n
	}
	return true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
