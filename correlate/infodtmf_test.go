package correlate

import (
	"fmt"
	"testing"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
)

func TestSIPInfoDTMFDigitsAreKeptInOrder(t *testing.T) {
	c := New(DefaultConfig())
	feed(t, c, "info@test", []sipMsg{inv(0, 1), ok(sec)})
	infos := []struct{ ctype, body string }{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"},
		{"application/dtmf-relay", "Signal= 11\r\nDuration=160\r\n"}, // event number 11 is '#'
		{"application/dtmf", "*"},
		{"application/dtmf-relay", "Signal=x\r\n"}, // not a digit: ignored
		{"text/plain", "7"},                        // not DTMF: ignored
	}
	var m sip.Message
	for i, in := range infos {
		raw := fmt.Sprintf("INFO sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKinfo%d\r\n"+
			"From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b1\r\nCall-ID: info@test\r\n"+
			"CSeq: %d INFO\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", i, 10+i, in.ctype, len(in.body), in.body)
		if err := m.Unmarshal([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		c.HandleSIP(base+int64(2+i)*int64(sec), alice.addr, bob.addr, decode.TransportUDP, &m)
	}
	if got := only(t, c).InfoDTMF; got != "5#*" {
		t.Errorf("INFO DTMF %q, want %q", got, "5#*")
	}
}
