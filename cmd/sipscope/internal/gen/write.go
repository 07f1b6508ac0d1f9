package gen

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// snapLen of the written file: every frame is captured whole.
const snapLen = 65535

// epoch is when every capture starts, fixed so output never depends on the
// clock.
func epoch() time.Time { return time.Date(2026, time.January, 1, 10, 0, 0, 0, time.UTC) }

// Write generates the capture described by cfg as a classic pcap file
// (microsecond timestamps, Ethernet link type) on w and returns its ground
// truth. The same cfg always produces the same bytes.
func Write(w io.Writer, cfg Config) (*Truth, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := &builder{
		cfg:   cfg,
		conns: make(map[connKey]*tcpConn),
		truth: &Truth{
			Config:        cfg,
			Calls:         []CallTruth{},
			Registrations: []RegistrationTruth{},
			Streams:       []StreamTruth{},
			Totals:        Totals{Requests: map[string]int{}, Responses: map[string]int{}},
		},
	}
	// The master stream only spaces calls and seeds IPv4 IDs; each call has
	// its own stream so one call's randomness never shifts another's.
	master := rand.New(rand.NewPCG(cfg.Seed, 0))
	start := epoch()
	for i := range cfg.Calls {
		b.play(i, start)
		start = start.Add(time.Duration(200_000+master.IntN(300_000)) * time.Microsecond)
	}

	slices.SortStableFunc(b.frames, func(x, y frame) int { return x.ts.Compare(y.ts) })
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(snapLen, layers.LinkTypeEthernet); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrWrite, err)
	}
	ser := newSerializer(master)
	for i := range b.frames {
		f := &b.frames[i]
		data, err := ser.serialize(f)
		if err != nil {
			return nil, err
		}
		ci := gopacket.CaptureInfo{Timestamp: f.ts, CaptureLength: len(data), Length: len(data)}
		if err := pw.WritePacket(ci, data); err != nil {
			return nil, fmt.Errorf("%w: frame %d: %w", ErrWrite, i+1, err)
		}
	}

	t := b.truth
	t.Totals.Packets = len(b.frames)
	t.Totals.CallIDs = len(t.Calls) + len(t.Registrations) // each scenario has its own Call-ID
	t.Totals.RTPStreams = len(t.Streams)
	for _, s := range t.Streams {
		t.Totals.RTPPackets += s.Packets
	}
	return t, nil
}

// builder accumulates frames and truth while scenarios play.
type builder struct {
	cfg    Config
	frames []frame
	conns  map[connKey]*tcpConn
	truth  *Truth
}

func (b *builder) add(f frame) { b.frames = append(b.frames, f) }

// sip puts one SIP message from one endpoint to another on the wire at t and
// returns the time it is captured, which is later than t only when a TCP
// connection had to be opened first.
func (b *builder) sip(r *rand.Rand, t time.Time, from, to netip.AddrPort, msg []byte) time.Time {
	if b.cfg.Transport != TransportTCP {
		b.add(frame{ts: t, src: from, dst: to, tos: tosSignalling, payload: msg})
		return t
	}
	// Reuse a connection in either direction (RFC 3261 §18: responses go
	// back on the connection the request came in on).
	if c, ok := b.conns[connKey{client: from.Addr(), server: to}]; ok {
		b.add(frame{ts: t, src: c.client, dst: c.server, tos: tosSignalling, payload: msg,
			tcp: &tcpSegment{seq: c.clientSeq, ackNum: c.serverSeq, ack: true}})
		c.clientSeq += uint32(len(msg))
		return t
	}
	if c, ok := b.conns[connKey{client: to.Addr(), server: from}]; ok {
		b.add(frame{ts: t, src: c.server, dst: c.client, tos: tosSignalling, payload: msg,
			tcp: &tcpSegment{seq: c.serverSeq, ackNum: c.clientSeq, ack: true}})
		c.serverSeq += uint32(len(msg))
		return t
	}
	c := &tcpConn{
		client: netip.AddrPortFrom(from.Addr(), uint16(32768+r.IntN(28232))), // Linux ephemeral range
		server: to,
	}
	b.conns[connKey{client: from.Addr(), server: to}] = c
	isnC, isnS := r.Uint32(), r.Uint32()
	b.add(frame{ts: t, src: c.client, dst: c.server, tos: tosSignalling, tcp: &tcpSegment{seq: isnC, syn: true}})
	t = t.Add(randMicrosBetween(r, 0.1, 0.5))
	b.add(frame{ts: t, src: c.server, dst: c.client, tos: tosSignalling, tcp: &tcpSegment{seq: isnS, ackNum: isnC + 1, syn: true, ack: true}})
	t = t.Add(randMicrosBetween(r, 0.05, 0.2))
	b.add(frame{ts: t, src: c.client, dst: c.server, tos: tosSignalling, tcp: &tcpSegment{seq: isnC + 1, ackNum: isnS + 1, ack: true}})
	b.truth.Totals.TCPControl += 3
	c.clientSeq, c.serverSeq = isnC+1, isnS+1
	t = t.Add(randMicrosBetween(r, 0.02, 0.1))
	b.add(frame{ts: t, src: c.client, dst: c.server, tos: tosSignalling, payload: msg,
		tcp: &tcpSegment{seq: c.clientSeq, ackNum: c.serverSeq, ack: true}})
	c.clientSeq += uint32(len(msg))
	return t
}

// randMicrosBetween is a uniform duration in [loMs, hiMs] with microsecond
// resolution.
func randMicrosBetween(r *rand.Rand, loMs, hiMs float64) time.Duration {
	return time.Duration(loMs*1000)*time.Microsecond + randMicros(r, hiMs-loMs)
}
