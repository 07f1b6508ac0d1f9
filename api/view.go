package api

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/diagnose"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
)

// TimeFormat is how every timestamp leaves the API: RFC 3339 in UTC with
// exactly six fractional digits, so that clients can sort them as strings and
// keep the microsecond order of SIP retransmissions.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// FormatTime renders t in TimeFormat (UTC); the zero time renders as "".
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

// formatAddrPort renders "ip:port" ("[v6]:port"), showing IPv4-mapped IPv6
// as plain IPv4 so one host never appears under two spellings.
func formatAddrPort(ap netip.AddrPort) string {
	if !ap.IsValid() {
		return ""
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}

func formatAddr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.Unmap().String()
}

// CallView is the JSON shape of one call in listings and details. Timings
// are milliseconds (0 when the events bounding them were not seen);
// end_reason is one of the correlate.End* values and bye_by "caller",
// "callee" or "".
type CallView struct {
	CallID          string   `json:"call_id"`
	FromUser        string   `json:"from_user"`
	ToUser          string   `json:"to_user"`
	State           string   `json:"state"`
	FinalCode       int      `json:"final_code"`
	Start           string   `json:"start"`
	End             string   `json:"end"`
	Messages        int      `json:"messages"`
	MOS             float64  `json:"mos"`
	SrcIP           string   `json:"src_ip"`
	DstIP           string   `json:"dst_ip"`
	EndReason       string   `json:"end_reason"`
	ByeBy           string   `json:"bye_by"`
	Q850Cause       int      `json:"q850_cause"`
	ReasonHeader    string   `json:"reason_header"`
	PDDMs           float64  `json:"pdd_ms"`
	RingMs          float64  `json:"ring_ms"`
	AnswerMs        float64  `json:"answer_ms"`
	DurationMs      float64  `json:"duration_ms"`
	Retransmissions int      `json:"retransmissions"`
	ReInvites       int      `json:"re_invites"`
	Hold            bool     `json:"hold"`
	Forked          bool     `json:"forked"`
	UserAgent       string   `json:"user_agent"`
	XCallID         string   `json:"x_call_id"`
	LinkedCallIDs   []string `json:"linked_call_ids"`
	LastUpdate      string   `json:"last_update"`
	Finished        bool     `json:"finished"`
	InfoDTMF        string   `json:"info_dtmf"`
	// Added with diagnose: the registered phrase of final_code and the
	// Q.850 name of q850_cause ("" when unknown), the post-dial delay from
	// the very first INVITE (pdd_ms counts from the INVITE that was not
	// challenged, RFC 6076), whether the INVITE was captured, whether the
	// caller sent CANCEL, the finding codes and the plain-English
	// diagnosis. findings is never null.
	FinalText  string   `json:"final_text"`
	Q850Text   string   `json:"q850_text"`
	SetupMs    float64  `json:"setup_ms"`
	Partial    bool     `json:"partial"`
	CancelSeen bool     `json:"cancel_seen"`
	Findings   []string `json:"findings"`
	Diagnosis  string   `json:"diagnosis"`
	// Malformed lists what was broken in the call's SIP (bad_content_length,
	// missing_to_tag_on_2xx, ...); never null.
	Malformed []string `json:"malformed"`
	// Fax is "t38" when SDP moved the call to m=image udptl t38,
	// "g711_passthrough" when a hint says fax rode in G.711 (X-Fax,
	// a=silenceSupp:off, V.152 vbd=yes); left out otherwise.
	Fax string `json:"fax,omitempty"`
	// Nodes are the capture points (interface, "hep:ID/name" of a HEP
	// agent) that carried the call's messages, first seen first, at most
	// four; empty for calls read from a file. Never null.
	Nodes []string `json:"nodes"`
}

// NewCallView converts a correlated call to its JSON view; linked_call_ids
// is never null.
func NewCallView(c correlate.Call) CallView {
	linked := c.LinkedCallIDs
	if linked == nil {
		linked = []string{}
	}
	findings := c.Findings
	if findings == nil {
		findings = []string{}
	}
	malformed := c.Malformed
	if malformed == nil {
		malformed = []string{}
	}
	nodes := c.Nodes
	if nodes == nil {
		nodes = []string{}
	}
	return CallView{
		InfoDTMF:        c.InfoDTMF,
		CallID:          c.CallID,
		FromUser:        c.FromUser,
		ToUser:          c.ToUser,
		State:           c.State,
		FinalCode:       c.FinalCode,
		Start:           FormatTime(c.Start),
		End:             FormatTime(c.End),
		Messages:        c.Messages,
		MOS:             c.MOS,
		SrcIP:           formatAddr(c.SrcIP),
		DstIP:           formatAddr(c.DstIP),
		EndReason:       c.EndReason,
		ByeBy:           c.ByeBy,
		Q850Cause:       c.Q850Cause,
		ReasonHeader:    c.ReasonHeader,
		PDDMs:           c.PDDMs,
		RingMs:          c.RingMs,
		AnswerMs:        c.AnswerMs,
		DurationMs:      c.DurationMs,
		Retransmissions: c.Retransmissions,
		ReInvites:       c.ReInvites,
		Hold:            c.Hold,
		Forked:          c.Forked,
		UserAgent:       c.UserAgent,
		XCallID:         c.XCallID,
		LinkedCallIDs:   linked,
		LastUpdate:      FormatTime(c.LastUpdate),
		Finished:        c.Finished,
		FinalText:       diagnose.StatusText(c.FinalCode),
		Q850Text:        diagnose.Q850Text(c.Q850Cause),
		SetupMs:         c.SetupMs,
		Partial:         c.Partial,
		CancelSeen:      c.CancelSeen,
		Findings:        findings,
		Diagnosis:       c.Diagnosis,
		Malformed:       malformed,
		Fax:             c.Fax,
		Nodes:           nodes,
	}
}

// MessageView is the JSON shape of one SIP message; Raw is the whole message
// as text (invalid UTF-8 becomes U+FFFD; the PCAP export keeps the bytes).
type MessageView struct {
	TS         string `json:"ts"`
	Src        string `json:"src"`
	Dst        string `json:"dst"`
	Transport  string `json:"transport"`
	IsRequest  bool   `json:"is_request"`
	Method     string `json:"method"`
	StatusCode int    `json:"status_code"`
	Reason     string `json:"reason"`
	CSeq       uint32 `json:"cseq"`
	CSeqMethod string `json:"cseq_method"`
	Raw        string `json:"raw"`
	Node       string `json:"node"`
}

// NewMessageView converts a correlated SIP message to its JSON view.
func NewMessageView(m correlate.Message) MessageView {
	return MessageView{
		TS:         FormatTime(m.TS),
		Src:        formatAddrPort(m.Src),
		Dst:        formatAddrPort(m.Dst),
		Transport:  m.Transport,
		IsRequest:  m.IsRequest,
		Method:     m.Method,
		StatusCode: m.StatusCode,
		Reason:     m.Reason,
		CSeq:       m.CSeq,
		CSeqMethod: m.CSeqMethod,
		Raw:        string(m.Raw),
		Node:       m.Node,
	}
}

// StreamView is the JSON shape of one RTP stream's statistics. Times are in
// milliseconds, as tshark -z rtp,streams reports them. The fields up to
// call_id are tshark's; late to dtmf are what the listener got: packets too
// late for the simulated jitter buffer, loss counting them, the buffer's
// mean delay, the burst ratio, the RTCP round trip the E-model used, the
// E-model's R behind mos, what RTCP reported, the MOS per interval and the
// DTMF digits. mos_timeline and dtmf are never null.
type StreamView struct {
	SSRC           string         `json:"ssrc"`
	Src            string         `json:"src"`
	Dst            string         `json:"dst"`
	PayloadType    uint8          `json:"payload_type"`
	Payload        string         `json:"payload"`
	Start          string         `json:"start"`
	End            string         `json:"end"`
	Packets        int            `json:"packets"`
	Expected       int            `json:"expected"`
	Lost           int            `json:"lost"`
	SeqErrors      int            `json:"seq_errors"`
	MinDeltaMs     float64        `json:"min_delta_ms"`
	MeanDeltaMs    float64        `json:"mean_delta_ms"`
	MaxDeltaMs     float64        `json:"max_delta_ms"`
	MinJitterMs    float64        `json:"min_jitter_ms"`
	MeanJitterMs   float64        `json:"mean_jitter_ms"`
	MaxJitterMs    float64        `json:"max_jitter_ms"`
	MOS            float64        `json:"mos"`
	CallID         string         `json:"call_id"`
	Late           int            `json:"late"`
	EffectiveLost  int            `json:"effective_lost"`
	JitterBuffer   string         `json:"jitter_buffer"` // "adaptive", "fixed-50ms", "fixed-200ms"; "" when not simulated
	JitterBufferMs float64        `json:"jitter_buffer_ms"`
	BurstR         float64        `json:"burst_r"`
	RTTMs          float64        `json:"rtt_ms"` // 0 when RTCP gave no round trip
	R              float64        `json:"r_factor"`
	RTCP           RTCPView       `json:"rtcp"`
	MOSTimeline    []IntervalView `json:"mos_timeline"`
	DTMF           []DTMFView     `json:"dtmf"`
	// Duplicates is a T.38 stream's (payload "t38") repeated UDPTL
	// sequence numbers; left out for RTP.
	Duplicates int `json:"duplicates,omitempty"`
}

// RTCPView is what the endpoints reported over RTCP about a stream's SSRC;
// reports is 0 when nothing was reported. Loss and jitter are the latest
// report's, with the worst seen as max_*; the round trip is the latest,
// mean and worst of rtt_samples measurements.
type RTCPView struct {
	Reports            int          `json:"reports"`
	CNAME              string       `json:"cname"`
	Bye                bool         `json:"bye"`
	SenderReports      int          `json:"sender_reports"`
	SenderPackets      uint32       `json:"sender_packets"`
	SenderOctets       uint32       `json:"sender_octets"`
	ReceiverReports    int          `json:"receiver_reports"`
	FractionLostPct    float64      `json:"fraction_lost_pct"`
	MaxFractionLostPct float64      `json:"max_fraction_lost_pct"`
	CumulativeLost     int          `json:"cumulative_lost"`
	JitterMs           float64      `json:"jitter_ms"`
	MaxJitterMs        float64      `json:"max_jitter_ms"`
	RTTMs              float64      `json:"rtt_ms"`
	MeanRTTMs          float64      `json:"mean_rtt_ms"`
	MaxRTTMs           float64      `json:"max_rtt_ms"`
	RTTSamples         int          `json:"rtt_samples"`
	XR                 XRMetricView `json:"xr"`
}

// XRMetricView is the latest RTCP XR VoIP metrics block (RFC 3611 §4.7)
// about the SSRC; reports is 0 when none came. -1 is a value the reporter
// marked unavailable.
type XRMetricView struct {
	Reports          int     `json:"reports"`
	LossRatePct      float64 `json:"loss_rate_pct"`
	DiscardRatePct   float64 `json:"discard_rate_pct"`
	RoundTripMs      int     `json:"round_trip_ms"`
	EndSystemDelayMs int     `json:"end_system_delay_ms"`
	RFactor          int     `json:"r_factor"`
	MOSLQ            float64 `json:"mos_lq"`
	MOSCQ            float64 `json:"mos_cq"`
	JBNominalMs      int     `json:"jb_nominal_ms"`
	JBMaxMs          int     `json:"jb_max_ms"`
}

// IntervalView is the listening quality of one interval of a stream;
// start_ms counts from the stream's first packet. mos is 0 when no packet
// was due in the interval (nothing to rate, not bad quality).
type IntervalView struct {
	StartMs        float64 `json:"start_ms"`
	DurationMs     float64 `json:"duration_ms"`
	Packets        int     `json:"packets"`
	Lost           int     `json:"lost"`
	Late           int     `json:"late"`
	LossPct        float64 `json:"loss_pct"`
	BurstR         float64 `json:"burst_r"`
	JitterBufferMs float64 `json:"jitter_buffer_ms"`
	MOS            float64 `json:"mos"`
}

// DTMFView is one RFC 4733 key press: the digit ("0"-"9", "*", "#",
// "A"-"D", or the event code), when its first packet arrived, how long it
// lasted and its power level (-dBm0).
type DTMFView struct {
	Digit      string  `json:"digit"`
	Start      string  `json:"start"`
	DurationMs float64 `json:"duration_ms"`
	Volume     uint8   `json:"volume"`
}

// NewStreamView converts RTP stream statistics to their JSON view.
func NewStreamView(s quality.Stream) StreamView {
	v := StreamView{
		SSRC:           fmt.Sprintf("0x%08X", s.SSRC),
		Src:            formatAddrPort(s.Src),
		Dst:            formatAddrPort(s.Dst),
		PayloadType:    s.PayloadType,
		Payload:        s.Payload,
		Start:          FormatTime(s.Start),
		End:            FormatTime(s.End),
		Packets:        s.Packets,
		Expected:       s.Expected,
		Lost:           s.Lost,
		SeqErrors:      s.SeqErrors,
		MinDeltaMs:     s.MinDeltaMs,
		MeanDeltaMs:    s.MeanDeltaMs,
		MaxDeltaMs:     s.MaxDeltaMs,
		MinJitterMs:    s.MinJitterMs,
		MeanJitterMs:   s.MeanJitterMs,
		MaxJitterMs:    s.MaxJitterMs,
		MOS:            s.MOS,
		CallID:         s.CallID,
		Late:           s.Late,
		EffectiveLost:  s.EffectiveLost,
		JitterBuffer:   s.JitterBuffer,
		JitterBufferMs: s.JitterBufferMs,
		BurstR:         s.BurstR,
		RTTMs:          s.RTTMs,
		R:              s.R,
		RTCP:           newRTCPView(s.RTCP),
		MOSTimeline:    make([]IntervalView, 0, len(s.MOSTimeline)),
		DTMF:           make([]DTMFView, 0, len(s.DTMF)),
		Duplicates:     s.Duplicates,
	}
	for _, iv := range s.MOSTimeline {
		v.MOSTimeline = append(v.MOSTimeline, IntervalView{
			StartMs: iv.StartMs, DurationMs: iv.DurationMs, Packets: iv.Packets, Lost: iv.Lost, Late: iv.Late,
			LossPct: iv.LossPct, BurstR: iv.BurstR, JitterBufferMs: iv.JitterBufferMs, MOS: iv.MOS,
		})
	}
	for _, e := range s.DTMF {
		v.DTMF = append(v.DTMF, DTMFView{Digit: e.Digit, Start: FormatTime(e.Start), DurationMs: e.DurationMs, Volume: e.Volume})
	}
	return v
}

func newRTCPView(r quality.RTCPReport) RTCPView {
	return RTCPView{
		Reports: r.Reports, CNAME: r.CNAME, Bye: r.Bye,
		SenderReports: r.SenderReports, SenderPackets: r.SenderPackets, SenderOctets: r.SenderOctets,
		ReceiverReports: r.ReceiverReports, FractionLostPct: r.FractionLostPct, MaxFractionLostPct: r.MaxFractionLostPct,
		CumulativeLost: r.CumulativeLost, JitterMs: r.JitterMs, MaxJitterMs: r.MaxJitterMs,
		RTTMs: r.RTTMs, MeanRTTMs: r.MeanRTTMs, MaxRTTMs: r.MaxRTTMs, RTTSamples: r.RTTSamples,
		XR: XRMetricView{
			Reports: r.XR.Reports, LossRatePct: r.XR.LossRatePct, DiscardRatePct: r.XR.DiscardRatePct,
			RoundTripMs: r.XR.RoundTripDelayMs, EndSystemDelayMs: r.XR.EndSystemDelayMs, RFactor: r.XR.RFactor,
			MOSLQ: r.XR.MOSLQ, MOSCQ: r.XR.MOSCQ, JBNominalMs: r.XR.JBNominalMs, JBMaxMs: r.XR.JBMaxMs,
		},
	}
}

// CallListView is the body of GET /api/v1/calls.
type CallListView struct {
	Calls []CallView `json:"calls"`
	Total int        `json:"total"`
	// Counts, with counts=true, are the filter's calls per state and per
	// final code (for the UI's count strip).
	Counts *storage.CallCounts `json:"counts,omitempty"`
	// NextCursor, on a full page in the start order, pages on from its
	// last call (cursor=…): unlike offset, it does not shift when new
	// calls arrive at the head of the list.
	NextCursor string `json:"next_cursor,omitempty"`
}

// NewCallListView converts a page of calls; Calls is never null in JSON.
func NewCallListView(p storage.CallPage) CallListView {
	v := CallListView{Calls: make([]CallView, 0, len(p.Calls)), Total: p.Total}
	for _, c := range p.Calls {
		v.Calls = append(v.Calls, NewCallView(c))
	}
	return v
}

// CallDetailView is the body of GET /api/v1/calls/:id: the call, its SIP
// messages in capture order and its RTP streams.
type CallDetailView struct {
	Call       CallView      `json:"call"`
	Messages   []MessageView `json:"messages"`
	RTPStreams []StreamView  `json:"rtp_streams"`
}

// NewCallDetailView converts a call with its messages and streams; the
// slices are never null in JSON.
func NewCallDetailView(d storage.CallDetail) CallDetailView {
	v := CallDetailView{
		Call:       NewCallView(d.Call),
		Messages:   make([]MessageView, 0, len(d.Messages)),
		RTPStreams: make([]StreamView, 0, len(d.Streams)),
	}
	for _, m := range d.Messages {
		v.Messages = append(v.Messages, NewMessageView(m))
	}
	for _, s := range d.Streams {
		v.RTPStreams = append(v.RTPStreams, NewStreamView(s))
	}
	return v
}
