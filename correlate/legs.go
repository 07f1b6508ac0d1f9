package correlate

import (
	"bytes"
	"hash/maphash"
	"net/netip"
	"slices"

	"github.com/sipscope/sipscope/decode/sip"
)

// A B2BUA or SBC turns one call into two dialogs with different Call-IDs.
// Legs are linked, in order of trust, by a correlation header naming the
// other leg's Call-ID (X-CID and friends), by a correlation token both legs
// carry, and failing both by the same caller and callee numbers within
// Config.LegWindow on a different network path.

// maxLinkedLegs bounds LinkedCallIDs per call.
const maxLinkedLegs = 8

// legEntry is the latest call between one pair of numbers.
type legEntry struct {
	d  *dialog
	ts int64 // its initial INVITE
}

// linkLegs runs once per call, at its first initial INVITE.
func (c *Correlator) linkLegs(d *dialog, m *sip.Message, src, dst netip.AddrPort, ts int64) {
	linked := false
	if x := bytes.TrimSpace(c.legHeader(m)); len(x) > 0 && len(x) <= 256 {
		d.call.XCallID = string(x)
		// This leg names another leg's Call-ID...
		if o := c.dialogs.getString(maphash.String(c.seed, d.call.XCallID), d.call.XCallID); o != nil && o != d && o.kind == kindCall {
			linked = c.link(d, o) || linked
		}
		// ...or carries the same token as another leg.
		if o := c.xcids[d.call.XCallID]; o != nil && o != d {
			linked = c.link(d, o) || linked
		}
		if len(c.xcids) < c.cfg.MaxDialogs {
			c.xcids[d.call.XCallID] = d
		}
	}
	// An earlier leg named this one's Call-ID.
	if len(c.xcids) > 0 {
		if o := c.xcids[d.callID]; o != nil && o != d {
			linked = c.link(d, o) || linked
		}
	}
	if linked || c.cfg.LegWindow <= 0 {
		return
	}
	key, ok := c.numberKey(m.FromUser, m.ToUser)
	if !ok {
		return
	}
	window := int64(c.cfg.LegWindow)
	if e, found := c.legs[key]; found && e.d != d && !e.d.removed {
		dt := ts - e.ts
		samePath := e.d.call.SrcIP == src.Addr() && e.d.call.DstIP == dst.Addr()
		// The same path within the window is a redial, not another leg.
		if dt <= window && dt >= -window && !samePath {
			c.link(d, e.d)
		}
	}
	if len(c.legs) < c.cfg.MaxDialogs {
		c.legs[key] = legEntry{d: d, ts: ts}
		d.legKey, d.hasLegKey = key, true
	}
}

// legHeader returns the value of the first configured leg header.
func (c *Correlator) legHeader(m *sip.Message) []byte {
	if c.defaultLegs {
		return m.XCallID
	}
	for _, h := range c.cfg.LegHeaders {
		if v := m.Header(h); len(v) > 0 {
			return v
		}
	}
	return nil
}

// link records a and b as legs of one call, both ways.
// It reports whether they are linked now (the caps may refuse).
func (c *Correlator) link(a, b *dialog) bool {
	addLeg(&a.call, b.callID)
	if addLeg(&b.call, a.callID) {
		if a.updated > b.updated {
			b.updated = a.updated
		}
		c.markDirty(b)
	}
	return slices.Contains(a.call.LinkedCallIDs, b.callID)
}

func addLeg(call *callState, id string) bool {
	if id == call.CallID || len(call.LinkedCallIDs) >= maxLinkedLegs || slices.Contains(call.LinkedCallIDs, id) {
		return false
	}
	call.LinkedCallIDs = append(call.LinkedCallIDs, id)
	return true
}

// unlinkLegs drops d from the leg indexes.
func (c *Correlator) unlinkLegs(d *dialog) {
	if x := d.call.XCallID; x != "" && c.xcids[x] == d {
		delete(c.xcids, x)
	}
	if d.hasLegKey {
		if e, ok := c.legs[d.legKey]; ok && e.d == d {
			delete(c.legs, d.legKey)
		}
	}
}

// numberKey hashes the caller and callee numbers so that the spellings an
// SBC rewrites (+49 30 1234567, 0049301234567, 0301234567) meet: users
// with at least six digits are reduced to their last eight digits, which
// drops country codes and trunk prefixes; other users are taken as they are.
func (c *Correlator) numberKey(from, to []byte) (uint64, bool) {
	if len(from) == 0 || len(to) == 0 {
		return 0, false
	}
	var buf [2*maxKeyPart + 1]byte
	b := appendNumber(buf[:0], from)
	b = append(b, 0)
	b = appendNumber(b, to)
	return maphash.Bytes(c.seed, b), true
}

const (
	maxKeyPart   = 32
	numberDigits = 8
)

func appendNumber(b, user []byte) []byte {
	digits := 0
	for _, ch := range user {
		if ch >= '0' && ch <= '9' {
			digits++
		}
	}
	if digits < 6 {
		return append(b, user[:min(len(user), maxKeyPart)]...)
	}
	skip := max(digits-numberDigits, 0)
	for _, ch := range user {
		if ch < '0' || ch > '9' {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		b = append(b, ch)
	}
	return b
}
