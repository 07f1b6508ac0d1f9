package sip

import (
	"strings"
	"testing"
)

func TestCharacterClassesMatchTheGrammar(t *testing.T) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		wantToken := alnum || strings.IndexByte("-.!%*_+`'~", b) >= 0
		if got := isTokenChar(b); got != wantToken {
			t.Errorf("isTokenChar(%q) = %v", b, got)
		}
		wantLWS := b == ' ' || b == '\t' || b == '\r' || b == '\n'
		if got := isLWS(b); got != wantLWS {
			t.Errorf("isLWS(%q) = %v", b, got)
		}
	}
}

// Header names are lowered by OR-ing 0x20 before classification. That is only sound if no
// token byte other than an upper-case letter is mapped onto a byte that
// appears in the names it looks for (lower-case letters, digits, '-').
func TestOr0x20FoldsTokensOntoHeaderNameBytesOnlyFromLetters(t *testing.T) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		if !isTokenChar(b) {
			continue
		}
		folded := b | 0x20
		inNames := 'a' <= folded && folded <= 'z' || '0' <= folded && folded <= '9' || folded == '-'
		if inNames && lower(b) != folded {
			t.Errorf("token byte %q folds onto %q", b, folded)
		}
	}
}

// classify folds a name the way headerReader.next does and classifies it.
func classify(name []byte) headerID {
	var buf [maxNameLen]byte
	if len(name) > len(buf) {
		return hOther
	}
	for i, c := range name {
		buf[i] = c | 0x20
	}
	return classifyFolded(buf[:len(name)])
}

func TestClassifyKnowsLongAndCompactNamesInAnyCase(t *testing.T) {
	for _, c := range []struct {
		name string
		want headerID
	}{
		{"Call-ID", hCallID}, {"i", hCallID}, {"I", hCallID}, {"CALL-ID", hCallID}, {"f", hFrom}, {"From", hFrom},
		{"T", hTo}, {"v", hVia}, {"VIA", hVia}, {"CSeq", hCSeq}, {"c", hContentType}, {"L", hContentLength},
		{"Content-Length", hContentLength}, {"m", hContact}, {"Max-Forwards", hMaxForwards}, {"x-cid", hXCallID},
		{"X-Orig-Call-ID", hXCallID}, {"P-Asserted-Identity", hPAssertedIdentity}, {"Date", hDate},
		{"Call_ID", hOther}, {"Call-IDs", hOther}, {"s", hOther}, {"P-Asserted-Identity-X", hOther}, {"", hOther},
	} {
		if got := classify([]byte(c.name)); got != c.want {
			t.Errorf("classify(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}
