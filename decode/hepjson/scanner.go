package hepjson

import (
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting skipValue follows: the reports are flat or
// two levels deep, and a bound keeps hostile input from costing stack.
const maxDepth = 16

// scanner walks one JSON text in place. It knows just enough JSON for
// these reports: objects, arrays, strings, numbers, true, false, null.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// peek is the next byte after white space, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return ErrSyntax
	}
	s.i++
	return nil
}

// end checks that nothing but white space follows the value.
func (s *scanner) end() error {
	if s.peek() != 0 || s.i != len(s.b) {
		return ErrSyntax
	}
	return nil
}

// object calls each with every key of the object that starts here; each
// must consume the key's value (with a value method or skipValue).
func (s *scanner) object(each func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		key, _, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := each(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return ErrSyntax
		}
	}
}

// array calls each for every element of the array that starts here.
func (s *scanner) array(each func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := each(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return ErrSyntax
		}
	}
}

// str reads a string and returns its raw contents (escapes left in) and
// whether it holds any escape.
func (s *scanner) str() (raw []byte, escaped bool, err error) {
	if err := s.expect('"'); err != nil {
		return nil, false, err
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			s.i += 2
		case c < 0x20:
			return nil, false, ErrSyntax
		default:
			s.i++
		}
	}
	return nil, false, ErrSyntax
}

// number reads a number's text (validated by the caller's parse).
func (s *scanner) number() ([]byte, error) {
	s.ws()
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	if s.i == start {
		return nil, ErrBadValue
	}
	return s.b[start:s.i], nil
}

// literal consumes true, false or null.
func (s *scanner) literal() error {
	s.ws()
	for _, w := range [...]string{"true", "false", "null"} {
		if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
			s.i += len(w)
			return nil
		}
	}
	return ErrSyntax
}

// skipValue consumes any value, nested at most maxDepth deep.
func (s *scanner) skipValue(depth int) error {
	if depth > maxDepth {
		return ErrTooDeep
	}
	switch s.peek() {
	case '{':
		return s.object(func([]byte) error { return s.skipValue(depth + 1) })
	case '[':
		return s.array(func() error { return s.skipValue(depth + 1) })
	case '"':
		_, _, err := s.str()
		return err
	case 't', 'f', 'n':
		return s.literal()
	default:
		_, err := s.number()
		return err
	}
}

// int reads an integer in [lo, hi]. A number written with a fraction or
// an exponent is accepted when its value is whole (some agents print
// every figure as a float).
func (s *scanner) int(lo, hi int64) (int64, error) {
	t, err := s.number()
	if err != nil {
		return 0, err
	}
	if v, err := strconv.ParseInt(string(t), 10, 64); err == nil {
		if v < lo || v > hi {
			return 0, ErrBadValue
		}
		return v, nil
	}
	f, err := strconv.ParseFloat(string(t), 64)
	if err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, ErrBadValue
	}
	return int64(f), nil
}

// float reads a finite number.
func (s *scanner) float() (float64, error) {
	t, err := s.number()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(t), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, ErrBadValue
	}
	return f, nil
}

// appendString appends the string value that starts here, unescaped, to
// dst.
func (s *scanner) appendString(dst []byte) ([]byte, error) {
	raw, escaped, err := s.str()
	if err != nil {
		return dst, err
	}
	if !escaped {
		return append(dst, raw...), nil
	}
	return appendUnescaped(dst, raw)
}

// appendUnescaped appends the JSON string contents raw with its escapes
// resolved; a lone surrogate becomes U+FFFD, as encoding/json does.
func appendUnescaped(dst, raw []byte) ([]byte, error) {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return dst, ErrSyntax
		}
		switch e := raw[i+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(raw[i+2:])
			if !ok {
				return dst, ErrSyntax
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(raw[min(i+2, len(raw)):]); ok && i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						dst = utf8.AppendRune(dst, d)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, ErrSyntax
		}
		i += 2
	}
	return dst, nil
}

// hex4 reads the 4 hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
