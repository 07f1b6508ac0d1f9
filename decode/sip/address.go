package sip

import (
	"bytes"
	"fmt"
)

// Address is a parsed name-addr or addr-spec header value (From, To,
// Contact, P-Asserted-Identity, ...). Every slice points into the value.
type Address struct {
	// Display is the display name without its quotes (escapes kept).
	Display []byte
	// URI is the addr-spec: inside <...> or, without brackets, up to the
	// first ';' or white space (RFC 3261 §20.10).
	URI []byte
	// User is URIUser(URI).
	User []byte
	// Params are the header parameters after the URI, starting at ';'
	// (";tag=1;foo"), for Param.
	Params []byte
	// Lax is set when the URI inside <...> had surrounding white space,
	// which RFC 3261 forbids but RFC 4475 §3.1.2.14 allows to accept.
	Lax bool
}

// Unmarshal parses one address value (not a comma-separated list: split
// those with NextValue first).
func (a *Address) Unmarshal(v []byte) error {
	*a = Address{}
	v = trimLWS(v)
	if len(v) == 0 {
		return fmt.Errorf("%w: empty address", ErrBadHeader)
	}
	lt := -1
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			end, ok := skipQuoted(v, i)
			if !ok {
				return fmt.Errorf("%w: unterminated quoted display name", ErrBadHeader)
			}
			a.Display = v[i+1 : end-1]
			i = end - 1
			continue
		case '<':
			lt = i
		case ';', ',':
			if a.Display == nil {
				// A bare addr-spec: its parameters start here.
				i = len(v)
				continue
			}
		default:
			continue
		}
		break
	}
	if lt < 0 {
		if a.Display != nil {
			return fmt.Errorf("%w: quoted display name without <URI>", ErrBadHeader)
		}
		end := 0
		for end < len(v) && v[end] != ';' && !isLWS(v[end]) {
			end++
		}
		a.URI = v[:end]
		a.Params = trimLWS(v[end:])
		a.User = URIUser(a.URI)
		return nil
	}
	if a.Display == nil {
		a.Display = trimLWS(v[:lt])
	}
	gt := bytes.IndexByte(v[lt+1:], '>')
	if gt < 0 {
		return fmt.Errorf("%w: '<' without '>'", ErrBadHeader)
	}
	gt += lt + 1
	uri := v[lt+1 : gt]
	if t := trimLWS(uri); len(t) != len(uri) {
		a.Lax = true
		uri = t
	}
	a.URI = uri
	a.Params = trimLWS(v[gt+1:])
	a.User = URIUser(a.URI)
	return nil
}

// URIUser returns the user part of a sip:/sips: URI (without password), the
// number of a tel: URI, or nil for other schemes and URIs without a user.
// Escapes are not decoded.
func URIUser(uri []byte) []byte {
	switch {
	case hasPrefixFold(uri, "sip:"):
		uri = uri[4:]
	case hasPrefixFold(uri, "sips:"):
		uri = uri[5:]
	case hasPrefixFold(uri, "tel:"):
		uri = uri[4:]
		end := 0
		for end < len(uri) && uri[end] != ';' && uri[end] != '?' && !isLWS(uri[end]) {
			end++
		}
		return uri[:end]
	default:
		return nil
	}
	at := bytes.IndexByte(uri, '@')
	if at < 0 {
		return nil
	}
	user := uri[:at]
	if c := bytes.IndexByte(user, ':'); c >= 0 {
		user = user[:c]
	}
	return user
}

// Param returns the value of the parameter called name (any case) in a
// parameter list such as ";tag=abc ; lr;branch=z9hG4bK1". A parameter
// without a value yields an empty, non-nil slice; an absent one yields nil.
// A quoted value is returned with its quotes. The list ends at a ',' that
// is not inside quotes.
func Param(params []byte, name string) []byte {
	i := 0
	for {
		i = skipLWS(params, i)
		if i >= len(params) || params[i] != ';' {
			return nil
		}
		i = skipLWS(params, i+1)
		start := i
		i = skipToken(params, i)
		pname := params[start:i]
		i = skipLWS(params, i)
		var val []byte
		if i < len(params) && params[i] == '=' {
			i = skipLWS(params, i+1)
			vs := i
			switch {
			case i < len(params) && params[i] == '"':
				i, _ = skipQuoted(params, i)
			case i < len(params) && params[i] == '[':
				if k := bytes.IndexByte(params[i:], ']'); k >= 0 {
					i += k + 1
				} else {
					i = len(params)
				}
			default:
				for i < len(params) && valueEndTable[params[i]] != '1' {
					i++
				}
			}
			val = params[vs:i]
		} else {
			val = params[i:i]
		}
		if len(pname) > 0 && equalFold(pname, name) {
			return val
		}
		// Skip anything unexpected up to the next parameter.
		for i < len(params) && params[i] != ';' && params[i] != ',' {
			if params[i] == '"' {
				i, _ = skipQuoted(params, i)
				continue
			}
			i++
		}
	}
}

// NextValue splits a comma-separated header value (Via, Contact, Route, ...)
// into its first element and the rest. Commas inside quoted strings and
// inside <...> do not split. Use it in a loop:
//
//	for v := m.Header("Route"); len(v) > 0; {
//		var route []byte
//		route, v = sip.NextValue(v)
//	}
//
// Do not use it on headers whose values contain bare commas (Date, Reason
// text in quotes is fine).
func NextValue(v []byte) (value, rest []byte) {
	// Fast path: no comma, or none that a quote or bracket could hide.
	comma := bytes.IndexByte(v, ',')
	if comma < 0 {
		return trimLWS(v), nil
	}
	if bytes.IndexByte(v[:comma], '"') < 0 && bytes.IndexByte(v[:comma], '<') < 0 {
		return trimLWS(v[:comma]), v[comma+1:]
	}
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			end, _ := skipQuoted(v, i)
			i = end - 1
		case '<':
			if k := bytes.IndexByte(v[i:], '>'); k >= 0 {
				i += k
			} else {
				i = len(v) - 1
			}
		case ',':
			return trimLWS(v[:i]), v[i+1:]
		}
	}
	return trimLWS(v), nil
}
