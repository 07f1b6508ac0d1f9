package pipeline

import (
	"errors"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/rtp"
	"github.com/sipscope/sipscope/decode/sip"
	"github.com/sipscope/sipscope/decode/stream"
	"github.com/sipscope/sipscope/decode/udptl"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/quality"
)

// Pipeline runs decode → correlate → quality over frames from any source.
// It is the one path for files and live capture; only the source and the
// sink around it differ. One goroutine drives it.
type Pipeline struct {
	dec    *decode.Decoder
	defrag *decode.Defragmenter
	pkt    decode.Packet
	msg    sip.Message
	rtpHdr rtp.Header
	udptl  udptl.Packet
	// epoch is the current packet's flow epoch (correlate.FlowMode): it
	// changes when SDP moves the flow to T.38 and back.
	epoch   uint32
	corr    *correlate.Correlator
	streams map[streamKey]*rtpStream
	order   []*rtpStream
	tcp     *stream.Reassembler
	// callStreams (live mode) is the latest figures of each bound stream
	// by call; diagStreams is scratch for diagnosing one call.
	callStreams map[string]map[streamKey]quality.Stream
	diagStreams []quality.Stream
	rtcp        *quality.RTCPTracker
	emitTCP     func(stream.Message) // p.onTCPMessage, bound once
	base        int64
	started     bool
	// lastPktTS is the latest packet time seen (HEP carries the agent's
	// capture time, which may differ from when the frame arrived here).
	lastPktTS int64
	node      string // capture point of the current frame
	// OnSIP, when set, sees every SIP message that was correlated (the HEP
	// sender forwards them). raw is valid only during the call.
	OnSIP func(pkt *decode.Packet, raw []byte)
	// OnRTCP, when set, sees every RTCP packet, with the Call-ID of the
	// call whose SDP explains its flow ("" when none).
	OnRTCP func(pkt *decode.Packet, raw []byte, callID string)
	// OnStreamStats, when set, sees a stream's statistics each time live
	// mode writes them, and a last time (final) when it forgets the stream.
	OnStreamStats func(st *quality.Stream, final bool)
	counts        counters
	// obs sees the correlated stream (SetObserver); offline says the
	// pipeline runs over a file (it drains updates for obs itself), and
	// observedTS is when it last did.
	obs        Observer
	offline    bool
	observedTS int64
	// warnings are what a file source reported and the run survived.
	warnings []string
	// streamsForgotten counts streams live mode dropped after streamIdle.
	streamsForgotten int
	// maxStreams bounds the streams held (SetMaxStreams); streamsEvicted
	// counts those evicted to stay within it, streamsDropped the part of
	// them dropped unwritten, and orderDead the empty slots they left in order.
	maxStreams                     int
	streamsEvicted, streamsDropped int
	orderDead                      int
	// frames keeps the captured frames of calls for storage
	// (SetStoreFrames); nil keeps none.
	frames *frameArena
	// reports holds the streams known from edges' RTP agent reports
	// (hepreports.go).
	reports hepReports
	// kpis counts live mode's finished calls and registrations as
	// Prometheus metrics (nil: none).
	kpis *callMetrics
}

// DefaultMaxStreams bounds the RTP streams an analysis holds at once: a
// held stream costs about 4 KB (TestLivePipelineHoldsAFloodOfSSRCsWithinItsStreamBound
// measures it), so 2 GB at the bound. Live mode holds fewer
// (DefaultLiveMaxStreams, 400 MB): its streams leave memory when idle.
const (
	DefaultMaxStreams     = 500_000
	DefaultLiveMaxStreams = 100_000
)

// worthKeeping is the packet count from which an evicted stream that no
// SDP explains is still written: below it, it is most likely one of a
// flood of spoofed SSRCs.
const worthKeeping = 50

// SetMaxStreams bounds the RTP streams held at once (0: DefaultMaxStreams).
// A new stream beyond it evicts the one idle longest of a sample: a stream
// of a call, or one with enough packets, is written a last time (live) or
// kept for the report (offline); one that is neither is dropped and
// counted.
func (p *Pipeline) SetMaxStreams(n int) {
	if n <= 0 {
		n = DefaultMaxStreams
	}
	p.maxStreams = n
}

type streamKey struct {
	src, dst netip.AddrPort
	ssrc     uint32
	// epoch tells apart the RTP before a T.38 fax from the RTP after it
	// (same ports, often the same SSRC); t38 marks a UDPTL stream.
	epoch uint32
	t38   bool
}

type rtpStream struct {
	key    streamKey
	pt     uint8
	first  int64
	last   int64
	callID string
	q      quality.StreamQuality // tshark statistics, loss pattern, jitter buffer, timeline
	dtmf   quality.DTMFTracker
	dirty  bool // saw packets since live mode last wrote it
	// gone: evicted to stay within the stream bound, it is written a last
	// time and dropped (one dropped unwritten leaves order at once).
	gone bool
	at   int       // index in Pipeline.order
	fax  faxCounts // a T.38 stream's (key.t38) sequence figures
}

// counters are plain integers on the hot path; maps are filled from them
// only when a report is built.
type counters struct {
	packets           int
	bytes             int64
	sipMessages       int
	requests          [sip.NumMethods]int // by method; tokens no RFC defines under MethodOther
	responses         [700]int
	decodeErrors      map[string]int
	ignored           map[string]int
	rtpPackets        int
	udptlPackets      int
	rtcpPackets       int
	webSocketMessages int
	hepPackets        int
	fragmentsHeld     int
	firstTS           int64
	lastTS            int64
}

func New(cfg correlate.Config) *Pipeline {
	dec := decode.NewDecoder()
	defrag := decode.NewDefragmenter(decode.DefragConfig{})
	dec.SetDefragmenter(defrag)
	rtcp, err := quality.NewRTCPTracker(quality.RTCPConfig{})
	if err != nil {
		panic(err) // the zero config is valid; only a negative MaxSSRCs fails
	}
	p := &Pipeline{
		dec:         dec,
		defrag:      defrag,
		corr:        correlate.New(cfg),
		streams:     make(map[streamKey]*rtpStream),
		callStreams: make(map[string]map[streamKey]quality.Stream),
		tcp:         stream.New(stream.Config{}),
		rtcp:        rtcp,
		counts: counters{
			decodeErrors: make(map[string]int),
			ignored:      make(map[string]int),
		},
	}
	p.emitTCP = p.onTCPMessage
	p.SetMaxStreams(0)
	return p
}

// LastPacketTS is the latest packet time seen, Unix nanoseconds (HEP carries
// the agent's capture time, which may differ from when the frame arrived).
func (p *Pipeline) LastPacketTS() int64 { return p.lastPktTS }

// SetArrival tells the pipeline the receiver's wall clock (Unix ns) as the
// next frame is handled: live mode advances each source's capture clock by
// the wall time passed since its latest message (AppendLiveBatchAt). A
// frame's own TS will not do: a HEP frame carries the agent's time, and a
// frame replayed from the spool its first arrival.
func (p *Pipeline) SetArrival(wall int64) { p.corr.SetArrival(wall) }

// Correlator is the pipeline's correlator (its records and counters).
func (p *Pipeline) Correlator() *correlate.Correlator { return p.corr }

// RunSource feeds every frame of src through the pipeline. A truncated file
// is counted and ends the run normally; any other read error is returned.
func (p *Pipeline) RunSource(src Source) error {
	return p.RunSourceEach(src, func() {})
}

type Source interface {
	Next(*frame.Frame) error
}

// RunSourceEach is RunSource with a hook after every frame (import uses it
// to flush retained messages in bounded batches).
func (p *Pipeline) RunSourceEach(src Source, after func()) error {
	var f frame.Frame
	for {
		err := src.Next(&f)
		if err == io.EOF {
			p.flushTCP()
			return nil
		}
		if errors.Is(err, capture.ErrTruncated) {
			p.counts.decodeErrors["truncated_file"]++
			p.flushTCP()
			return nil
		}
		if errors.Is(err, capture.ErrCorrupt) {
			// Damage nothing plausible follows: what came before stands.
			p.counts.decodeErrors["corrupt_file"]++
			p.warnings = append(p.warnings, err.Error())
			p.flushTCP()
			return nil
		}
		if err != nil {
			return err
		}
		p.HandleFrame(&f)
		after()
	}
}

func (p *Pipeline) HandleFrame(f *frame.Frame) {
	if p.frames != nil {
		p.frames.cur, p.frames.seq = f, uint64(p.counts.packets+1)
		p.handleFrame(f)
		p.frames.cur = nil
		return
	}
	p.handleFrame(f)
}

func (p *Pipeline) handleFrame(f *frame.Frame) {
	c := &p.counts
	c.packets++
	c.bytes += int64(len(f.Data))
	if !p.started {
		p.started = true
		p.base = f.TS
		c.firstTS = f.TS
	}
	c.lastTS = f.TS
	if f.Node != p.node {
		p.node = f.Node
		p.corr.SetNode(f.Node)
	}
	if err := p.dec.Decode(f.LinkType, f.Data, f.TS, &p.pkt); err != nil {
		if err == decode.ErrFragmentHeld {
			c.fragmentsHeld++ // kept for reassembly, not lost
			return
		}
		c.decodeErrors[decode.Reason(err)]++
		return
	}
	p.lastPktTS = max(p.lastPktTS, p.pkt.TS)
	if f.LinkType == frame.LinkHEP {
		p.handleHEPInner()
		return
	}
	switch p.pkt.Transport {
	case decode.TransportUDP:
		p.handleUDP()
	case decode.TransportTCP:
		p.handleTCP()
	case decode.TransportSCTP:
		p.handleSCTP()
	default:
		c.ignored["other_transport"]++
	}
}

func (p *Pipeline) handleUDP() {
	pl := p.pkt.Payload
	if decode.LooksLikeHEP3(pl) {
		// HEP sent to a collector and captured on the way: analyse what it carries.
		if err := p.dec.UnwrapHEP(pl, &p.pkt); err != nil {
			p.counts.decodeErrors[decode.Reason(err)]++
			return
		}
		p.handleHEPInner()
		return
	}
	if sip.LooksLikeSIP(pl) || sip.LooksLikeSIP(skipJunk(pl)) {
		p.handleSIP(pl)
		return
	}
	p.epoch = 0
	if p.corr.FaxSwitches() > 0 {
		// Some call moved its media to T.38: UDPTL on those ports may look
		// like RTP or RTCP, so the SDP decides before the heuristics.
		t38, epoch := p.corr.FlowMode(p.pkt.Src, p.pkt.Dst, p.pkt.TS)
		if t38 {
			p.handleUDPTL(pl)
			return
		}
		p.epoch = epoch
	}
	if rtp.LooksLikeRTCP(pl) {
		p.counts.rtcpPackets++
		p.handleRTCP(pl)
		return
	}
	if !rtp.LooksLikeRTP(pl) {
		if p.corr.MediaCallID(p.pkt.Src, p.pkt.Dst) != "" {
			p.counts.decodeErrors["media_not_rtp"]++
		} else {
			p.counts.ignored["udp_not_sip_rtp"]++
		}
		return
	}
	if err := p.rtpHdr.Unmarshal(pl); err != nil {
		p.counts.decodeErrors["rtp_malformed"]++
		return
	}
	p.handleRTP()
}

// handleHEPInner takes the payload a HEP packet carried: one SIP message
// (whatever transport the agent saw it on), RTCP, or an edge's report
// about media (hepreports.go).
func (p *Pipeline) handleHEPInner() {
	p.counts.hepPackets++
	if p.frames != nil {
		// What HEP carried has no frame of its own: the PCAP rebuilds it.
		p.frames.cur = nil
	}
	pl := p.pkt.Payload
	switch {
	case sip.LooksLikeSIP(pl):
		p.handleSIP(pl)
	case rtp.LooksLikeRTCP(pl):
		p.counts.rtcpPackets++
		p.handleRTCP(pl)
	case p.handleHEPReport(pl):
	default:
		p.counts.ignored["hep_not_sip_rtcp"]++
	}
}

// handleRTCP keeps per-SSRC reports (loss, jitter, round trip, XR) that
// the streams' MOS uses for delay.
func (p *Pipeline) handleRTCP(pl []byte) {
	if err := p.rtcp.HandleFrom(pl, p.pkt.TS, p.pkt.Src, p.pkt.Dst); err != nil {
		p.counts.decodeErrors["rtcp_malformed"]++
	}
	if p.OnRTCP == nil && p.frames == nil {
		return
	}
	callID := p.corr.MediaCallID(p.pkt.Src, p.pkt.Dst)
	p.keepRTCP(callID, pl)
	if p.OnRTCP != nil { // it reads what it can of a flawed compound, as heplify does
		p.OnRTCP(&p.pkt, pl, callID)
	}
}

// looksLikeTelephoneEvent tells RFC 4733 events from audio without SDP: a
// dynamic payload type carrying whole 4-byte event blocks.
func looksLikeTelephoneEvent(h *rtp.Header) bool {
	n := len(h.Payload)
	return h.PayloadType >= 96 && n >= 4 && n <= 16 && n%4 == 0
}

// skipJunk drops leading bytes up to the first letter of a plausible start
// line, so a datagram with garbage before "REGISTER ..." is still seen as SIP
// (the parser itself finds the exact start line).
func skipJunk(b []byte) []byte {
	const maxJunk = 64
	for i := 0; i < len(b) && i < maxJunk; i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			return b[i:]
		}
	}
	return nil
}

func (p *Pipeline) handleRTP() {
	h := &p.rtpHdr
	s := p.stream(streamKey{src: p.pkt.Src, dst: p.pkt.Dst, ssrc: h.SSRC, epoch: p.epoch}, h.PayloadType)
	s.last = p.pkt.TS
	s.dirty = true
	p.counts.rtpPackets++
	if p.frames != nil {
		if s.callID == "" {
			// RTP can race the answer whose SDP explains it: bind as soon
			// as the correlator knows, as streamRecord would later.
			s.callID = p.corr.MediaCallID(s.key.src, s.key.dst)
		}
		p.keepRTP(s.callID, h, p.pkt.Payload)
	}
	s.q.Update(quality.RelMs(p.pkt.TS, p.base), h.SequenceNumber, h.Timestamp, h.PayloadType, h.Marker, quality.ClockRate(h.PayloadType), len(h.Payload))
	if looksLikeTelephoneEvent(h) {
		if err := s.dtmf.Observe(h.Payload, h.Timestamp, h.Marker, p.pkt.TS); err != nil {
			p.counts.decodeErrors["rtp_event_malformed"]++
		}
	}
}

// stream finds or starts the stream of key.
func (p *Pipeline) stream(key streamKey, pt uint8) *rtpStream {
	s := p.streams[key]
	if s == nil {
		if len(p.streams) >= p.maxStreams {
			p.evictStream()
		}
		s = &rtpStream{key: key, pt: pt, first: p.pkt.TS}
		// SDP-announced endpoints, or a NATed source sending to one of them.
		s.callID = p.corr.BindMedia(key.src, key.dst).CallID
		p.adoptReported(s)
		p.streams[key] = s
		s.at = len(p.order)
		p.order = append(p.order, s)
	}
	return s
}

// evictSample is how many streams eviction compares; sampling keeps it
// O(1) where an exact LRU would cost list updates on every packet.
const evictSample = 8

// evictStream removes the longest idle of a few streams from the table.
func (p *Pipeline) evictStream() {
	var victim *rtpStream
	n := 0
	for _, s := range p.streams { // Go starts a map range at a random place
		if victim == nil || s.last < victim.last {
			victim = s
		}
		if n++; n == evictSample {
			break
		}
	}
	if victim == nil {
		return
	}
	delete(p.streams, victim.key)
	victim.gone = true
	p.streamsEvicted++
	if victim.callID != "" || victim.q.Stats().Packets() >= worthKeeping {
		return
	}
	p.streamsDropped++
	// Its memory goes now; its slot in order at the next compaction.
	p.order[victim.at] = nil
	if p.orderDead++; p.orderDead > len(p.order)/2 {
		p.compactOrder()
	}
}

// compactOrder drops the empty slots dropped streams left in order.
func (p *Pipeline) compactOrder() {
	keep := p.order[:0]
	for _, s := range p.order {
		if s != nil {
			s.at = len(keep)
			keep = append(keep, s)
		}
	}
	clear(p.order[len(keep):])
	p.order = keep
	p.orderDead = 0
}

// handleTCP feeds the segment to the stream reassembler, which hands back
// whole SIP messages (split, reordered, retransmitted or in WebSocket frames).
func (p *Pipeline) handleTCP() {
	p.tcp.Feed(&p.pkt, p.emitTCP)
}

// onTCPMessage takes one reassembled SIP message from a TCP connection.
func (p *Pipeline) onTCPMessage(m stream.Message) {
	if m.HEP {
		// The reassembler still reads the segment it was fed (p.pkt): the
		// HEP packet's inner view must not outlive this call.
		seg := p.pkt
		p.pkt.TS = m.TS
		if err := p.dec.UnwrapHEP(m.Payload, &p.pkt); err != nil {
			p.counts.decodeErrors[decode.Reason(err)]++
		} else {
			p.handleHEPInner()
		}
		p.pkt = seg
		return
	}
	p.pkt.Src, p.pkt.Dst, p.pkt.TS = m.Src, m.Dst, m.TS
	if m.WebSocket {
		p.counts.webSocketMessages++
	}
	p.handleSIP(m.Payload)
}

// handleSCTP takes every complete DATA chunk of the SCTP packet.
func (p *Pipeline) handleSCTP() {
	for ok := true; ok; ok = p.dec.NextSCTPData(&p.pkt) {
		if sip.LooksLikeSIP(p.pkt.Payload) {
			p.handleSIP(p.pkt.Payload)
		} else {
			p.counts.ignored["sctp_not_sip"]++
		}
	}
}

// finishStreamsTCP hands over what the reassembler still holds at the end
// of a file (messages waiting behind a gap that will never fill).
func (p *Pipeline) flushTCP() {
	p.tcp.Flush(p.emitTCP)
}

func (p *Pipeline) handleSIP(b []byte) {
	c := &p.counts
	err := p.msg.Unmarshal(b)
	if err != nil && !startLineParsed(&p.msg) {
		c.decodeErrors[sipReason(err)]++
		return
	}
	c.sipMessages++
	if p.msg.IsRequest {
		c.requests[sip.ParseMethod(p.msg.Method)]++
	} else if p.msg.StatusCode > 0 && p.msg.StatusCode < len(c.responses) {
		c.responses[p.msg.StatusCode]++
	}
	if err != nil {
		// The start line is SIP but a mandatory header is missing or bad:
		// it is a SIP message (as tshark counts it) that cannot be correlated.
		c.decodeErrors[sipReason(err)]++
		return
	}
	if p.msg.Flags.Has(sip.FlagBadContentLength) {
		// Kept (its body runs to the end of the datagram) and counted.
		c.decodeErrors["sip_bad_content_length"]++
	}
	p.corr.HandleSIP(p.pkt.TS, p.pkt.Src, p.pkt.Dst, p.pkt.Transport, &p.msg)
	if p.obs != nil {
		p.obs.OnSIP(p.pkt.TS, p.pkt.Src, p.pkt.Dst, &p.msg)
		if p.offline {
			p.observeOffline(p.pkt.TS)
		}
	}
	if p.frames != nil {
		p.keepSIP(b)
	}
	if p.OnSIP != nil {
		p.OnSIP(&p.pkt, p.msg.Raw)
	}
}

// startLineParsed tells whether Unmarshal got past the start line: such a
// message is SIP even when a later header is wrong.
func startLineParsed(m *sip.Message) bool {
	return (m.IsRequest && len(m.Method) > 0) || m.StatusCode > 0
}

// sipReasons maps parser errors to the stable decode_errors keys.
var sipReasons = []struct {
	err    error
	reason string
}{
	{sip.ErrNotSIP, "sip_not_sip"},
	{sip.ErrBadStartLine, "sip_bad_start_line"},
	{sip.ErrBadVersion, "sip_bad_version"},
	{sip.ErrMissingCallID, "sip_missing_call_id"},
	{sip.ErrMissingFrom, "sip_missing_from"},
	{sip.ErrMissingTo, "sip_missing_to"},
	{sip.ErrMissingCSeq, "sip_missing_cseq"},
	{sip.ErrMissingVia, "sip_missing_via"},
	{sip.ErrBadCSeq, "sip_bad_cseq"},
	{sip.ErrCSeqMethodMismatch, "sip_cseq_method_mismatch"},
	{sip.ErrBadContentLength, "sip_bad_content_length"},
	{sip.ErrTruncatedBody, "sip_truncated_body"},
	{sip.ErrTruncatedHeader, "sip_truncated_header"},
	{sip.ErrDuplicateHeader, "sip_duplicate_header"},
	{sip.ErrLineTooLong, "sip_line_too_long"},
	{sip.ErrHeaderTooLong, "sip_header_too_long"},
	{sip.ErrTooManyHeaders, "sip_too_many_headers"},
	{sip.ErrBadHeader, "sip_bad_header"},
}

func sipReason(err error) string {
	for _, r := range sipReasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "sip_other"
}

// finishStreams computes the statistics of every stream, binds late-learned
// SDP, and returns them ordered by start time (offline analysis).
func (p *Pipeline) FinishStreams(opts QualityOptions) []quality.Stream {
	out := make([]quality.Stream, 0, len(p.order))
	for _, s := range p.order {
		if s == nil {
			continue
		}
		st := p.streamRecord(s, opts)
		if st.CallID == "" && !s.key.t38 && !plausibleHeuristicStream(&st) {
			p.counts.ignored["rtp_heuristic_rejected"] += st.Packets
			continue
		}
		out = append(out, st)
	}
	out = p.appendReported(out)
	slices.SortStableFunc(out, func(a, b quality.Stream) int { return a.Start.Compare(b.Start) })
	return out
}

// streamRecord is the current statistics of one stream as a record.
func (p *Pipeline) streamRecord(s *rtpStream, opts QualityOptions) quality.Stream {
	// Bind again with what SDP has said since the first packet: with a
	// fanout group, or RTP racing its 200 OK, the first packet can arrive
	// before the SDP that explains it, and a reused media port then points
	// at an older call. A binding that has since gone (call expired) stays.
	if id := p.corr.MediaCallID(s.key.src, s.key.dst); id != "" {
		s.callID = id
	}
	var st quality.Stream
	if s.key.t38 {
		s.fax.fill(&st)
		st.Src, st.Dst = s.key.src, s.key.dst
		st.Start = time.Unix(0, s.first).UTC()
		st.End = time.Unix(0, s.last).UTC()
		st.CallID = s.callID
		return st
	}
	if rep, ok := p.rtcp.Report(s.key.ssrc); ok {
		s.q.UseRTCP(rep) // RTT/2 becomes the E-model's one-way delay
	}
	s.q.Fill(&st, opts.codecFor(s.q.Stats().PayloadType()))
	st.DTMF = slices.Clone(s.dtmf.Events())
	st.SSRC = s.key.ssrc
	st.Src, st.Dst = s.key.src, s.key.dst
	st.PayloadType = s.q.Stats().PayloadType()
	st.Payload = s.q.Stats().PayloadNames()
	st.Start = time.Unix(0, s.first).UTC()
	st.End = time.Unix(0, s.last).UTC()
	st.CallID = s.callID
	return st
}

// plausibleHeuristicStream keeps RTP that no SDP explains only when it looks
// like a real stream rather than a few random datagrams that happened to
// start with version 2.
func plausibleHeuristicStream(st *quality.Stream) bool {
	return st.Packets >= 2 && st.SeqErrors*4 <= st.Packets
}

type QualityOptions struct {
	G711PLC bool
}

// codecFor names the codec the E-model scores a payload type as; "" lets
// quality pick it from tshark's payload name.
func (o QualityOptions) codecFor(pt uint8) string {
	if (pt == 0 || pt == 8) && !o.G711PLC {
		return "g711noplc"
	}
	return ""
}
