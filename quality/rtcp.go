package quality

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/pion/rtcp"
)

// RTCPReport is what RTCP said about one SSRC: its own sender reports, the
// reception reports its receivers sent about it, the round trip between it
// and its peer, and the RTCP XR VoIP metrics reported about it. Values are
// from the most recent report unless named Max or Mean.
type RTCPReport struct {
	SSRC    uint32
	Reports int    // RTCP packets and report blocks that told something about SSRC
	LastNs  int64  // arrival time of the latest of them, Unix ns
	CNAME   string // from SDES, if SSRC sent one
	Bye     bool   // SSRC sent a BYE
	App     int    // APP packets SSRC sent

	// From sender reports sent by SSRC.
	SenderReports int
	SenderPackets uint32 // packets SSRC says it sent
	SenderOctets  uint32 // payload octets SSRC says it sent

	// From reception report blocks about SSRC, sent by its receivers.
	ReceiverReports    int
	Reporter           uint32  // SSRC of the latest reporter
	FractionLostPct    float64 // loss since the reporter's previous report, %
	MaxFractionLostPct float64
	CumulativeLost     int    // signed, as RFC 3550 defines it (duplicates can make it negative)
	HighestSeq         uint32 // extended highest sequence number received
	Jitter             uint32 // interarrival jitter, RTP timestamp units
	MaxJitter          uint32
	JitterMs           float64 // Jitter at the stream's clock rate (RTCPConfig.ClockRate until a StreamQuality converts it)
	MaxJitterMs        float64

	// Round trip between SSRC and its peer, from a report's LSR/DLSR
	// (or XR LRR/DLRR) matched with the sender report (or XR receiver
	// reference time) it refers to, as seen in this capture.
	RTTMs      float64 // latest
	MeanRTTMs  float64
	MaxRTTMs   float64
	RTTSamples int

	XR XRVoIPMetrics // latest RFC 3611 VoIP metrics about SSRC; XR.Reports == 0 when none
}

// XRVoIPMetrics is an RTCP XR VoIP Metrics Report Block (RFC 3611 §4.7)
// as the reporter sent it, converted to plain units. Unavailable values
// (127 on the wire) are -1, except levels, which RFC 3611 makes signed:
// those keep 127.
type XRVoIPMetrics struct {
	Reports          int
	Reporter         uint32  // SSRC that sent the block
	LossRatePct      float64 // packets lost in the network, %
	DiscardRatePct   float64 // packets discarded by the reporter's jitter buffer, %
	BurstDensityPct  float64 // loss and discard density within bursts, %
	GapDensityPct    float64 // density within gaps, %
	BurstDurationMs  int
	GapDurationMs    int
	RoundTripDelayMs int // the reporter's latest round trip
	EndSystemDelayMs int
	SignalLevelDBm   int // 127 = unavailable
	NoiseLevelDBm    int // 127 = unavailable
	RERLDB           int // residual echo return loss; 127 = unavailable
	Gmin             int
	RFactor          int     // 0-100; -1 = unavailable
	ExtRFactor       int     // 0-100; -1 = unavailable
	MOSLQ            float64 // 1.0-5.0; -1 = unavailable
	MOSCQ            float64 // 1.0-5.0; -1 = unavailable
	RXConfig         uint8   // PLC, jitter buffer adaptivity and rate bits
	JBNominalMs      int
	JBMaxMs          int
	JBAbsMaxMs       int
}

// RTCPConfig bounds an RTCPTracker.
type RTCPConfig struct {
	// MaxSSRCs is the number of SSRCs tracked at once (0: 4096). Past it
	// the least recently reported one is evicted and counted.
	MaxSSRCs int
	// ClockRate converts reported jitter to ms (0: 8000 Hz, the clock of
	// every narrowband voice codec). StreamQuality.UseRTCP reconverts
	// with the stream's own clock.
	ClockRate uint32
}

// Validate reports a configuration that cannot work.
func (c RTCPConfig) Validate() error {
	if c.MaxSSRCs < 0 {
		return fmt.Errorf("%w: %d", ErrBadMaxSSRCs, c.MaxSSRCs)
	}
	return nil
}

// RTCPStats counts what an RTCPTracker handled.
type RTCPStats struct {
	Packets      int // datagrams handled
	Malformed    int // datagrams with a part that did not decode (the rest is still used)
	SSRCs        int // SSRCs tracked now
	Evictions    int // SSRCs forgotten to stay within MaxSSRCs
	UnmatchedLSR int // report blocks whose LSR/LRR matched no reference time seen
}

// refTime is one NTP reference time an SSRC sent (an SR's timestamp or an
// XR receiver reference time) and when and on which flow we saw it.
type refTime struct {
	ntp      uint32 // compact NTP: the middle 32 bits
	atNs     int64
	src, dst netip.AddrPort
}

const (
	rtcpRefTimes       = 4 // reference times kept per SSRC: reports refer to the latest, rarely older
	defaultMaxSSRCs    = 4096
	defaultRTCPClock   = 8000
	rtcpXRUnavailable  = 127
	rtcpMaxNegativeRTT = -1.0 // ms: below this a match is wrong, not rounding
)

type rtcpSlot struct {
	rep     RTCPReport
	rttSum  float64
	refs    [rtcpRefTimes]refTime
	nrefs   uint8
	refNext uint8
	used    bool // CLOCK reference bit
}

// RTCPTracker keeps per-SSRC figures from the RTCP packets of any number of
// sessions. Round trips are computed as RFC 3550 §6.4.1 describes, A - LSR
// - DLSR, where the arrival time A of the report is translated into the
// SR sender's NTP clock through the arrival of the sender report that LSR
// names: a passive monitor knows no endpoint's clock, only when it saw
// each packet, so the round trip is (arrival of the report - arrival of
// the SR) - DLSR. That is the round trip from the monitor's vantage point
// to the reporter and back, and the full round trip when the monitor sits
// next to the SR's sender. When the same SR was seen on several flows (a
// B2BUA relaying RTCP), the sighting on the reverse of the report's flow
// is used, as tshark does; otherwise the earliest sighting.
//
// Memory is bounded by MaxSSRCs slots, recycled with the CLOCK
// (second-chance) policy. Decoding uses pion/rtcp and allocates; RTCP is a
// few packets per stream every few seconds. RTCPTracker is not safe for
// concurrent use.
type RTCPTracker struct {
	cfg   RTCPConfig
	slots []rtcpSlot
	index map[uint32]int32
	hand  int
	stats RTCPStats
}

// NewRTCPTracker returns an empty tracker; zero fields of cfg take their
// defaults.
func NewRTCPTracker(cfg RTCPConfig) (*RTCPTracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxSSRCs == 0 {
		cfg.MaxSSRCs = defaultMaxSSRCs
	}
	if cfg.ClockRate == 0 {
		cfg.ClockRate = defaultRTCPClock
	}
	return &RTCPTracker{cfg: cfg, index: make(map[uint32]int32)}, nil
}

// Stats returns the tracker's counters.
func (t *RTCPTracker) Stats() RTCPStats {
	s := t.stats
	s.SSRCs = len(t.index)
	return s
}

// Report returns what is known about ssrc.
func (t *RTCPTracker) Report(ssrc uint32) (RTCPReport, bool) {
	i, ok := t.index[ssrc]
	if !ok {
		return RTCPReport{}, false
	}
	return t.slots[i].rep, true
}

// Handle takes one UDP payload holding an RTCP (compound) packet that
// arrived at arrivalNs (Unix ns). Each packet of a compound is decoded on
// its own, so one bad part (a vendor APP, a malformed SDES) does not lose
// the reports beside it; the first problem is returned, wrapping
// ErrRTCPTruncated, ErrRTCPVersion or ErrRTCPMalformed.
func (t *RTCPTracker) Handle(payload []byte, arrivalNs int64) error {
	return t.HandleFrom(payload, arrivalNs, netip.AddrPort{}, netip.AddrPort{})
}

// HandleFrom is Handle for a datagram seen from src to dst, which lets a
// round trip use the sighting of a sender report on the reverse flow when
// the same SR was relayed across several.
func (t *RTCPTracker) HandleFrom(payload []byte, arrivalNs int64, src, dst netip.AddrPort) error {
	t.stats.Packets++
	var first error
	b := payload
	for len(b) > 0 {
		if len(b) < 4 {
			if !allZeroBytes(b) {
				first = fmt.Errorf("%w: %d trailing bytes", ErrRTCPTruncated, len(b))
			}
			break
		}
		if b[0]>>6 != 2 {
			first = fmt.Errorf("%w: version %d", ErrRTCPVersion, b[0]>>6)
			break
		}
		n := (int(binary.BigEndian.Uint16(b[2:])) + 1) * 4
		if n > len(b) {
			first = fmt.Errorf("%w: type %d says %d bytes, %d left", ErrRTCPTruncated, b[1], n, len(b))
			break
		}
		if err := t.handleOne(b[:n], arrivalNs, src, dst); err != nil && first == nil {
			first = err
		}
		b = b[n:]
	}
	if first != nil {
		t.stats.Malformed++
	}
	return first
}

func allZeroBytes(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// handleOne decodes one RTCP packet (not a compound).
func (t *RTCPTracker) handleOne(p []byte, atNs int64, src, dst netip.AddrPort) error {
	pkts, err := rtcp.Unmarshal(p)
	if err != nil {
		return fmt.Errorf("%w: type %d: %w", ErrRTCPMalformed, p[1], err)
	}
	for _, pkt := range pkts {
		switch v := pkt.(type) {
		case *rtcp.SenderReport:
			i := t.slot(v.SSRC, atNs)
			r := &t.slots[i].rep
			r.Reports++
			r.SenderReports++
			r.SenderPackets, r.SenderOctets = v.PacketCount, v.OctetCount
			t.addRef(i, uint32(v.NTPTime>>16), atNs, src, dst)
			for k := range v.Reports {
				t.receptionBlock(v.SSRC, &v.Reports[k], atNs, src, dst)
			}
		case *rtcp.ReceiverReport:
			for k := range v.Reports {
				t.receptionBlock(v.SSRC, &v.Reports[k], atNs, src, dst)
			}
		case *rtcp.SourceDescription:
			for _, c := range v.Chunks {
				for _, it := range c.Items {
					if it.Type == rtcp.SDESCNAME {
						r := &t.slots[t.slot(c.Source, atNs)].rep
						r.Reports++
						// Some stacks count a C string's NUL into the
						// item; tshark shows the name without it.
						r.CNAME = strings.TrimRight(it.Text, "\x00")
					}
				}
			}
		case *rtcp.Goodbye:
			for _, s := range v.Sources {
				r := &t.slots[t.slot(s, atNs)].rep
				r.Reports++
				r.Bye = true
			}
		case *rtcp.ApplicationDefined:
			r := &t.slots[t.slot(v.SSRC, atNs)].rep
			r.Reports++
			r.App++
		case *rtcp.ExtendedReport:
			t.extendedReport(v, atNs, src, dst)
		}
	}
	return nil
}

// receptionBlock records a reception report block that reporter sent
// about b.SSRC.
func (t *RTCPTracker) receptionBlock(reporter uint32, b *rtcp.ReceptionReport, atNs int64, src, dst netip.AddrPort) {
	i := t.slot(b.SSRC, atNs)
	r := &t.slots[i].rep
	r.Reports++
	r.ReceiverReports++
	r.Reporter = reporter
	r.FractionLostPct = float64(b.FractionLost) * 100 / 256
	r.MaxFractionLostPct = max(r.MaxFractionLostPct, r.FractionLostPct)
	// The field is a signed 24-bit number.
	r.CumulativeLost = int(int32(b.TotalLost<<8) >> 8)
	r.HighestSeq = b.LastSequenceNumber
	r.Jitter = b.Jitter
	r.MaxJitter = max(r.MaxJitter, b.Jitter)
	r.JitterMs = float64(r.Jitter) * 1000 / float64(t.cfg.ClockRate)
	r.MaxJitterMs = float64(r.MaxJitter) * 1000 / float64(t.cfg.ClockRate)
	// A block about the reporter itself (some stacks send one) measures
	// no path.
	if b.LastSenderReport != 0 && b.SSRC != reporter {
		t.roundTrip(b.SSRC, reporter, b.LastSenderReport, b.Delay, atNs, src, dst)
	}
}

// roundTrip matches lsr against the reference times sender sent and, if
// one matches, records the round trip for sender and for reporter: the
// path between them is the same both ways round.
func (t *RTCPTracker) roundTrip(sender, reporter, lsr, dlsr uint32, atNs int64, src, dst netip.AddrPort) {
	i := t.slot(sender, atNs)
	s := &t.slots[i]
	var ref *refTime
	for k := range int(s.nrefs) {
		c := &s.refs[k]
		// A report cannot refer to a reference time that arrived with or
		// after it: some stacks put their own SR's time in a block about
		// themselves in the same compound (tshark refuses that match too).
		if c.ntp != lsr || c.atNs >= atNs {
			continue
		}
		reverse := src.IsValid() && c.src == dst && c.dst == src
		if reverse {
			ref = c
			break
		}
		if ref == nil || c.atNs < ref.atNs {
			ref = c
		}
	}
	if ref == nil {
		t.stats.UnmatchedLSR++
		return
	}
	rtt := float64(atNs-ref.atNs)/1e6 - float64(dlsr)*1000/65536
	if rtt < rtcpMaxNegativeRTT {
		t.stats.UnmatchedLSR++
		return
	}
	// Slightly negative values come from the DLSR's rounding and the two
	// clocks' rates: the path is shorter than we can resolve.
	rtt = max(rtt, 0)
	t.addRTT(i, rtt)
	if reporter != sender {
		t.addRTT(t.slot(reporter, atNs), rtt)
	}
}

func (t *RTCPTracker) addRTT(i int, rtt float64) {
	s := &t.slots[i]
	s.rep.RTTMs = rtt
	s.rep.RTTSamples++
	s.rttSum += rtt
	s.rep.MeanRTTMs = s.rttSum / float64(s.rep.RTTSamples)
	s.rep.MaxRTTMs = max(s.rep.MaxRTTMs, rtt)
}

// addRef remembers a reference time slot i's SSRC sent, unless the same
// one was already seen on the same flow.
func (t *RTCPTracker) addRef(i int, ntp uint32, atNs int64, src, dst netip.AddrPort) {
	s := &t.slots[i]
	for k := range int(s.nrefs) {
		if c := &s.refs[k]; c.ntp == ntp && c.src == src && c.dst == dst {
			return
		}
	}
	s.refs[s.refNext] = refTime{ntp: ntp, atNs: atNs, src: src, dst: dst}
	s.refNext = (s.refNext + 1) % rtcpRefTimes
	if s.nrefs < rtcpRefTimes {
		s.nrefs++
	}
}

func (t *RTCPTracker) extendedReport(x *rtcp.ExtendedReport, atNs int64, src, dst netip.AddrPort) {
	t.slot(x.SenderSSRC, atNs)
	for _, blk := range x.Reports {
		switch b := blk.(type) {
		case *rtcp.VoIPMetricsReportBlock:
			i := t.slot(b.SSRC, atNs)
			t.slots[i].rep.Reports++
			xr := &t.slots[i].rep.XR
			n := xr.Reports + 1
			*xr = voipMetrics(b)
			xr.Reports, xr.Reporter = n, x.SenderSSRC
		case *rtcp.ReceiverReferenceTimeReportBlock:
			t.addRef(t.slot(x.SenderSSRC, atNs), uint32(b.NTPTimestamp>>16), atNs, src, dst)
		case *rtcp.DLRRReportBlock:
			for _, d := range b.Reports {
				if d.LastRR != 0 {
					t.roundTrip(d.SSRC, x.SenderSSRC, d.LastRR, d.DLRR, atNs, src, dst)
				}
			}
		}
	}
}

// voipMetrics converts a VoIP Metrics block (RFC 3611 §4.7) to plain units.
func voipMetrics(b *rtcp.VoIPMetricsReportBlock) XRVoIPMetrics {
	pct := func(v uint8) float64 { return float64(v) * 100 / 256 }
	rating := func(v uint8) int {
		if v == rtcpXRUnavailable {
			return -1
		}
		return int(v)
	}
	mos := func(v uint8) float64 {
		if v == rtcpXRUnavailable {
			return -1
		}
		return float64(v) / 10
	}
	level := func(v uint8) int {
		if v == rtcpXRUnavailable {
			return rtcpXRUnavailable
		}
		return int(int8(v))
	}
	return XRVoIPMetrics{
		LossRatePct:      pct(b.LossRate),
		DiscardRatePct:   pct(b.DiscardRate),
		BurstDensityPct:  pct(b.BurstDensity),
		GapDensityPct:    pct(b.GapDensity),
		BurstDurationMs:  int(b.BurstDuration),
		GapDurationMs:    int(b.GapDuration),
		RoundTripDelayMs: int(b.RoundTripDelay),
		EndSystemDelayMs: int(b.EndSystemDelay),
		SignalLevelDBm:   level(b.SignalLevel),
		NoiseLevelDBm:    level(b.NoiseLevel),
		RERLDB:           level(b.RERL),
		Gmin:             int(b.Gmin),
		RFactor:          rating(b.RFactor),
		ExtRFactor:       rating(b.ExtRFactor),
		MOSLQ:            mos(b.MOSLQ),
		MOSCQ:            mos(b.MOSCQ),
		RXConfig:         b.RXConfig,
		JBNominalMs:      int(b.JBNominal),
		JBMaxMs:          int(b.JBMaximum),
		JBAbsMaxMs:       int(b.JBAbsMax),
	}
}

// slot returns the index of ssrc's slot, creating it (and evicting the
// least recently used one when full) as needed, and marks it used and
// seen at atNs. Indices, not pointers, are held across calls, and no
// caller holds one across a call that could evict it.
func (t *RTCPTracker) slot(ssrc uint32, atNs int64) int {
	if i, ok := t.index[ssrc]; ok {
		s := &t.slots[i]
		s.used = true
		s.rep.LastNs = atNs
		return int(i)
	}
	var i int
	if len(t.slots) < t.cfg.MaxSSRCs {
		t.slots = append(t.slots, rtcpSlot{})
		i = len(t.slots) - 1
	} else {
		// CLOCK: skip (and clear) recently used slots; the first one not
		// used since the hand last passed is the victim.
		for t.slots[t.hand].used {
			t.slots[t.hand].used = false
			t.hand = (t.hand + 1) % len(t.slots)
		}
		i = t.hand
		t.hand = (t.hand + 1) % len(t.slots)
		delete(t.index, t.slots[i].rep.SSRC)
		t.stats.Evictions++
	}
	// A newcomer starts without its second chance: it has to be seen
	// again to outlive one sweep of the hand, so a stream of one-off SSRCs
	// cannot push out the ones that keep reporting.
	t.slots[i] = rtcpSlot{rep: RTCPReport{SSRC: ssrc, LastNs: atNs}}
	t.index[ssrc] = int32(i)
	return i
}
