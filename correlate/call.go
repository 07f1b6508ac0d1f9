package correlate

import (
	"bytes"
	"hash/maphash"
	"net/netip"
	"slices"
	"time"

	"github.com/sipscope/sipscope/decode/sip"
)

// handleCall advances the INVITE dialog state machine. Retransmissions are
// counted but never move a timing or a decision: only the first copy of a
// message does.
func (c *Correlator) handleCall(d *dialog, ts int64, src, dst netip.AddrPort, m *sip.Message, meth, cseqMeth method, retrans bool) {
	call := &d.call
	d.messages++
	if retrans {
		call.Retransmissions++
		return
	}
	// The From of every message of an INVITE transaction is the caller's.
	if !d.hasCallerTag && cseqMeth == methodInvite && len(m.FromTag) > 0 && !d.isReInvite(m) {
		d.callerTag = maphash.Bytes(c.seed, m.FromTag)
		d.hasCallerTag = true
	}
	if m.IsRequest {
		c.callRequest(d, ts, src, dst, m, meth)
	} else {
		c.callResponse(d, ts, src, dst, m, cseqMeth)
	}
	if !d.partiesKnown && call.FromUser == "" && call.ToUser == "" {
		// A partial dialog whose INVITE transaction was not seen: name
		// the parties from this message, as a best guess at who is who.
		call.FromUser, call.ToUser = string(m.FromUser), string(m.ToUser)
		if m.IsRequest {
			call.SrcIP, call.DstIP = src.Addr(), dst.Addr()
		} else {
			call.SrcIP, call.DstIP = dst.Addr(), src.Addr()
		}
	}
	if call.Fax == "" && len(m.Header("X-Fax")) > 0 {
		call.Fax = FaxG711Passthrough
	}
	if body := m.SDP(); len(body) > 0 {
		hold := c.learnMedia(d, ts, body, c.sender(d, m, src) == sideCaller)
		inDialogOffer := m.IsRequest && (meth == methodUpdate || meth == methodInvite && len(m.ToTag) > 0)
		if hold && inDialogOffer {
			call.Hold = true
		}
	}
}

func (c *Correlator) callRequest(d *dialog, ts int64, src, dst netip.AddrPort, m *sip.Message, meth method) {
	call := &d.call
	switch meth {
	case methodInvite:
		if len(m.ToTag) > 0 {
			call.ReInvites++
			if d.inviteTS == 0 {
				// Only a confirmed dialog takes a re-INVITE (RFC 3261
				// §14.1): a partial dialog that has one was answered.
				d.established = true
				d.reInviteCSeq = m.CSeq
			}
			return
		}
		// Another copy of the current attempt (e.g. the same INVITE
		// forwarded by a proxy on a second hop) changes nothing.
		if d.inviteTS != 0 && m.CSeq <= d.inviteCSeq {
			return
		}
		d.attemptTS = ts
		if d.inviteTS == 0 {
			d.inviteTS = ts
			d.partiesKnown = true
			// newDialog usually copied these already (comparing does not
			// allocate).
			if call.FromUser != string(m.FromUser) {
				call.FromUser = string(m.FromUser)
			}
			if call.ToUser != string(m.ToUser) {
				call.ToUser = string(m.ToUser)
			}
			call.SrcIP = src.Addr()
			call.DstIP = dst.Addr()
			if len(m.UserAgent) > 0 && call.UserAgent != string(m.UserAgent) {
				call.UserAgent = string(m.UserAgent)
			}
			c.linkLegs(d, m, src, dst, ts)
		} else {
			// A new attempt, typically with credentials after 401/407:
			// the call is decided by this one now.
			call.FinalCode = 0
			d.finalTS = 0
			d.cancelSeen = false
			d.hasToTag = false
			d.finished = false
			d.authSent = len(m.Header("Proxy-Authorization")) > 0 || len(m.Header("Authorization")) > 0
		}
		d.inviteCSeq = m.CSeq
	case methodCancel:
		if !d.answered && call.FinalCode == 0 {
			d.cancelSeen = true
		}
		c.noteReason(d, m)
	case methodBye:
		if d.byeTS == 0 {
			d.byeTS = ts
			d.byeSide = c.sender(d, m, src)
		}
		if d.inviteTS == 0 {
			d.established = true
		}
		c.noteReason(d, m)
	case methodInfo:
		if digit, ok := infoDTMF(m); ok && len(call.InfoDTMF) < maxInfoDTMF {
			call.InfoDTMF += string(digit)
		}
	}
}

// maxInfoDTMF bounds the digits kept per call.
const maxInfoDTMF = 64

// infoDTMF reads the digit a SIP INFO carries: application/dtmf-relay
// ("Signal=5") or application/dtmf (the digit as the body).
func infoDTMF(m *sip.Message) (byte, bool) {
	ct := bytes.TrimSpace(m.ContentType)
	body := bytes.TrimSpace(m.Body)
	switch {
	case hasPrefixFold(ct, "application/dtmf-relay"):
		for line := range bytes.Lines(body) {
			k, v, ok := bytes.Cut(bytes.TrimSpace(line), []byte("="))
			if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte("Signal")) {
				return dtmfDigit(bytes.TrimSpace(v))
			}
		}
	case hasPrefixFold(ct, "application/dtmf"):
		return dtmfDigit(body)
	}
	return 0, false
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], []byte(prefix))
}

// dtmfDigit accepts one of 0-9 * # A-D, or the RFC 4733 event number 0-15.
func dtmfDigit(v []byte) (byte, bool) {
	const digits = "0123456789*#ABCD"
	if len(v) == 1 {
		c := v[0]
		if c >= 'a' && c <= 'd' {
			c -= 'a' - 'A'
		}
		if bytes.IndexByte([]byte(digits), c) >= 0 {
			return c, true
		}
	}
	if len(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5' {
		return digits[10+int(v[1]-'0')], true
	}
	return 0, false
}

func (c *Correlator) callResponse(d *dialog, ts int64, src, dst netip.AddrPort, m *sip.Message, cseqMeth method) {
	call := &d.call
	code := m.StatusCode
	switch cseqMeth {
	case methodInvite:
		if d.inviteCSeq == 0 {
			if d.reInviteCSeq != 0 && m.CSeq == d.reInviteCSeq {
				// A partial dialog: this answers the re-INVITE seen, not
				// the INVITE that set the call up.
				if code >= 200 && code < 300 {
					d.established = true
				}
				return
			}
			// The INVITE itself was not captured (the capture started
			// after it): the response still names the parties.
			d.inviteCSeq = m.CSeq
			if !d.partiesKnown {
				d.partiesKnown = true
				call.FromUser, call.ToUser = string(m.FromUser), string(m.ToUser)
				call.SrcIP, call.DstIP = dst.Addr(), src.Addr()
			}
		}
		if m.CSeq != d.inviteCSeq {
			return // a re-INVITE's response does not decide the call
		}
		if code >= 200 && code < 300 && len(m.ToTag) == 0 {
			d.malformed |= badToTag
		}
		if code > 100 && code < 300 && len(m.ToTag) > 0 {
			tag := maphash.Bytes(c.seed, m.ToTag)
			switch {
			case !d.hasToTag:
				d.toTag, d.hasToTag = tag, true
			case tag != d.toTag:
				call.Forked = true
			}
		}
		switch {
		case code < 200:
			d.proceeding = true
			if code >= 180 && code < 190 && d.provTS == 0 {
				d.provTS = ts
			}
		case code < 300:
			if !d.answered {
				d.answered = true
				d.answerTS = ts
				call.FinalCode = code
				if d.finalTS == 0 {
					d.finalTS = ts
				}
			}
		default:
			if d.answered {
				return
			}
			call.FinalCode = code
			if d.finalTS == 0 {
				d.finalTS = ts
			}
			c.noteReason(d, m)
			// A challenge is followed by a retry with credentials; any
			// other failure ends the call (its ACK and retransmissions
			// still find it while it lingers).
			if code != 401 && code != 407 {
				d.finished = true
			}
		}
	case methodUpdate:
		if code >= 200 && code < 300 && d.inviteTS == 0 {
			d.established = true // an UPDATE answered in a dialog seen mid-way
		}
	case methodBye:
		if code < 200 {
			return
		}
		if d.inviteTS == 0 {
			d.established = true
		}
		if d.byeTS == 0 {
			// The BYE was not captured: its sender is the other side.
			d.byeTS = ts
			switch c.sender(d, m, src) {
			case sideCaller:
				d.byeSide = sideCallee
			case sideCallee:
				d.byeSide = sideCaller
			}
		}
		d.finished = true // RFC 3261 §15.1.1: the session ends whatever the response
	}
}

// sender tells which side of the call sent m. Tags decide (they survive
// proxies and NAT): a request comes from the caller when its From tag is
// the caller's, a response when it answers a request of the callee.
// Without tags (RFC 2543) the source address of the first INVITE decides.
func (c *Correlator) sender(d *dialog, m *sip.Message, src netip.AddrPort) side {
	if d.hasCallerTag && len(m.FromTag) > 0 {
		fromCaller := maphash.Bytes(c.seed, m.FromTag) == d.callerTag
		if m.IsRequest == fromCaller {
			return sideCaller
		}
		return sideCallee
	}
	// Addresses named by a guess (a partial dialog's first message) do
	// not tell who the caller was.
	if d.call.SrcIP.IsValid() && d.partiesKnown {
		if src.Addr() == d.call.SrcIP {
			return sideCaller
		}
		return sideCallee
	}
	return sideUnknown
}

// noteReason keeps the first Reason header of the call (RFC 3326) and its
// Q.850 cause.
func (c *Correlator) noteReason(d *dialog, m *sip.Message) {
	if d.call.ReasonHeader != "" || len(m.ReasonHeader) == 0 {
		return
	}
	d.call.ReasonHeader = string(m.ReasonHeader)
	d.call.Q850Cause = q850Cause(m.ReasonHeader)
}

// q850Cause finds the cause of the Q.850 value of a Reason header, such as
// `SIP;cause=200;text="x", Q.850 ;cause=16 ;text="local"`; 0 if none.
func q850Cause(v []byte) int {
	for len(v) > 0 {
		var val []byte
		val, v = sip.NextValue(v)
		proto := val
		params := []byte(nil)
		if i := bytes.IndexAny(val, "; \t"); i >= 0 {
			proto, params = val[:i], bytes.TrimLeft(val[i:], " \t")
		}
		if !bytes.EqualFold(proto, []byte("Q.850")) {
			continue
		}
		cause := sip.Param(params, "cause")
		n := 0
		for _, ch := range cause {
			if ch < '0' || ch > '9' || n > 9999 {
				return 0
			}
			n = n*10 + int(ch-'0')
		}
		if len(cause) > 0 {
			return n
		}
	}
	return 0
}

// isReInvite tells, in a dialog whose initial INVITE was not captured, a
// message of a re-INVITE transaction: its From tag may be either side's,
// so it must not name the caller. Once the initial INVITE was seen its
// transaction has named the caller already.
func (d *dialog) isReInvite(m *sip.Message) bool {
	if d.inviteTS != 0 {
		return false
	}
	if m.IsRequest {
		return len(m.ToTag) > 0
	}
	return d.reInviteCSeq != 0 && m.CSeq == d.reInviteCSeq
}

// partial tells a call dialog whose initial INVITE was not captured.
func (d *dialog) partial() bool { return d.kind == kindCall && d.inviteTS == 0 }

// up tells an answered call: a 2xx to its INVITE, or, when the INVITE was
// not captured, what only an established dialog does (a BYE, a re-INVITE,
// a 2xx to a re-INVITE or UPDATE) with no failure to the INVITE seen.
func (d *dialog) up() bool {
	return d.answered || d.partial() && d.established && d.call.FinalCode == 0
}

// state is the four-value outcome of the initial INVITE.
func (d *dialog) state() string {
	switch {
	case d.up():
		return StateAnswered
	case d.call.FinalCode == 487, d.call.FinalCode == 0 && d.cancelSeen:
		return StateCancelled
	case d.call.FinalCode == 0:
		return StateNoFinal
	}
	return StateFailed
}

// endReason says why the call ended; done means no more news is expected
// (finished, or its timer has run out), captureEnded that the capture file
// ended (EndOfCapture).
func (d *dialog) endReason(done, captureEnded bool) string {
	if d.up() {
		switch d.byeSide {
		case sideCaller:
			return EndCallerBye
		case sideCallee:
			return EndCalleeBye
		}
		if d.byeTS != 0 {
			return EndBye // a partial dialog: who sent it is unknown
		}
		return EndNoBye
	}
	code := d.call.FinalCode
	// One rule for state and end reason: a CANCEL ends the call as
	// cancelled only when the INVITE got 487 or nothing; any other final
	// crossed it and decides, the CANCEL staying on record (CancelSeen).
	switch {
	case d.cancelSeen && (code == 0 || code == 487):
		return EndCancelled
	case d.cancelSeen && code == 408:
		return EndTimeout
	case code == 0 && done:
		return EndNoFinal
	case code == 0 && captureEnded:
		return EndCaptureEnded
	case code == 0:
		return EndInProgress
	case code == 486, code == 600:
		return EndBusy
	case code == 401, code == 407:
		return EndAuthFailed
	case code == 403 && d.authSent:
		// Credentials were sent and refused: a wrong password, not a
		// policy rejection.
		return EndAuthFailed
	case (code == 408 || code == 480 || code == 487) && d.provTS != 0:
		return EndNoAnswer
	}
	return EndRejected
}

// snapshotCall is the public record of a call dialog as of c.now.
func (c *Correlator) snapshotCall(d *dialog) Call {
	var call Call
	c.fillCall(&call, d)
	return call
}

// fillCall writes the record of d into call, in place: Updates fills the
// slice it returns without copying each record twice.
func (c *Correlator) fillCall(call *Call, d *dialog) {
	d.call.fill(call)
	call.Messages = d.messages
	call.Nodes = c.nodeSets[d.nodeSet].names
	call.End = time.Unix(0, d.last).UTC()             // d.last moves with every message; the record reads it once
	done := d.finished || c.clockNow(d) >= c.dueAt(d) // its own source's time
	call.State = d.state()
	call.EndReason = d.endReason(done, c.captureEnded)
	// At the end of a capture file no more news can come: the record is
	// final, whatever it was waiting for.
	call.Finished = done || c.captureEnded
	call.Partial = d.partial()
	call.Malformed = d.malformed.reasons()
	call.CancelSeen = d.cancelSeen
	if d.up() {
		switch d.byeSide {
		case sideCaller:
			call.ByeBy = SideCaller
		case sideCallee:
			call.ByeBy = SideCallee
		}
		call.AnswerMs = spanMs(d.inviteTS, d.answerTS)
		call.DurationMs = spanMs(d.answerTS, d.byeTS)
		call.RingMs = spanMs(d.provTS, d.answerTS)
	} else {
		call.RingMs = spanMs(d.provTS, d.finalTS)
	}
	call.InviteNs, call.AttemptNs, call.RingingNs = d.inviteTS, d.attemptTS, d.provTS
	call.FinalNs, call.ByeNs = d.finalTS, d.byeTS
	if c.captureEnded {
		call.CaptureEndNs = c.captureEnd
	}
	call.PDDMs = spanMs(d.attemptTS, d.provTS)
	call.SetupMs = spanMs(d.inviteTS, d.provTS)
	call.LinkedCallIDs = slices.Clip(call.LinkedCallIDs)
	call.LastUpdate = time.Unix(0, d.updated).UTC()
}

// spanMs is b-a in milliseconds rounded to the microsecond, 0 when either
// end was not seen.
func spanMs(a, b int64) float64 {
	if a == 0 || b == 0 || b < a {
		return 0
	}
	return float64((b-a+500)/1000) / 1000
}
