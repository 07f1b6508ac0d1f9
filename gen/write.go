package gen

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
)

// snapLen of the written file: every frame is captured whole.
const snapLen = 65535

// netStream numbers the random stream of builder.net, apart from the master
// stream (0) and the per-scenario streams (1 to MaxCalls).
const netStream = 1 << 32

// epoch is when every capture starts, fixed so output never depends on the
// clock.
func epoch() time.Time { return time.Date(2026, time.January, 1, 10, 0, 0, 0, time.UTC) }

// Write generates the capture described by cfg as a classic pcap file
// (microsecond timestamps, Ethernet link type unless cfg.Encap names a
// cooked one, see LinkType) on w and returns its ground truth. The same cfg
// always produces the same bytes.
func Write(w io.Writer, cfg Config) (*Truth, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := &builder{
		cfg:    cfg,
		conns:  make(map[connKey]*tcpConn),
		assocs: make(map[connKey]*sctpAssoc),
		net:    rand.New(rand.NewPCG(cfg.Seed, netStream)),
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
	t := b.truth
	if cfg.Encap == EncapHEP {
		// The agent forwards SIP only: the capture at the collector holds no
		// RTP, so the truth has no streams.
		b.frames = slices.DeleteFunc(b.frames, func(f frame) bool { return f.media })
		t.Streams = []StreamTruth{}
	}
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(snapLen, LinkType(cfg.Encap)); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrWrite, err)
	}
	ser := newSerializer(cfg, master)
	for i := range b.frames {
		f := &b.frames[i]
		out, err := ser.frames(f)
		if err != nil {
			return nil, err
		}
		if len(out) > 1 {
			t.Totals.IPFragments += len(out)
		}
		for _, data := range out {
			ci := gopacket.CaptureInfo{Timestamp: f.ts, CaptureLength: len(data), Length: len(data)}
			if err := pw.WritePacket(ci, data); err != nil {
				return nil, fmt.Errorf("%w: frame %d: %w", ErrWrite, t.Totals.Packets+1, err)
			}
			t.Totals.Packets++
		}
	}

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
	assocs map[connKey]*sctpAssoc
	// net draws what the network and the transport do to SIP messages
	// (segment reordering and retransmission, WebSocket keys and masks), on
	// a stream of its own so those options never change the calls.
	net   *rand.Rand
	truth *Truth
}

func (b *builder) add(f frame) { b.frames = append(b.frames, f) }

// randMicrosBetween is a uniform duration in [loMs, hiMs] with microsecond
// resolution.
func randMicrosBetween(r *rand.Rand, loMs, hiMs float64) time.Duration {
	return time.Duration(loMs*1000)*time.Microsecond + randMicros(r, hiMs-loMs)
}
