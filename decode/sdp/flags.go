package sdp

import "github.com/sipscope/sipscope/decode/internal/bitflags"

// Flags records what Unmarshal tolerated or left out.
type Flags uint8

const (
	// FlagBadLine: a line is not "<letter>=<value>"; it was ignored.
	FlagBadLine Flags = 1 << iota
	// FlagBadAttribute: an a=rtpmap, fmtp, rtcp or ptime value is
	// malformed; it was ignored.
	FlagBadAttribute
	// FlagBadOrigin: the o= line does not have six fields; Origin is empty.
	FlagBadOrigin
	// FlagTruncated: more media, formats, rtpmaps or fmtps than the fixed
	// capacity; the extra ones are counted (MediaCount) but not stored.
	FlagTruncated
)

func flagName(bit Flags) string {
	switch bit {
	case FlagBadLine:
		return "bad-line"
	case FlagBadAttribute:
		return "bad-attribute"
	case FlagBadOrigin:
		return "bad-origin"
	case FlagTruncated:
		return "truncated"
	}
	return "unknown"
}

// Has reports whether all bits of x are set in f.
func (f Flags) Has(x Flags) bool { return f&x == x }

// String lists the set flags separated by '|' (for logs and tests, not
// the per-packet path: it allocates).
func (f Flags) String() string { return bitflags.String(f, flagName) }
