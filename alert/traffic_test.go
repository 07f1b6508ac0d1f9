package alert

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
)

// The scenarios below are generated SIP traffic: every message is text
// parsed by decode/sip, correlated by correlate (as the pipeline does,
// with its Updates drained every second of capture time) and fed to the
// engine with the records. Capture time starts at t0.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const domain = "example.com"

var (
	registrar = netip.MustParseAddr("10.0.0.1")
	trunk     = netip.MustParseAddr("10.0.2.1")
)

// event is one SIP message on the wire.
type event struct {
	ts       time.Duration // since t0
	src, dst netip.AddrPort
	raw      string
	seq      int
}

// traffic is a generated capture with the per-call facts the pipeline
// would add to records (MOS from RTP, diagnosis findings).
type traffic struct {
	events   []event
	mos      map[string]float64
	findings map[string][]string
	n        int
}

func newTraffic() *traffic {
	return &traffic{mos: map[string]float64{}, findings: map[string][]string{}}
}

func (t *traffic) put(ts time.Duration, src, dst netip.AddrPort, raw string) {
	t.n++
	t.events = append(t.events, event{ts: ts, src: src, dst: dst, raw: raw, seq: t.n})
}

func ap(a netip.Addr) netip.AddrPort { return netip.AddrPortFrom(a, 5060) }

// phoneAddr is the address of phone i of a site (site 1: the office).
func phoneAddr(site byte, i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, site, byte(i >> 8), byte(i)})
}

type req struct {
	method, ruri, from, to, callID, ua, extra string
	cseq                                      int
	via                                       netip.AddrPort
	body                                      string
}

func (r req) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", r.method, r.ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bK%s%d\r\n", r.via, r.callID, r.cseq)
	fmt.Fprintf(&b, "Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <%s>;tag=f%s\r\n", r.from, r.callID)
	fmt.Fprintf(&b, "To: <%s>\r\n", r.to)
	fmt.Fprintf(&b, "Call-ID: %s\r\n", r.callID)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", r.cseq, r.method)
	if r.ua != "" {
		fmt.Fprintf(&b, "User-Agent: %s\r\n", r.ua)
	}
	b.WriteString(r.extra)
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(r.body), r.body)
	return b.String()
}

func (r req) response(code int, reason, toTag, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bK%s%d\r\n", r.via, r.callID, r.cseq)
	fmt.Fprintf(&b, "From: <%s>;tag=f%s\r\n", r.from, r.callID)
	if toTag != "" {
		fmt.Fprintf(&b, "To: <%s>;tag=%s\r\n", r.to, toTag)
	} else {
		fmt.Fprintf(&b, "To: <%s>\r\n", r.to)
	}
	fmt.Fprintf(&b, "Call-ID: %s\r\n", r.callID)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", r.cseq, r.method)
	b.WriteString(extra)
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

const authHeader = "Authorization: Digest username=\"%s\", realm=\"example.com\", nonce=\"abc\", uri=\"sip:example.com\", response=\"0123456789abcdef0123456789abcdef\"\r\n"

// register plays a REGISTER exchange of user from phone to the registrar
// at ts: challenged (401) and then answered finalCode to the retry with
// credentials.
func (t *traffic) register(ts time.Duration, phone netip.Addr, user, callID string, finalCode int, ua string) {
	aor := "sip:" + user + "@" + domain
	r := req{method: "REGISTER", ruri: "sip:" + domain, from: aor, to: aor, callID: callID, ua: ua, cseq: 1,
		via: ap(phone), extra: fmt.Sprintf("Contact: <sip:%s@%s>\r\nExpires: 600\r\n", user, ap(phone))}
	t.put(ts, ap(phone), ap(registrar), r.text())
	t.put(ts+5*time.Millisecond, ap(registrar), ap(phone), r.response(401, "Unauthorized", "r"+callID, "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"abc\"\r\n"))
	r.cseq = 2
	r.extra += fmt.Sprintf(authHeader, user)
	t.put(ts+20*time.Millisecond, ap(phone), ap(registrar), r.text())
	reason := map[int]string{200: "OK", 401: "Unauthorized", 403: "Forbidden"}[finalCode]
	t.put(ts+30*time.Millisecond, ap(registrar), ap(phone), r.response(finalCode, reason, "r"+callID, ""))
}

// call plays an INVITE from phone to number through the trunk: answered
// (finalCode 200, talking for dur) or failed with finalCode.
func (t *traffic) call(ts time.Duration, phone netip.Addr, from, to, callID string, pdd time.Duration, finalCode int, dur time.Duration) {
	r := req{method: "INVITE", ruri: "sip:" + to + "@" + domain, from: "sip:" + from + "@" + domain, to: "sip:" + to + "@" + domain,
		callID: callID, ua: "Yealink SIP-T46S", cseq: 1, via: ap(phone), extra: fmt.Sprintf("Contact: <sip:%s@%s>\r\n", from, ap(phone))}
	gw := ap(trunk)
	t.put(ts, ap(phone), gw, r.text())
	t.put(ts+10*time.Millisecond, gw, ap(phone), r.response(100, "Trying", "", ""))
	if finalCode != 200 {
		t.put(ts+pdd, gw, ap(phone), r.response(finalCode, "Failed", "g"+callID, ""))
		ack := r
		ack.method = "ACK"
		t.put(ts+pdd+5*time.Millisecond, ap(phone), gw, ack.text())
		return
	}
	t.put(ts+pdd, gw, ap(phone), r.response(180, "Ringing", "g"+callID, ""))
	ans := ts + pdd + 2*time.Second
	t.put(ans, gw, ap(phone), r.response(200, "OK", "g"+callID, "Contact: <sip:gw@10.0.2.1>\r\n"))
	ack := r
	ack.method = "ACK"
	t.put(ans+10*time.Millisecond, ap(phone), gw, ack.text())
	bye := r
	bye.method, bye.cseq = "BYE", 2
	t.put(ans+dur, ap(phone), gw, bye.text())
	t.put(ans+dur+10*time.Millisecond, gw, ap(phone), bye.response(200, "OK", "g"+callID, ""))
}

// pbxCall plays a call from a PBX that authenticates to the trunk: the
// INVITE is challenged (407), retried with credentials, then answered
// finalCode (200: talking for 10 s).
func (t *traffic) pbxCall(ts time.Duration, pbx netip.Addr, from, to, callID string, finalCode int) {
	r := req{method: "INVITE", ruri: "sip:" + to + "@" + domain, from: "sip:" + from + "@" + domain, to: "sip:" + to + "@" + domain,
		callID: callID, ua: "Asterisk PBX 20.5", cseq: 1, via: ap(pbx), extra: fmt.Sprintf("Contact: <sip:%s@%s>\r\n", from, ap(pbx))}
	gw := ap(trunk)
	t.put(ts, ap(pbx), gw, r.text())
	t.put(ts+5*time.Millisecond, gw, ap(pbx), r.response(407, "Proxy Authentication Required", "c"+callID, "Proxy-Authenticate: Digest realm=\"example.com\", nonce=\"n\"\r\n"))
	ack := r
	ack.method = "ACK"
	t.put(ts+10*time.Millisecond, ap(pbx), gw, ack.text())
	r.cseq = 2
	r.extra += strings.Replace(fmt.Sprintf(authHeader, "pbx"), "Authorization", "Proxy-Authorization", 1)
	t.put(ts+20*time.Millisecond, ap(pbx), gw, r.text())
	t.put(ts+30*time.Millisecond, gw, ap(pbx), r.response(100, "Trying", "", ""))
	if finalCode != 200 {
		t.put(ts+3*time.Second, gw, ap(pbx), r.response(finalCode, "Busy Here", "g"+callID, ""))
		ack.cseq = 2
		t.put(ts+3*time.Second+5*time.Millisecond, ap(pbx), gw, ack.text())
		return
	}
	t.put(ts+time.Second, gw, ap(pbx), r.response(180, "Ringing", "g"+callID, ""))
	t.put(ts+4*time.Second, gw, ap(pbx), r.response(200, "OK", "g"+callID, "Contact: <sip:gw@10.0.2.1>\r\n"))
	ack.cseq = 2
	t.put(ts+4*time.Second+10*time.Millisecond, ap(pbx), gw, ack.text())
	bye := r
	bye.method, bye.cseq, bye.extra = "BYE", 3, ""
	t.put(ts+14*time.Second, ap(pbx), gw, bye.text())
	t.put(ts+14*time.Second+10*time.Millisecond, gw, ap(pbx), bye.response(200, "OK", "g"+callID, ""))
	t.mos[callID] = 4.1
}

// options plays an OPTIONS from src to user, answered with code.
func (t *traffic) options(ts time.Duration, src, dst netip.Addr, user, callID, ua string, code int) {
	r := req{method: "OPTIONS", ruri: "sip:" + user + "@" + domain, from: "sip:ping@" + domain, to: "sip:" + user + "@" + domain,
		callID: callID, ua: ua, cseq: 1, via: ap(src)}
	t.put(ts, ap(src), ap(dst), r.text())
	if code > 0 {
		t.put(ts+3*time.Millisecond, ap(dst), ap(src), r.response(code, "Reason", "o"+callID, ""))
	}
}

// baseline is an ordinary office from `from` to `to`: 200 phones
// re-registering every 5 minutes (challenged, then 200), a call every 2 s
// to the trunk (90 % answered with good audio, 10 % busy), a proxy
// pinging every phone with OPTIONS each minute, and a call-centre PBX
// dialling a new number every 2 s through the trunk with digest
// credentials, 40 % of them busy or unanswered (what a scanner or a
// brute force must not be mistaken for).
func (t *traffic) baseline(from, to time.Duration) {
	const phones = 200
	for i := 0; i < phones; i++ {
		for ts := from + time.Duration(i)*1500*time.Millisecond; ts < to; ts += 5 * time.Minute {
			t.register(ts, phoneAddr(1, i), fmt.Sprint(1000+i), fmt.Sprintf("reg-%d-%d", i, ts/time.Second), 200, "Yealink SIP-T46S")
		}
		for ts := from + time.Duration(i)*300*time.Millisecond; ts < to; ts += time.Minute {
			t.options(ts, registrar, phoneAddr(1, i), fmt.Sprint(1000+i), fmt.Sprintf("opt-%d-%d", i, ts/time.Second), "Kamailio", 200)
		}
	}
	pbx := netip.MustParseAddr("10.3.0.1")
	j := 0
	for ts := from + 700*time.Millisecond; ts < to; ts += 2 * time.Second {
		j++
		code := 200
		switch j % 5 {
		case 1:
			code = 486
		case 3:
			code = 480
		}
		t.pbxCall(ts, pbx, "cc", fmt.Sprintf("0033%07d", j), fmt.Sprintf("pbx-%d", j), code)
	}
	k := 0
	for ts := from; ts < to; ts += 2 * time.Second {
		k++
		id := fmt.Sprintf("call-%d", ts/time.Millisecond)
		code := 200
		if k%10 == 0 {
			code = 486
		}
		t.call(ts, phoneAddr(1, k%phones), fmt.Sprint(1000+k%phones), fmt.Sprintf("0049301234%04d", k%5000),
			id, time.Duration(800+k%7*150)*time.Millisecond, code, 20*time.Second)
		if code == 200 {
			t.mos[id] = 4.2 + float64(k%3)*0.05
		}
	}
}

// recSink records what the engine hands to its sink.
type recSink struct {
	mu     sync.Mutex
	alerts []Alert
}

func (s *recSink) Alert(a Alert) {
	s.mu.Lock()
	s.alerts = append(s.alerts, a)
	s.mu.Unlock()
}

// run feeds tr through decode/sip, correlate and the engine, and returns
// the engine and its sink after advancing to end.
func run(t testing.TB, tr *traffic, cfg Config, end time.Duration) (*Engine, *recSink) {
	t.Helper()
	sink := &recSink{}
	eng, err := New(cfg.WithDefaults(), Options{Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, tr, eng)
	eng.Advance(t0.Add(end).UnixNano())
	return eng, sink
}

func feed(t testing.TB, tr *traffic, eng *Engine) {
	ccfg := correlate.DefaultConfig()
	ccfg.Retain = false
	corr := correlate.New(ccfg)
	slices.SortStableFunc(tr.events, func(a, b event) int {
		if a.ts != b.ts {
			return int(a.ts - b.ts)
		}
		return a.seq - b.seq
	})
	var msg sip.Message
	var lastFlush int64
	flush := func(now int64) {
		corr.Expire(now)
		for _, c := range corr.Updates() {
			c.MOS = tr.mos[c.CallID]
			eng.OnCallFindings(c, tr.findings[c.CallID])
		}
		for _, r := range corr.UpdatedRegistrations() {
			eng.OnRegistration(r)
		}
		lastFlush = now
	}
	for _, ev := range tr.events {
		ts := t0.Add(ev.ts).UnixNano()
		if ts-lastFlush >= int64(time.Second) {
			flush(ts)
		}
		if err := msg.Unmarshal([]byte(ev.raw)); err != nil {
			t.Fatalf("generated message does not parse: %v\n%s", err, ev.raw)
		}
		corr.HandleSIP(ts, ev.src, ev.dst, decode.TransportUDP, &msg)
		eng.OnSIP(ts, ev.src, ev.dst, &msg)
	}
	if n := len(tr.events); n > 0 {
		last := t0.Add(tr.events[n-1].ts).UnixNano()
		flush(last + int64(2*time.Second))
		flush(last + int64(5*time.Minute))
	}
}
