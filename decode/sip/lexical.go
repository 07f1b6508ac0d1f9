package sip

// Character classes and small scanners for the RFC 3261 §25 grammar. They
// work on []byte and string alike so that lookups by a Go string constant
// never convert (and allocate).

type text interface{ ~string | ~[]byte }

// tokenTable marks with '1' the bytes that may appear in an RFC 3261
// token (§25.1: alphanum and "-.!%*_+`'~"), one row per 16 byte values. A
// string constant makes the lookup a single load without mutable state;
// lexical_test.go checks it against the grammar.
const tokenTable = "" +
	"0000000000000000" + // 0x00  ................
	"0000000000000000" + // 0x10  ................
	"0100010100110110" + // 0x20  .!"#$%&'()*+,-./
	"1111111111000000" + // 0x30  0123456789:;<=>?
	"0111111111111111" + // 0x40  @ABCDEFGHIJKLMNO
	"1111111111100001" + // 0x50  PQRSTUVWXYZ[\]^_
	"1111111111111111" + // 0x60  `abcdefghijklmno
	"1111111111100010" + // 0x70  pqrstuvwxyz{|}~.
	"0000000000000000" + // 0x80
	"0000000000000000" + // 0x90
	"0000000000000000" + // 0xa0
	"0000000000000000" + // 0xb0
	"0000000000000000" + // 0xc0
	"0000000000000000" + // 0xd0
	"0000000000000000" + // 0xe0
	"0000000000000000" // 0xf0

// valueEndTable marks with '1' the bytes that end an unquoted parameter
// value: ';' ',' and linear white space.
const valueEndTable = "" +
	"0000000001100100" + // 0x00
	"0000000000000000" + // 0x10
	"1000000000001000" + // 0x20
	"0000000000010000" + // 0x30
	"0000000000000000" + // 0x40
	"0000000000000000" + // 0x50
	"0000000000000000" + // 0x60
	"0000000000000000" + // 0x70
	"0000000000000000" + // 0x80
	"0000000000000000" + // 0x90
	"0000000000000000" + // 0xa0
	"0000000000000000" + // 0xb0
	"0000000000000000" + // 0xc0
	"0000000000000000" + // 0xd0
	"0000000000000000" + // 0xe0
	"0000000000000000" // 0xf0

// lwsMask has the bits of SP, HT, CR and LF.
const lwsMask uint64 = 1<<' ' | 1<<'\t' | 1<<'\r' | 1<<'\n'

// isTokenChar reports whether c may appear in an RFC 3261 token (methods,
// header names, parameter names).
func isTokenChar(c byte) bool { return tokenTable[c] == '1' }

func isWS(c byte) bool { return c == ' ' || c == '\t' }

// isLWS also accepts CR and LF: inside a header value they only occur as part
// of a folded line, which RFC 3261 treats as linear white space.
func isLWS(c byte) bool { return c <= ' ' && lwsMask>>c&1 != 0 }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFold compares ASCII case-insensitively; SIP names are ASCII tokens.
func equalFold[A, B text](a A, b B) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func hasPrefixFold[A, B text](s A, prefix B) bool {
	return len(s) >= len(prefix) && equalFold(s[:len(prefix)], prefix)
}

func trimLWS(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isLWS(b[i]) {
		i++
	}
	for j > i && isLWS(b[j-1]) {
		j--
	}
	return b[i:j]
}

func skipLWS(b []byte, i int) int {
	for i < len(b) && isLWS(b[i]) {
		i++
	}
	return i
}

func skipToken(b []byte, i int) int {
	for i < len(b) && isTokenChar(b[i]) {
		i++
	}
	return i
}

// skipQuoted expects b[i] == '"' and returns the index just past the closing
// quote, honouring backslash escapes (quoted-pair). ok is false when the
// string is not terminated.
func skipQuoted(b []byte, i int) (end int, ok bool) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return len(b), false
}

// parseUint parses a run of decimal digits that must fill b entirely.
// ok is false for an empty input, a non-digit or a value above max.
func parseUint(b []byte, max uint64) (v uint64, ok bool) {
	if len(b) == 0 {
		return 0, false
	}
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
		if v > max {
			return 0, false
		}
	}
	return v, true
}
