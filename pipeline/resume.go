package pipeline

import (
	"context"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/decode"
)

// CallResumer is what a restarted live pipeline reads from its store to
// continue the calls that were still open when it stopped (or crashed):
// their SIP messages, in capture order.
type CallResumer interface {
	OpenCallMessages(ctx context.Context, since time.Time, limit int, fn func(correlate.Message) error) error
}

// Resume replays the stored messages of open calls through the correlator,
// so that what arrives next (a BYE, a re-INVITE) continues each call
// instead of starting a fragment of it, and calls that will hear nothing
// more end by the correlator's timeouts. The replayed messages are not
// written again. It returns how many messages it replayed and how many of
// them did not parse (counted under decode errors too).
func (p *Pipeline) Resume(ctx context.Context, r CallResumer, since time.Time, limit int) (replayed, bad int, err error) {
	err = r.OpenCallMessages(ctx, since, limit, func(m correlate.Message) error {
		if perr := p.msg.Unmarshal(m.Raw); perr != nil {
			bad++
			p.counts.decodeErrors["resume_"+sipReason(perr)]++
			return nil
		}
		if m.Node != p.node {
			p.node = m.Node
			p.corr.SetNode(m.Node)
		}
		p.corr.HandleSIP(m.TS.UnixNano(), m.Src, m.Dst, transportOf(m.Transport), &p.msg)
		replayed++
		return ctx.Err()
	})
	p.corr.TakeMessages() // stored already
	return replayed, bad, err
}

// transportOf reads back decode.Transport's name.
func transportOf(name string) decode.Transport {
	for _, t := range []decode.Transport{decode.TransportUDP, decode.TransportTCP, decode.TransportSCTP} {
		if t.String() == name {
			return t
		}
	}
	return decode.TransportUnknown
}
