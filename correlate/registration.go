package correlate

import (
	"bytes"
	"time"

	"github.com/sipscope/sipscope/decode/sip"
)

// handleRegister follows a REGISTER exchange: challenges, the retry with
// credentials, the binding granted.
func (c *Correlator) handleRegister(d *dialog, ts int64, m *sip.Message, meth, cseqMeth method, retrans bool) {
	r := &d.reg.Registration
	r.Messages++
	if retrans {
		return
	}
	if m.IsRequest {
		if meth != methodRegister {
			return
		}
		r.Attempts++
		d.finished = false
		if r.AoR == "" {
			r.AoR = string(m.ToURI)
		}
		contact, exp := contactBinding(m.Contact)
		if string(contact) != r.Contact {
			r.Contact = string(contact)
		}
		if exp < 0 {
			exp = m.Expires
		}
		d.reg.reqExpires = exp
		if r.SucceededAt.IsZero() {
			r.Expires = exp
		}
		if len(m.UserAgent) > 0 && string(m.UserAgent) != r.UserAgent {
			r.UserAgent = string(m.UserAgent)
		}
		return
	}
	if cseqMeth != methodRegister || m.StatusCode < 200 {
		return
	}
	r.FinalCode = m.StatusCode
	switch code := m.StatusCode; {
	case code < 300:
		r.SucceededAt = time.Unix(0, ts).UTC()
		r.Failed = false
		r.Expires = grantedExpires(m, r.Contact, d.reg.reqExpires)
		d.finished = true
	case code == 401 || code == 407:
		// Failed until the retry with credentials succeeds.
		r.Challenged = true
		r.Failed = true
	default:
		r.Failed = true
		d.finished = true
	}
}

// contactBinding returns the URI of the first Contact value ("*" for the
// wildcard of RFC 3261 §10.2.2) and its expires parameter, or -1.
func contactBinding(v []byte) (uri []byte, expires int) {
	first, _ := sip.NextValue(v)
	if len(first) == 0 {
		return nil, -1
	}
	if bytes.Equal(first, []byte("*")) {
		return first, -1
	}
	var a sip.Address
	if a.Unmarshal(first) != nil {
		return nil, -1
	}
	return a.URI, parseExpires(sip.Param(a.Params, "expires"))
}

// grantedExpires is the expiry a 2xx grants to contact: its Contact's
// expires parameter, else the Expires header, else what was asked for.
func grantedExpires(m *sip.Message, contact string, requested int) int {
	firstParam := -1
	for v := m.Contact; len(v) > 0; {
		var val []byte
		val, v = sip.NextValue(v)
		var a sip.Address
		if len(val) == 0 || a.Unmarshal(val) != nil {
			continue
		}
		exp := parseExpires(sip.Param(a.Params, "expires"))
		if exp >= 0 && string(a.URI) == contact {
			return exp
		}
		if firstParam < 0 {
			firstParam = exp
		}
	}
	switch {
	case firstParam >= 0:
		return firstParam
	case m.Expires >= 0:
		return m.Expires
	}
	return requested
}

// parseExpires reads a delta-seconds value; -1 when absent or malformed.
func parseExpires(v []byte) int {
	if len(v) == 0 || len(v) > 10 {
		return -1
	}
	n := 0
	for _, ch := range v {
		if ch < '0' || ch > '9' {
			return -1
		}
		n = n*10 + int(ch-'0')
	}
	return n
}

// snapshotReg is the public record of a registration dialog as of c.now.
func (c *Correlator) snapshotReg(d *dialog) Registration {
	var r Registration
	c.fillReg(&r, d)
	return r
}

// fillReg writes the record of d into r, in place.
func (c *Correlator) fillReg(r *Registration, d *dialog) {
	*r = d.reg.Registration
	r.End = time.Unix(0, d.last).UTC()
	if r.FinalCode == 0 && (d.finished || c.clockNow(d) >= c.dueAt(d)) {
		r.Failed = true // ended without any final response
	}
}
