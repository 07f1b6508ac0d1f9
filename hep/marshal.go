package hep

import (
	"encoding/binary"
	"net/netip"
)

// MarshalSize returns the number of bytes MarshalTo writes for p.
func (p *Packet) MarshalSize() int {
	n := hep3HeaderLen +
		2*(chunkHeaderLen+1) + // family, protocol
		2*(chunkHeaderLen+2) + // ports
		2*(chunkHeaderLen+4) + // timestamp
		(chunkHeaderLen + 1) + // protocol type
		(chunkHeaderLen + 4) + // capture agent id
		chunkHeaderLen + len(p.Payload)
	n += addrChunkSize(p.SrcIP) + addrChunkSize(p.DstIP)
	if len(p.AuthKey) > 0 {
		n += chunkHeaderLen + len(p.AuthKey)
	}
	if len(p.CorrelationID) > 0 {
		n += chunkHeaderLen + len(p.CorrelationID)
	}
	if p.VLAN != 0 {
		n += chunkHeaderLen + 2
	}
	if len(p.NodeName) > 0 {
		n += chunkHeaderLen + len(p.NodeName)
	}
	return n
}

func addrChunkSize(a netip.Addr) int {
	switch {
	case a.Is4():
		return chunkHeaderLen + 4
	case a.Is6():
		return chunkHeaderLen + 16
	}
	return 0 // an invalid address is left out
}

// MarshalTo encodes p as HEPv3 (whatever p.Version says) into buf and
// returns the number of bytes written. Optional chunks (auth key,
// correlation id, VLAN, node name) are written only when set, and an
// address only when valid. A zero IPFamily is derived from the addresses.
// Each address is written in its own form: an IPv4-mapped IPv6 address
// stays IPv6.
func (p *Packet) MarshalTo(buf []byte) (int, error) {
	n := p.MarshalSize()
	if n > maxHEP3Len {
		return 0, ErrTooLarge
	}
	if len(buf) < n {
		return 0, ErrShortBuffer
	}
	w := writer{buf: buf[:n]}
	w.off += copy(w.buf, hep3Magic)
	w.u16(uint16(n))

	family := p.IPFamily
	if family == 0 {
		switch {
		case p.SrcIP.Is4() || (!p.SrcIP.IsValid() && p.DstIP.Is4()):
			family = FamilyIPv4
		case p.SrcIP.Is6() || p.DstIP.Is6():
			family = FamilyIPv6
		}
	}
	w.chunkU8(chunkIPFamily, family)
	w.chunkU8(chunkIPProtocol, p.Protocol)
	w.addr(chunkIPv4Src, chunkIPv6Src, p.SrcIP)
	w.addr(chunkIPv4Dst, chunkIPv6Dst, p.DstIP)
	w.chunkU16(chunkSrcPort, p.SrcPort)
	w.chunkU16(chunkDstPort, p.DstPort)
	w.chunkU32(chunkTimeSec, p.TimestampSec)
	w.chunkU32(chunkTimeUsec, p.TimestampUsec)
	w.chunkU8(chunkProtoType, p.ProtoType)
	w.chunkU32(chunkCaptureID, p.NodeID)
	if len(p.AuthKey) > 0 {
		w.chunkBytes(chunkAuthKey, p.AuthKey)
	}
	if len(p.CorrelationID) > 0 {
		w.chunkBytes(chunkCorrelationID, p.CorrelationID)
	}
	if p.VLAN != 0 {
		w.chunkU16(chunkVLAN, p.VLAN)
	}
	if len(p.NodeName) > 0 {
		w.chunkBytes(chunkNodeName, p.NodeName)
	}
	// The payload goes last, as every HEP sender does it: some receivers
	// stop looking once they have it.
	if p.CompressedPayload {
		w.chunkBytes(chunkCompressed, p.Payload)
	} else {
		w.chunkBytes(chunkPayload, p.Payload)
	}
	return n, nil
}

// Marshal encodes p as HEPv3 into a new slice.
func (p *Packet) Marshal() ([]byte, error) {
	buf := make([]byte, p.MarshalSize())
	n, err := p.MarshalTo(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// writer appends into a buffer that MarshalTo has already sized exactly.
type writer struct {
	buf []byte
	off int
}

func (w *writer) bytes(b []byte) { w.off += copy(w.buf[w.off:], b) }

func (w *writer) u16(v uint16) {
	binary.BigEndian.PutUint16(w.buf[w.off:], v)
	w.off += 2
}

func (w *writer) chunkHeader(typ uint16, dataLen int) {
	w.u16(0) // generic vendor
	w.u16(typ)
	w.u16(uint16(chunkHeaderLen + dataLen))
}

func (w *writer) chunkU8(typ uint16, v uint8) {
	w.chunkHeader(typ, 1)
	w.buf[w.off] = v
	w.off++
}

func (w *writer) chunkU16(typ uint16, v uint16) {
	w.chunkHeader(typ, 2)
	w.u16(v)
}

func (w *writer) chunkU32(typ uint16, v uint32) {
	w.chunkHeader(typ, 4)
	binary.BigEndian.PutUint32(w.buf[w.off:], v)
	w.off += 4
}

func (w *writer) chunkBytes(typ uint16, b []byte) {
	w.chunkHeader(typ, len(b))
	w.bytes(b)
}

func (w *writer) addr(typ4, typ6 uint16, a netip.Addr) {
	switch {
	case a.Is4():
		b := a.As4()
		w.chunkBytes(typ4, b[:])
	case a.Is6():
		b := a.As16()
		w.chunkBytes(typ6, b[:])
	}
}
