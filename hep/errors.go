package hep

import "errors"

// Sentinel errors. Unmarshal and FrameLength return them bare, never
// wrapped: they run once per packet and must not allocate, and the kind of
// damage is all a caller does with them (count it, drop the packet).
var (
	// ErrNotHEP means the bytes start with neither "HEP3" nor a HEPv1/v2
	// version byte.
	ErrNotHEP = errors.New("hep: not a HEP packet")
	// ErrTruncated means the input ends inside the fixed header (HEPv1/v2
	// included) or before the total length a HEPv3 header announces.
	ErrTruncated = errors.New("hep: packet shorter than its header says")
	// ErrBadLength means a HEPv3 total length is shorter than the HEPv3
	// header itself, so a stream carrying it cannot be resynchronised.
	ErrBadLength = errors.New("hep: impossible total length")
	// ErrBadChunk means a HEPv3 chunk is shorter than a chunk header, runs
	// past the packet's total length, or is a fixed-size chunk (address,
	// port, timestamp, ...) of the wrong size.
	ErrBadChunk = errors.New("hep: malformed chunk")
	// ErrBadFamily means a HEPv1/v2 header names an address family other
	// than IPv4 (2) or IPv6 (10), so the addresses cannot be located.
	ErrBadFamily = errors.New("hep: unknown address family")

	// ErrTooLarge means a packet to encode does not fit HEPv3's 16-bit
	// total length or a chunk's 16-bit length.
	ErrTooLarge = errors.New("hep: packet too large to encode")
	// ErrShortBuffer means the buffer given to MarshalTo is smaller than
	// MarshalSize.
	ErrShortBuffer = errors.New("hep: buffer too small")

	// ErrBadCompression means a payload marked compressed is not a valid
	// zlib (RFC 1950, what captagent sends) or gzip stream.
	ErrBadCompression = errors.New("hep: compressed payload is not a valid zlib or gzip stream")
	// ErrPayloadTooLarge means an inflated payload would exceed the
	// capacity of the buffer given to DecompressPayload.
	ErrPayloadTooLarge = errors.New("hep: inflated payload exceeds the buffer")
)
