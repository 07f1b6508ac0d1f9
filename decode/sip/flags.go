package sip

import "github.com/sipscope/sipscope/decode/internal/bitflags"

// Flags records anomalies that Unmarshal tolerated. A message with flags
// set was still parsed; correlate may count them or show them to users.
type Flags uint16

const (
	// FlagJunkBeforeStartLine: bytes other than empty lines preceded the
	// start line and were skipped.
	FlagJunkBeforeStartLine Flags = 1 << iota
	// FlagBareLF: at least one line of the start line or headers ended in
	// LF without CR.
	FlagBareLF
	// FlagNoEmptyLine: the datagram ended after a complete header line
	// without the empty line that ends the header section.
	FlagNoEmptyLine
	// FlagHeadersNotStored: more than HeaderCapacity headers; the rest were
	// interpreted and counted but are not in Headers.
	FlagHeadersNotStored
	// FlagExtraBytes: the datagram holds bytes after the body that
	// Content-Length announced; they are not part of Raw (RFC 3261 §18.3).
	FlagExtraBytes
	// FlagLaxAddrSpec: white space inside <...> in From or To (RFC 4475
	// §3.1.2.14); the URI was trimmed.
	FlagLaxAddrSpec
	// FlagBadDate: the Date header is not an RFC 1123 GMT date (RFC 4475
	// §3.1.2.12); its value is kept as is.
	FlagBadDate
	// FlagBadExpires: Expires is not delta-seconds fitting 32 bits;
	// Expires is -1.
	FlagBadExpires
	// FlagBadMaxForwards: Max-Forwards is not a number in 0..255;
	// MaxForwards is -1 when it is not a number at all.
	FlagBadMaxForwards
	// FlagBadContentLength: Content-Length is not a decimal number within
	// MaxBodyBytes. A datagram's body is then the rest of the datagram
	// (as without Content-Length) and ContentLength is -1, so the message
	// still reaches its call; FrameLength cannot frame a stream with it.
	FlagBadContentLength
)

// flagName names one flag bit.
func flagName(bit Flags) string {
	switch bit {
	case FlagJunkBeforeStartLine:
		return "junk-before-start-line"
	case FlagBareLF:
		return "bare-lf"
	case FlagNoEmptyLine:
		return "no-empty-line"
	case FlagHeadersNotStored:
		return "headers-not-stored"
	case FlagExtraBytes:
		return "extra-bytes"
	case FlagLaxAddrSpec:
		return "lax-addr-spec"
	case FlagBadDate:
		return "bad-date"
	case FlagBadExpires:
		return "bad-expires"
	case FlagBadMaxForwards:
		return "bad-max-forwards"
	case FlagBadContentLength:
		return "bad-content-length"
	}
	return "unknown"
}

// Has reports whether all bits of x are set in f.
func (f Flags) Has(x Flags) bool { return f&x == x }

// String lists the set flags separated by '|' (for logs and tests, not
// the per-packet path: it allocates).
func (f Flags) String() string { return bitflags.String(f, flagName) }
