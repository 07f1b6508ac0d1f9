package correlate

import (
	"net/netip"
	"slices"
	"time"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
)

// dialogKind is what a Call-ID turned out to be, decided by its first request.
type dialogKind uint8

const (
	kindOther dialogKind = iota // OPTIONS, MESSAGE, SUBSCRIBE...: counted, not listed
	kindCall
	kindRegistration
)

type dialog struct {
	kind dialogKind
	call Call
	reg  Registration

	inviteCSeq uint32 // CSeq of the latest initial (out-of-dialog) INVITE
	answered   bool
	cancelSeen bool
	media      []netip.AddrPort // SDP endpoints this dialog registered
}

// Stats counts what the correlator saw and what it refused.
type Stats struct {
	Messages       int // SIP messages handled
	CallIDs        int // distinct Call-IDs seen
	DialogsDropped int // messages of new Call-IDs refused because MaxDialogs was reached
	MediaDropped   int // SDP endpoints not remembered because MaxMedia was reached
	BadSDP         int // SDP bodies that did not parse
}

// Correlator groups SIP messages into calls and registrations. It is not
// safe for concurrent use: one goroutine feeds it.
type Correlator struct {
	cfg     Config
	dialogs map[string]*dialog
	order   []*dialog // first-seen order, for stable output
	media   map[netip.AddrPort]*dialog
	msgs    []Message
	stats   Stats
	sdp     sdpScratch
}

// New returns a Correlator; cfg must be valid (see Config.Validate).
func New(cfg Config) *Correlator {
	return &Correlator{
		cfg:     cfg,
		dialogs: make(map[string]*dialog),
		media:   make(map[netip.AddrPort]*dialog),
	}
}

// Stats returns the counters so far.
func (c *Correlator) Stats() Stats { return c.stats }

// HandleSIP takes one parsed SIP message seen at ts (Unix ns) from src to dst.
// m's slices may point into a packet buffer: what is kept is copied.
func (c *Correlator) HandleSIP(ts int64, src, dst netip.AddrPort, tr decode.Transport, m *sip.Message) {
	c.stats.Messages++
	d, ok := c.dialogs[string(m.CallID)]
	if !ok {
		c.stats.CallIDs++
		if len(c.dialogs) >= c.cfg.MaxDialogs {
			c.stats.DialogsDropped++
			return
		}
		d = &dialog{kind: kindOf(m)}
		callID := string(m.CallID)
		c.dialogs[callID] = d
		c.order = append(c.order, d)
		switch d.kind {
		case kindCall:
			d.call = Call{CallID: callID, Start: time.Unix(0, ts).UTC()}
		case kindRegistration:
			d.reg = Registration{CallID: callID, Start: time.Unix(0, ts).UTC(), SrcIP: src.Addr()}
		}
	}
	at := time.Unix(0, ts).UTC()
	switch d.kind {
	case kindCall:
		c.handleCallMessage(d, at, src, dst, m)
	case kindRegistration:
		handleRegisterMessage(&d.reg, at, m)
	}
	if len(m.Body) > 0 && isSDP(m) {
		c.learnMedia(d, m.Body)
	}
	if c.cfg.KeepMessages {
		c.msgs = append(c.msgs, newMessage(at, src, dst, tr, m))
	}
}

func kindOf(m *sip.Message) dialogKind {
	method := m.CSeqMethod
	if m.IsRequest {
		method = m.Method
	}
	switch string(method) {
	case "INVITE", "CANCEL", "PRACK", "BYE", "UPDATE":
		return kindCall
	case "REGISTER":
		return kindRegistration
	}
	return kindOther
}

func (c *Correlator) handleCallMessage(d *dialog, at time.Time, src, dst netip.AddrPort, m *sip.Message) {
	call := &d.call
	call.Messages++
	call.End = at
	if m.IsRequest {
		switch string(m.Method) {
		case "INVITE":
			if len(m.ToTag) == 0 && m.CSeq >= d.inviteCSeq {
				if d.inviteCSeq == 0 {
					call.FromUser = string(m.FromUser)
					call.ToUser = string(m.ToUser)
					call.SrcIP = src.Addr()
					call.DstIP = dst.Addr()
				}
				d.inviteCSeq = m.CSeq
			}
		case "CANCEL":
			d.cancelSeen = true
		}
		return
	}
	if string(m.CSeqMethod) != "INVITE" || m.StatusCode < 200 {
		return
	}
	// Finals of re-INVITEs (a later CSeq inside the dialog) do not decide the call.
	if d.inviteCSeq != 0 && m.CSeq != d.inviteCSeq {
		return
	}
	if m.StatusCode < 300 {
		d.answered = true
		call.FinalCode = m.StatusCode
		return
	}
	if !d.answered {
		call.FinalCode = m.StatusCode
	}
}

func handleRegisterMessage(r *Registration, at time.Time, m *sip.Message) {
	r.Messages++
	r.End = at
	if m.IsRequest {
		if string(m.Method) == "REGISTER" && r.AoR == "" {
			r.AoR = string(m.ToURI)
		}
		return
	}
	if string(m.CSeqMethod) != "REGISTER" || m.StatusCode < 200 {
		return
	}
	if m.StatusCode == 401 || m.StatusCode == 407 {
		r.Challenged = true
	}
	r.FinalCode = m.StatusCode
}

func newMessage(at time.Time, src, dst netip.AddrPort, tr decode.Transport, m *sip.Message) Message {
	msg := Message{
		TS:         at,
		Src:        src,
		Dst:        dst,
		Transport:  tr.String(),
		CallID:     string(m.CallID),
		IsRequest:  m.IsRequest,
		StatusCode: m.StatusCode,
		Reason:     string(m.Reason),
		CSeq:       m.CSeq,
		CSeqMethod: string(m.CSeqMethod),
		FromUser:   string(m.FromUser),
		ToUser:     string(m.ToUser),
		Raw:        slices.Clone(m.Raw),
	}
	if m.IsRequest {
		msg.Method = string(m.Method)
	} else {
		msg.Method = msg.CSeqMethod
	}
	return msg
}

// TakeMessages returns the messages retained since the last call and forgets them.
func (c *Correlator) TakeMessages() []Message {
	out := c.msgs
	c.msgs = nil
	return out
}

// MediaCallID returns the Call-ID whose SDP announced src or dst as a media
// endpoint, or "" when no SDP explains this flow.
func (c *Correlator) MediaCallID(src, dst netip.AddrPort) string {
	if d, ok := c.media[dst]; ok {
		return d.call.CallID
	}
	if d, ok := c.media[src]; ok {
		return d.call.CallID
	}
	return ""
}

// Calls returns every INVITE dialog, ordered by start time (first seen on ties).
func (c *Correlator) Calls() []Call {
	var out []Call
	for _, d := range c.order {
		if d.kind != kindCall {
			continue
		}
		call := d.call
		call.State = d.state()
		out = append(out, call)
	}
	slices.SortStableFunc(out, func(a, b Call) int { return a.Start.Compare(b.Start) })
	return out
}

// Registrations returns every REGISTER dialog in order of first appearance.
func (c *Correlator) Registrations() []Registration {
	var out []Registration
	for _, d := range c.order {
		if d.kind == kindRegistration {
			out = append(out, d.reg)
		}
	}
	slices.SortStableFunc(out, func(a, b Registration) int { return a.Start.Compare(b.Start) })
	return out
}

func (d *dialog) state() string {
	switch {
	case d.answered:
		return StateAnswered
	case d.call.FinalCode == 487, d.call.FinalCode == 0 && d.cancelSeen:
		return StateCancelled
	case d.call.FinalCode == 0:
		return StateNoFinal
	}
	return StateFailed
}

// PendingMessages is how many retained messages TakeMessages would return.
func (c *Correlator) PendingMessages() int { return len(c.msgs) }
