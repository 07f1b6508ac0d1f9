package correlate

import (
	"bytes"
	"net/netip"

	"github.com/sipscope/sipscope/decode/sdp"
	"github.com/sipscope/sipscope/decode/sip"
)

// sdpScratch is the reusable SDP view, so learning media does not allocate
// a Session per message.
type sdpScratch struct {
	sess sdp.Session
}

// learnMedia records the RTP and RTCP endpoints an SDP body announces, so
// RTP to or from them is bound to this dialog. A later SDP for the same
// endpoint (re-INVITE, another call reusing the port) takes it over.
func (c *Correlator) learnMedia(d *dialog, body []byte) {
	s := &c.sdp.sess
	if err := s.Unmarshal(body); err != nil {
		c.stats.BadSDP++
		return
	}
	for i := 0; i < s.NumMedia; i++ {
		m := &s.Media[i]
		if m.Port == 0 || !m.IsRTP() {
			continue
		}
		c.bindMedia(d, s.RTPAddr(i))
		c.bindMedia(d, s.RTCPAddr(i))
	}
}

func (c *Correlator) bindMedia(d *dialog, ap netip.AddrPort) {
	if ap.Port() == 0 || !ap.Addr().IsValid() || ap.Addr().IsUnspecified() {
		return
	}
	if owner, ok := c.media[ap]; ok {
		if owner == d {
			return
		}
		c.media[ap] = d
		d.media = append(d.media, ap)
		return
	}
	if len(c.media) >= c.cfg.MaxMedia {
		c.stats.MediaDropped++
		return
	}
	c.media[ap] = d
	d.media = append(d.media, ap)
}

var sdpType = []byte("application/sdp")

// isSDP tells whether the message body is a session description.
func isSDP(m *sip.Message) bool {
	ct := bytes.TrimSpace(m.ContentType)
	return len(ct) >= len(sdpType) && bytes.EqualFold(ct[:len(sdpType)], sdpType)
}
