package pipeline

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/decode/sip"
	"github.com/sipscope/sipscope/decode/stream"
	"github.com/sipscope/sipscope/diagnose"
)

// Report is the analyze --json document. Its field names are a public
// contract: add fields, never rename or remove them.
type Report struct {
	File          string             `json:"file"`
	Packets       int                `json:"packets"`
	Bytes         int64              `json:"bytes"`
	Start         string             `json:"start,omitempty"`
	End           string             `json:"end,omitempty"`
	SIP           SIPSummary         `json:"sip"`
	DecodeErrors  map[string]int     `json:"decode_errors"`
	Ignored       map[string]int     `json:"ignored"`
	RTPPackets    int                `json:"rtp_packets"`
	RTCPPackets   int                `json:"rtcp_packets"`
	HEPPackets    int                `json:"hep_packets"`
	TCP           TCPSummary         `json:"tcp"`
	Calls         []api.CallView     `json:"calls"`
	Registrations []RegistrationJSON `json:"registrations"`
	RTPStreams    []api.StreamView   `json:"rtp_streams"`
}

// TCPSummary is what stream reassembly did with SIP over TCP and WebSocket.
type TCPSummary struct {
	Segments          uint64 `json:"segments"`
	Messages          uint64 `json:"messages"`
	Retransmissions   uint64 `json:"retransmissions"`
	OutOfOrder        uint64 `json:"out_of_order"`
	GapsSkipped       uint64 `json:"gaps_skipped"`
	BytesSkipped      uint64 `json:"bytes_skipped"`
	NotSIPConnections uint64 `json:"not_sip_connections"`
	TLSConnections    uint64 `json:"tls_connections"`
	WebSocketConns    uint64 `json:"websocket_connections"`
	HEPConnections    uint64 `json:"hep_connections"`
	Evicted           uint64 `json:"evicted"`
	BufferOverflows   uint64 `json:"buffer_overflows"`
}

func newTCPSummary(s stream.Stats) TCPSummary {
	return TCPSummary{
		Segments: s.Segments, Messages: s.Messages, Retransmissions: s.Retransmissions, OutOfOrder: s.OutOfOrder,
		GapsSkipped: s.GapsSkipped, BytesSkipped: s.BytesSkipped, NotSIPConnections: s.NotSIPConns,
		TLSConnections: s.TLSConns, WebSocketConns: s.WebSocketConns, HEPConnections: s.HEPConns, Evicted: s.Evicted, BufferOverflows: s.BufferOverflows,
	}
}

type SIPSummary struct {
	Messages           int            `json:"messages"`
	CallIDs            int            `json:"call_ids"`
	Requests           map[string]int `json:"requests"`
	Responses          map[string]int `json:"responses"`
	TCPRetransmissions int            `json:"tcp_retransmissions"`
}

type RegistrationJSON struct {
	CallID      string `json:"call_id"`
	AoR         string `json:"aor"`
	Challenged  bool   `json:"challenged"`
	FinalCode   int    `json:"final_code"`
	Start       string `json:"start"`
	End         string `json:"end"`
	Messages    int    `json:"messages"`
	SrcIP       string `json:"src_ip"`
	Contact     string `json:"contact"`
	Expires     int    `json:"expires"`
	UserAgent   string `json:"user_agent"`
	Attempts    int    `json:"attempts"`
	SucceededAt string `json:"succeeded_at"`
	Failed      bool   `json:"failed"`
}

func BuildReport(file string, p *Pipeline, opts QualityOptions) Report {
	c := &p.counts
	streams := p.FinishStreams(opts)
	calls := p.corr.Calls()
	diagnose.Apply(calls, streams) // call MOS, findings and the sentence
	r := Report{
		File:         file,
		Packets:      c.packets,
		Bytes:        c.bytes,
		DecodeErrors: c.decodeErrors,
		Ignored:      c.ignored,
		RTPPackets:   c.rtpPackets,
		RTCPPackets:  c.rtcpPackets,
		HEPPackets:   c.hepPackets,
		TCP:          newTCPSummary(p.tcp.Stats()),
		SIP: SIPSummary{
			Messages:           c.sipMessages,
			CallIDs:            p.corr.Stats().CallIDs,
			Requests:           map[string]int{},
			Responses:          map[string]int{},
			TCPRetransmissions: int(p.tcp.Stats().Retransmissions),
		},
		Calls:         []api.CallView{},
		Registrations: []RegistrationJSON{},
		RTPStreams:    []api.StreamView{},
	}
	if c.packets > 0 {
		r.Start = api.FormatTime(time.Unix(0, c.firstTS))
		r.End = api.FormatTime(time.Unix(0, c.lastTS))
	}
	for m, n := range c.requests {
		if n > 0 {
			r.SIP.Requests[sip.Method(m).String()] = n
		}
	}
	for code, n := range c.responses {
		if n > 0 {
			r.SIP.Responses[strconv.Itoa(code)] = n
		}
	}
	for _, call := range calls {
		r.Calls = append(r.Calls, api.NewCallView(call))
	}
	for _, reg := range p.corr.Registrations() {
		src := ""
		if reg.SrcIP.IsValid() {
			src = reg.SrcIP.String()
		}
		r.Registrations = append(r.Registrations, RegistrationJSON{
			CallID: reg.CallID, AoR: reg.AoR, Challenged: reg.Challenged, FinalCode: reg.FinalCode,
			Start: api.FormatTime(reg.Start), End: api.FormatTime(reg.End), Messages: reg.Messages,
			SrcIP: src, Contact: reg.Contact, Expires: reg.Expires, UserAgent: reg.UserAgent,
			Attempts: reg.Attempts, SucceededAt: api.FormatTime(reg.SucceededAt), Failed: reg.Failed,
		})
	}
	for _, st := range streams {
		r.RTPStreams = append(r.RTPStreams, api.NewStreamView(st))
	}
	return r
}

// writeSummary prints the human table: totals, calls, registrations, streams.
func WriteSummary(w io.Writer, r *Report) {
	fmt.Fprintf(w, "%s: %d packets, %d SIP messages, %d Call-IDs, %d RTP packets, %d RTCP packets\n",
		r.File, r.Packets, r.SIP.Messages, r.SIP.CallIDs, r.RTPPackets, r.RTCPPackets)
	if r.Start != "" {
		fmt.Fprintf(w, "time: %s .. %s\n", r.Start, r.End)
	}
	if len(r.DecodeErrors) > 0 {
		fmt.Fprintf(w, "not decoded: %s\n", formatCounts(r.DecodeErrors))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(r.Calls) > 0 {
		fmt.Fprintf(tw, "\nCALLS (%d)\nSTART\tFROM\tTO\tSTATE\tCODE\tMSGS\tMOS\tCALL-ID\n", len(r.Calls))
		for _, c := range r.Calls {
			mos := "-"
			if c.MOS > 0 {
				mos = fmt.Sprintf("%.2f", c.MOS)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", c.Start, c.FromUser, c.ToUser, c.State, c.FinalCode, c.Messages, mos, c.CallID)
		}
	}
	if len(r.Registrations) > 0 {
		fmt.Fprintf(tw, "\nREGISTRATIONS (%d)\nSTART\tAOR\tCHALLENGED\tCODE\tMSGS\tCALL-ID\n", len(r.Registrations))
		for _, g := range r.Registrations {
			fmt.Fprintf(tw, "%s\t%s\t%t\t%d\t%d\t%s\n", g.Start, g.AoR, g.Challenged, g.FinalCode, g.Messages, g.CallID)
		}
	}
	if len(r.RTPStreams) > 0 {
		fmt.Fprintf(tw, "\nRTP STREAMS (%d)\nSRC\tDST\tSSRC\tPAYLOAD\tPKTS\tLOST\tMAX DELTA\tMEAN JIT\tMAX JIT\tMOS\tCALL-ID\n", len(r.RTPStreams))
		for _, s := range r.RTPStreams {
			lostPct := 0.0
			if s.Expected > 0 {
				lostPct = 100 * float64(s.Lost) / float64(s.Expected)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d (%.1f%%)\t%.3f\t%.3f\t%.3f\t%.2f\t%s\n", s.Src, s.Dst, s.SSRC, s.Payload,
				s.Packets, s.Lost, lostPct, s.MaxDeltaMs, s.MeanJitterMs, s.MaxJitterMs, s.MOS, s.CallID)
		}
	}
	tw.Flush()
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
