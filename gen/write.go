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

// epoch is when every capture starts unless Config.Start says otherwise,
// fixed so output never depends on the clock.
func epoch() time.Time { return time.Date(2026, time.January, 1, 10, 0, 0, 0, time.UTC) }

// firstStart is when the first call starts.
func (c Config) firstStart() time.Time {
	if c.Start.IsZero() {
		return epoch()
	}
	return c.Start.UTC()
}

// Write generates the capture described by cfg as a classic pcap file
// (microsecond timestamps, Ethernet link type unless cfg.Encap names a
// cooked one, see LinkType) on w and returns its ground truth. The same cfg
// always produces the same bytes. The truth holds every call: for millions
// of calls use Stream, whose memory does not grow with Calls.
func Write(w io.Writer, cfg Config) (*Truth, error) {
	return generate(w, cfg, true)
}

// Stream writes the same bytes as Write but keeps no truth per call, only
// the totals, so that its memory stays bounded however many calls it
// plays: frames are written as soon as no later call can precede them.
func Stream(w io.Writer, cfg Config) (Totals, error) {
	t, err := generate(w, cfg, false)
	if err != nil {
		return Totals{}, err
	}
	return t.Totals, nil
}

// minFlush is how many frames wait before a write is tried: a sort per
// call would cost more than the memory it saves.
const minFlush = 4096

func generate(w io.Writer, cfg Config, keepTruth bool) (*Truth, error) {
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
	// its own stream so one call's randomness never shifts another's. The
	// IDs were drawn once all calls were spaced, when every frame was held
	// until the end; now that frames go out while calls are still played,
	// the serializer draws from a copy of the master stream moved past the
	// spacing draws, which gives the same IDs.
	master := rand.New(rand.NewPCG(cfg.Seed, 0))
	ids := rand.New(rand.NewPCG(cfg.Seed, 0))
	for range cfg.Calls {
		spacing(ids)
	}
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(snapLen, LinkType(cfg.Encap)); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrWrite, err)
	}
	out := &frameWriter{pw: pw, ser: newSerializer(cfg, ids), t: b.truth,
		dropMedia: cfg.Encap == EncapHEP || cfg.SIPOnly}
	first := cfg.firstStart()
	start, kept := first, 0
	for i := range cfg.Calls {
		b.play(i, start)
		gap := spacing(master)
		if cfg.CPS > 0 {
			start = first.Add(time.Duration(float64(i+1) * float64(time.Second) / cfg.CPS))
		} else {
			start = start.Add(gap)
		}
		if !keepTruth {
			b.countAndForget()
		}
		// Every frame of a later call is at or after its start, so the
		// frames before it are final; ties stay behind, where the stable
		// sort keeps generation order as a sort of the whole capture did.
		if len(b.frames) >= minFlush+2*kept {
			var err error
			if kept, err = out.flush(b, start, false); err != nil {
				return nil, err
			}
		}
	}
	if _, err := out.flush(b, time.Time{}, true); err != nil {
		return nil, err
	}

	t := b.truth
	if out.dropMedia {
		// The agent forwards SIP only (and a SIP-only capture has no
		// media): the truth has no streams.
		t.Streams = []StreamTruth{}
	}
	t.Totals.CallIDs += len(t.Calls) + len(t.Registrations) // each scenario has its own Call-ID
	t.Totals.RTPStreams += len(t.Streams)
	for _, s := range t.Streams {
		t.Totals.RTPPackets += s.Packets
	}
	return t, nil
}

// spacing draws the gap between two calls' starts from the master stream.
func spacing(master *rand.Rand) time.Duration {
	return time.Duration(200_000+master.IntN(300_000)) * time.Microsecond
}

// countAndForget adds the truth of the calls played so far to the totals
// and drops it (Stream).
func (b *builder) countAndForget() {
	t := b.truth
	t.Totals.CallIDs += len(t.Calls) + len(t.Registrations)
	if !(b.cfg.Encap == EncapHEP || b.cfg.SIPOnly) {
		t.Totals.RTPStreams += len(t.Streams)
		for _, s := range t.Streams {
			t.Totals.RTPPackets += s.Packets
		}
	}
	t.Calls, t.Registrations, t.Streams, t.FaxStreams = t.Calls[:0], t.Registrations[:0], t.Streams[:0], t.FaxStreams[:0]
}

// frameWriter serialises frames in capture order.
type frameWriter struct {
	pw        *pcapgo.Writer
	ser       *serializer
	t         *Truth
	dropMedia bool
}

// flush writes the held frames captured before until (all of them when
// all is set) and keeps the rest; it returns how many it kept.
func (o *frameWriter) flush(b *builder, until time.Time, all bool) (int, error) {
	slices.SortStableFunc(b.frames, func(x, y frame) int { return x.ts.Compare(y.ts) })
	n := len(b.frames)
	if !all {
		n, _ = slices.BinarySearchFunc(b.frames, until, func(f frame, t time.Time) int {
			if f.ts.Before(t) {
				return -1
			}
			return 1
		})
	}
	t := o.t
	for i := range b.frames[:n] {
		f := &b.frames[i]
		if o.dropMedia && f.media {
			continue
		}
		out, err := o.ser.frames(f)
		if err != nil {
			return 0, err
		}
		if len(out) > 1 {
			t.Totals.IPFragments += len(out)
		}
		for _, data := range out {
			ci := gopacket.CaptureInfo{Timestamp: f.ts, CaptureLength: len(data), Length: len(data)}
			if err := o.pw.WritePacket(ci, data); err != nil {
				return 0, fmt.Errorf("%w: frame %d: %w", ErrWrite, t.Totals.Packets+1, err)
			}
			t.Totals.Packets++
		}
	}
	kept := copy(b.frames, b.frames[n:])
	clear(b.frames[kept:]) // let the written payloads go
	b.frames = b.frames[:kept]
	return kept, nil
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

func (b *builder) add(f frame) {
	if f.media && b.cfg.SIPOnly {
		return
	}
	b.frames = append(b.frames, f)
}

// randMicrosBetween is a uniform duration in [loMs, hiMs] with microsecond
// resolution.
func randMicrosBetween(r *rand.Rand, loMs, hiMs float64) time.Duration {
	return time.Duration(loMs*1000)*time.Microsecond + randMicros(r, hiMs-loMs)
}
