package sip

import (
	"bytes"
	"fmt"
)

// Limits that bound the work and memory spent on one message.
const (
	// MaxHeaderBytes bounds the start line plus the header section,
	// including the empty line that ends it.
	MaxHeaderBytes = 64 << 10
	// MaxLineBytes bounds one physical line (a folded header may span
	// several).
	MaxLineBytes = 16 << 10
	// MaxHeaders bounds the number of header fields (logical lines).
	MaxHeaders = 512
	// HeaderCapacity is how many header fields Message.Headers stores;
	// further ones are still parsed and counted in HeaderCount.
	HeaderCapacity = 64
	// MaxBodyBytes bounds Content-Length; larger values are rejected so a
	// stream reassembler never buffers more than this for one message.
	MaxBodyBytes = 4 << 20
)

// HeaderField is one header as it appears in the message. Value has the
// surrounding white space removed; a folded value keeps its inner CRLF and
// indentation bytes, since the input is never rewritten.
type HeaderField struct {
	Name  []byte
	Value []byte
}

// compactForm maps a compact header name (RFC 3261 §7.3.3 and later
// registrations) to its long form in lower case, or "" if c is not one.
func compactForm(c byte) string {
	switch lower(c) {
	case 'i':
		return "call-id"
	case 'f':
		return "from"
	case 't':
		return "to"
	case 'v':
		return "via"
	case 'm':
		return "contact"
	case 'l':
		return "content-length"
	case 'c':
		return "content-type"
	case 'e':
		return "content-encoding"
	case 'k':
		return "supported"
	case 's':
		return "subject"
	case 'o':
		return "event"
	case 'r':
		return "refer-to"
	case 'b':
		return "referred-by"
	case 'x':
		return "session-expires"
	case 'u':
		return "allow-events"
	case 'y':
		return "identity"
	case 'a':
		return "accept-contact"
	case 'j':
		return "reject-contact"
	case 'd':
		return "request-disposition"
	}
	return ""
}

// sameHeaderName compares two header names, long or compact, ignoring case.
func sameHeaderName[A, B text](a A, b B) bool {
	if len(a) == 1 {
		if long := compactForm(a[0]); long != "" {
			if len(b) == 1 {
				return lower(a[0]) == lower(b[0])
			}
			return equalFold(long, b)
		}
	}
	if len(b) == 1 {
		if long := compactForm(b[0]); long != "" {
			return equalFold(a, long)
		}
	}
	return equalFold(a, b)
}

// Header returns the value of the first stored header called name (long or
// compact form, any case), or nil. Headers beyond HeaderCapacity are not
// stored and so not found here.
func (m *Message) Header(name string) []byte {
	for i := 0; i < m.NumHeaders; i++ {
		if sameHeaderName(m.Headers[i].Name, name) {
			return m.Headers[i].Value
		}
	}
	return nil
}

// headerID names the headers Unmarshal interprets.
type headerID uint8

const (
	hOther headerID = iota
	hCallID
	hFrom
	hTo
	hVia
	hCSeq
	hContentType
	hContentLength
	hExpires
	hContact
	hUserAgent
	hServer
	hMaxForwards
	hReason
	hPAssertedIdentity
	hDiversion
	hXCallID
	hDate
)

func (h headerID) String() string {
	switch h {
	case hCallID:
		return "Call-ID"
	case hFrom:
		return "From"
	case hTo:
		return "To"
	case hVia:
		return "Via"
	case hCSeq:
		return "CSeq"
	case hContentType:
		return "Content-Type"
	case hContentLength:
		return "Content-Length"
	case hExpires:
		return "Expires"
	case hContact:
		return "Contact"
	case hMaxForwards:
		return "Max-Forwards"
	case hDate:
		return "Date"
	}
	return "header"
}

// maxNameLen is the length of the longest header name classifyFolded
// knows.
const maxNameLen = len("p-asserted-identity")

// classifyFolded identifies a header name already folded by OR-ing 0x20,
// which lowers letters and maps no other token character onto a letter,
// digit or '-' (lexical_test.go checks this). The switch compiles to
// length dispatch and word compares.
func classifyFolded(name []byte) headerID {
	switch string(name) {
	case "i", "call-id":
		return hCallID
	case "f", "from":
		return hFrom
	case "t", "to":
		return hTo
	case "v", "via":
		return hVia
	case "cseq":
		return hCSeq
	case "c", "content-type":
		return hContentType
	case "l", "content-length":
		return hContentLength
	case "expires":
		return hExpires
	case "m", "contact":
		return hContact
	case "user-agent":
		return hUserAgent
	case "server":
		return hServer
	case "max-forwards":
		return hMaxForwards
	case "reason":
		return hReason
	case "p-asserted-identity":
		return hPAssertedIdentity
	case "diversion":
		return hDiversion
	case "x-cid", "x-call-id", "x-orig-call-id":
		return hXCallID
	case "date":
		return hDate
	}
	return hOther
}

// headerReader walks a header section one logical header at a time,
// joining folded continuation lines. It never copies.
type headerReader struct {
	b      []byte
	off    int // start of the next physical line
	base   int // start of the start line, for the MaxHeaderBytes check
	bareLF bool
}

// lineEnd finds the end of the physical line starting at off: contentEnd
// excludes CR LF, next is the start of the following line.
func (r *headerReader) lineEnd(off int) (contentEnd, next int, err error) {
	i := bytes.IndexByte(r.b[off:], '\n')
	if i < 0 {
		if len(r.b)-off > MaxLineBytes {
			return 0, 0, fmt.Errorf("%w: more than %d bytes without a line end", ErrLineTooLong, MaxLineBytes)
		}
		if len(r.b)-r.base > MaxHeaderBytes {
			return 0, 0, fmt.Errorf("%w: more than %d bytes", ErrHeaderTooLong, MaxHeaderBytes)
		}
		return 0, 0, fmt.Errorf("%w: last line has no line end", ErrTruncatedHeader)
	}
	if i > MaxLineBytes {
		return 0, 0, fmt.Errorf("%w: %d bytes", ErrLineTooLong, i)
	}
	end := off + i
	next = end + 1
	if next-r.base > MaxHeaderBytes {
		return 0, 0, fmt.Errorf("%w: more than %d bytes", ErrHeaderTooLong, MaxHeaderBytes)
	}
	if end > off && r.b[end-1] == '\r' {
		end--
	} else {
		r.bareLF = true
	}
	return end, next, nil
}

// next returns the next header, or end == true after consuming the empty
// line that ends the section (r.off is then the start of the body).
// The header is also identified (id), in the same pass over its name.
func (r *headerReader) next() (id headerID, name, value []byte, end bool, err error) {
	if r.off >= len(r.b) {
		return hOther, nil, nil, false, errNoEmptyLine
	}
	start := r.off
	contentEnd, next, err := r.lineEnd(start)
	if err != nil {
		return hOther, nil, nil, false, err
	}
	if contentEnd == start {
		r.off = next
		return hOther, nil, nil, true, nil
	}
	line := r.b[start:contentEnd]
	if isWS(line[0]) {
		return hOther, nil, nil, false, fmt.Errorf("%w: continuation line without a header before it", ErrBadHeader)
	}
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return hOther, nil, nil, false, fmt.Errorf("%w: no colon in %q", ErrBadHeader, line[:min(len(line), 32)])
	}
	n := colon
	for n > 0 && isWS(line[n-1]) {
		n--
	}
	name = line[:n]
	// Validate and fold the name in one branch-free pass; folded is only
	// read when the name is short enough to be one classifyFolded knows.
	var folded [32]byte
	var bad byte
	for j, c := range name {
		bad |= tokenTable[c] ^ '1'
		folded[j&31] = c | 0x20
	}
	if n == 0 || bad != 0 {
		return hOther, nil, nil, false, fmt.Errorf("%w: header name %q is not a token", ErrBadHeader, line[:min(colon, 32)])
	}
	if n <= maxNameLen {
		id = classifyFolded(folded[:n])
	}
	valStart, valEnd := start+colon+1, contentEnd
	r.off = next
	for r.off < len(r.b) && isWS(r.b[r.off]) {
		ce, nx, err := r.lineEnd(r.off)
		if err != nil {
			return hOther, nil, nil, false, err
		}
		valEnd = ce
		r.off = nx
	}
	return id, name, trimLWS(r.b[valStart:valEnd]), false, nil
}
