package gen

import (
	"flag"
	"strings"
	"time"
)

// AddFlags declares the generator's flags (`sipscope gen`) on fs, bound
// to c; the defaults shown are c's values.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Calls, "calls", c.Calls, "number of scenarios to play (cycling through -mix), up to 10,000,000")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed: same flags, same bytes")
	fs.Float64Var(&c.LossPct, "loss", c.LossPct, "RTP loss in percent")
	fs.IntVar(&c.BurstLen, "burst", c.BurstLen, "mean loss burst length (1 = random loss)")
	fs.Float64Var(&c.JitterMs, "jitter", c.JitterMs, "max uniform RTP arrival jitter in ms")
	fs.DurationVar(&c.CallDuration, "duration", c.CallDuration, "media duration of answered calls")
	fs.StringVar(&c.Codec, "codec", c.Codec, "PCMU, PCMA or mix")
	fs.StringVar(&c.Transport, "transport", c.Transport, "udp, tcp, ws (SIP over WebSocket) or sctp")
	fs.StringVar(&c.Encap, "encap", c.Encap, "encapsulation: "+strings.Join(AllEncaps(), ", "))
	fs.BoolVar(&c.IPv6, "ipv6", c.IPv6, "IPv6 endpoints")
	fs.IntVar(&c.TCPSegmentSize, "tcp-segment", c.TCPSegmentSize, "split SIP over TCP into segments of at most this many bytes")
	fs.Float64Var(&c.TCPReorderPct, "tcp-reorder", c.TCPReorderPct, "percent of split messages whose segments are swapped")
	fs.Float64Var(&c.TCPRetransmitPct, "tcp-retransmit", c.TCPRetransmitPct, "percent of segments sent twice")
	fs.BoolVar(&c.WSFragment, "ws-fragment", c.WSFragment, "split each WebSocket message into several frames")
	fs.Func("start", "when the first call starts, RFC 3339 (default 2026-01-01T10:00:00Z)", func(v string) error {
		t, err := time.Parse(time.RFC3339Nano, v)
		c.Start = t
		return err
	})
	fs.Float64Var(&c.CPS, "cps", c.CPS, "start calls exactly 1/N s apart (default: 200-500 ms apart at random)")
	fs.BoolVar(&c.SIPOnly, "sip-only", c.SIPOnly, "leave the media out: SIP only, as a SIP tap sees it")
	fs.Func("mix", "comma-separated scenarios: answered,busy,cancelled,register,no_final (default all), and t38 (a call moved to T.38 fax and back)", func(v string) error {
		c.Mix = nil
		for _, s := range strings.Split(v, ",") {
			c.Mix = append(c.Mix, Scenario(strings.TrimSpace(s)))
		}
		return nil
	})
}
