package correlate

import (
	"bytes"
	"net/netip"

	"github.com/sipscope/sipscope/decode/sdp"
)

// sdpScratch is the reusable SDP view, so learning media does not allocate
// a Session per message.
type sdpScratch struct {
	sess sdp.Session
}

// mediaEntry says whose an endpoint is: which call, which side of it, and
// whether it was announced in SDP or learned from the traffic (NAT).
// rtcpNext says RTCP goes to the next port (RFC 3550 §11), so the usual
// RTCP endpoint costs no entry of its own.
type mediaEntry struct {
	d        *dialog
	caller   bool
	nat      bool
	rtcpNext bool
	stale    bool // replaced by a later SDP of the same side
}

// maxDialogMedia bounds the endpoints one call may bind, so a dialog full
// of re-INVITEs cannot hold MaxMedia alone.
const maxDialogMedia = 32

// learnMedia records the RTP and RTCP endpoints an SDP body announces, so
// RTP to or from them is bound to this dialog and its direction is known.
// A later SDP for the same endpoint (re-INVITE, another call reusing the
// port) takes it over. It reports whether the description puts a stream
// on hold (sendonly, inactive or a 0.0.0.0 connection).
func (c *Correlator) learnMedia(d *dialog, ts int64, body []byte, caller bool) (hold bool) {
	s := &c.sdp.sess
	// Only where media flows matters here; codecs are not parsed.
	if err := s.UnmarshalEndpoints(body); err != nil {
		c.stats.BadSDP++
		return false
	}
	// What this side announced before is superseded unless announced again
	// below; it stays bound for late packets but no longer claims flows.
	// The reference says which side and kind the entry had when d last
	// wrote it, so the other side's endpoints cost no lookup.
	for _, r := range d.media {
		if r.caller != caller || r.nat {
			continue
		}
		if e, ok := c.media.get(r.ap); ok && e.d == d && e.caller == caller && !e.nat {
			e.stale = true
			c.media.set(r.ap, e)
		}
	}
	var desc SDPMedia
	for i := 0; i < s.NumMedia; i++ {
		m := &s.Media[i]
		if m.Port != 0 && isT38(m) {
			desc.T38 = true
			// The same ports now carry UDPTL: bind them (they usually are
			// already) and note from when, so the pipeline ends the RTP
			// stream there and counts T.38 instead.
			ap := s.RTPAddr(i)
			c.bindMedia(d, ap, mediaEntry{d: d, caller: caller})
			c.setMode(d, ap, true, ts)
			continue
		}
		if m.Port == 0 || !m.IsRTP() {
			continue
		}
		if !desc.Announced && string(m.Type) == "audio" {
			desc = SDPMedia{Announced: true, Addr: s.RTPAddr(i), Direction: s.MediaDirection(i), T38: desc.T38}
			// The caller's offer says what a 488 refused. Only the
			// caller's are kept, and the same again (re-INVITEs) costs no
			// copy, so the callee's answer allocates nothing.
			if caller && string(m.Fmt) != d.call.OfferFormats {
				d.call.OfferFormats = string(m.Fmt)
			}
		}
		if s.OnHold(i) {
			hold = true
		}
		rtp, rtcp := s.RTPAddr(i), s.RTCPAddr(i)
		next := rtcp == nextPort(rtp)
		c.bindMedia(d, rtp, mediaEntry{d: d, caller: caller, rtcpNext: next})
		c.setMode(d, rtp, false, ts)
		if !next && rtcp != rtp {
			c.bindMedia(d, rtcp, mediaEntry{d: d, caller: caller})
		}
	}
	if caller {
		d.call.CallerMedia = desc
	} else {
		d.call.CalleeMedia = desc
	}
	switch {
	case desc.T38:
		d.call.Fax = FaxT38
	case d.call.Fax == "" && faxHint(body):
		d.call.Fax = FaxG711Passthrough
	}
	return hold
}

// faxHint tells an SDP that says fax rides in the audio: silence
// suppression switched off (RFC 3108, sent by gateways for fax and modem
// calls) or a V.152 voiceband-data payload type.
func faxHint(body []byte) bool {
	return containsFold(body, "a=silencesupp:off") || containsFold(body, "vbd=yes")
}

// containsFold is a case-insensitive bytes.Contains for an ASCII
// lower-case needle, without the allocation of lowering body.
func containsFold(body []byte, needle string) bool {
	for i := 0; i+len(needle) <= len(body); i++ {
		if bytes.EqualFold(body[i:i+len(needle)], []byte(needle)) {
			return true
		}
	}
	return false
}

// setMode records that d's endpoint ap now carries T.38 (t38) or RTP, and
// from which capture time. Each switch bumps the endpoint's epoch, which
// the pipeline puts in its stream key: RTP after a fax is a new stream.
func (c *Correlator) setMode(d *dialog, ap netip.AddrPort, t38 bool, ts int64) {
	for i := range d.media {
		r := &d.media[i]
		if r.ap != ap || r.nat {
			continue
		}
		if r.t38() != t38 {
			r.epoch++
			r.sinceMs = msAfter(ts, d.first)
			c.faxSwitches++
		}
		return
	}
}

// FaxSwitches counts the times an endpoint moved to T.38 or back. While it
// is 0 no flow can be T.38, and the pipeline need not ask FlowMode.
func (c *Correlator) FaxSwitches() uint64 { return c.faxSwitches }

// FlowMode tells whether the media flow src→dst carries T.38 at capture
// time ts (either end was moved to m=image udptl by SDP at or before ts)
// and its epoch: a number that changes with every switch of either end, so
// that the RTP before a fax and the RTP after it are different streams.
// It allocates nothing.
func (c *Correlator) FlowMode(src, dst netip.AddrPort, ts int64) (t38 bool, epoch uint32) {
	t1, e1 := c.endpointMode(dst, ts)
	t2, e2 := c.endpointMode(src, ts)
	return t1 || t2, e1 + e2
}

func (c *Correlator) endpointMode(ap netip.AddrPort, ts int64) (bool, uint32) {
	e, ok := c.media.get(ap)
	if !ok {
		return false, 0
	}
	for _, r := range e.d.media {
		if r.ap != ap || r.nat {
			continue
		}
		if r.epoch > 0 && msAfter(ts, e.d.first) < r.sinceMs {
			// A packet captured before the SDP that switched the endpoint
			// (another capture point, reordering) is of the mode before.
			return !r.t38(), uint32(r.epoch - 1)
		}
		return r.t38(), uint32(r.epoch)
	}
	return false, 0
}

// isT38 tells an m=image section carrying T.38 over UDPTL (RFC 3362).
func isT38(m *sdp.Media) bool {
	if !bytes.EqualFold(m.Type, []byte("image")) {
		return false
	}
	const udptl = "udptl"
	for i := 0; i+len(udptl) <= len(m.Proto); i++ {
		if bytes.EqualFold(m.Proto[i:i+len(udptl)], []byte(udptl)) {
			return true
		}
	}
	return false
}

// mediaRef is an endpoint a dialog bound, with the side and kind of the
// entry as the dialog last wrote it.
type mediaRef struct {
	ap     netip.AddrPort
	caller bool
	nat    bool
	// epoch counts the switches between RTP and T.38 (setMode): odd is
	// T.38. sinceMs is when the latest came, in ms after the dialog's
	// first message (kept small: every dialog holds two references).
	epoch   uint16
	sinceMs uint32
}

func (r *mediaRef) t38() bool { return r.epoch&1 == 1 }

// msAfter is ts in ms after first, within a uint32.
func msAfter(ts, first int64) uint32 {
	return uint32(min(max(ts-first, 0)/1e6, 1<<32-1))
}

func (d *dialog) hasMedia(ap netip.AddrPort) bool {
	for _, r := range d.media {
		if r.ap == ap {
			return true
		}
	}
	return false
}

func nextPort(ap netip.AddrPort) netip.AddrPort {
	if ap.Port() == 65535 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr(), ap.Port()+1)
}

// lookupMedia finds who owns ap: an entry of its own, or the RTP entry
// below it whose RTCP is at the next port.
func (c *Correlator) lookupMedia(ap netip.AddrPort) (mediaEntry, bool) {
	if e, ok := c.media.get(ap); ok {
		return e, true
	}
	if p := ap.Port(); p > 0 {
		if e, ok := c.media.get(netip.AddrPortFrom(ap.Addr(), p-1)); ok && e.rtcpNext {
			return e, true
		}
	}
	return mediaEntry{}, false
}

func (c *Correlator) bindMedia(d *dialog, ap netip.AddrPort, e mediaEntry) {
	if ap.Port() == 0 || !ap.Addr().IsValid() || ap.Addr().IsUnspecified() {
		return
	}
	nat := e.nat
	if old, ok := c.media.get(ap); ok {
		if old.d == d {
			if !nat { // SDP overrides what traffic suggested
				c.media.set(ap, e)
				d.noteMedia(ap, e)
			}
			return
		}
		if len(d.media) >= maxDialogMedia {
			c.stats.MediaDropped++
			return
		}
		c.media.set(ap, e)
		d.addMedia(ap, e)
		c.mediaHook(ap, true)
		return
	}
	if c.media.len() >= c.cfg.MaxMedia || len(d.media) >= maxDialogMedia {
		c.stats.MediaDropped++
		return
	}
	c.media.set(ap, e)
	d.addMedia(ap, e)
	c.mediaHook(ap, true)
}

func (d *dialog) addMedia(ap netip.AddrPort, e mediaEntry) {
	if d.media == nil {
		d.media = d.mediaBuf[:0] // both sides' RTP without an allocation
	}
	d.media = append(d.media, mediaRef{ap: ap, caller: e.caller, nat: e.nat})
}

// noteMedia keeps d's references to ap in step with the entry it just
// wrote for it.
func (d *dialog) noteMedia(ap netip.AddrPort, e mediaEntry) {
	for i := range d.media {
		if r := &d.media[i]; r.ap == ap {
			r.caller, r.nat = e.caller, e.nat
		}
	}
}

// freeMedia forgets the endpoints d still owns.
func (c *Correlator) freeMedia(d *dialog) {
	for _, r := range d.media {
		if e, ok := c.media.get(r.ap); ok && e.d == d {
			c.media.del(r.ap)
			c.mediaHook(r.ap, false)
		}
	}
	d.media = nil
}

// mediaHook tells Config.OnMedia (the live capture filter) about a media
// endpoint learned from SDP or forgotten when its call ended.
func (c *Correlator) mediaHook(ap netip.AddrPort, bound bool) {
	if c.cfg.OnMedia != nil {
		c.cfg.OnMedia(ap, bound)
	}
}

// MediaCallID returns the Call-ID whose SDP announced src or dst as a media
// endpoint, or "" when no SDP explains this flow.
func (c *Correlator) MediaCallID(src, dst netip.AddrPort) string {
	id, _ := c.MediaDirection(src, dst)
	return id
}

// sourceOwnsFlow settles a flow whose two ends now belong to different
// calls: a UA that reuses one media port for every call (sipp's UAS does)
// hands the destination to the newest call's SDP, yet RTP from an older
// call's own endpoint to the port that call was given is still that call's.
func (c *Correlator) sourceOwnsFlow(src, dst netip.AddrPort, de mediaEntry) (mediaEntry, bool) {
	se, ok := c.lookupMedia(src)
	if !ok || se.stale || se.d == de.d || !se.d.hasMedia(dst) {
		return mediaEntry{}, false
	}
	return se, true
}

// MediaDirection returns the call a media flow belongs to and whether it
// goes from the caller to the callee. The destination decides first (RTP
// is sent to the address the receiver announced), then the source
// (symmetric RTP is sent from it). It learns nothing; see BindMedia.
func (c *Correlator) MediaDirection(src, dst netip.AddrPort) (callID string, fromCaller bool) {
	if e, ok := c.lookupMedia(dst); ok {
		if se, ok := c.sourceOwnsFlow(src, dst, e); ok {
			return se.d.callID, se.caller
		}
		return e.d.callID, !e.caller
	}
	if e, ok := c.lookupMedia(src); ok {
		return e.d.callID, e.caller
	}
	return "", false
}

// BindMedia binds a new media flow (call it once per flow, e.g. per new
// SSRC and address pair). When only one end was announced in SDP, the
// other is a translated (NAT) address: it is remembered for the other side
// of the call, so the reverse flow is bound too, and the binding is
// flagged. A flow no SDP explains returns the zero MediaBinding: report it
// as unbound rather than drop it.
func (c *Correlator) BindMedia(src, dst netip.AddrPort) MediaBinding {
	de, dok := c.lookupMedia(dst)
	se, sok := c.lookupMedia(src)
	if sok && dok {
		if se, ok := c.sourceOwnsFlow(src, dst, de); ok {
			return MediaBinding{CallID: se.d.callID, FromCaller: se.caller, NAT: se.nat}
		}
	}
	switch {
	case dok:
		b := MediaBinding{CallID: de.d.callID, FromCaller: !de.caller, NAT: de.nat || !sok || se.nat}
		if !sok {
			c.learnNAT(de.d, src, !de.caller)
		}
		return b
	case sok:
		c.learnNAT(se.d, dst, !se.caller)
		return MediaBinding{CallID: se.d.callID, FromCaller: se.caller, NAT: true}
	}
	return MediaBinding{}
}

func (c *Correlator) learnNAT(d *dialog, ap netip.AddrPort, caller bool) {
	if _, ok := c.media.get(ap); ok {
		return
	}
	n := c.media.len()
	c.bindMedia(d, ap, mediaEntry{d: d, caller: caller, nat: true})
	if c.media.len() > n {
		c.stats.NATBindings++
	}
}
