package sip

import (
	"bytes"
	"fmt"
	"math"
)

// maxJunkBytes bounds how far into the input the start line may begin;
// beyond it the payload is taken as not SIP rather than searched further.
const maxJunkBytes = 1024

// Message is the decoded view of one SIP message. The caller owns it and
// reuses it: Unmarshal resets every field. Every []byte points into the
// input, so the view is valid only as long as the input is unchanged;
// copy what must outlive the packet.
//
// ContentLength, Expires and MaxForwards hold -1 when their header is
// absent; StatusCode is 0 in requests.
type Message struct {
	// Raw is the message from the start line to the end of the body:
	// skipped junk and bytes after Content-Length are excluded.
	Raw []byte

	IsRequest  bool
	Method     []byte // requests
	RequestURI []byte // requests
	StatusCode int    // responses, 100..699
	Reason     []byte // responses: the reason phrase, possibly empty

	CallID        []byte
	From, To      []byte // whole header values
	FromDisplay   []byte // display names without quotes
	ToDisplay     []byte
	FromURI       []byte // addr-spec, without header parameters
	ToURI         []byte
	FromUser      []byte // user part of the URI (tel: number), see URIUser
	ToUser        []byte
	FromTag       []byte
	ToTag         []byte
	CSeq          uint32
	CSeqMethod    []byte
	TopVia        []byte // first value of the first Via header
	ViaBranch     []byte // branch parameter of TopVia
	ViaCount      int    // Via values over all Via headers
	ContentType   []byte
	ContentLength int    // -1 when absent
	Expires       int    // -1 when absent or malformed (see FlagBadExpires)
	MaxForwards   int    // -1 when absent or not a number
	Contact       []byte // first Contact header's value
	UserAgent     []byte
	Server        []byte
	// ReasonHeader is the Reason header (RFC 3326), e.g.
	// `Q.850;cause=16;text="Normal call clearing"`.
	ReasonHeader      []byte
	PAssertedIdentity []byte
	Diversion         []byte
	// XCallID is the first of X-CID, X-Call-ID, X-Orig-Call-ID: the leg
	// correlation header that SBCs and B2BUAs add.
	XCallID []byte

	Body  []byte
	Flags Flags

	// HeaderCount counts all header fields; the first NumHeaders (at most
	// HeaderCapacity) are in Headers, in message order.
	HeaderCount int
	NumHeaders  int
	Headers     [HeaderCapacity]HeaderField

	seen headerSet
}

// headerSet remembers which single-valued headers were seen.
type headerSet uint32

func (s *headerSet) add(id headerID) (dup bool) {
	bit := headerSet(1) << id
	dup = *s&bit != 0
	*s |= bit
	return dup
}

func (s headerSet) has(id headerID) bool { return s&(headerSet(1)<<id) != 0 }

// reset clears every field without zeroing the whole Headers array: only
// the entries the previous message used.
func (m *Message) reset() {
	clear(m.Headers[:m.NumHeaders])
	m.Raw = nil
	m.IsRequest = false
	m.Method, m.RequestURI = nil, nil
	m.StatusCode, m.Reason = 0, nil
	m.CallID = nil
	m.From, m.To = nil, nil
	m.FromDisplay, m.ToDisplay = nil, nil
	m.FromURI, m.ToURI = nil, nil
	m.FromUser, m.ToUser = nil, nil
	m.FromTag, m.ToTag = nil, nil
	m.CSeq, m.CSeqMethod = 0, nil
	m.TopVia, m.ViaBranch, m.ViaCount = nil, nil, 0
	m.ContentType = nil
	m.ContentLength, m.Expires, m.MaxForwards = -1, -1, -1
	m.Contact, m.UserAgent, m.Server = nil, nil, nil
	m.ReasonHeader, m.PAssertedIdentity, m.Diversion, m.XCallID = nil, nil, nil, nil
	m.Body = nil
	m.Flags = 0
	m.HeaderCount, m.NumHeaders = 0, 0
	m.seen = 0
}

// Unmarshal parses one SIP message from b, which must hold a whole
// datagram (UDP, SCTP chunk, HEP payload) or a frame cut with FrameLength.
// Empty lines and junk before the start line are skipped (junk sets
// FlagJunkBeforeStartLine). The body is Content-Length bytes, or the rest
// of b when Content-Length is absent.
//
// On error the fields parsed before the problem keep their values (the
// start line, for instance), which helps to count and report rejects; Raw
// and Body are set only on success. Unmarshal does not allocate unless it
// returns an error.
func (m *Message) Unmarshal(b []byte) error {
	m.reset()
	start, lineEnd, next, err := m.findStartLine(b)
	if err != nil {
		return err
	}
	if err := m.parseStartLine(b[start:lineEnd]); err != nil {
		return err
	}
	r := headerReader{b: b, off: next, base: start}
	for {
		id, name, value, end, err := r.next()
		if err != nil {
			if err == errNoEmptyLine {
				m.Flags |= FlagNoEmptyLine
				break
			}
			return err
		}
		if end {
			break
		}
		if m.HeaderCount == MaxHeaders {
			return fmt.Errorf("%w: more than %d", ErrTooManyHeaders, MaxHeaders)
		}
		m.HeaderCount++
		if m.NumHeaders < HeaderCapacity {
			m.Headers[m.NumHeaders] = HeaderField{Name: name, Value: value}
			m.NumHeaders++
		} else {
			m.Flags |= FlagHeadersNotStored
		}
		if err := m.interpret(id, value); err != nil {
			return err
		}
	}
	if r.bareLF {
		m.Flags |= FlagBareLF
	}

	bodyStart, end := r.off, len(b)
	if m.ContentLength >= 0 {
		if m.ContentLength > len(b)-bodyStart {
			return fmt.Errorf("%w: Content-Length %d, %d bytes after the headers",
				ErrTruncatedBody, m.ContentLength, len(b)-bodyStart)
		}
		end = bodyStart + m.ContentLength
		if end < len(b) {
			m.Flags |= FlagExtraBytes
		}
	}
	if err := m.validate(); err != nil {
		return err
	}
	m.Body = b[bodyStart:end]
	m.Raw = b[start:end]
	return nil
}

// findStartLine skips leading empty lines and junk and returns the span of
// the start line (without its terminator) and the offset of the next line.
func (m *Message) findStartLine(b []byte) (start, contentEnd, next int, err error) {
	for off := 0; off < len(b) && off <= maxJunkBytes; {
		lineEnd, nx := len(b), len(b)
		if i := bytes.IndexByte(b[off:], '\n'); i >= 0 {
			lineEnd, nx = off+i, off+i+1
		}
		ce := lineEnd
		if ce > off && b[ce-1] == '\r' {
			ce--
		}
		line := b[off:ce]
		if len(line) > 0 {
			at := 0
			if !startLineCandidate(line) {
				m.Flags |= FlagJunkBeforeStartLine
				at = embeddedStartLine(line)
			}
			if at >= 0 && off+at <= maxJunkBytes {
				if lineEnd == len(b) {
					return 0, 0, 0, fmt.Errorf("%w: start line has no line end", ErrTruncatedHeader)
				}
				if ce-off > MaxLineBytes {
					return 0, 0, 0, fmt.Errorf("%w: start line of %d bytes", ErrLineTooLong, ce-off)
				}
				if ce == lineEnd {
					m.Flags |= FlagBareLF
				}
				return off + at, ce, nx, nil
			}
		}
		off = nx
	}
	return 0, 0, 0, ErrNotSIP
}

// embeddedStartLine finds a start line that begins inside line, after junk
// bytes on the same line, by looking for the "SIP/2.0" that every start
// line carries. It returns the offset of the start line or -1.
func embeddedStartLine(line []byte) int {
	const version = "SIP/2.0"
	for k := 0; ; {
		i := bytes.Index(line[k:], []byte(version))
		if i < 0 {
			return -1
		}
		k += i
		after := line[k+len(version):]
		// Status line: "SIP/2.0 NNN" not glued to a preceding token.
		if len(after) >= 4 && after[0] == ' ' && isDigit(after[1]) && isDigit(after[2]) && isDigit(after[3]) &&
			(k == 0 || !isTokenChar(line[k-1])) {
			return k
		}
		// Request line: method SP uri SP "SIP/2.0" at the end of the line.
		if len(after) == 0 && k >= 4 && line[k-1] == ' ' {
			u := k - 1
			for u > 0 && line[u-1] > ' ' && line[u-1] != 0x7f {
				u--
			}
			if u < k-1 && u >= 2 && line[u-1] == ' ' {
				t := u - 1
				for t > 0 && isTokenChar(line[t-1]) {
					t--
				}
				if t < u-1 {
					return t
				}
			}
		}
		k++
	}
}

// interpret stores what Unmarshal extracts from one header.
func (m *Message) interpret(id headerID, v []byte) error {
	switch id {
	case hOther:
		return nil
	case hCallID, hFrom, hTo, hCSeq, hContentLength:
		if m.seen.add(id) {
			return fmt.Errorf("%w: %s", ErrDuplicateHeader, id)
		}
	}
	switch id {
	case hCallID:
		if len(v) == 0 {
			return fmt.Errorf("%w: empty value", ErrMissingCallID)
		}
		m.CallID = v
	case hFrom:
		var a Address
		if len(v) == 0 {
			return fmt.Errorf("%w: empty value", ErrMissingFrom)
		}
		if err := a.Unmarshal(v); err != nil {
			return fmt.Errorf("header From: %w", err)
		}
		m.From, m.FromDisplay, m.FromURI, m.FromUser = v, a.Display, a.URI, a.User
		m.FromTag = Param(a.Params, "tag")
		if a.Lax {
			m.Flags |= FlagLaxAddrSpec
		}
	case hTo:
		var a Address
		if len(v) == 0 {
			return fmt.Errorf("%w: empty value", ErrMissingTo)
		}
		if err := a.Unmarshal(v); err != nil {
			return fmt.Errorf("header To: %w", err)
		}
		m.To, m.ToDisplay, m.ToURI, m.ToUser = v, a.Display, a.URI, a.User
		m.ToTag = Param(a.Params, "tag")
		if a.Lax {
			m.Flags |= FlagLaxAddrSpec
		}
	case hVia:
		for rest := v; len(rest) > 0; {
			var val []byte
			val, rest = NextValue(rest)
			if len(val) == 0 {
				continue
			}
			if m.ViaCount == 0 {
				m.TopVia = val
				if semi := bytes.IndexByte(val, ';'); semi >= 0 {
					m.ViaBranch = Param(val[semi:], "branch")
				}
			}
			m.ViaCount++
		}
	case hCSeq:
		return m.parseCSeq(v)
	case hContentLength:
		n, ok := parseUint(v, MaxBodyBytes)
		if !ok {
			// A broken Content-Length is often why a call failed: keep
			// the message, flagged, with the rest of the datagram as body.
			m.Flags |= FlagBadContentLength
			return nil
		}
		m.ContentLength = int(n)
	case hContentType:
		if m.ContentType == nil {
			m.ContentType = v
		}
	case hExpires:
		if m.Expires >= 0 || m.Flags.Has(FlagBadExpires) {
			return nil
		}
		if n, ok := parseUint(v, math.MaxUint32); ok {
			m.Expires = int(n)
		} else {
			m.Flags |= FlagBadExpires
		}
	case hMaxForwards:
		if m.MaxForwards >= 0 || m.Flags.Has(FlagBadMaxForwards) {
			return nil
		}
		n, ok := parseUint(v, math.MaxInt32)
		if !ok {
			m.Flags |= FlagBadMaxForwards
			return nil
		}
		if n > 255 {
			m.Flags |= FlagBadMaxForwards
		}
		m.MaxForwards = int(n)
	case hContact:
		if m.Contact == nil {
			m.Contact = v
		}
	case hUserAgent:
		if m.UserAgent == nil {
			m.UserAgent = v
		}
	case hServer:
		if m.Server == nil {
			m.Server = v
		}
	case hReason:
		if m.ReasonHeader == nil {
			m.ReasonHeader = v
		}
	case hPAssertedIdentity:
		if m.PAssertedIdentity == nil {
			m.PAssertedIdentity = v
		}
	case hDiversion:
		if m.Diversion == nil {
			m.Diversion = v
		}
	case hXCallID:
		if m.XCallID == nil {
			m.XCallID = v
		}
	case hDate:
		if !isRFC1123Date(v) {
			m.Flags |= FlagBadDate
		}
	}
	return nil
}

// parseCSeq parses "1*DIGIT LWS Method".
func (m *Message) parseCSeq(v []byte) error {
	i := 0
	for i < len(v) && isDigit(v[i]) {
		i++
	}
	n, ok := parseUint(v[:i], math.MaxUint32)
	if !ok {
		return fmt.Errorf("%w: sequence number in %q", ErrBadCSeq, v[:min(len(v), 32)])
	}
	j := skipLWS(v, i)
	k := skipToken(v, j)
	if j == i || k == j || k != len(v) {
		return fmt.Errorf("%w: %q is not \"number method\"", ErrBadCSeq, v[:min(len(v), 32)])
	}
	m.CSeq = uint32(n)
	m.CSeqMethod = v[j:k]
	return nil
}

// validate checks the headers RFC 3261 §8.1.1 makes mandatory and the
// CSeq method of requests.
func (m *Message) validate() error {
	switch {
	case m.CallID == nil:
		return ErrMissingCallID
	case !m.seen.has(hCSeq):
		return ErrMissingCSeq
	case m.From == nil:
		return ErrMissingFrom
	case m.To == nil:
		return ErrMissingTo
	case m.ViaCount == 0:
		return ErrMissingVia
	case m.IsRequest && !bytes.Equal(m.CSeqMethod, m.Method):
		return fmt.Errorf("%w: %q in CSeq, %q in request line", ErrCSeqMethodMismatch, m.CSeqMethod, m.Method)
	}
	return nil
}

// isRFC1123Date checks the fixed layout "Sat, 15 Oct 2005 04:44:56 GMT"
// that RFC 3261 §20.17 requires; only the shape, not the calendar.
func isRFC1123Date(v []byte) bool {
	// 'a' stands for a letter, '0' for a digit, anything else for itself.
	const layout = "aaa, 00 aaa 0000 00:00:00 GMT"
	if len(v) != len(layout) {
		return false
	}
	for i := 0; i < len(layout); i++ {
		switch c := v[i]; layout[i] {
		case 'a':
			if !isLetter(c) {
				return false
			}
		case '0':
			if !isDigit(c) {
				return false
			}
		default:
			if c != layout[i] {
				return false
			}
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
