package sip

import (
	"bytes"
	"testing"
	"time"
)

// Pathological inputs near the size limits must cost time proportional to
// their length. The bound is loose (a linear pass over 64 KB takes well
// under a millisecond) so that a slow shared machine does not fail it,
// while quadratic behaviour (seconds) would.
func TestWorstCaseInputsTakeLinearTime(t *testing.T) {
	patterns := []string{`"`, `<`, `;`, `,`, ` `, "\r\n ", "\n", `\`, "SIP/2.0", "x SIP/2.0 ",
		"INVITE sip:a SIP/2.0\r\n", "Via: a,\r\n", `;branch="\`, "--b\r\n", "--b\r\nc: application/sdp\r\n\r\n"}
	prefixes := []string{
		"",
		"INVITE sip:a SIP/2.0\r\nVia: ",
		"INVITE sip:a SIP/2.0\r\nFrom: ",
		"SIP/2.0 200 OK\r\nContent-Type: multipart/x;boundary=b\r\nCall-ID: x\r\nFrom: <a>\r\nTo: <b>\r\nCSeq: 1 A\r\nVia: x\r\n\r\n",
	}
	for _, p := range patterns {
		for _, prefix := range prefixes {
			b := append([]byte(prefix), bytes.Repeat([]byte(p), (MaxHeaderBytes-100)/len(p))...)
			var m Message
			start := time.Now()
			_ = m.Unmarshal(b)
			_, _ = FrameLength(b)
			_ = m.SDP()
			_ = LooksLikeSIP(b)
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("%q repeated after %.12q took %v", p, prefix, d)
			}
		}
	}
}
