package sdp

import "bytes"

type text interface{ ~string | ~[]byte }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFold compares ASCII case-insensitively. SDP is almost always
// written in the case of the RFC, so an exact match is tried first.
func equalFold[A, B text](a A, b B) bool {
	if len(a) != len(b) {
		return false
	}
	if string(a) == string(b) {
		return true
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// trimSpace drops spaces, tabs and CRs at both ends. The loops test each
// byte once (a byte held in a local), which the compiler turns into far
// fewer instructions than repeated indexing.
func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j {
		if c := b[i]; c != ' ' && c != '\t' && c != '\r' {
			break
		}
		i++
	}
	for j > i {
		if c := b[j-1]; c != ' ' && c != '\t' && c != '\r' {
			break
		}
		j--
	}
	return b[i:j]
}

// field returns the next space-separated field of v at or after i, and the
// index after it. SDP separates fields with one SP; more, and tabs, are
// tolerated.
func field(v []byte, i int) (f []byte, next int) {
	if i < 0 {
		i = 0
	}
	for i < len(v) {
		if c := v[i]; c != ' ' && c != '\t' {
			break
		}
		i++
	}
	start := i
	for i < len(v) {
		if c := v[i]; c == ' ' || c == '\t' {
			break
		}
		i++
	}
	return v[start:i], i
}

// parseUint parses decimal digits filling b entirely, up to max.
func parseUint(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
		if v > max {
			return 0, false
		}
	}
	return v, true
}

func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }
