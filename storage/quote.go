package storage

import (
	"strconv"
	"strings"
)

// QuoteString returns s as a ClickHouse string literal, quotes included.
//
// Filter values end up inside the SQL text because chDB's Go API has no
// parameter binding and ClickHouse 18.16 has no server-side parameters. The
// literal therefore carries only printable ASCII: backslash and quote are
// backslash-escaped and every other byte (controls, NUL, DEL, bytes of
// multi-byte UTF-8 or invalid UTF-8) becomes \xHH, which ClickHouse 18.16 and
// 26.5 both decode back to the same byte. NUL in particular must never reach
// chDB raw: its C API takes the query as a NUL-terminated string.
func QuoteString(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// QuoteInt returns v as a ClickHouse integer literal. Negative numbers are
// parenthesised so that "x = -1" can never read as "x =- 1" after some
// future edit puts an operator before it.
func QuoteInt(v int64) string {
	if v < 0 {
		return "(" + strconv.FormatInt(v, 10) + ")"
	}
	return strconv.FormatInt(v, 10)
}

// QuoteUint returns v as a ClickHouse integer literal.
func QuoteUint(v uint64) string {
	return strconv.FormatUint(v, 10)
}

// ValidIdentifier reports whether s can be used unquoted as a database or
// table name: ASCII letters, digits and underscores, not starting with a
// digit. Names are validated, not escaped, because they come from
// configuration and a name that needs escaping is a configuration mistake.
func ValidIdentifier(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// validClusterName accepts what cluster names in remote_servers look like
// (letters, digits, '_', '-', '.'); the name is backquoted in DDL and passed as
// a string literal to Distributed.
func validClusterName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c == '-', c == '.', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return true
}
