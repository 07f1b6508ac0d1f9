package pipeline

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// figure is one counter or gauge of one stage: it becomes the metric
// sipscope_<stage>_<name>[_total] and the key <name> of the stage's object
// in /api/v1/status, so both show the same numbers.
type figure struct {
	stage, name, help string
	gauge             bool
	value             float64
	byReason          map[string]int // labelled {reason}; value unused
}

// figures lists every stage's counters in s. The order is the order of
// the status document.
func (s *Stats) figures() []figure {
	c, t, d, r, q := &s.Correlate, &s.TCP, &s.Defrag, &s.RTCP, s
	return []figure{
		{stage: "pipeline", name: "frames", help: "Frames taken from the sources.", value: float64(q.Packets)},
		{stage: "pipeline", name: "bytes", help: "Bytes of the frames taken from the sources.", value: float64(q.Bytes)},
		{stage: "decode", name: "errors", help: "Frames or messages that could not be decoded, by reason.", byReason: q.DecodeErrors},
		{stage: "decode", name: "ignored", help: "Frames decoded but not of interest (not SIP, RTP, RTCP or HEP), by reason.", byReason: q.Ignored},
		{stage: "decode", name: "sip_messages", help: "SIP messages decoded.", value: float64(q.SIPMessages)},
		{stage: "decode", name: "rtp_packets", help: "RTP packets decoded.", value: float64(q.RTPPackets)},
		{stage: "decode", name: "rtcp_packets", help: "RTCP packets decoded.", value: float64(q.RTCPPackets)},
		{stage: "decode", name: "hep_packets", help: "HEP packets unwrapped.", value: float64(q.HEPPackets)},
		{stage: "decode", name: "websocket_messages", help: "SIP messages carried in WebSocket frames.", value: float64(q.WebSocketMessages)},
		{stage: "decode", name: "fragments_held", help: "IP fragments held for reassembly when they arrived.", value: float64(q.FragmentsHeld)},
		{stage: "defrag", name: "reassembled", help: "IP datagrams reassembled from fragments.", value: float64(d.Reassembled)},
		{stage: "defrag", name: "expired", help: "IP datagrams dropped incomplete after the reassembly timeout.", value: float64(d.Expired)},
		{stage: "defrag", name: "evicted", help: "IP datagrams dropped incomplete to stay within the reassembly bounds.", value: float64(d.Evicted)},
		{stage: "defrag", name: "rejected", help: "IP fragments refused (over a bound, overlapping or inconsistent).", value: float64(d.Rejected)},
		{stage: "defrag", name: "pending", help: "IP datagrams being reassembled now.", gauge: true, value: float64(d.Pending)},
		{stage: "defrag", name: "held_bytes", help: "Fragment bytes held for reassembly now.", gauge: true, value: float64(d.HeldBytes)},
		{stage: "tcp", name: "segments", help: "TCP segments fed to stream reassembly.", value: float64(t.Segments)},
		{stage: "tcp", name: "messages", help: "SIP messages reassembled from TCP and WebSocket streams.", value: float64(t.Messages)},
		{stage: "tcp", name: "retransmissions", help: "TCP segments whose bytes had been seen already.", value: float64(t.Retransmissions)},
		{stage: "tcp", name: "out_of_order", help: "TCP segments held until the bytes in front of them arrived.", value: float64(t.OutOfOrder)},
		{stage: "tcp", name: "gaps_skipped", help: "TCP gaps given up as lost.", value: float64(t.GapsSkipped)},
		{stage: "tcp", name: "bytes_skipped", help: "TCP stream bytes discarded (junk, unfinished messages at a gap, overflow).", value: float64(t.BytesSkipped)},
		{stage: "tcp", name: "framing_errors", help: "Messages or WebSocket frames over TCP that could not be framed.", value: float64(t.FramingErrors)},
		{stage: "tcp", name: "not_sip_connections", help: "TCP connections found not to carry SIP (TLS included).", value: float64(t.NotSIPConns)},
		{stage: "tcp", name: "tls_connections", help: "TCP connections that start with a TLS record.", value: float64(t.TLSConns)},
		{stage: "tcp", name: "websocket_connections", help: "TCP connections upgraded to SIP over WebSocket.", value: float64(t.WebSocketConns)},
		{stage: "tcp", name: "hep_connections", help: "TCP connections carrying HEPv3.", value: float64(t.HEPConns)},
		{stage: "tcp", name: "evicted", help: "TCP connections dropped to stay within the connection bound.", value: float64(t.Evicted)},
		{stage: "tcp", name: "expired", help: "TCP connections dropped after their idle timeout.", value: float64(t.Expired)},
		{stage: "tcp", name: "buffer_overflows", help: "Times held TCP bytes would have passed a buffer bound (data dropped, stream resynced).", value: float64(t.BufferOverflows)},
		{stage: "correlate", name: "messages", help: "SIP messages correlated.", value: float64(c.Messages)},
		{stage: "correlate", name: "dialogs_started", help: "Dialogs (Call-IDs) started.", value: float64(c.CallIDs)},
		{stage: "correlate", name: "dialogs_active", help: "Dialogs held in memory now (calls, registrations and others).", gauge: true, value: float64(c.Held)},
		{stage: "correlate", name: "retransmissions", help: "Retransmitted or duplicated SIP requests and responses.", value: float64(c.Retransmissions)},
		{stage: "correlate", name: "timed_out", help: "Dialogs ended by a timer.", value: float64(c.TimedOut)},
		{stage: "correlate", name: "evicted", help: "Dialogs dropped to stay within max dialogs.", value: float64(c.Evicted)},
		{stage: "correlate", name: "evicted_active", help: "Dialogs dropped to stay within max dialogs before they had finished.", value: float64(c.EvictedActive)},
		{stage: "correlate", name: "late_messages", help: "Messages of a dropped dialog that came after it, ignored.", value: float64(c.Late)},
		{stage: "correlate", name: "updates_dropped", help: "Finished records dropped because they were not collected.", value: float64(c.UpdatesDropped)},
		{stage: "correlate", name: "media_dropped", help: "Media endpoints not remembered because the media bound was reached.", value: float64(c.MediaDropped)},
		{stage: "correlate", name: "nat_bindings", help: "Media sources learned from RTP rather than SDP.", value: float64(c.NATBindings)},
		{stage: "correlate", name: "bad_sdp", help: "SDP bodies that did not parse.", value: float64(c.BadSDP)},
		{stage: "rtp", name: "streams_active", help: "RTP streams held now.", gauge: true, value: float64(q.RTPStreamsActive)},
		{stage: "rtp", name: "streams_forgotten", help: "RTP streams written a last time and dropped after going idle.", value: float64(q.RTPStreamsForgotten)},
		{stage: "rtp", name: "streams_evicted", help: "RTP streams evicted to stay within the stream bound.", value: float64(q.RTPStreamsEvicted)},
		{stage: "rtp", name: "streams_dropped", help: "Evicted RTP streams dropped unwritten: bound to no call and with few packets.", value: float64(q.RTPStreamsDropped)},
		{stage: "rtp", name: "agent_reports", help: "RTP agent reports (HEP type 34) taken from edges.", value: float64(q.HEPRTPReports)},
		{stage: "rtp", name: "streams_reported", help: "RTP streams known from edges' reports held now.", gauge: true, value: float64(q.RTPStreamsReported)},
		{stage: "rtp", name: "reported_streams_evicted", help: "Reported RTP streams dropped to stay within their bound.", value: float64(q.ReportedStreamsEvicted)},
		{stage: "rtp", name: "reported_streams_forgotten", help: "Reported RTP streams dropped after their final report or going idle.", value: float64(q.ReportedStreamsForgotten)},
		{stage: "rtp", name: "reported_streams_adopted", help: "Reported RTP streams taken over because this sipscope saw their RTP itself.", value: float64(q.ReportedStreamsAdopted)},
		{stage: "frames", name: "stored", help: "Captured frames of calls (SIP, RTP, RTCP) kept for the packets table.", value: float64(q.FramesStored)},
		{stage: "frames", name: "dropped", help: "Captured frames of calls not kept because a batch's frame arena was full.", value: float64(q.FramesDropped)},
		{stage: "rtcp", name: "malformed", help: "RTCP datagrams with a part that did not decode.", value: float64(r.Malformed)},
		{stage: "rtcp", name: "ssrcs", help: "RTCP SSRCs tracked now.", gauge: true, value: float64(r.SSRCs)},
		{stage: "rtcp", name: "evicted", help: "RTCP SSRCs forgotten to stay within their bound.", value: float64(r.Evictions)},
	}
}

// metricName is the Prometheus name of f.
func (f *figure) metricName() string {
	n := "sipscope_" + f.stage + "_" + f.name
	if !f.gauge {
		n += "_total"
	}
	return n
}

// statusDocument is the stages' figures as /api/v1/status shows them:
// stage → name → value (or reason → count).
func (s *Stats) statusDocument() map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, f := range s.figures() {
		if out[f.stage] == nil {
			out[f.stage] = map[string]any{}
		}
		if f.byReason != nil {
			out[f.stage][f.name] = f.byReason
		} else {
			out[f.stage][f.name] = f.value
		}
	}
	return out
}

// statsCollector serves the last published Stats to Prometheus; the
// pipeline goroutine publishes, the scrape only reads the snapshot.
type statsCollector struct {
	load func() Stats
}

// Describe sends nothing: the reason labels are only known at collection,
// so the collector is unchecked.
func (statsCollector) Describe(chan<- *prometheus.Desc) {}

func (sc statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := sc.load()
	for _, f := range s.figures() {
		kind := prometheus.CounterValue
		if f.gauge {
			kind = prometheus.GaugeValue
		}
		if f.byReason == nil {
			ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(f.metricName(), f.help, nil, nil), kind, f.value)
			continue
		}
		desc := prometheus.NewDesc(f.metricName(), f.help, []string{"reason"}, nil)
		reasons := make([]string, 0, len(f.byReason))
		for k := range f.byReason {
			reasons = append(reasons, k)
		}
		sort.Strings(reasons)
		for _, k := range reasons {
			ch <- prometheus.MustNewConstMetric(desc, kind, float64(f.byReason[k]), k)
		}
	}
}
