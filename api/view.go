package api

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/sipscope/sipscope/correlate"
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
}

// NewCallView converts a correlated call to its JSON view; linked_call_ids
// is never null.
func NewCallView(c correlate.Call) CallView {
	linked := c.LinkedCallIDs
	if linked == nil {
		linked = []string{}
	}
	return CallView{
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
	}
}

// StreamView is the JSON shape of one RTP stream's statistics. Times are in
// milliseconds, as tshark -z rtp,streams reports them.
type StreamView struct {
	SSRC         string  `json:"ssrc"`
	Src          string  `json:"src"`
	Dst          string  `json:"dst"`
	PayloadType  uint8   `json:"payload_type"`
	Payload      string  `json:"payload"`
	Start        string  `json:"start"`
	End          string  `json:"end"`
	Packets      int     `json:"packets"`
	Expected     int     `json:"expected"`
	Lost         int     `json:"lost"`
	SeqErrors    int     `json:"seq_errors"`
	MinDeltaMs   float64 `json:"min_delta_ms"`
	MeanDeltaMs  float64 `json:"mean_delta_ms"`
	MaxDeltaMs   float64 `json:"max_delta_ms"`
	MinJitterMs  float64 `json:"min_jitter_ms"`
	MeanJitterMs float64 `json:"mean_jitter_ms"`
	MaxJitterMs  float64 `json:"max_jitter_ms"`
	MOS          float64 `json:"mos"`
	CallID       string  `json:"call_id"`
}

// NewStreamView converts RTP stream statistics to their JSON view.
func NewStreamView(s quality.Stream) StreamView {
	return StreamView{
		SSRC:         fmt.Sprintf("0x%08X", s.SSRC),
		Src:          formatAddrPort(s.Src),
		Dst:          formatAddrPort(s.Dst),
		PayloadType:  s.PayloadType,
		Payload:      s.Payload,
		Start:        FormatTime(s.Start),
		End:          FormatTime(s.End),
		Packets:      s.Packets,
		Expected:     s.Expected,
		Lost:         s.Lost,
		SeqErrors:    s.SeqErrors,
		MinDeltaMs:   s.MinDeltaMs,
		MeanDeltaMs:  s.MeanDeltaMs,
		MaxDeltaMs:   s.MaxDeltaMs,
		MinJitterMs:  s.MinJitterMs,
		MeanJitterMs: s.MeanJitterMs,
		MaxJitterMs:  s.MaxJitterMs,
		MOS:          s.MOS,
		CallID:       s.CallID,
	}
}

// CallListView is the body of GET /api/v1/calls.
type CallListView struct {
	Calls []CallView `json:"calls"`
	Total int        `json:"total"`
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
