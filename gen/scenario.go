package gen

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"
)

// Addressing: callers in 10.1.0.0/16, callees in 10.2.0.0/16, one registrar
// in 10.0.0.0/24. Scenario i gets hosts x.x.(i/200).(10+i%200), unique for
// every i up to MaxCalls. With IPv6 the same numbering lives in the
// documentation prefix: callers 2001:db8:1::/48, callees 2001:db8:2::/48,
// the registrar 2001:db8::a, the last two bytes as in IPv4.
func callerAddr(i int, v6 bool) netip.Addr { return hostAddr(1, i, v6) }

func calleeAddr(i int, v6 bool) netip.Addr { return hostAddr(2, i, v6) }

func registrarAddr(v6 bool) netip.Addr {
	if v6 {
		return hostAddr(0, 0, true)
	}
	return netip.AddrFrom4([4]byte{10, 0, 0, 10})
}

// hostAddr numbers host i of a site: 1 callers, 2 callees, 0 the registrar.
func hostAddr(site byte, i int, v6 bool) netip.Addr {
	if !v6 {
		return netip.AddrFrom4([4]byte{10, site, byte(i / 200), byte(10 + i%200)})
	}
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, site, 14: byte(i / 200), 15: byte(10 + i%200)})
}

// callerSide tells whether a is a caller, the side of a point-to-point
// tunnel that the first tunnel endpoint serves.
func callerSide(a netip.Addr) bool {
	if a.Is4() {
		return a.As4()[1] == 1
	}
	return a.As16()[5] == 1
}

// Tones each side sends, different so a listener can tell directions apart.
const (
	callerToneHz = 440
	calleeToneHz = 350
)

// digestPassword is every generated user's password; the Authorization
// header carries a real MD5 digest computed with it.
const digestPassword = "sipscope"

// dialog is the state of one scenario being played: its own random stream,
// a clock that only moves forward, and its truth counters.
type dialog struct {
	b         *builder
	r         *rand.Rand
	t         time.Time
	transport string
	callID    string
	messages  int
	first     time.Time
	last      time.Time
}

// wait moves the clock on by a random delay in [loMs, hiMs].
func (d *dialog) wait(loMs, hiMs float64) {
	d.t = d.t.Add(randMicrosBetween(d.r, loMs, hiMs))
}

func (d *dialog) put(from, to *party, msg []byte) {
	d.t = d.b.sip(d.r, d.t, from.sip, to.sip, msg)
	if d.messages == 0 {
		d.first = d.t
	}
	d.last = d.t
	d.messages++
	d.b.truth.Totals.SIPMessages++
}

func (d *dialog) request(from, to *party, req *request) {
	d.put(from, to, req.bytes())
	d.b.truth.Totals.Requests[req.method]++
}

func (d *dialog) respond(from, to *party, req *request, code int, reason, toTag string, extra []header, sdp string) {
	d.put(from, to, response(req, code, reason, toTag, extra, sdp))
	d.b.truth.Totals.Responses[strconv.Itoa(code)]++
}

func (d *dialog) hex32() string { return fmt.Sprintf("%08x", d.r.Uint32()) }
func (d *dialog) branch() string {
	return fmt.Sprintf("z9hG4bK%016x", d.r.Uint64()) // RFC 3261 magic cookie first
}

// play runs scenario i of the configured mix starting at t.
func (b *builder) play(i int, t time.Time) {
	cfg := b.cfg
	cycle := i / len(cfg.Mix)
	port := cfg.SIPPort
	if cfg.AltSIPPort != 0 && cycle%2 == 1 {
		port = cfg.AltSIPPort
	}
	chosen := codecByName(cfg.Codec)
	if cfg.Codec == CodecMix {
		chosen = codecByName([]string{CodecPCMU, CodecPCMA}[i%2])
	}
	d := &dialog{b: b, r: rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1)), t: t, transport: cfg.Transport}
	caller := &party{
		user:    fmt.Sprintf("alice%d", 1000+i),
		display: fmt.Sprintf("Alice %d", 1000+i),
		sip:     netip.AddrPortFrom(callerAddr(i, cfg.IPv6), port),
		rtp:     netip.AddrPortFrom(callerAddr(i, cfg.IPv6), uint16(10000+2*d.r.IntN(5000))),
		tag:     d.hex32(),
	}
	d.callID = fmt.Sprintf("%016x@%s", d.r.Uint64(), caller.sip.Addr()) // the host makes it unique
	switch sc := cfg.Mix[i%len(cfg.Mix)]; sc {
	case ScenarioRegister:
		b.playRegister(d, caller, port)
	default:
		callee := &party{
			user:    fmt.Sprintf("bob%d", 2000+i),
			display: fmt.Sprintf("Bob %d", 2000+i),
			sip:     netip.AddrPortFrom(calleeAddr(i, cfg.IPv6), port),
			rtp:     netip.AddrPortFrom(calleeAddr(i, cfg.IPv6), uint16(20000+2*d.r.IntN(5000))),
			tag:     d.hex32(),
		}
		b.playInvite(d, sc, caller, callee, chosen, cycle%2 == 1)
	}
}

// playInvite plays the INVITE scenarios. calleeHangsUp picks who sends BYE
// in an answered call, so both directions of an in-dialog request occur.
func (b *builder) playInvite(d *dialog, sc Scenario, caller, callee *party, chosen codec, calleeHangsUp bool) {
	tp := d.transport
	ptimeMs := int(b.cfg.Ptime / time.Millisecond)
	inv := &request{
		method: "INVITE",
		uri:    callee.contactURI(tp),
		via:    via(caller, tp, d.branch()),
		from:   caller.nameAddr() + ";tag=" + caller.tag,
		to:     callee.nameAddr(),
		callID: d.callID,
		cseq:   uint32(1 + d.r.IntN(999)),
		extra: []header{
			{"Contact", "<" + caller.contactURI(tp) + ">"},
			{"Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"},
		},
		sdp: sdp(caller, d.r.Uint64()>>1, chosen, true, ptimeMs),
	}
	calleeContact := []header{{"Contact", "<" + callee.contactURI(tp) + ">"}}
	// ackFor builds the ACK of a final response: for a non-2xx it belongs to
	// the INVITE transaction (same branch), for 2xx it is a new transaction
	// sent straight to the callee's Contact (RFC 3261 §17.1.1.3, §13.2.2.4).
	ackFor := func(success bool) *request {
		ack := &request{method: "ACK", uri: inv.uri, via: inv.via, from: inv.from,
			to: inv.to + ";tag=" + callee.tag, callID: d.callID, cseq: inv.cseq}
		if success {
			ack.uri = callee.contactURI(tp)
			ack.via = via(caller, tp, d.branch())
		}
		return ack
	}

	truth := CallTruth{
		CallID:    d.callID,
		Scenario:  sc,
		FromUser:  caller.user,
		ToUser:    callee.user,
		SrcIP:     caller.sip.Addr(),
		DstIP:     callee.sip.Addr(),
		SIPPort:   caller.sip.Port(),
		Transport: tp,
	}

	d.request(caller, callee, inv)
	d.wait(1, 5)
	d.respond(callee, caller, inv, 100, "Trying", "", nil, "")
	switch sc {
	case ScenarioNoFinal:
		truth.State = "no_final"

	case ScenarioBusy:
		d.wait(300, 1500)
		d.respond(callee, caller, inv, 486, "Busy Here", callee.tag, nil, "")
		d.wait(1, 5)
		d.request(caller, callee, ackFor(false))
		truth.State, truth.FinalCode = "failed", 486

	case ScenarioCancelled:
		d.wait(50, 150)
		d.respond(callee, caller, inv, 180, "Ringing", callee.tag, calleeContact, "")
		d.wait(1500, 4000)
		cancel := &request{method: "CANCEL", uri: inv.uri, via: inv.via, from: inv.from,
			to: inv.to, callID: d.callID, cseq: inv.cseq}
		d.request(caller, callee, cancel)
		d.wait(1, 5)
		d.respond(callee, caller, cancel, 200, "OK", callee.tag, nil, "")
		d.wait(1, 5)
		d.respond(callee, caller, inv, 487, "Request Terminated", callee.tag, nil, "")
		d.wait(1, 5)
		d.request(caller, callee, ackFor(false))
		truth.State, truth.FinalCode = "cancelled", 487

	case ScenarioT38:
		b.playFax(d, inv, caller, callee, chosen, ackFor(true), &truth)

	case ScenarioAnswered:
		d.wait(50, 150)
		d.respond(callee, caller, inv, 180, "Ringing", callee.tag, calleeContact, "")
		d.wait(800, 2500)
		okHeaders := []header{calleeContact[0], {"Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"}}
		d.respond(callee, caller, inv, 200, "OK", callee.tag, okHeaders, sdp(callee, d.r.Uint64()>>1, chosen, false, ptimeMs))
		t200 := d.t
		d.wait(1, 5)
		d.request(caller, callee, ackFor(true))

		count := int(b.cfg.CallDuration / b.cfg.Ptime)
		if b.cfg.SIPOnly {
			// No media is captured: the talk lasts as long all the same.
			d.t = d.t.Add(b.cfg.CallDuration)
			d.wait(20, 100)
			b.hangUp(d, inv, caller, callee, calleeHangsUp)
			truth.State, truth.FinalCode = "answered", 200
			break
		}
		// The callee talks as soon as it has answered, the caller once it
		// has acknowledged.
		fromCallee := b.rtpStream(d.r, streamSpec{src: callee.rtp, dst: caller.rtp, codec: chosen,
			start: t200.Add(randMicrosBetween(d.r, 5, 20)), count: count, toneHz: calleeToneHz, callID: d.callID})
		fromCaller := b.rtpStream(d.r, streamSpec{src: caller.rtp, dst: callee.rtp, codec: chosen,
			start: d.t.Add(randMicrosBetween(d.r, 5, 20)), count: count, toneHz: callerToneHz, callID: d.callID})
		b.truth.Streams = append(b.truth.Streams, fromCaller, fromCallee)
		d.t = later(fromCaller.End.Time, fromCallee.End.Time)
		d.wait(20, 100)

		b.hangUp(d, inv, caller, callee, calleeHangsUp)
		truth.State, truth.FinalCode = "answered", 200
	}
	truth.Messages, truth.Start, truth.End = d.messages, Time{d.first}, Time{d.last}
	b.truth.Calls = append(b.truth.Calls, truth)
}

// hangUp ends an answered call with a BYE from one side and its 200.
func (b *builder) hangUp(d *dialog, inv *request, caller, callee *party, calleeHangsUp bool) {
	tp := d.transport
	if calleeHangsUp {
		bye := &request{method: "BYE", uri: caller.contactURI(tp), via: via(callee, tp, d.branch()),
			from: callee.nameAddr() + ";tag=" + callee.tag, to: caller.nameAddr() + ";tag=" + caller.tag,
			callID: d.callID, cseq: uint32(1 + d.r.IntN(999))}
		d.request(callee, caller, bye)
		d.wait(1, 5)
		d.respond(caller, callee, bye, 200, "OK", "", nil, "")
		return
	}
	bye := &request{method: "BYE", uri: callee.contactURI(tp), via: via(caller, tp, d.branch()),
		from: inv.from, to: inv.to + ";tag=" + callee.tag, callID: d.callID, cseq: inv.cseq + 1}
	d.request(caller, callee, bye)
	d.wait(1, 5)
	d.respond(callee, caller, bye, 200, "OK", "", nil, "")
}

// playRegister plays a digest-challenged registration of ua.
func (b *builder) playRegister(d *dialog, ua *party, port uint16) {
	tp := d.transport
	registrar := &party{user: "registrar", sip: netip.AddrPortFrom(registrarAddr(b.cfg.IPv6), port), tag: d.hex32()}
	const expires = 3600
	contact := "<" + ua.contactURI(tp) + ">"
	reg := &request{
		method: "REGISTER",
		uri:    "sip:" + domain,
		via:    via(ua, tp, d.branch()),
		from:   ua.nameAddr() + ";tag=" + ua.tag,
		to:     ua.nameAddr(),
		callID: d.callID,
		cseq:   1,
		extra:  []header{{"Contact", contact}, {"Expires", strconv.Itoa(expires)}},
	}
	d.request(ua, registrar, reg)
	d.wait(2, 10)
	nonce := fmt.Sprintf("%016x%016x", d.r.Uint64(), d.r.Uint64())
	challenge := fmt.Sprintf(`Digest realm=%q, nonce=%q, algorithm=MD5, qop="auth"`, domain, nonce)
	d.respond(registrar, ua, reg, 401, "Unauthorized", registrar.tag, []header{{"WWW-Authenticate", challenge}}, "")

	d.wait(5, 20)
	cnonce := d.hex32()
	const nc = "00000001"
	ha1 := md5hex(ua.user + ":" + domain + ":" + digestPassword)
	ha2 := md5hex("REGISTER:" + reg.uri)
	resp := md5hex(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
	auth := fmt.Sprintf(`Digest username=%q, realm=%q, nonce=%q, uri=%q, response=%q, algorithm=MD5, cnonce=%q, qop=auth, nc=%s`,
		ua.user, domain, nonce, reg.uri, resp, cnonce, nc)
	reg2 := *reg
	reg2.via = via(ua, tp, d.branch())
	reg2.cseq = 2
	reg2.extra = append(reg.extra[:len(reg.extra):len(reg.extra)], header{"Authorization", auth})
	d.request(ua, registrar, &reg2)
	d.wait(2, 10)
	d.respond(registrar, ua, &reg2, 200, "OK", registrar.tag,
		[]header{{"Contact", contact + ";expires=" + strconv.Itoa(expires)}}, "")

	b.truth.Registrations = append(b.truth.Registrations, RegistrationTruth{
		CallID:     d.callID,
		AoR:        ua.aor(),
		SrcIP:      ua.sip.Addr(),
		SIPPort:    port,
		Transport:  tp,
		Challenged: true,
		FinalCode:  200,
		Messages:   d.messages,
		Start:      Time{d.first},
		End:        Time{d.last},
	})
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
