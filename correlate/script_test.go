package correlate

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
)

// party is one end of a scripted call.
type party struct {
	user string
	addr netip.AddrPort
	tag  string
}

var (
	alice = party{"alice", netip.MustParseAddrPort("10.0.0.1:5060"), "a1"}
	bob   = party{"bob", netip.MustParseAddrPort("10.0.0.2:5060"), "b1"}
)

// base is the capture time scripts start at (ns); far from 0 because 0
// means "not seen" inside the correlator.
const base = int64(1_700_000_000) * 1e9

// sipMsg is one message of a scripted dialog. Requests go caller → callee
// unless back is set; responses go callee → caller unless back is set (a
// response to a request of the callee). Tags follow RFC 3261: From carries
// the requester's tag, To the other side's once the dialog exists.
type sipMsg struct {
	at      time.Duration // after the script's start
	back    bool
	start   string // request method ("INVITE") or status ("180 Ringing")
	cseq    string // "1 INVITE"
	branch  string // Via branch suffix; default: the CSeq without blanks
	toTag   string // for requests: the To tag ("" for none); for responses: "" picks the callee/caller tag, "none" omits it
	headers string // extra header lines, each ending in CRLF
	sdp     string
}

func (e sipMsg) isRequest() bool { return !strings.HasPrefix(e.start, "SIP/2.0") }

// Short constructors for the common messages.
func inv(at time.Duration, cseq int) sipMsg {
	return sipMsg{at: at, start: "INVITE", cseq: fmt.Sprintf("%d INVITE", cseq)}
}

func res(at time.Duration, status string, cseq string) sipMsg {
	return sipMsg{at: at, start: "SIP/2.0 " + status, cseq: cseq}
}

func ack(at time.Duration, cseq int, branchOfInvite bool) sipMsg {
	m := sipMsg{at: at, start: "ACK", cseq: fmt.Sprintf("%d ACK", cseq), toTag: "b1"}
	if branchOfInvite {
		m.branch = fmt.Sprintf("%dINVITE", cseq) // ACK to a non-2xx final
	}
	return m
}

func buildMsg(callID string, caller, callee party, e sipMsg) []byte {
	// back means the callee made the request (and, for a response, the
	// caller answers it).
	requester, other := caller, callee
	if e.back {
		requester, other = callee, caller
	}
	var sb strings.Builder
	if e.isRequest() {
		fmt.Fprintf(&sb, "%s sip:%s@%s SIP/2.0\r\n", e.start, other.user, other.addr.Addr())
	} else {
		sb.WriteString(e.start + "\r\n")
	}
	branch := e.branch
	if branch == "" {
		branch = strings.ReplaceAll(e.cseq, " ", "")
	}
	fmt.Fprintf(&sb, "Via: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\n", requester.addr, branch)
	fmt.Fprintf(&sb, "From: \"%s\" <sip:%s@example.com>;tag=%s\r\n", requester.user, requester.user, requester.tag)
	to := fmt.Sprintf("<sip:%s@example.com>", other.user)
	switch {
	case e.isRequest() && e.toTag != "":
		to += ";tag=" + e.toTag
	case !e.isRequest() && e.toTag == "" && !strings.HasPrefix(e.start, "SIP/2.0 100"):
		to += ";tag=" + other.tag
	case !e.isRequest() && e.toTag != "" && e.toTag != "none":
		to += ";tag=" + e.toTag
	}
	fmt.Fprintf(&sb, "To: %s\r\nCall-ID: %s\r\nCSeq: %s\r\nMax-Forwards: 70\r\n%s", to, callID, e.cseq, e.headers)
	if e.sdp != "" {
		fmt.Fprintf(&sb, "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(e.sdp), e.sdp)
	} else {
		sb.WriteString("Content-Length: 0\r\n\r\n")
	}
	return []byte(sb.String())
}

// play feeds a script between caller and callee starting at start (ns).
func play(t testing.TB, c *Correlator, callID string, start int64, caller, callee party, script []sipMsg) {
	t.Helper()
	var m sip.Message
	for i, e := range script {
		b := buildMsg(callID, caller, callee, e)
		if err := m.Unmarshal(b); err != nil {
			t.Fatalf("message %d (%q) does not parse: %v\n%s", i, e.start, err, b)
		}
		requester, other := caller.addr, callee.addr
		if e.back {
			requester, other = other, requester
		}
		src, dst := requester, other
		if !e.isRequest() {
			src, dst = other, requester
		}
		c.HandleSIP(start+int64(e.at), src, dst, decode.TransportUDP, &m)
	}
}

// feed plays a script between alice and bob from base.
func feed(t testing.TB, c *Correlator, callID string, script []sipMsg) {
	t.Helper()
	play(t, c, callID, base, alice, bob, script)
}

func sdpBody(ip string, port int, attrs ...string) string {
	s := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n", ip, ip, port)
	for _, a := range attrs {
		s += a + "\r\n"
	}
	return s
}

// only returns the single call c holds, failing otherwise.
func only(t testing.TB, c *Correlator) Call {
	t.Helper()
	calls := c.Calls()
	if len(calls) != 1 {
		t.Fatalf("got %d calls, want 1: %+v", len(calls), calls)
	}
	return calls[0]
}
