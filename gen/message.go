package gen

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// userAgent names the generator in User-Agent and Server headers, so nobody
// mistakes a generated capture for a real one.
const userAgent = "sipscope-gen/1"

// domain is the SIP domain of every user (a documentation name, RFC 2606).
const domain = "example.com"

// header is one SIP header line, name and value.
type header struct{ name, value string }

// request holds a SIP request's fields, kept so that responses can copy
// Via, From, To, Call-ID and CSeq from it as RFC 3261 §8.2.6 requires.
type request struct {
	method string
	uri    string
	via    string
	from   string
	to     string
	callID string
	cseq   uint32
	extra  []header
	sdp    string // body, empty for none
}

// bytes renders the request as it goes on the wire.
func (r *request) bytes() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", r.method, r.uri)
	writeHeader(&b, "Via", r.via)
	writeHeader(&b, "Max-Forwards", "70")
	writeHeader(&b, "From", r.from)
	writeHeader(&b, "To", r.to)
	writeHeader(&b, "Call-ID", r.callID)
	writeHeader(&b, "CSeq", fmt.Sprintf("%d %s", r.cseq, r.method))
	for _, h := range r.extra {
		writeHeader(&b, h.name, h.value)
	}
	writeHeader(&b, "User-Agent", userAgent)
	writeBody(&b, r.sdp)
	return []byte(b.String())
}

// response renders a response to req. toTag is added to To unless To already
// carries a tag (a response inside an established dialog).
func response(req *request, code int, reason, toTag string, extra []header, sdp string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	writeHeader(&b, "Via", req.via)
	writeHeader(&b, "From", req.from)
	to := req.to
	if toTag != "" && !strings.Contains(to, ";tag=") {
		to += ";tag=" + toTag
	}
	writeHeader(&b, "To", to)
	writeHeader(&b, "Call-ID", req.callID)
	writeHeader(&b, "CSeq", fmt.Sprintf("%d %s", req.cseq, req.method))
	for _, h := range extra {
		writeHeader(&b, h.name, h.value)
	}
	writeHeader(&b, "Server", userAgent)
	writeBody(&b, sdp)
	return []byte(b.String())
}

func writeHeader(b *strings.Builder, name, value string) {
	b.WriteString(name)
	b.WriteString(": ")
	b.WriteString(value)
	b.WriteString("\r\n")
}

func writeBody(b *strings.Builder, sdp string) {
	if sdp != "" {
		writeHeader(b, "Content-Type", "application/sdp")
	}
	writeHeader(b, "Content-Length", strconv.Itoa(len(sdp)))
	b.WriteString("\r\n")
	b.WriteString(sdp)
}

// party is one SIP user agent.
type party struct {
	user    string
	display string
	sip     netip.AddrPort // where it listens for SIP
	rtp     netip.AddrPort // where it receives RTP
	tag     string
}

// aor is the party's address of record.
func (p *party) aor() string { return "sip:" + p.user + "@" + domain }

// nameAddr is the From/To value without a tag.
func (p *party) nameAddr() string {
	return fmt.Sprintf("%q <%s>", p.display, p.aor())
}

// contactURI is where the party can be reached directly.
func (p *party) contactURI(transport string) string {
	u := fmt.Sprintf("sip:%s@%s", p.user, p.sip)
	if transport != TransportUDP {
		u += ";transport=" + transport
	}
	return u
}

// via renders a Via header value sent by p.
func via(p *party, transport, branch string) string {
	return fmt.Sprintf("SIP/2.0/%s %s;branch=%s", strings.ToUpper(transport), p.sip, branch)
}

// codec is an RTP payload format the generator can send.
type codec struct {
	name   string // SDP encoding name
	pt     uint8
	tshark string // tshark's payload name in rtp,streams
	encode func(int16) byte
}

func codecByName(name string) codec {
	if name == CodecPCMA {
		return codec{name: CodecPCMA, pt: 8, tshark: "g711A", encode: alaw}
	}
	return codec{name: CodecPCMU, pt: 0, tshark: "g711U", encode: ulaw}
}

// telephoneEventPT is the dynamic payload type offered for RFC 4733 DTMF.
const telephoneEventPT = 101

// sdp renders a session description. offer lists both G.711 laws with the
// preferred one first, as phones do; an answer keeps only the chosen one.
func sdp(p *party, sessID uint64, chosen codec, offer bool, ptime int) string {
	pts := []codec{chosen}
	if offer {
		other := codecByName(CodecPCMA)
		if chosen.name == CodecPCMA {
			other = codecByName(CodecPCMU)
		}
		pts = append(pts, other)
	}
	var b strings.Builder
	ip := p.rtp.Addr().String()
	family := "IP4"
	if p.rtp.Addr().Is6() {
		family = "IP6"
	}
	fmt.Fprintf(&b, "v=0\r\n")
	fmt.Fprintf(&b, "o=%s %d %d IN %s %s\r\n", p.user, sessID, sessID, family, ip)
	fmt.Fprintf(&b, "s=sipscope-gen\r\n")
	fmt.Fprintf(&b, "c=IN %s %s\r\n", family, ip)
	fmt.Fprintf(&b, "t=0 0\r\n")
	fmt.Fprintf(&b, "m=audio %d RTP/AVP", p.rtp.Port())
	for _, c := range pts {
		fmt.Fprintf(&b, " %d", c.pt)
	}
	fmt.Fprintf(&b, " %d\r\n", telephoneEventPT)
	for _, c := range pts {
		fmt.Fprintf(&b, "a=rtpmap:%d %s/8000\r\n", c.pt, c.name)
	}
	fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\n", telephoneEventPT)
	fmt.Fprintf(&b, "a=fmtp:%d 0-16\r\n", telephoneEventPT)
	fmt.Fprintf(&b, "a=ptime:%d\r\n", ptime)
	fmt.Fprintf(&b, "a=sendrecv\r\n")
	return b.String()
}
