package pipeline

import (
	"time"

	"github.com/sipscope/sipscope/decode/hepjson"
	"github.com/sipscope/sipscope/hep"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
)

// A collector (serve --hep-listen) sees the SIP that edges forward but
// not their RTP: what it knows of media comes in the edges' RTP agent
// reports (HEP type 34, one per stream every few seconds and a final one)
// and their RTCP as heplify's JSON (HEP type 5). The reports become
// stream records bound to the call by the report's Call-ID and are stored
// like measured streams; the RTCP goes back to binary and through the RTCP
// tracker, so both feed the call's figures as captured media would.
//
// A stream the collector measures itself (it also sees the RTP) is not
// counted twice: reports about it are dropped (ignored
// "hep_rtp_stats_measured_here"), and a stream first known from reports
// that the collector then starts to see takes over the reported stream's
// start, so its records replace the reported ones in the store.

// DefaultMaxReportedStreams bounds the reported streams a collector holds
// at once (a held one costs well under 1 KB).
const DefaultMaxReportedStreams = 100_000

// reportedStream is one stream known only from an edge's reports.
type reportedStream struct {
	st     quality.Stream
	clock  uint32 // the stream's clock rate, for RTCP jitter in ms
	lastNs int64  // HEP time of the latest report
	dirty  bool   // reported since live mode last wrote it
	final  bool   // the edge sent its final report
}

// hepReports is the pipeline's state for edge reports.
type hepReports struct {
	stats   hepjson.RTPStats
	rtcp    hepjson.RTCP
	rtcpBuf []byte
	streams map[streamKey]*reportedStream
	max     int
	// reports counts the RTP agent reports taken; evicted the reported
	// streams dropped to stay within max; adopted those the collector
	// started to measure itself.
	reports, evicted, adopted, forgotten int
}

// SetMaxReportedStreams bounds the streams known from edge reports held at
// once (0: DefaultMaxReportedStreams).
func (p *Pipeline) SetMaxReportedStreams(n int) {
	if n <= 0 {
		n = DefaultMaxReportedStreams
	}
	p.reports.max = n
}

// handleHEPReport takes a HEP payload that is not SIP or binary RTCP: an
// RTP agent report, or RTCP as heplify's JSON. It reports whether it was
// one of those.
func (p *Pipeline) handleHEPReport(pl []byte) bool {
	switch {
	case p.pkt.HEPProto == hep.ProtoMOSFull:
		p.handleRTPStatsReport(pl)
		return true
	case p.pkt.HEPProto == hep.ProtoRTCP && len(pl) > 0 && pl[0] == '{':
		p.handleRTCPJSON(pl)
		return true
	}
	return false
}

// handleRTPStatsReport turns one RTP agent report into the reported
// stream's latest record.
func (p *Pipeline) handleRTPStatsReport(pl []byte) {
	r := &p.reports
	rep := &r.stats
	if err := rep.Unmarshal(pl); err != nil {
		p.counts.decodeErrors["hep_rtp_stats_malformed"]++
		return
	}
	callID := p.pkt.HEPCorrelationID
	if len(callID) == 0 {
		callID = rep.CallID
	}
	if len(callID) == 0 {
		p.counts.ignored["hep_rtp_stats_no_call"]++
		return
	}
	key := streamKey{src: rep.Src, dst: rep.Dst, ssrc: rep.SSRC}
	if _, measured := p.streams[key]; measured {
		p.counts.ignored["hep_rtp_stats_measured_here"]++
		return
	}
	r.reports++
	if r.streams == nil {
		r.streams = make(map[streamKey]*reportedStream)
		if r.max == 0 {
			r.max = DefaultMaxReportedStreams
		}
	}
	rs := r.streams[key]
	if rs == nil {
		if len(r.streams) >= r.max {
			p.evictReported()
		}
		rs = &reportedStream{}
		r.streams[key] = rs
	}
	st := &rs.st
	if st.CallID != string(callID) {
		st.CallID = string(callID)
	}
	if st.Payload != string(rep.Codec) {
		st.Payload = string(rep.Codec)
	}
	st.SSRC, st.Src, st.Dst, st.PayloadType = rep.SSRC, rep.Src, rep.Dst, rep.PayloadType
	// The start stays that of the first report: it is part of the
	// stream's identity in the store. The HEP time is the edge's capture
	// time of the stream's latest packet, to the microsecond.
	if st.Start.IsZero() {
		// An agent that leaves the times out: the first report's HEP time.
		start := rep.Start
		if start == 0 {
			start = p.pkt.TS / 1e9
		}
		st.Start = time.Unix(start, 0).UTC()
	}
	end := time.Unix(rep.End, 0).UTC()
	if p.pkt.TS > 0 && (rep.End == 0 || p.pkt.TS/1e9 == rep.End) {
		end = time.Unix(0, p.pkt.TS).UTC()
	}
	st.End = end
	st.Packets = int(rep.Packets)
	st.Expected = int(rep.Expected)
	if !rep.HasExpected {
		st.Expected = int(rep.Packets + rep.PacketLoss)
	}
	// tshark's Lost: negative when duplicates outnumber losses (the
	// report's PACKET_LOSS is clamped at 0, EXPECTED_PK is not).
	st.Lost = st.Expected - st.Packets
	st.EffectiveLost = max(st.Lost, 0)
	st.MeanDeltaMs, st.MaxDeltaMs = rep.MeanDeltaMs, rep.MaxDeltaMs
	st.MeanJitterMs = rep.JitterMs
	if rep.HasMeanJitter {
		st.MeanJitterMs = rep.MeanJitterMs
	}
	st.MaxJitterMs = rep.MaxJitterMs
	st.MOS, st.R = rep.MOS, rep.RFactor
	rs.clock = rep.Clock
	if rs.clock == 0 {
		rs.clock = quality.ClockRate(rep.PayloadType)
	}
	rs.lastNs = max(rs.lastNs, p.pkt.TS)
	rs.dirty = true
	rs.final = rs.final || rep.Final
}

// evictReported drops the reported stream with the oldest report of a
// few (sampling, as evictStream). Its last record was already stored or is
// lost with it (counted).
func (p *Pipeline) evictReported() {
	var victim streamKey
	var oldest *reportedStream
	n := 0
	for k, rs := range p.reports.streams {
		if oldest == nil || rs.lastNs < oldest.lastNs {
			victim, oldest = k, rs
		}
		if n++; n == evictSample {
			break
		}
	}
	if oldest != nil {
		delete(p.reports.streams, victim)
		p.reports.evicted++
	}
}

// handleRTCPJSON rebuilds the binary RTCP that heplify's JSON describes
// and handles it as captured RTCP, at the edge's capture time.
func (p *Pipeline) handleRTCPJSON(pl []byte) {
	r := &p.reports
	if err := r.rtcp.Unmarshal(pl); err != nil {
		p.counts.decodeErrors["hep_rtcp_json_malformed"]++
		return
	}
	r.rtcpBuf = r.rtcp.AppendBinary(r.rtcpBuf[:0])
	if len(r.rtcpBuf) == 0 {
		p.counts.ignored["hep_rtcp_json_no_report"]++
		return
	}
	p.counts.rtcpPackets++
	p.handleRTCP(r.rtcpBuf)
}

// adoptReported is called when the pipeline starts measuring s itself: a
// stream known so far from reports hands over its start, so that the
// measured records replace the reported ones in the store (same identity)
// rather than doubling them, and reports about it stop counting.
func (p *Pipeline) adoptReported(s *rtpStream) {
	if len(p.reports.streams) == 0 {
		return
	}
	k := s.key
	k.epoch, k.t38 = 0, false
	rs, ok := p.reports.streams[k]
	if !ok {
		return
	}
	delete(p.reports.streams, k)
	p.reports.adopted++
	if start := rs.st.Start.UnixNano(); start < s.first {
		s.first = start
	}
}

// appendReported appends the streams known only from edges' reports to
// out: an offline analysis (or import) of traffic to a collector shows them
// as live mode stores them.
func (p *Pipeline) appendReported(out []quality.Stream) []quality.Stream {
	for _, rs := range p.reports.streams {
		st := rs.st
		p.withRTCP(&st, rs.clock)
		out = append(out, st)
	}
	return out
}

// withRTCP gives st what RTCP said about its SSRC, jitter at its clock.
func (p *Pipeline) withRTCP(st *quality.Stream, clock uint32) {
	rep, ok := p.rtcp.Report(st.SSRC)
	if !ok {
		return
	}
	if clock != 0 {
		rep.JitterMs = float64(rep.Jitter) * 1000 / float64(clock)
		rep.MaxJitterMs = float64(rep.MaxJitter) * 1000 / float64(clock)
	}
	st.RTCP = rep
}

// appendReportedStreams appends the reported streams that changed since
// the last flush to b (every held one when final) and remembers them for
// their calls' diagnosis; a stream whose final report came, or whose
// reports stopped for streamIdle, is forgotten after.
func (p *Pipeline) appendReportedStreams(b *storage.Batch, now int64, final bool) {
	for k, rs := range p.reports.streams {
		if rs.dirty || final {
			st := rs.st
			p.withRTCP(&st, rs.clock)
			p.rememberStream(k, &st)
			b.Streams = append(b.Streams, st)
			rs.dirty = false
		}
		if rs.final || now-rs.lastNs > int64(streamIdle) {
			delete(p.reports.streams, k)
			p.reports.forgotten++
		}
	}
}
