package pipeline

import (
	"maps"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/stream"
	"github.com/sipscope/sipscope/quality"
)

// Stats is a snapshot of every stage's counters: what the frames became,
// what could not be decoded and why, what reassembly and the correlator
// did, and the RTP streams held. Live mode publishes one at every flush for
// /metrics and /api/v1/status; the counters only grow (gauges aside).
type Stats struct {
	Packets           int            `json:"packets"`
	Bytes             int64          `json:"bytes"`
	SIPMessages       int            `json:"sip_messages"`
	RTPPackets        int            `json:"rtp_packets"`
	RTCPPackets       int            `json:"rtcp_packets"`
	UDPTLPackets      int            `json:"udptl_packets"` // T.38 fax on ports SDP moved to m=image udptl
	HEPPackets        int            `json:"hep_packets"`
	WebSocketMessages int            `json:"websocket_messages"`
	FragmentsHeld     int            `json:"fragments_held"`
	DecodeErrors      map[string]int `json:"decode_errors"`
	Ignored           map[string]int `json:"ignored"`

	TCP    stream.Stats       `json:"tcp"`
	Defrag decode.DefragStats `json:"defrag"`
	RTCP   quality.RTCPStats  `json:"rtcp"`
	// Correlate's Other (transactions per method of Call-IDs that are
	// neither calls nor registrations) is left out: it is the report's.
	Correlate correlate.Stats `json:"correlate"`

	RTPStreamsActive    int `json:"rtp_streams_active"`
	RTPStreamsForgotten int `json:"rtp_streams_forgotten"` // idle streams written a last time and dropped (live mode)
	RTPStreamsEvicted   int `json:"rtp_streams_evicted"`   // streams evicted to stay within the stream bound
	RTPStreamsDropped   int `json:"rtp_streams_dropped"`   // of those, dropped unwritten (no call, few packets)

	// Streams known from edges' RTP agent reports (HEP type 34, collector
	// role): reports taken, streams held now, evicted to stay within their
	// bound, forgotten (final report or idle), and taken over because the
	// collector measured the stream itself.
	HEPRTPReports            int `json:"hep_rtp_reports"`
	RTPStreamsReported       int `json:"rtp_streams_reported"`
	ReportedStreamsEvicted   int `json:"reported_streams_evicted"`
	ReportedStreamsForgotten int `json:"reported_streams_forgotten"`
	ReportedStreamsAdopted   int `json:"reported_streams_adopted"`

	// FramesStored and FramesDropped count the captured frames of calls
	// kept for storage (store_rtp) and those dropped because a batch's
	// arena was full.
	FramesStored  int `json:"frames_stored"`
	FramesDropped int `json:"frames_dropped"`
}

// Stats copies the counters of every stage. It runs on the pipeline's
// goroutine.
func (p *Pipeline) Stats() Stats {
	c := &p.counts
	cs := p.corr.Stats()
	cs.Other = nil
	kept, dropped := p.FrameCounts()
	return Stats{
		FramesStored: kept, FramesDropped: dropped,
		Packets: c.packets, Bytes: c.bytes, SIPMessages: c.sipMessages, RTPPackets: c.rtpPackets,
		UDPTLPackets: c.udptlPackets, RTCPPackets: c.rtcpPackets, HEPPackets: c.hepPackets, WebSocketMessages: c.webSocketMessages,
		FragmentsHeld: c.fragmentsHeld,
		DecodeErrors:  maps.Clone(c.decodeErrors), Ignored: maps.Clone(c.ignored),
		TCP: p.tcp.Stats(), Defrag: p.defrag.Stats(), RTCP: p.rtcp.Stats(), Correlate: cs,
		RTPStreamsActive: len(p.streams), RTPStreamsForgotten: p.streamsForgotten,
		RTPStreamsEvicted: p.streamsEvicted, RTPStreamsDropped: p.streamsDropped,
		HEPRTPReports: p.reports.reports, RTPStreamsReported: len(p.reports.streams),
		ReportedStreamsEvicted: p.reports.evicted, ReportedStreamsForgotten: p.reports.forgotten,
		ReportedStreamsAdopted: p.reports.adopted,
	}
}
