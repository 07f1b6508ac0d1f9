package sip

import (
	"bytes"
	"fmt"
)

// LooksLikeSIP reports whether b starts, exactly at b[0], with a SIP request
// line (token SP Request-URI SP "SIP/2.0") or a status line ("SIP/2.0" SP
// 3DIGIT). It reads at most the first line and never allocates; HTTP request
// and status lines do not match. Use it to classify payloads on ports that
// are not known to carry SIP.
func LooksLikeSIP(b []byte) bool {
	const version = "SIP/2.0"
	if hasPrefixFold(b, version+" ") {
		if len(b) < 11 || !isDigit(b[8]) || !isDigit(b[9]) || !isDigit(b[10]) {
			return false
		}
		return len(b) == 11 || b[11] == ' ' || b[11] == '\r' || b[11] == '\n'
	}
	i := skipToken(b, 0)
	if i == 0 || i >= len(b) || b[i] != ' ' {
		return false
	}
	j := i + 1
	k := j
	for k < len(b) && b[k] > ' ' && b[k] != 0x7f {
		k++
	}
	if k == j || k >= len(b) || b[k] != ' ' {
		return false
	}
	rest := b[k+1:]
	if !hasPrefixFold(rest, version) {
		return false
	}
	rest = rest[len(version):]
	return len(rest) == 0 || rest[0] == '\r' || rest[0] == '\n' || rest[0] == ' '
}

// startLineCandidate is the loose test used while skipping junk: a line that
// passes it is taken as the start line and parsed strictly, so that a SIP
// message with a broken start line is reported as such instead of as "not
// SIP".
func startLineCandidate(line []byte) bool {
	if hasPrefixFold(line, "SIP/") {
		return true
	}
	i := skipToken(line, 0)
	if i == 0 || i >= len(line) || line[i] != ' ' {
		return false
	}
	for rest := line[i:]; ; {
		k := bytes.IndexByte(rest, ' ')
		if k < 0 {
			return false
		}
		rest = rest[k+1:]
		if hasPrefixFold(rest, "SIP/") {
			return true
		}
	}
}

// checkVersion validates a SIP-Version token ("SIP/2.0").
func checkVersion(v []byte) error {
	if !hasPrefixFold(v, "SIP/") {
		return fmt.Errorf("%w: version %q", ErrBadStartLine, v)
	}
	num := v[4:]
	dot := bytes.IndexByte(num, '.')
	if dot <= 0 || dot == len(num)-1 {
		return fmt.Errorf("%w: version %q", ErrBadStartLine, v)
	}
	for i, c := range num {
		if i != dot && !isDigit(c) {
			return fmt.Errorf("%w: version %q", ErrBadStartLine, v)
		}
	}
	if string(num) != "2.0" {
		return fmt.Errorf("%w: %q", ErrBadVersion, v)
	}
	return nil
}

// parseStartLine fills the request or status fields of m from line (without
// its line terminator).
func (m *Message) parseStartLine(line []byte) error {
	if hasPrefixFold(line, "SIP/") {
		return m.parseStatusLine(line)
	}
	return m.parseRequestLine(line)
}

func (m *Message) parseStatusLine(line []byte) error {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		if err := checkVersion(line); err != nil {
			return err
		}
		return fmt.Errorf("%w: status line without status code", ErrBadStartLine)
	}
	if err := checkVersion(line[:sp]); err != nil {
		return err
	}
	rest := line[sp+1:]
	if len(rest) < 3 || !isDigit(rest[0]) || !isDigit(rest[1]) || !isDigit(rest[2]) {
		return fmt.Errorf("%w: status code %q", ErrBadStartLine, rest[:min(len(rest), 8)])
	}
	code := int(rest[0]-'0')*100 + int(rest[1]-'0')*10 + int(rest[2]-'0')
	if code < 100 || code > 699 {
		return fmt.Errorf("%w: status code %d out of range", ErrBadStartLine, code)
	}
	switch {
	case len(rest) == 3:
		// "SIP/2.0 200" without SP: tolerated, reason is empty.
		m.Reason = rest[3:]
	case rest[3] == ' ':
		m.Reason = rest[4:]
	default:
		return fmt.Errorf("%w: status code %q", ErrBadStartLine, rest[:min(len(rest), 8)])
	}
	m.StatusCode = code
	return nil
}

func (m *Message) parseRequestLine(line []byte) error {
	i := skipToken(line, 0)
	if i == 0 || i >= len(line) || line[i] != ' ' {
		return fmt.Errorf("%w: method is not a token", ErrBadStartLine)
	}
	rest := line[i+1:]
	sp := bytes.LastIndexByte(rest, ' ')
	if sp < 0 {
		return fmt.Errorf("%w: request line without version", ErrBadStartLine)
	}
	uri, version := rest[:sp], rest[sp+1:]
	if len(version) == 0 {
		return fmt.Errorf("%w: trailing whitespace after SIP version", ErrBadStartLine)
	}
	if err := checkVersion(version); err != nil {
		return err
	}
	if len(uri) == 0 {
		return fmt.Errorf("%w: empty Request-URI", ErrBadStartLine)
	}
	// Control characters are tolerated; white space is what misframes.
	if bytes.IndexByte(uri, ' ') >= 0 || bytes.IndexByte(uri, '\t') >= 0 {
		return fmt.Errorf("%w: white space in Request-URI %q", ErrBadStartLine, uri)
	}
	if !hasScheme(uri) {
		return fmt.Errorf("%w: Request-URI %q has no scheme", ErrBadStartLine, uri)
	}
	m.IsRequest = true
	m.Method = line[:i]
	m.RequestURI = uri
	return nil
}

// hasScheme checks for an RFC 3986 scheme and colon at the start of uri.
func hasScheme(uri []byte) bool {
	if len(uri) == 0 || !isLetter(uri[0]) {
		return false
	}
	for _, c := range uri[1:] {
		switch {
		case c == ':':
			return true
		case isLetter(c), isDigit(c), c == '+', c == '-', c == '.':
		default:
			return false
		}
	}
	return false
}
