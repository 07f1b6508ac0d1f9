package sip

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// crlf turns a readable multi-line literal into wire form: "\n" becomes
// CRLF. Body lengths in tests are computed, never typed in.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

const sdpOffer = `v=0
o=alice 2890844526 2890844526 IN IP4 192.0.2.10
s=-
c=IN IP4 192.0.2.10
t=0 0
m=audio 49170 RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
`

// withBody appends a CRLF body and a matching Content-Length header.
func withBody(headers, body string) []byte {
	b := crlf(body)
	return append(crlf(fmt.Sprintf("%sContent-Length: %d\n\n", headers, len(b))), b...)
}

func typicalInvite() []byte {
	return withBody(`INVITE sip:+15551234567@carrier.example.net;user=phone SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport
Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK-proxy-1
Max-Forwards: 69
From: "Alice, the \"caller\"" <sip:alice@atlanta.example.com>;tag=1928301774
To: <tel:+15551234567;phone-context=example.net>
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Contact: <sip:alice@192.0.2.10:5060;transport=udp>
User-Agent: TestPhone/1.0
P-Asserted-Identity: "Alice" <sip:+15550001111@atlanta.example.com;user=phone>
Diversion: <sip:+15559998888@carrier.example.net>;reason=unconditional
X-CID: leg-a-4711
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS
Content-Type: application/sdp
`, sdpOffer)
}

func typicalOK() []byte {
	return crlf(`SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.10
From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774
To: <sip:bob@biloxi.example.com>;tag=a6c85cf
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Contact: <sip:bob@192.0.2.4>
Server: TestSwitch 2.1
Content-Length: 0

`)
}

func mustUnmarshal(t *testing.T, b []byte) *Message {
	t.Helper()
	var m Message
	if err := m.Unmarshal(b); err != nil {
		t.Fatalf("Unmarshal: %v\n%s", err, b)
	}
	return &m
}

func eq(t *testing.T, field string, got []byte, want string) {
	t.Helper()
	if string(got) != want {
		t.Errorf("%s = %q, want %q", field, got, want)
	}
}

func TestTypicalInviteIsDecodedFieldByField(t *testing.T) {
	b := typicalInvite()
	m := mustUnmarshal(t, b)
	if !m.IsRequest || m.StatusCode != 0 {
		t.Errorf("IsRequest=%v StatusCode=%d", m.IsRequest, m.StatusCode)
	}
	eq(t, "Method", m.Method, "INVITE")
	eq(t, "RequestURI", m.RequestURI, "sip:+15551234567@carrier.example.net;user=phone")
	eq(t, "CallID", m.CallID, "a84b4c76e66710@pc33.atlanta.example.com")
	eq(t, "From", m.From, `"Alice, the \"caller\"" <sip:alice@atlanta.example.com>;tag=1928301774`)
	eq(t, "FromDisplay", m.FromDisplay, `Alice, the \"caller\"`)
	eq(t, "FromURI", m.FromURI, "sip:alice@atlanta.example.com")
	eq(t, "FromUser", m.FromUser, "alice")
	eq(t, "FromTag", m.FromTag, "1928301774")
	eq(t, "To", m.To, "<tel:+15551234567;phone-context=example.net>")
	eq(t, "ToURI", m.ToURI, "tel:+15551234567;phone-context=example.net")
	eq(t, "ToUser", m.ToUser, "+15551234567")
	if m.ToTag != nil {
		t.Errorf("ToTag = %q, want nil", m.ToTag)
	}
	if m.CSeq != 314159 {
		t.Errorf("CSeq = %d", m.CSeq)
	}
	eq(t, "CSeqMethod", m.CSeqMethod, "INVITE")
	eq(t, "TopVia", m.TopVia, "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport")
	eq(t, "ViaBranch", m.ViaBranch, "z9hG4bK776asdhds")
	if m.ViaCount != 2 {
		t.Errorf("ViaCount = %d, want 2", m.ViaCount)
	}
	if m.MaxForwards != 69 || m.Expires != -1 {
		t.Errorf("MaxForwards=%d Expires=%d", m.MaxForwards, m.Expires)
	}
	eq(t, "ContentType", m.ContentType, "application/sdp")
	eq(t, "Contact", m.Contact, "<sip:alice@192.0.2.10:5060;transport=udp>")
	eq(t, "UserAgent", m.UserAgent, "TestPhone/1.0")
	eq(t, "PAssertedIdentity", m.PAssertedIdentity, `"Alice" <sip:+15550001111@atlanta.example.com;user=phone>`)
	eq(t, "Diversion", m.Diversion, "<sip:+15559998888@carrier.example.net>;reason=unconditional")
	eq(t, "XCallID", m.XCallID, "leg-a-4711")
	body := crlf(sdpOffer)
	if m.ContentLength != len(body) {
		t.Errorf("ContentLength = %d, want %d", m.ContentLength, len(body))
	}
	eq(t, "Body", m.Body, string(body))
	eq(t, "SDP()", m.SDP(), string(body))
	eq(t, "Raw", m.Raw, string(b))
	if m.Flags != 0 {
		t.Errorf("Flags = %v, want none", m.Flags)
	}
	if m.HeaderCount != 15 || m.NumHeaders != 15 {
		t.Errorf("HeaderCount=%d NumHeaders=%d, want 15", m.HeaderCount, m.NumHeaders)
	}
	eq(t, `Header("allow")`, m.Header("allow"), "INVITE, ACK, CANCEL, BYE, OPTIONS")
}

func TestTypicalResponseIsDecoded(t *testing.T) {
	m := mustUnmarshal(t, typicalOK())
	if m.IsRequest || m.StatusCode != 200 {
		t.Fatalf("IsRequest=%v StatusCode=%d", m.IsRequest, m.StatusCode)
	}
	eq(t, "Reason", m.Reason, "OK")
	eq(t, "ToTag", m.ToTag, "a6c85cf")
	eq(t, "ToUser", m.ToUser, "bob")
	eq(t, "Server", m.Server, "TestSwitch 2.1")
	eq(t, "CSeqMethod", m.CSeqMethod, "INVITE")
	if m.ContentLength != 0 || len(m.Body) != 0 {
		t.Errorf("ContentLength=%d Body=%q", m.ContentLength, m.Body)
	}
	if m.SDP() != nil {
		t.Errorf("SDP() = %q, want nil", m.SDP())
	}
}

func TestParsing(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		check func(t *testing.T, m *Message)
	}{
		{
			name: "compact header names are recognised in any case",
			in: crlf(`OPTIONS sip:bob@example.com SIP/2.0
v: SIP/2.0/TCP h.example.com;branch=z9hG4bKa
F: <sip:a@example.com>;tag=1
t: sip:bob@example.com
I: compact-1
CSeq: 1 OPTIONS
M: <sip:a@h.example.com>
C: text/plain
L: 3

abc`),
			check: func(t *testing.T, m *Message) {
				eq(t, "CallID", m.CallID, "compact-1")
				eq(t, "FromTag", m.FromTag, "1")
				eq(t, "ToURI", m.ToURI, "sip:bob@example.com")
				eq(t, "Contact", m.Contact, "<sip:a@h.example.com>")
				eq(t, "ContentType", m.ContentType, "text/plain")
				eq(t, "Body", m.Body, "abc")
				for _, name := range []string{"Call-ID", "call-id", "i", "I", "CALL-ID"} {
					eq(t, "Header("+name+")", m.Header(name), "compact-1")
				}
				eq(t, `Header("content-length")`, m.Header("content-length"), "3")
				eq(t, `Header("l")`, m.Header("l"), "3")
				eq(t, `Header("Via")`, m.Header("Via"), "SIP/2.0/TCP h.example.com;branch=z9hG4bKa")
				if m.Header("Subject") != nil || m.Header("s") != nil {
					t.Error("absent Subject was found")
				}
			},
		},
		{
			name: "folded header values are joined and trimmed",
			in: crlf(`INVITE sip:b@example.com SIP/2.0
Via: SIP/2.0/UDP
   h.example.com
	;branch=z9hG4bKfold
To :
 <sip:b@example.com>
From: <sip:a@example.com>
  ;tag = folded-tag
Call-ID: fold
CSeq: 7
  INVITE
Content-Length: 0

`),
			check: func(t *testing.T, m *Message) {
				eq(t, "ViaBranch", m.ViaBranch, "z9hG4bKfold")
				eq(t, "ToURI", m.ToURI, "sip:b@example.com")
				eq(t, "FromTag", m.FromTag, "folded-tag")
				eq(t, "CSeqMethod", m.CSeqMethod, "INVITE")
				eq(t, "Via", m.Header("via"), "SIP/2.0/UDP\r\n   h.example.com\r\n\t;branch=z9hG4bKfold")
				if m.CSeq != 7 {
					t.Errorf("CSeq = %d", m.CSeq)
				}
			},
		},
		{
			name: "comma separated Via values are counted across headers and the top one is used",
			in: crlf(`SIP/2.0 180 Ringing
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKtop;x="q,uoted", SIP/2.0/UDP b.example.com;branch=z9hG4bK2
Via: SIP/2.0/UDP c.example.com;branch=z9hG4bK3,SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK4
From: <sip:a@example.com>;tag=1
To: <sip:b@example.com>;tag=2
Call-ID: vias
CSeq: 1 INVITE
Content-Length: 0

`),
			check: func(t *testing.T, m *Message) {
				if m.ViaCount != 4 {
					t.Errorf("ViaCount = %d, want 4", m.ViaCount)
				}
				eq(t, "ViaBranch", m.ViaBranch, "z9hG4bKtop")
				eq(t, "TopVia", m.TopVia, `SIP/2.0/UDP a.example.com;branch=z9hG4bKtop;x="q,uoted"`)
			},
		},
		{
			name: "quoted display names may contain commas, angle brackets and escaped quotes",
			in: crlf(`MESSAGE sip:b@example.com SIP/2.0
Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKq
From: "<sip:fake@evil>, \"x\" \\" <sip:real@example.com>;tag=q1
To: Bob Smith <sips:bob:secret@example.com:5061;transport=tls>
Call-ID: quoted
CSeq: 2 MESSAGE
Content-Length: 0

`),
			check: func(t *testing.T, m *Message) {
				eq(t, "FromURI", m.FromURI, "sip:real@example.com")
				eq(t, "FromUser", m.FromUser, "real")
				eq(t, "FromTag", m.FromTag, "q1")
				eq(t, "ToDisplay", m.ToDisplay, "Bob Smith")
				eq(t, "ToUser", m.ToUser, "bob")
				eq(t, "ToURI", m.ToURI, "sips:bob:secret@example.com:5061;transport=tls")
			},
		},
		{
			name: "a bare addr-spec ends at the first semicolon so its parameters are header parameters",
			in: crlf(`BYE sip:b@example.com SIP/2.0
Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKb
From: sip:alice@example.com;tag=bare1
To: sip:+4930123@example.com ; tag=bare2
Call-ID: bare
CSeq: 3 BYE
Reason: Q.850;cause=16;text="Normal call clearing"
Content-Length: 0

`),
			check: func(t *testing.T, m *Message) {
				eq(t, "FromURI", m.FromURI, "sip:alice@example.com")
				eq(t, "FromTag", m.FromTag, "bare1")
				eq(t, "ToURI", m.ToURI, "sip:+4930123@example.com")
				eq(t, "ToUser", m.ToUser, "+4930123")
				eq(t, "ToTag", m.ToTag, "bare2")
				eq(t, "ReasonHeader", m.ReasonHeader, `Q.850;cause=16;text="Normal call clearing"`)
			},
		},
		{
			name: "the X-Call-ID and X-Orig-Call-ID spellings are accepted too, the first one wins",
			in: crlf(`BYE sip:b@example.com SIP/2.0
Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKx
From: <sip:a@example.com>;tag=1
To: <sip:b@example.com>;tag=2
Call-ID: x
X-Orig-Call-ID: first-leg
X-Call-ID: second
CSeq: 3 BYE
Expires: 3600
Content-Length: 0

`),
			check: func(t *testing.T, m *Message) {
				eq(t, "XCallID", m.XCallID, "first-leg")
				if m.Expires != 3600 || m.MaxForwards != -1 {
					t.Errorf("Expires=%d MaxForwards=%d", m.Expires, m.MaxForwards)
				}
			},
		},
		{
			name: "a UDP message without Content-Length takes the rest of the datagram as body",
			in: crlf(`SIP/2.0 200 OK
Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKn
From: <sip:a@example.com>;tag=1
To: <sip:b@example.com>;tag=2
Call-ID: nocl
CSeq: 1 INVITE
Content-Type: application/sdp

v=0
`),
			check: func(t *testing.T, m *Message) {
				if m.ContentLength != -1 {
					t.Errorf("ContentLength = %d, want -1", m.ContentLength)
				}
				eq(t, "Body", m.Body, "v=0\r\n")
			},
		},
		{
			name: "bytes after the Content-Length body are left out of Raw and flagged",
			in: append(crlf(`SIP/2.0 200 OK
Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKe
From: <sip:a@example.com>;tag=1
To: <sip:b@example.com>;tag=2
Call-ID: extra
CSeq: 1 INVITE
Content-Length: 2

ab`), "garbage"...),
			check: func(t *testing.T, m *Message) {
				eq(t, "Body", m.Body, "ab")
				if !bytes.HasSuffix(m.Raw, []byte("\r\n\r\nab")) || !m.Flags.Has(FlagExtraBytes) {
					t.Errorf("Raw ends %q, Flags %v", m.Raw[len(m.Raw)-6:], m.Flags)
				}
			},
		},
		{
			name: "junk lines and leading CRLFs before the start line are skipped",
			in:   append([]byte("\r\n\r\n\x00\x01\x02\x03\r\n"), typicalOK()...),
			check: func(t *testing.T, m *Message) {
				if m.StatusCode != 200 || !m.Flags.Has(FlagJunkBeforeStartLine) {
					t.Errorf("StatusCode=%d Flags=%v", m.StatusCode, m.Flags)
				}
				if !bytes.Equal(m.Raw, typicalOK()) {
					t.Error("Raw does not start at the status line")
				}
			},
		},
		{
			name: "binary junk on the same line as a request line is skipped",
			in:   append([]byte("\x00\x00\xff\xfe"), typicalInvite()...),
			check: func(t *testing.T, m *Message) {
				eq(t, "Method", m.Method, "INVITE")
				if !m.Flags.Has(FlagJunkBeforeStartLine) || !bytes.Equal(m.Raw, typicalInvite()) {
					t.Errorf("Flags=%v Raw starts %q", m.Flags, m.Raw[:8])
				}
			},
		},
		{
			name: "leading empty lines alone are not junk",
			in:   append([]byte("\r\n"), typicalOK()...),
			check: func(t *testing.T, m *Message) {
				if m.Flags != 0 {
					t.Errorf("Flags = %v", m.Flags)
				}
			},
		},
		{
			name: "bare LF line ends are accepted and flagged",
			in:   bytes.ReplaceAll(typicalOK(), []byte("\r\n"), []byte("\n")),
			check: func(t *testing.T, m *Message) {
				eq(t, "CallID", m.CallID, "a84b4c76e66710@pc33.atlanta.example.com")
				if !m.Flags.Has(FlagBareLF) {
					t.Errorf("Flags = %v", m.Flags)
				}
			},
		},
		{
			name: "a datagram ending after the last header without an empty line is accepted and flagged",
			in:   bytes.TrimSuffix(typicalOK(), []byte("\r\n")),
			check: func(t *testing.T, m *Message) {
				if !m.Flags.Has(FlagNoEmptyLine) || len(m.Body) != 0 {
					t.Errorf("Flags=%v Body=%q", m.Flags, m.Body)
				}
			},
		},
		{
			name: "an extension method with escapes in its token is kept verbatim",
			in: crlf(`RE%47IST%45R sip:registrar.example.com SIP/2.0
Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKm
From: <sip:a@example.com>;tag=1
To: <sip:a@example.com>
Call-ID: ext
CSeq: 1 RE%47IST%45R
Content-Length: 0

`),
			check: func(t *testing.T, m *Message) { eq(t, "Method", m.Method, "RE%47IST%45R") },
		},
		{
			name: "a status line without reason phrase is accepted",
			in: crlf(`SIP/2.0 100 
Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKt
From: <sip:a@example.com>;tag=1
To: <sip:b@example.com>
Call-ID: trying
CSeq: 1 INVITE
Content-Length: 0

`),
			check: func(t *testing.T, m *Message) {
				if m.StatusCode != 100 || len(m.Reason) != 0 {
					t.Errorf("StatusCode=%d Reason=%q", m.StatusCode, m.Reason)
				}
			},
		},
		{
			name: "out of range Max-Forwards and Expires are flagged, not fatal",
			in: crlf(`REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKr
From: <sip:a@example.com>;tag=1
To: <sip:a@example.com>
Call-ID: scalars
CSeq: 1 REGISTER
Max-Forwards: 300
Expires: 99999999999999
Date: Fri, 01 Jan 2010 16:00:00 EST
Content-Length: 0

`),
			check: func(t *testing.T, m *Message) {
				if m.MaxForwards != 300 || m.Expires != -1 {
					t.Errorf("MaxForwards=%d Expires=%d", m.MaxForwards, m.Expires)
				}
				want := FlagBadMaxForwards | FlagBadExpires | FlagBadDate
				if m.Flags != want {
					t.Errorf("Flags = %v, want %v", m.Flags, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustUnmarshal(t, tt.in))
		})
	}
}

func TestHeadersBeyondCapacityAreCountedButNotStored(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("OPTIONS sip:b@example.com SIP/2.0\n")
	for i := range HeaderCapacity + 10 {
		fmt.Fprintf(&sb, "X-Filler-%d: %d\n", i, i)
	}
	// The mandatory headers come after the array is full: they must still
	// be interpreted.
	sb.WriteString(`Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKcap
From: <sip:a@example.com>;tag=1
To: <sip:b@example.com>
Call-ID: many
CSeq: 1 OPTIONS
Content-Length: 0

`)
	m := mustUnmarshal(t, crlf(sb.String()))
	if m.HeaderCount != HeaderCapacity+16 || m.NumHeaders != HeaderCapacity {
		t.Errorf("HeaderCount=%d NumHeaders=%d", m.HeaderCount, m.NumHeaders)
	}
	if !m.Flags.Has(FlagHeadersNotStored) {
		t.Errorf("Flags = %v", m.Flags)
	}
	eq(t, "CallID", m.CallID, "many")
	eq(t, "ViaBranch", m.ViaBranch, "z9hG4bKcap")
	if m.Header("Call-ID") != nil {
		t.Error("Header found a header beyond capacity")
	}
	eq(t, "Header(X-Filler-0)", m.Header("x-filler-0"), "0")
}

func TestRejections(t *testing.T) {
	ok := string(typicalOK())
	replace := func(old, new string) []byte {
		if !strings.Contains(ok, old) {
			t.Fatalf("test bug: %q not in message", old)
		}
		return []byte(strings.Replace(ok, old, new, 1))
	}
	var many strings.Builder
	many.WriteString("SIP/2.0 200 OK\r\n")
	for range MaxHeaders + 1 {
		many.WriteString("X: y\r\n")
	}
	many.WriteString("\r\n")
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"an empty input is not SIP", nil, ErrNotSIP},
		{"an HTTP request is not SIP", crlf("GET / HTTP/1.1\nHost: example.com\n\n"), ErrNotSIP},
		{"an HTTP response is not SIP", crlf("HTTP/1.1 200 OK\nContent-Length: 0\n\n"), ErrNotSIP},
		{"binary junk is not SIP", bytes.Repeat([]byte{0x80, 0x00, 0x12}, 600), ErrNotSIP},
		{"a start line past the junk limit is not searched for", append(bytes.Repeat([]byte("junk\r\n"), 200), typicalOK()...), ErrNotSIP},
		{"another SIP version is refused", replace("SIP/2.0 200", "SIP/3.0 200"), ErrBadVersion},
		{"a three-digit status code is required", replace("200 OK", "20 OK"), ErrBadStartLine},
		{"a status code above 699 is refused", replace("200 OK", "700 OK"), ErrBadStartLine},
		{"a request line with trailing white space is refused", crlf("OPTIONS sip:a@b SIP/2.0 \n"), ErrBadStartLine},
		{"a Request-URI with white space is refused", crlf("OPTIONS sip:a@b; lr SIP/2.0\n"), ErrBadStartLine},
		{"a start line without line end is truncated", []byte("OPTIONS sip:a@b SIP/2.0"), ErrTruncatedHeader},
		{"a header without colon is malformed", replace("Server: TestSwitch 2.1", "Server TestSwitch"), ErrBadHeader},
		{"a header name with a space is malformed", replace("Server:", "Ser ver:"), ErrBadHeader},
		{"a continuation line right after the start line is malformed", replace("OK\r\n", "OK\r\n folded\r\n"), ErrBadHeader},
		{"a missing Call-ID is reported", replace("Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n", ""), ErrMissingCallID},
		{"an empty Call-ID is reported as missing", replace("Call-ID: a84b4c76e66710@pc33.atlanta.example.com", "Call-ID: "), ErrMissingCallID},
		{"a missing From is reported", replace("From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n", ""), ErrMissingFrom},
		{"a missing To is reported", replace("To: <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n", ""), ErrMissingTo},
		{"a missing CSeq is reported", replace("CSeq: 314159 INVITE\r\n", ""), ErrMissingCSeq},
		{"a missing Via is reported", replace("Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.10\r\n", ""), ErrMissingVia},
		{"a CSeq without method is malformed", replace("CSeq: 314159 INVITE", "CSeq: 314159"), ErrBadCSeq},
		{"a CSeq above 2^32-1 is malformed", replace("CSeq: 314159", "CSeq: 4294967296"), ErrBadCSeq},
		{"a CSeq with trailing junk is malformed", replace("CSeq: 314159 INVITE", "CSeq: 314159 INVITE x"), ErrBadCSeq},
		{"a second Call-ID is refused", replace("CSeq:", "i: other\r\nCSeq:"), ErrDuplicateHeader},
		{"a second CSeq is refused", replace("Server:", "CSeq: 2 INVITE\r\nServer:"), ErrDuplicateHeader},
		{"a second To is refused", replace("Server:", "t: <sip:x@y>\r\nServer:"), ErrDuplicateHeader},
		{"an unterminated quoted display name is refused", replace(`"Alice" <sip`, `"Alice <sip`), ErrBadHeader},
		{"an unclosed angle bracket is refused", replace("<sip:bob@biloxi.example.com>", "<sip:bob@biloxi.example.com"), ErrBadHeader},
		{"a Content-Length beyond the datagram is a truncated body", replace("Content-Length: 0", "Content-Length: 10"), ErrTruncatedBody},
		{"a CSeq method different from the request method is refused", bytes.Replace(typicalInvite(), []byte("CSeq: 314159 INVITE"), []byte("CSeq: 314159 BYE"), 1), ErrCSeqMethodMismatch},
		{"a line longer than MaxLineBytes is refused", replace("Server: TestSwitch 2.1", "Server: "+strings.Repeat("x", MaxLineBytes)), ErrLineTooLong},
		{"a header section longer than MaxHeaderBytes is refused", replace("Server: TestSwitch 2.1", strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 70)), ErrHeaderTooLong},
		{"more than MaxHeaders headers are refused", []byte(many.String()), ErrTooManyHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := m.Unmarshal(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if m.Raw != nil || m.Body != nil {
				t.Errorf("Raw or Body set on error")
			}
		})
	}
}

func TestStartLineFieldsSurviveALaterError(t *testing.T) {
	var m Message
	err := m.Unmarshal(crlf("REGISTER sip:1.1.1.1:5060 SIP/2.0\nExpires: 3600\n\n"))
	if !errors.Is(err, ErrMissingCallID) {
		t.Fatalf("err = %v", err)
	}
	eq(t, "Method", m.Method, "REGISTER")
	if m.Expires != 3600 {
		t.Errorf("Expires = %d", m.Expires)
	}
}

// A reused Message must end up exactly as a fresh one: no field may leak
// from the previous packet.
func TestReuseLeavesNothingFromThePreviousMessage(t *testing.T) {
	inputs := [][]byte{typicalInvite(), typicalOK(), crlf("GET / HTTP/1.1\n\n"), typicalInvite(), []byte("SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n")}
	var reused Message
	for i, in := range inputs {
		errReused := reused.Unmarshal(in)
		var fresh Message
		errFresh := fresh.Unmarshal(in)
		if fmt.Sprint(errReused) != fmt.Sprint(errFresh) {
			t.Fatalf("input %d: err %v (reused) vs %v (fresh)", i, errReused, errFresh)
		}
		if !reflect.DeepEqual(reused, fresh) {
			t.Fatalf("input %d: reused message differs from a fresh one:\n%+v\n%+v", i, reused, fresh)
		}
	}
}

func TestUnmarshalDoesNotAllocate(t *testing.T) {
	for name, in := range map[string][]byte{"INVITE with SDP": typicalInvite(), "200 OK": typicalOK()} {
		var m Message
		allocs := testing.AllocsPerRun(1000, func() {
			if err := m.Unmarshal(in); err != nil {
				t.Fatal(err)
			}
			_ = m.Header("Allow")
			_ = m.SDP()
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Unmarshal, want 0", name, allocs)
		}
	}
}

func TestABrokenContentLengthKeepsTheDatagramFlagged(t *testing.T) {
	for _, tt := range []struct {
		name, value string
	}{
		{"a non-numeric Content-Length", "zero"},
		{"a negative Content-Length", "-1"},
		{"a Content-Length above MaxBodyBytes", "99999999"},
	} {
		t.Run(tt.name+" leaves the rest of the datagram as the body", func(t *testing.T) {
			in := bytes.Replace(typicalOK(), []byte("Content-Length: 0"), []byte("Content-Length: "+tt.value), 1)
			in = append(in, "v=0\r\n"...)
			var m Message
			if err := m.Unmarshal(in); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !m.Flags.Has(FlagBadContentLength) || m.ContentLength != -1 || string(m.Body) != "v=0\r\n" {
				t.Errorf("flags %v content length %d body %q", m.Flags, m.ContentLength, m.Body)
			}
			if string(m.CallID) != "a84b4c76e66710@pc33.atlanta.example.com" || m.CSeq != 314159 || string(m.CSeqMethod) != "INVITE" || m.StatusCode != 200 {
				t.Errorf("call %q CSeq %d %q status %d", m.CallID, m.CSeq, m.CSeqMethod, m.StatusCode)
			}
			if _, err := FrameLength(in); !errors.Is(err, ErrBadContentLength) {
				t.Errorf("FrameLength err = %v, want ErrBadContentLength: a stream cannot be cut with it", err)
			}
		})
	}
}
