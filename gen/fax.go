package gen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/sipscope/sipscope/decode/udptl"
)

// FaxTruth is one T.38 stream of a ScenarioT38 call: UDPTL sequence
// numbers counted as a receiver would.
type FaxTruth struct {
	Src        netip.AddrPort `json:"src"`
	Dst        netip.AddrPort `json:"dst"`
	FirstSeq   uint16         `json:"first_seq"`
	Sent       int            `json:"sent"`       // distinct packets the sender emitted
	Packets    int            `json:"packets"`    // datagrams in the capture, duplicates included
	Lost       int            `json:"lost"`       // sent and never captured
	Duplicates int            `json:"duplicates"` // captured a second time
	Start      Time           `json:"start"`
	End        Time           `json:"end"`
	CallID     string         `json:"call_id"`
}

// Fax stream shape: a packet every faxGapMs, one in faxLossEvery lost
// (never the first or last), the packet faxDupAt sent twice.
const (
	faxPackets   = 120
	faxGapMs     = 30
	faxLossEvery = 17
	faxDupAt     = 5
	// faxRedundancy is how many earlier IFPs each packet repeats: with
	// them a datagram is 14 bytes, long enough to pass for RTP.
	faxRedundancy = 4
)

// playFax answers the call, talks, lets the callee's fax detector move the
// call to T.38 with a re-INVITE, sends UDPTL both ways, then the caller
// moves it back to audio before the BYE. The audio parts follow the
// Config's loss and jitter; tshark's RTP statistics must see exactly them.
func (b *builder) playFax(d *dialog, inv *request, caller, callee *party, chosen codec, ack *request, truth *CallTruth) {
	tp := d.transport
	ptimeMs := int(b.cfg.Ptime / time.Millisecond)
	calleeContact := []header{{"Contact", "<" + callee.contactURI(tp) + ">"}}
	callerContact := []header{{"Contact", "<" + caller.contactURI(tp) + ">"}}
	d.wait(50, 150)
	d.respond(callee, caller, inv, 180, "Ringing", callee.tag, calleeContact, "")
	d.wait(800, 2500)
	calleeSess := d.r.Uint64() >> 2
	d.respond(callee, caller, inv, 200, "OK", callee.tag, calleeContact, sdp(callee, calleeSess, chosen, false, ptimeMs))
	d.wait(1, 5)
	d.request(caller, callee, ack)
	count := int(b.cfg.CallDuration / b.cfg.Ptime)
	b.talk(d, caller, callee, chosen, count)

	// The callee heard the CNG tone: T.38 on the same ports.
	calleeCSeq := uint32(1 + d.r.IntN(999))
	toFax := &request{method: "INVITE", uri: caller.contactURI(tp), via: via(callee, tp, d.branch()),
		from: callee.nameAddr() + ";tag=" + callee.tag, to: caller.nameAddr() + ";tag=" + caller.tag,
		callID: d.callID, cseq: calleeCSeq, extra: calleeContact, sdp: t38SDP(callee, calleeSess, 1)}
	callerSess := d.r.Uint64() >> 2
	b.reInvite(d, callee, caller, toFax, t38SDP(caller, callerSess, 1), callerContact)
	d.wait(20, 60)
	fromCallee := b.faxStream(d.r, callee.rtp, caller.rtp, d.t, d.callID)
	fromCaller := b.faxStream(d.r, caller.rtp, callee.rtp, d.t.Add(randMicrosBetween(d.r, 5, 15)), d.callID)
	b.truth.FaxStreams = append(b.truth.FaxStreams, fromCaller, fromCallee)
	d.t = later(fromCaller.End.Time, fromCallee.End.Time)
	d.wait(20, 100)

	// The fax is done: the caller moves the call back to audio.
	toAudio := &request{method: "INVITE", uri: callee.contactURI(tp), via: via(caller, tp, d.branch()),
		from: inv.from, to: inv.to + ";tag=" + callee.tag, callID: d.callID, cseq: inv.cseq + 1,
		extra: callerContact, sdp: sdp(caller, callerSess+2, chosen, true, ptimeMs)}
	b.reInvite(d, caller, callee, toAudio, sdp(callee, calleeSess+2, chosen, false, ptimeMs), calleeContact)
	b.talk(d, caller, callee, chosen, count/2)

	bye := &request{method: "BYE", uri: callee.contactURI(tp), via: via(caller, tp, d.branch()),
		from: inv.from, to: inv.to + ";tag=" + callee.tag, callID: d.callID, cseq: inv.cseq + 2}
	d.request(caller, callee, bye)
	d.wait(1, 5)
	d.respond(callee, caller, bye, 200, "OK", "", nil, "")
	truth.State, truth.FinalCode, truth.Fax = "answered", 200, "t38"
}

// talk plays count packets of G.711 each way, the callee first, and moves
// the clock past them.
func (b *builder) talk(d *dialog, caller, callee *party, chosen codec, count int) {
	fromCallee := b.rtpStream(d.r, streamSpec{src: callee.rtp, dst: caller.rtp, codec: chosen,
		start: d.t.Add(randMicrosBetween(d.r, 5, 20)), count: count, toneHz: calleeToneHz, callID: d.callID})
	fromCaller := b.rtpStream(d.r, streamSpec{src: caller.rtp, dst: callee.rtp, codec: chosen,
		start: d.t.Add(randMicrosBetween(d.r, 10, 25)), count: count, toneHz: callerToneHz, callID: d.callID})
	b.truth.Streams = append(b.truth.Streams, fromCaller, fromCallee)
	d.t = later(fromCaller.End.Time, fromCallee.End.Time)
	d.wait(20, 100)
}

// reInvite plays an in-dialog INVITE from→to with its 200 OK (answer sdp)
// and the ACK.
func (b *builder) reInvite(d *dialog, from, to *party, req *request, answer string, answerContact []header) {
	d.request(from, to, req)
	d.wait(1, 5)
	d.respond(to, from, req, 200, "OK", "", answerContact, answer)
	d.wait(1, 5)
	d.request(from, to, &request{method: "ACK", uri: req.uri, via: via(from, d.transport, d.branch()),
		from: req.from, to: req.to, callID: d.callID, cseq: req.cseq})
}

// t38SDP moves p's media to T.38 over UDPTL on its RTP port (RFC 3362,
// T.38 Annex D attributes).
func t38SDP(p *party, sessID, version uint64) string {
	ip := p.rtp.Addr().String()
	family := "IP4"
	if p.rtp.Addr().Is6() {
		family = "IP6"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "v=0\r\n")
	fmt.Fprintf(&sb, "o=%s %d %d IN %s %s\r\n", p.user, sessID, sessID+version, family, ip)
	fmt.Fprintf(&sb, "s=sipscope-gen\r\n")
	fmt.Fprintf(&sb, "c=IN %s %s\r\n", family, ip)
	fmt.Fprintf(&sb, "t=0 0\r\n")
	fmt.Fprintf(&sb, "m=image %d udptl t38\r\n", p.rtp.Port())
	fmt.Fprintf(&sb, "a=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxRateManagement:transferredTCF\r\n")
	fmt.Fprintf(&sb, "a=T38FaxMaxBuffer:200\r\na=T38FaxMaxDatagram:72\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n")
	return sb.String()
}

// faxStream adds one direction of UDPTL: T.30 indicators (no-signal, CNG,
// CED, V.21 preamble), each packet repeating the four before. Sequence numbers
// start between 0x8000 and 0xB000, so every packet reads as RTP version 2
// with a 12-byte header: only SDP can tell it is fax.
func (b *builder) faxStream(r *rand.Rand, src, dst netip.AddrPort, start time.Time, callID string) FaxTruth {
	seq0 := uint16(0x8000 + r.IntN(0x3000))
	indicators := []byte{0x00, 0x02, 0x04, 0x06}
	ft := FaxTruth{Src: src, Dst: dst, FirstSeq: seq0, Sent: faxPackets, CallID: callID}
	var t time.Time
	for k := range faxPackets {
		t = start.Add(time.Duration(k*faxGapMs)*time.Millisecond + randMicros(r, 2))
		if k%faxLossEvery == faxLossEvery-1 && k != faxPackets-1 {
			ft.Lost++
			continue
		}
		ifp := func(k int) byte { return indicators[(max(k, 0)/10)%len(indicators)] }
		// t38UDPRedundancy: the choice (secondary IFPs) padded to an octet,
		// their count, then each as an open type (length, IFP).
		rec := []byte{0x00, faxRedundancy}
		for j := 1; j <= faxRedundancy; j++ {
			rec = append(rec, 1, ifp(k-j))
		}
		pkt := udptl.Packet{Seq: seq0 + uint16(k), IFP: []byte{ifp(k)}, Recovery: rec}
		payload, _ := pkt.Marshal() // a one-byte IFP within bounds always encodes
		if k == 0 {
			ft.Start = Time{t}
		}
		b.add(frame{ts: t, src: src, dst: dst, tos: tosMedia, media: true, payload: payload})
		ft.Packets++
		if k == faxDupAt {
			t = t.Add(100 * time.Microsecond)
			b.add(frame{ts: t, src: src, dst: dst, tos: tosMedia, media: true, payload: payload})
			ft.Packets++
			ft.Duplicates++
		}
	}
	ft.End = Time{t}
	return ft
}
