package correlate

import "github.com/sipscope/sipscope/decode/sip"

// Reasons a call's SIP was malformed, for Call.Malformed. The messages
// were still identifiable (Call-ID, method or status, CSeq) and were kept:
// a broken header is often why a call failed.
const (
	MalformedContentLength = "bad_content_length"    // Content-Length not a number; the body ran to the end of the datagram
	MalformedNoEmptyLine   = "no_empty_line"         // the datagram ended without the empty line after the headers
	MalformedMaxForwards   = "bad_max_forwards"      // Max-Forwards not a number in 0..255
	MalformedExpires       = "bad_expires"           // Expires not delta-seconds
	MalformedToTag         = "missing_to_tag_on_2xx" // a 2xx to the INVITE without a To tag (RFC 3261 §8.2.6.2)
)

// malformedBits is a dialog's set of Malformed* reasons, one bit each in
// the order of malformedReasons.
type malformedBits uint8

const (
	badContentLength malformedBits = 1 << iota
	badNoEmptyLine
	badMaxForwards
	badExpires
	badToTag
)

var malformedReasons = [...]string{MalformedContentLength, MalformedNoEmptyLine, MalformedMaxForwards, MalformedExpires, MalformedToTag}

// malformedOf is what the parser tolerated in m that a user should see.
func malformedOf(m *sip.Message) malformedBits {
	var b malformedBits
	if m.Flags == 0 {
		return 0
	}
	if m.Flags.Has(sip.FlagBadContentLength) {
		b |= badContentLength
	}
	if m.Flags.Has(sip.FlagNoEmptyLine) {
		b |= badNoEmptyLine
	}
	if m.Flags.Has(sip.FlagBadMaxForwards) {
		b |= badMaxForwards
	}
	if m.Flags.Has(sip.FlagBadExpires) {
		b |= badExpires
	}
	return b
}

// reasons lists the set bits' reasons; nil when none.
func (b malformedBits) reasons() []string {
	if b == 0 {
		return nil
	}
	var out []string
	for i, r := range malformedReasons {
		if b&(1<<i) != 0 {
			out = append(out, r)
		}
	}
	return out
}
