package storage

import (
	"strings"
	"testing"
)

func TestQuoteStringEscapesEverythingButPrintableASCII(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"an empty string is two quotes", "", `''`},
		{"plain text is kept", "alice@example.com", `'alice@example.com'`},
		{"a single quote is backslash-escaped", "it's", `'it\'s'`},
		{"a backslash is doubled", `a\b`, `'a\\b'`},
		{"a trailing backslash cannot escape the closing quote", `a\`, `'a\\'`},
		{"an escaped quote in the input stays literal", `\'`, `'\\\''`},
		{"NUL becomes \\x00 so a C string is not cut", "a\x00b", `'a\x00b'`},
		{"newline, tab and CR become hex escapes", "\n\t\r", `'\x0A\x09\x0D'`},
		{"DEL is escaped", "\x7f", `'\x7F'`},
		{"UTF-8 is escaped byte by byte", "é", `'\xC3\xA9'`},
		{"invalid UTF-8 passes as its bytes", "\xff", `'\xFF'`},
		{"a double quote and backquote need nothing", "\"`", "'\"`'"},
		{"SQL injection stays inside the literal", "' OR 1=1 --", `'\' OR 1=1 --'`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := QuoteString(c.in); got != c.want {
				t.Errorf("QuoteString(%q) = %s, want %s", c.in, got, c.want)
			}
		})
	}
}

// unquote is a reference reader of ClickHouse string literals for the
// escapes QuoteString emits.
func unquote(t *testing.T, lit string) string {
	t.Helper()
	if len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
		t.Fatalf("not a literal: %s", lit)
	}
	body := lit[1 : len(lit)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\'':
			t.Fatalf("unescaped quote at %d in %s", i, lit)
		case c == '\\' && i+1 < len(body) && (body[i+1] == '\\' || body[i+1] == '\''):
			b.WriteByte(body[i+1])
			i++
		case c == '\\' && i+3 < len(body) && body[i+1] == 'x':
			var v byte
			for _, h := range body[i+2 : i+4] {
				v <<= 4
				switch {
				case h >= '0' && h <= '9':
					v |= byte(h - '0')
				case h >= 'A' && h <= 'F':
					v |= byte(h - 'A' + 10)
				default:
					t.Fatalf("bad hex escape in %s", lit)
				}
			}
			b.WriteByte(v)
			i += 3
		case c == '\\':
			t.Fatalf("dangling backslash at %d in %s", i, lit)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func FuzzQuoteString(f *testing.F) {
	for _, s := range []string{"", "'", `\`, "\x00", `\'`, "a'b\\c\nd", "\xff\xfe", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lit := QuoteString(s)
		for i := 0; i < len(lit); i++ {
			if lit[i] < 0x20 || lit[i] >= 0x7f {
				t.Fatalf("byte %#x at %d of %s is not printable ASCII", lit[i], i, lit)
			}
		}
		if got := unquote(t, lit); got != s {
			t.Fatalf("QuoteString(%q) = %s reads back as %q", s, lit, got)
		}
	})
}

func TestQuoteIntegers(t *testing.T) {
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"zero", QuoteInt(0), "0"},
		{"a positive int", QuoteInt(486), "486"},
		{"a negative int is parenthesised", QuoteInt(-9223372036854775808), "(-9223372036854775808)"},
		{"the largest uint", QuoteUint(18446744073709551615), "18446744073709551615"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.name, c.got, c.want)
		}
	}
}

func TestValidIdentifier(t *testing.T) {
	for _, ok := range []string{"sipscope", "_x", "db_2", "A"} {
		if !ValidIdentifier(ok) {
			t.Errorf("%q rejected", ok)
		}
	}
	for _, bad := range []string{"", "2db", "a-b", "a.b", "a b", "a`b", "db;DROP", "é", strings.Repeat("a", 129)} {
		if ValidIdentifier(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
