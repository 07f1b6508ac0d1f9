// Package hepsend is agent mode: it forwards what the pipeline captures to a
// HEP collector (Homer, heplify-server, a central sipscope) as HEPv3: every
// SIP message, and on request RTCP as heplify's JSON (type 5) and each
// stream's RTP statistics as RTP-agent reports (type 34). It consumes the
// pipeline's hooks and queues in bounded memory, so a slow or absent
// collector never holds the pipeline up.
package hepsend

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/hep"
	"github.com/sipscope/sipscope/internal/bytering"
	"github.com/sipscope/sipscope/pipeline"
)

// Config is agent mode: where serve forwards every SIP message it
// captures, as HEPv3, and as which capture node. serve embeds it in its
// config, so its keys sit at the top level of the config file.
type Config struct {
	HEPSend     string `json:"hep_send"`      // udp://HOST:PORT or tcp://HOST:PORT
	HEPNodeID   uint32 `json:"hep_node_id"`   // HEP capture agent id
	HEPNodeName string `json:"hep_node_name"` // HEP node name chunk
	HEPAuthKey  string `json:"hep_auth_key"`  // HEP authentication key chunk
	HEPSendRTCP bool   `json:"hep_send_rtcp"` // also forward RTCP, as heplify's JSON (HEP type 5)
	// HEPSendStats also sends each call's RTP stream statistics, as RTP
	// agent reports (HEP type 34).
	HEPSendStats bool `json:"hep_send_stats"`
}

// AddFlags declares the agent-mode flags of serve on fs, bound to c; c's
// values (from a config file) are their defaults.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.HEPSend, "hep-send", c.HEPSend, "forward every captured SIP message as HEPv3 to udp://HOST:PORT or tcp://HOST:PORT (agent mode)")
	fs.Func("hep-node-id", "HEP capture agent id sent with --hep-send (0 to 4294967295)", func(s string) error {
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return fmt.Errorf("want 0 to 4294967295: %w", err)
		}
		c.HEPNodeID = uint32(v)
		return nil
	})
	fs.StringVar(&c.HEPNodeName, "hep-node-name", c.HEPNodeName, "HEP node name sent with --hep-send")
	fs.StringVar(&c.HEPAuthKey, "hep-auth-key", c.HEPAuthKey, "HEP authentication key sent with --hep-send")
	fs.BoolVar(&c.HEPSendRTCP, "hep-send-rtcp", c.HEPSendRTCP, "with --hep-send, also forward the RTCP of calls, as heplify's JSON (HEP type 5, correlation id = Call-ID)")
	fs.BoolVar(&c.HEPSendStats, "hep-send-stats", c.HEPSendStats, "with --hep-send, also send the RTP statistics of each call's streams (HEP type 34, correlation id = Call-ID)")
}

// parseHEPSend splits "udp://HOST:PORT" or "tcp://HOST:PORT".
func parseHEPSend(spec string) (network, addr string, err error) {
	network, addr, ok := strings.Cut(spec, "://")
	if !ok || (network != "udp" && network != "tcp") {
		return "", "", fmt.Errorf("--hep-send %q: want udp://HOST:PORT or tcp://HOST:PORT", spec)
	}
	if _, port, err := net.SplitHostPort(addr); err != nil {
		return "", "", fmt.Errorf("--hep-send %q: %w", spec, err)
	} else if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return "", "", fmt.Errorf("--hep-send %q: bad port %q", spec, port)
	}
	return network, addr, nil
}

// Sizes of the sender's queue. The ring holds encoded packets back to back,
// so memory is bounded in bytes whatever the message sizes; a span is one
// packet's place in it.
const (
	hepRingBytes = 4 << 20
	hepMaxSpans  = 16384
	// hepMaxEncoded is the largest HEPv3 packet (16-bit total length): the
	// ring must always be able to hold one.
	hepMaxEncoded = 0xffff
)

// Timings of the sender.
const (
	hepDialTimeout  = 2 * time.Second
	hepWriteTimeout = 5 * time.Second
	hepBackoffMin   = 100 * time.Millisecond
	hepBackoffMax   = 5 * time.Second
	// hepDrainTimeout bounds how long shutdown waits for an unreachable
	// collector before the packets still queued are counted as errors.
	hepDrainTimeout = 5 * time.Second
	// hepWriteTries is how many connections one packet may be written on
	// before it counts as an error (a collector that drops the connection
	// on every write must not stall the queue for ever).
	hepWriteTries = 3
)

// hepKind is what a forwarded packet carries; the sender counts per kind.
type hepKind uint8

const (
	hepKindSIP   hepKind = iota // a captured SIP message (HEP type 1)
	hepKindRTCP                 // a captured RTCP packet as heplify's JSON (HEP type 5)
	hepKindStats                // a stream's RTP statistics as an RTP agent report (HEP type 34)
	numHEPKinds
)

// String is the kind's type label on the metric.
func (k hepKind) String() string {
	switch k {
	case hepKindRTCP:
		return "rtcp"
	case hepKindStats:
		return "rtp_stats"
	}
	return "sip"
}

// hepCounters count one kind's packets by outcome. noCall and malformed
// count what was never queued: RTCP or a stream that no SDP tied to a call
// (a collector files such reports under nothing), and RTCP whose JSON
// could not be built.
type hepCounters struct {
	sent, dropped, errs, noCall, malformed atomic.Uint64
}

// Sender forwards captured SIP as HEPv3 to one collector (agent mode),
// and on request the calls' RTCP (sendRTCP) and RTP statistics (sendStats)
// in the JSON forms Homer reads.
//
// send runs on the pipeline goroutine and only encodes into a preallocated
// ring and hands the span over a bounded channel: when either is full the
// packet is dropped and counted, so a slow or absent collector never holds
// up capture. Run, on its own goroutine, writes the spans to the collector:
// one datagram per packet over UDP, a stream of packets over TCP, which it
// re-dials with exponential backoff after a failure. Nothing is allocated
// per message in steady state.
//
// The ring is single-producer (send), single-consumer (Run); a span's meta
// is the kind of packet, for the counters.
type Sender struct {
	network, addr string
	logger        *slog.Logger

	// Producer side (pipeline goroutine only).
	hdr     hep.Packet // reused per message: node id, name and key stay set
	closed  bool
	rtcp    rtcpView            // the RTCP packet being forwarded
	json    []byte              // RTCP and statistics JSON, built here then encoded into the ring
	cid     []byte              // the correlation id (a Call-ID) as bytes
	lastRep map[streamKey]int64 // packet time of each bound stream's last statistics report
	// statsEvery is how often (stream time) a live stream is reported.
	statsEvery int64

	q *bytering.Ring[hepKind]

	// Consumer side (Run only).
	conn    net.Conn
	backoff time.Duration
	giveUp  time.Time // zero until shutdown, then the drain deadline

	// Settings the tests shorten.
	dialTimeout, writeTimeout, drainTimeout time.Duration
	backoffMin, backoffMax                  time.Duration

	counts [numHEPKinds]hepCounters
}

// New returns nil when c asks for no forwarding. A sender needs a
// live source: with only --import there is nothing captured to forward.
func New(c Config, live bool, logger *slog.Logger, reg prometheus.Registerer) (*Sender, error) {
	if c.HEPSend == "" {
		if c.HEPSendRTCP || c.HEPSendStats {
			return nil, errors.New("--hep-send-rtcp and --hep-send-stats need --hep-send")
		}
		return nil, nil
	}
	if !live {
		return nil, errors.New("--hep-send forwards live traffic: it needs --iface or --hep-listen")
	}
	network, addr, err := parseHEPSend(c.HEPSend)
	if err != nil {
		return nil, err
	}
	s := newSenderTo(network, addr, c, hepRingBytes, hepMaxSpans, logger)
	if reg != nil {
		if err := s.register(reg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// newHEPSenderTo builds a sender with a ring of ringBytes (at least one
// largest HEP packet) and room for maxSpans queued packets.
func newSenderTo(network, addr string, c Config, ringBytes, maxSpans int, logger *slog.Logger) *Sender {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{
		network: network, addr: addr, logger: logger,
		hdr: hep.Packet{
			Version:   3,
			ProtoType: hep.ProtoSIP,
			NodeID:    c.HEPNodeID,
			NodeName:  []byte(c.HEPNodeName),
			AuthKey:   []byte(c.HEPAuthKey),
		},
		q:            bytering.New[hepKind](max(ringBytes, hepMaxEncoded), maxSpans),
		lastRep:      make(map[streamKey]int64),
		statsEvery:   int64(hepStatsEvery),
		dialTimeout:  hepDialTimeout,
		writeTimeout: hepWriteTimeout,
		drainTimeout: hepDrainTimeout,
		backoffMin:   hepBackoffMin,
		backoffMax:   hepBackoffMax,
	}
}

// register exports the counters as
// sipscope_hep_send_packets_total{type,result}. They are read at scrape
// time, so counting costs the pipeline one atomic add.
func (s *Sender) register(reg prometheus.Registerer) error {
	for k := range numHEPKinds {
		c := &s.counts[k]
		for _, r := range []struct {
			result string
			v      *atomic.Uint64
		}{{"sent", &c.sent}, {"dropped", &c.dropped}, {"error", &c.errs}, {"no_call", &c.noCall}, {"malformed", &c.malformed}} {
			err := reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "sipscope_hep_send_packets_total",
				Help: "Packets forwarded as HEPv3 by --hep-send, by type (sip, rtcp, rtp_stats) and result: sent, dropped because the send queue was full, " +
					"lost to an encoding or network error, not sent because no call's SDP explains the flow (no_call), or RTCP that could not be read (malformed).",
				ConstLabels: prometheus.Labels{"type": k.String(), "result": r.result},
			}, func() float64 { return float64(r.v.Load()) }))
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Attach makes the pipeline hand the sender what c asks it to forward:
// SIP always, RTCP and stream statistics when asked.
func (s *Sender) Attach(p *pipeline.Pipeline, c Config) {
	p.OnSIP = s.send
	if c.HEPSendRTCP {
		p.OnRTCP = s.sendRTCP
	}
	if c.HEPSendStats {
		p.OnStreamStats = s.sendStats
	}
}

// ipProtocol is the IP protocol number HEP's protocol chunk carries.
func ipProtocol(t decode.Transport) uint8 {
	switch t {
	case decode.TransportTCP:
		return 6
	case decode.TransportSCTP:
		return 132
	}
	return 17
}

// send queues one SIP message for forwarding; raw is copied (encoded) before
// send returns. It is the pipeline's onSIP hook and must not be called after
// finish, nor from two goroutines.
func (s *Sender) send(pkt *decode.Packet, raw []byte) {
	if s.closed {
		return
	}
	h := &s.hdr
	s.setFlow(pkt.Src, pkt.Dst, pkt.TS)
	h.ProtoType = hep.ProtoSIP
	h.Protocol = ipProtocol(pkt.Transport)
	h.Payload = raw
	s.enqueue(hepKindSIP)
}

// setFlow fills the reused header's addresses and capture time.
func (s *Sender) setFlow(src, dst netip.AddrPort, ts int64) {
	h := &s.hdr
	h.IPFamily = 0 // derived from the addresses
	// An IPv4-mapped address goes out as IPv4, as a collector expects.
	h.SrcIP, h.DstIP = src.Addr().Unmap(), dst.Addr().Unmap()
	h.SrcPort, h.DstPort = src.Port(), dst.Port()
	h.TimestampSec = uint32(ts / 1e9)
	h.TimestampUsec = uint32(ts % 1e9 / 1e3)
}

// enqueue encodes the header as set up by the caller into the ring and
// hands it to Run, or counts why it cannot. The payload and correlation id
// are the caller's and are let go of before enqueue returns.
func (s *Sender) enqueue(kind hepKind) {
	h := &s.hdr
	defer func() { h.Payload, h.CorrelationID = nil, nil }()
	c := &s.counts[kind]
	n := h.MarshalSize()
	if n > hepMaxEncoded {
		c.errs.Add(1)
		return
	}
	b := s.q.Reserve(n)
	if b == nil {
		c.dropped.Add(1)
		return
	}
	if _, err := h.MarshalTo(b); err != nil {
		c.errs.Add(1)
		return
	}
	s.q.Commit(n, kind)
}

// finish tells Run that nothing more will be sent: Run forwards what is
// queued and returns. It must be called once, after the last send, from the
// pipeline's goroutine or after it ended. A nil sender is a no-op, so serve
// can call it whether or not forwarding is on.
func (s *Sender) Finish() {
	if s == nil || s.closed {
		return
	}
	s.closed = true
	s.q.Close()
}

// Run forwards queued packets until finish has been called and the queue is
// empty. When ctx ends it keeps going (shutdown drains), but from then on it
// gives an unreachable collector at most drainTimeout before counting the
// rest as errors.
func (s *Sender) Run(ctx context.Context) error {
	defer s.closeConn()
	done := ctx.Done()
	for {
		select {
		case <-done:
			done = nil
			s.noteShutdown(ctx)
		case sp, ok := <-s.q.Spans():
			if !ok {
				return nil
			}
			if s.deliver(ctx, s.q.Bytes(sp)) {
				s.counts[sp.Meta].sent.Add(1)
			} else {
				s.counts[sp.Meta].errs.Add(1)
			}
			s.q.Release(sp)
		}
	}
}

// noteShutdown starts the drain clock the first time it sees ctx ended.
func (s *Sender) noteShutdown(ctx context.Context) {
	if s.giveUp.IsZero() && ctx.Err() != nil {
		s.giveUp = time.Now().Add(s.drainTimeout)
	}
}

// deliver writes one encoded packet, dialling the collector first if
// needed. Before shutdown it retries (with backoff) as long as it takes;
// after, until the drain clock runs out.
func (s *Sender) deliver(ctx context.Context, b []byte) bool {
	for try := 0; try < hepWriteTries; {
		if s.conn == nil {
			s.noteShutdown(ctx)
			if !s.giveUp.IsZero() && time.Now().After(s.giveUp) {
				return false
			}
			if err := s.dial(); err != nil {
				if s.network == "udp" {
					return false // nothing to wait for: the address itself is wrong
				}
				s.wait(ctx)
				continue
			}
		}
		if s.network == "tcp" {
			s.conn.SetWriteDeadline(time.Now().Add(s.writeTimeout))
		}
		_, err := s.conn.Write(b)
		if err == nil {
			s.backoff = 0
			return true
		}
		if s.network == "udp" {
			// A refused datagram (ICMP port unreachable reported by a
			// connected socket) or a too-large one: this packet is lost,
			// the socket is still good.
			return false
		}
		s.logger.Warn("HEP send: connection to collector lost", "addr", s.addr, "err", err)
		s.closeConn()
		try++
	}
	return false
}

func (s *Sender) dial() error {
	d := net.Dialer{Timeout: s.dialTimeout}
	c, err := d.Dial(s.network, s.addr)
	if err != nil {
		if s.backoff == 0 {
			s.logger.Warn("HEP send: cannot reach collector, retrying with backoff", "addr", s.addr, "err", err)
		}
		return err
	}
	if s.network == "tcp" {
		s.logger.Info("HEP send: connected to collector", "addr", s.addr)
	}
	s.conn = c
	return nil
}

// wait sleeps the current backoff and doubles it. Before shutdown the
// sleep ends early when ctx ends (the drain clock then starts); after, it
// never sleeps past the drain deadline.
func (s *Sender) wait(ctx context.Context) {
	s.backoff = min(max(2*s.backoff, s.backoffMin), s.backoffMax)
	d := s.backoff
	if !s.giveUp.IsZero() {
		d = min(d, time.Until(s.giveUp))
	}
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		if !s.giveUp.IsZero() {
			<-t.C // already draining: ctx is no reason to hurry
		}
	}
}

func (s *Sender) closeConn() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// hepSendStats is what the sender counted so far.
type hepSendStats struct{ sent, dropped, errors, noCall, malformed uint64 }

// stats sums the counters of every kind.
func (s *Sender) stats() hepSendStats {
	var t hepSendStats
	for k := range numHEPKinds {
		st := s.statsOf(k)
		t.sent += st.sent
		t.dropped += st.dropped
		t.errors += st.errors
		t.noCall += st.noCall
		t.malformed += st.malformed
	}
	return t
}

// statsOf is the counters of one kind.
func (s *Sender) statsOf(k hepKind) hepSendStats {
	c := &s.counts[k]
	return hepSendStats{sent: c.sent.Load(), dropped: c.dropped.Load(), errors: c.errs.Load(), noCall: c.noCall.Load(), malformed: c.malformed.Load()}
}

// streamKey names one RTP stream (the statistics reports are rate-limited
// per stream).
type streamKey struct {
	src, dst netip.AddrPort
	ssrc     uint32
}
