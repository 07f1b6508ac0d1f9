package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/quality"
)

// report is the analyze --json document. Its field names are a public
// contract: add fields, never rename or remove them.
type report struct {
	File          string             `json:"file"`
	Packets       int                `json:"packets"`
	Bytes         int64              `json:"bytes"`
	Start         string             `json:"start,omitempty"`
	End           string             `json:"end,omitempty"`
	SIP           sipSummary         `json:"sip"`
	DecodeErrors  map[string]int     `json:"decode_errors"`
	Ignored       map[string]int     `json:"ignored"`
	RTPPackets    int                `json:"rtp_packets"`
	RTCPPackets   int                `json:"rtcp_packets"`
	Calls         []callJSON         `json:"calls"`
	Registrations []registrationJSON `json:"registrations"`
	RTPStreams    []streamJSON       `json:"rtp_streams"`
}

type sipSummary struct {
	Messages           int            `json:"messages"`
	CallIDs            int            `json:"call_ids"`
	Requests           map[string]int `json:"requests"`
	Responses          map[string]int `json:"responses"`
	TCPRetransmissions int            `json:"tcp_retransmissions"`
}

type callJSON struct {
	CallID    string   `json:"call_id"`
	FromUser  string   `json:"from_user"`
	ToUser    string   `json:"to_user"`
	State     string   `json:"state"`
	FinalCode int      `json:"final_code"`
	Start     string   `json:"start"`
	End       string   `json:"end"`
	Messages  int      `json:"messages"`
	SrcIP     string   `json:"src_ip,omitempty"`
	DstIP     string   `json:"dst_ip,omitempty"`
	MOS       *float64 `json:"mos"`
}

type registrationJSON struct {
	CallID     string `json:"call_id"`
	AoR        string `json:"aor"`
	Challenged bool   `json:"challenged"`
	FinalCode  int    `json:"final_code"`
	Start      string `json:"start"`
	End        string `json:"end"`
	Messages   int    `json:"messages"`
}

type streamJSON struct {
	SSRC         string  `json:"ssrc"`
	Src          string  `json:"src"`
	Dst          string  `json:"dst"`
	Payload      string  `json:"payload"`
	Start        string  `json:"start"`
	End          string  `json:"end"`
	Packets      int     `json:"packets"`
	Expected     int     `json:"expected"`
	Lost         int     `json:"lost"`
	LostPct      float64 `json:"lost_pct"`
	SeqErrors    int     `json:"sequence_errors"`
	MinDeltaMs   float64 `json:"min_delta_ms"`
	MeanDeltaMs  float64 `json:"mean_delta_ms"`
	MaxDeltaMs   float64 `json:"max_delta_ms"`
	MinJitterMs  float64 `json:"min_jitter_ms"`
	MeanJitterMs float64 `json:"mean_jitter_ms"`
	MaxJitterMs  float64 `json:"max_jitter_ms"`
	MOS          float64 `json:"mos"`
	CallID       string  `json:"call_id"`
}

// timeFormat is RFC 3339 with microseconds, the resolution of pcap.
const timeFormat = "2006-01-02T15:04:05.000000Z07:00"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// round3 keeps the millisecond figures at tshark's printed precision.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func buildReport(file string, p *pipeline, opts qualityOptions) report {
	c := &p.counts
	streams := p.finishStreams(opts)
	calls := p.corr.Calls()
	applyCallMOS(calls, streams)
	r := report{
		File:         file,
		Packets:      c.packets,
		Bytes:        c.bytes,
		DecodeErrors: c.decodeErrors,
		Ignored:      c.ignored,
		RTPPackets:   c.rtpPackets,
		RTCPPackets:  c.rtcpPackets,
		SIP: sipSummary{
			Messages:           c.sipMessages,
			CallIDs:            p.corr.Stats().CallIDs,
			Requests:           c.requests,
			Responses:          map[string]int{},
			TCPRetransmissions: c.tcpRetrans,
		},
		Calls:         []callJSON{},
		Registrations: []registrationJSON{},
		RTPStreams:    []streamJSON{},
	}
	if c.packets > 0 {
		r.Start = formatTime(time.Unix(0, c.firstTS))
		r.End = formatTime(time.Unix(0, c.lastTS))
	}
	for code, n := range c.responses {
		if n > 0 {
			r.SIP.Responses[strconv.Itoa(code)] = n
		}
	}
	for _, call := range calls {
		r.Calls = append(r.Calls, newCallJSON(call))
	}
	for _, reg := range p.corr.Registrations() {
		r.Registrations = append(r.Registrations, registrationJSON{
			CallID: reg.CallID, AoR: reg.AoR, Challenged: reg.Challenged, FinalCode: reg.FinalCode,
			Start: formatTime(reg.Start), End: formatTime(reg.End), Messages: reg.Messages,
		})
	}
	for i := range streams {
		r.RTPStreams = append(r.RTPStreams, newStreamJSON(&streams[i]))
	}
	return r
}

// applyCallMOS gives each call the MOS of its worst bound direction.
func applyCallMOS(calls []correlate.Call, streams []quality.Stream) {
	idx := make(map[string]int, len(calls))
	for i := range calls {
		idx[calls[i].CallID] = i
	}
	for i := range streams {
		j, ok := idx[streams[i].CallID]
		if !ok || streams[i].CallID == "" {
			continue
		}
		if calls[j].MOS == 0 || streams[i].MOS < calls[j].MOS {
			calls[j].MOS = streams[i].MOS
		}
	}
}

func newCallJSON(c correlate.Call) callJSON {
	j := callJSON{
		CallID: c.CallID, FromUser: c.FromUser, ToUser: c.ToUser, State: c.State,
		FinalCode: c.FinalCode, Start: formatTime(c.Start), End: formatTime(c.End), Messages: c.Messages,
	}
	if c.SrcIP.IsValid() {
		j.SrcIP = c.SrcIP.String()
	}
	if c.DstIP.IsValid() {
		j.DstIP = c.DstIP.String()
	}
	if c.MOS > 0 {
		m := math.Round(c.MOS*100) / 100
		j.MOS = &m
	}
	return j
}

func newStreamJSON(s *quality.Stream) streamJSON {
	j := streamJSON{
		SSRC: fmt.Sprintf("0x%08X", s.SSRC), Src: s.Src.String(), Dst: s.Dst.String(), Payload: s.Payload,
		Start: formatTime(s.Start), End: formatTime(s.End),
		Packets: s.Packets, Expected: s.Expected, Lost: s.Lost, SeqErrors: s.SeqErrors,
		MinDeltaMs: round3(s.MinDeltaMs), MeanDeltaMs: round3(s.MeanDeltaMs), MaxDeltaMs: round3(s.MaxDeltaMs),
		MinJitterMs: round3(s.MinJitterMs), MeanJitterMs: round3(s.MeanJitterMs), MaxJitterMs: round3(s.MaxJitterMs),
		MOS: math.Round(s.MOS*100) / 100, CallID: s.CallID,
	}
	if s.Expected > 0 {
		j.LostPct = math.Round(float64(s.Lost)*10000/float64(s.Expected)) / 100
	}
	return j
}

// writeSummary prints the human table: totals, calls, registrations, streams.
func writeSummary(w io.Writer, r *report) {
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
			if c.MOS != nil {
				mos = fmt.Sprintf("%.2f", *c.MOS)
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d (%.1f%%)\t%.3f\t%.3f\t%.3f\t%.2f\t%s\n", s.Src, s.Dst, s.SSRC, s.Payload,
				s.Packets, s.Lost, s.LostPct, s.MaxDeltaMs, s.MeanJitterMs, s.MaxJitterMs, s.MOS, s.CallID)
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
