package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sdp"
	"github.com/sipscope/sipscope/decode/sip"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/hep"
	"github.com/sipscope/sipscope/quality"
)

// rtcpCapture is heplify's own example call: SIP over UDP, G.711 RTP both
// ways and 26 RTCP packets, half of them on a flow no SDP announces.
const rtcpCapture = sharedCaptures + "/heplify__rtp_rtcp_sip_ipv4_udp.pcap"

// capturedRTCP is one RTCP packet of the capture and the Call-ID whose SDP
// (seen before it) announces one of its ends, "" when none does.
type capturedRTCP struct {
	src, dst netip.AddrPort
	ts       int64
	raw      []byte
	callID   string
}

// mediaCapture is what the tests expect from a capture, read without the
// pipeline: RTCP is recognised by pion/rtcp, its call by the SDP of the SIP
// messages before it.
type mediaCapture struct {
	sipMessages int
	rtcp        []capturedRTCP
	hepFeed     [][]byte // SIP and RTCP in capture order, as a HEP agent sends them
}

func readMediaCapture(t *testing.T, path string) mediaCapture {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatalf("the capture %s is needed: %v", path, err)
	}
	defer src.Close()
	var (
		mc   mediaCapture
		dec  = decode.NewDecoder()
		f    frame.Frame
		p    decode.Packet
		msg  sip.Message
		sess sdp.Session
		eps  = map[netip.AddrPort]string{} // RTCP endpoints announced in SDP
	)
	wrap := func(proto uint8, payload []byte) {
		h := hep.Packet{
			Version: 3, Protocol: 17,
			SrcIP: p.Src.Addr(), DstIP: p.Dst.Addr(), SrcPort: p.Src.Port(), DstPort: p.Dst.Port(),
			TimestampSec: uint32(f.TS / 1e9), TimestampUsec: uint32(f.TS % 1e9 / 1e3),
			ProtoType: proto, NodeID: 7, Payload: payload,
		}
		b, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		mc.hepFeed = append(mc.hepFeed, b)
	}
	for {
		err := src.Next(&f)
		if errors.Is(err, io.EOF) {
			return mc
		}
		if err != nil {
			t.Fatal(err)
		}
		if dec.Decode(f.LinkType, f.Data, f.TS, &p) != nil || p.Transport != decode.TransportUDP {
			continue
		}
		if sip.LooksLikeSIP(p.Payload) && msg.Unmarshal(p.Payload) == nil {
			mc.sipMessages++
			wrap(hep.ProtoSIP, p.Payload)
			if len(msg.Body) > 0 && sess.Unmarshal(msg.Body) == nil {
				for i := range sess.NumMedia {
					eps[sess.RTCPAddr(i)] = string(msg.CallID)
				}
			}
			continue
		}
		if !isRTCP(p.Payload) {
			continue
		}
		id, ok := eps[p.Dst]
		if !ok {
			id = eps[p.Src]
		}
		mc.rtcp = append(mc.rtcp, capturedRTCP{src: p.Src, dst: p.Dst, ts: f.TS, raw: bytes.Clone(p.Payload), callID: id})
		wrap(hep.ProtoRTCP, p.Payload)
	}
}

// isRTCP: pion/rtcp reads the datagram as a compound of RTCP packets.
func isRTCP(b []byte) bool {
	if len(b) < 8 || b[0]>>6 != 2 || b[1] < 200 || b[1] > 207 {
		return false
	}
	pkts, err := rtcp.Unmarshal(rtcpCompound(b))
	return err == nil && len(pkts) > 0
}

// rtcpCompound is b up to the end of its last whole RTCP packet: a few
// endpoints send stray bytes after the compound, which tshark ignores
// ("RTCP frame length check") and pion/rtcp would refuse.
func rtcpCompound(b []byte) []byte {
	n := 0
	for len(b)-n >= 4 {
		l := (int(b[n+2])<<8 | int(b[n+3]) + 1) * 4
		if l > len(b)-n {
			break
		}
		n += l
	}
	return b[:n]
}

// rtcpJSON is heplify's RTCP JSON (heplify v1.67.1 protos/rtcp.go,
// RTCP_Packet), the shape heplify-server and homer-ui read.
type rtcpJSON struct {
	SenderInformation struct {
		NTPSec  uint32 `json:"ntp_timestamp_sec"`
		NTPUsec uint32 `json:"ntp_timestamp_usec"`
		RTPTS   uint32 `json:"rtp_timestamp"`
		Packets uint32 `json:"packets"`
		Octets  uint32 `json:"octets"`
	} `json:"sender_information"`
	SSRC         uint32          `json:"ssrc"`
	Type         uint8           `json:"type"`
	ReportCount  uint8           `json:"report_count"`
	ReportBlocks []rtcpBlockJSON `json:"report_blocks"`
	XR           struct {
		Type            uint8  `json:"type"`
		ID              uint32 `json:"id"`
		FractionLost    uint8  `json:"fraction_lost"`
		FractionDiscard uint8  `json:"fraction_discard"`
		BurstDensity    uint8  `json:"burst_density"`
		GapDensity      uint8  `json:"gap_density"`
		BurstDuration   uint16 `json:"burst_duration"`
		GapDuration     uint16 `json:"gap_duration"`
		RoundTripDelay  uint16 `json:"round_trip_delay"`
		EndSystemDelay  uint16 `json:"end_system_delay"`
	} `json:"report_blocks_xr"`
	SDESSSRC uint32 `json:"sdes_ssrc"`
}

type rtcpBlockJSON struct {
	SourceSSRC   uint32 `json:"source_ssrc"`
	FractionLost uint8  `json:"fraction_lost"`
	PacketsLost  uint32 `json:"packets_lost"`
	HighestSeqNo uint32 `json:"highest_seq_no"`
	IAJitter     uint32 `json:"ia_jitter"`
	LSR          uint32 `json:"lsr"`
	DLSR         uint32 `json:"dlsr"`
}

// decodeStrict parses b into v, refusing keys v does not have.
func decodeStrict(t *testing.T, b []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("the payload is not the expected JSON: %v\n%s", err, b)
	}
	if d.More() {
		t.Fatalf("trailing data after the JSON: %s", b)
	}
}

// wantRTCPJSON is what heplify's JSON must say about raw, as pion/rtcp
// reads it: the leading packet's type and count, the first SR's sender
// information, every SR and RR report block, the first SDES chunk's SSRC
// and the first XR VoIP metrics block.
func wantRTCPJSON(t *testing.T, raw []byte) rtcpJSON {
	t.Helper()
	pkts, err := rtcp.Unmarshal(rtcpCompound(raw))
	if err != nil {
		t.Fatal(err)
	}
	var w rtcpJSON
	w.ReportBlocks = []rtcpBlockJSON{}
	led, haveSender, haveVoIP := false, false, false
	lead := func(typ uint8, count int) {
		if !led {
			w.Type, w.ReportCount, led = typ, uint8(count), true
		}
	}
	setSSRC := func(v uint32) {
		if w.SSRC == 0 {
			w.SSRC = v
		}
	}
	blocks := func(rs []rtcp.ReceptionReport) {
		for _, r := range rs {
			w.ReportBlocks = append(w.ReportBlocks, rtcpBlockJSON{
				SourceSSRC: r.SSRC, FractionLost: r.FractionLost, PacketsLost: r.TotalLost,
				HighestSeqNo: r.LastSequenceNumber, IAJitter: r.Jitter, LSR: r.LastSenderReport, DLSR: r.Delay,
			})
		}
	}
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			lead(200, len(p.Reports))
			setSSRC(p.SSRC)
			if !haveSender {
				haveSender = true
				si := &w.SenderInformation
				si.NTPSec, si.NTPUsec = uint32(p.NTPTime>>32), uint32(p.NTPTime)
				si.RTPTS, si.Packets, si.Octets = p.RTPTime, p.PacketCount, p.OctetCount
			}
			blocks(p.Reports)
		case *rtcp.ReceiverReport:
			lead(201, len(p.Reports))
			setSSRC(p.SSRC)
			blocks(p.Reports)
		case *rtcp.SourceDescription:
			lead(202, len(p.Chunks))
			if w.SDESSSRC == 0 && len(p.Chunks) > 0 {
				w.SDESSSRC = p.Chunks[0].Source
			}
		case *rtcp.ExtendedReport:
			lead(207, 0)
			setSSRC(p.SenderSSRC)
			for _, rb := range p.Reports {
				if w.XR.Type == 0 {
					w.XR.Type = xrBlockType(rb)
				}
				if vm, ok := rb.(*rtcp.VoIPMetricsReportBlock); ok && !haveVoIP {
					haveVoIP = true
					x := &w.XR
					x.Type, x.ID = 7, vm.SSRC
					x.FractionLost, x.FractionDiscard, x.BurstDensity, x.GapDensity = vm.LossRate, vm.DiscardRate, vm.BurstDensity, vm.GapDensity
					x.BurstDuration, x.GapDuration, x.RoundTripDelay, x.EndSystemDelay = vm.BurstDuration, vm.GapDuration, vm.RoundTripDelay, vm.EndSystemDelay
				}
			}
		default:
			t.Fatalf("the capture holds an RTCP packet (%T) this test does not model", p)
		}
	}
	return w
}

// xrBlockType is the block type pion read.
func xrBlockType(rb rtcp.ReportBlock) uint8 {
	switch rb.(type) {
	case *rtcp.VoIPMetricsReportBlock:
		return 7
	case *rtcp.ReceiverReferenceTimeReportBlock:
		return 4
	case *rtcp.DLRRReportBlock:
		return 5
	}
	return 0
}

// checkRTCPForwarded verifies that r is c as heplify forwards it.
func checkRTCPForwarded(t *testing.T, r received, c capturedRTCP) {
	t.Helper()
	p := &r.p
	for _, f := range []struct {
		field     string
		got, want any
	}{
		{"proto type", p.ProtoType, uint8(hep.ProtoRTCP)},
		{"IP protocol", p.Protocol, uint8(17)},
		{"correlation id", string(p.CorrelationID), c.callID},
		{"node id", p.NodeID, hepTestNode.HEPNodeID},
		{"node name", string(p.NodeName), hepTestNode.HEPNodeName},
		{"auth key", string(p.AuthKey), hepTestNode.HEPAuthKey},
		{"source", netip.AddrPortFrom(p.SrcIP, p.SrcPort), c.src},
		{"destination", netip.AddrPortFrom(p.DstIP, p.DstPort), c.dst},
		{"capture time", p.UnixNano(), c.ts / 1000 * 1000},
	} {
		if f.got != f.want {
			t.Errorf("forwarded RTCP %s = %v, want %v", f.field, f.got, f.want)
		}
	}
	var got rtcpJSON
	decodeStrict(t, p.Payload, &got)
	want := wantRTCPJSON(t, c.raw)
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		t.Errorf("forwarded RTCP JSON\n got %s\nwant %s\n(%s)", g, w, p.Payload)
	}
}

// statsJSON is an RTP agent report as sipscope sends it.
type statsJSON struct {
	CorrelationID string  `json:"CORRELATION_ID"`
	RTPSIPCallID  string  `json:"RTP_SIP_CALL_ID"`
	ReportTS      int64   `json:"REPORT_TS"`
	ReportStart   int64   `json:"REPORT_START"`
	ReportEnd     int64   `json:"REPORT_END"`
	Type          string  `json:"TYPE"`
	SSRC          string  `json:"SSRC"`
	SrcIP         string  `json:"SRC_IP"`
	SrcPort       uint16  `json:"SRC_PORT"`
	DstIP         string  `json:"DST_IP"`
	DstPort       uint16  `json:"DST_PORT"`
	CodecPT       uint8   `json:"CODEC_PT"`
	CodecName     string  `json:"CODEC_NAME"`
	Clock         uint32  `json:"CLOCK"`
	TotalPK       int     `json:"TOTAL_PK"`
	ExpectedPK    int     `json:"EXPECTED_PK"`
	PacketLoss    int     `json:"PACKET_LOSS"`
	Delta         float64 `json:"DELTA"`
	MaxDelta      float64 `json:"MAX_DELTA"`
	Jitter        float64 `json:"JITTER"`
	MeanJitter    float64 `json:"MEAN_JITTER"`
	MaxJitter     float64 `json:"MAX_JITTER"`
	MOS           float64 `json:"MOS"`
	MinMOS        float64 `json:"MIN_MOS"`
	MeanMOS       float64 `json:"MEAN_MOS"`
	RFactor       float64 `json:"RFACTOR"`
}

// tsharkStream is one line of the oracle's "SDP-learned RTP only" table.
type tsharkStream struct {
	packets, lost                   int
	maxDelta, meanJitter, maxJitter float64
}

// tsharkStreams reads the SDP-learned RTP streams of a capture's tshark
// oracle, keyed by "SSRC srcIP:port".
func tsharkStreams(t *testing.T, capturePath string) map[string]tsharkStream {
	t.Helper()
	f, err := os.Open(capturePath + ".tshark.txt")
	if err != nil {
		t.Fatalf("the tshark oracle is needed: %v", err)
	}
	defer f.Close()
	// Start End SrcIP SrcPort DstIP DstPort SSRC Payload Pkts Lost (pct) MinD MeanD MaxD MinJ MeanJ MaxJ
	line := regexp.MustCompile(`^\s*\S+\s+\S+\s+(\S+)\s+(\d+)\s+\S+\s+\d+\s+0x([0-9A-F]+)\s+\S+\s+(\d+)\s+(-?\d+) \(\S+\)\s+\S+\s+\S+\s+(\S+)\s+\S+\s+(\S+)\s+(\S+)`)
	out := map[string]tsharkStream{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		s := sc.Text()
		if strings.HasPrefix(s, "## ") {
			in = strings.Contains(s, "SDP-learned RTP only")
			continue
		}
		m := line.FindStringSubmatch(s)
		if !in || m == nil {
			continue
		}
		var ts tsharkStream
		ts.packets, _ = strconv.Atoi(m[4])
		ts.lost, _ = strconv.Atoi(m[5])
		ts.maxDelta, _ = strconv.ParseFloat(m[6], 64)
		ts.meanJitter, _ = strconv.ParseFloat(m[7], 64)
		ts.maxJitter, _ = strconv.ParseFloat(m[8], 64)
		ssrc, _ := strconv.ParseUint(m[3], 16, 32)
		out[fmt.Sprintf("0x%08x %s:%s", ssrc, m[1], m[2])] = ts
	}
	if len(out) == 0 {
		t.Fatalf("no SDP-learned RTP streams in %s.tshark.txt", capturePath)
	}
	return out
}

// collectUDP reads every datagram that reaches c until it has been quiet
// for quiet.
func collectUDP(t *testing.T, c *net.UDPConn, quiet time.Duration) []received {
	t.Helper()
	var out []received
	buf := make([]byte, 70000)
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		n, err := c.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, decodeHEP(t, buf[:n]))
	}
}

func byProtoType(rs []received) map[uint8][]received {
	m := map[uint8][]received{}
	for _, r := range rs {
		m[r.p.ProtoType] = append(m[r.p.ProtoType], r)
	}
	return m
}

// TestHEPSenderForwardsTheRTCPAndRTPStatsOfARealCall runs the live pipeline
// over heplify's example call, flushing every second of capture time as
// serve does, with the sender forwarding to a real UDP socket. What the
// collector gets is checked against readings that do not use the sender:
// each RTCP packet that an SDP explains arrives once, in order, as
// heplify's JSON of what pion/rtcp reads in it, under the call's Call-ID;
// each bound RTP stream is reported periodically and then finally, and the
// final report carries the packets, loss, delta and jitter tshark measured
// and the MOS an offline analysis of the same file computes.
func TestHEPSenderForwardsTheRTCPAndRTPStatsOfARealCall(t *testing.T) {
	mc := readMediaCapture(t, rtcpCapture)
	// The oracle's rtcp_packet_count is 26: tshark's heuristic passes over
	// two compounds with stray trailing bytes on a flow no SDP set up (it
	// dissects the same bytes on the SDP flow), so pion finds at least as many.
	if oracleRTCP := 26; len(mc.rtcp) < oracleRTCP {
		t.Fatalf("pion/rtcp finds %d RTCP packets in the capture, tshark %d", len(mc.rtcp), oracleRTCP)
	}
	var wantRTCP []capturedRTCP
	for _, c := range mc.rtcp {
		if c.callID != "" {
			wantRTCP = append(wantRTCP, c)
		}
	}
	if len(wantRTCP) == 0 || len(wantRTCP) == len(mc.rtcp) {
		t.Fatalf("%d of %d RTCP packets belong to a call: the test needs some of each", len(wantRTCP), len(mc.rtcp))
	}

	coll, addr := udpCollector(t)
	s := newHEPSenderTo("udp", addr, hepTestNode, hepRingBytes, hepMaxSpans, nil)
	_, wait := runSender(t, s)
	cfg := correlate.DefaultConfig()
	cfg.KeepMessages, cfg.Retain = true, false // as live mode runs it
	p := newPipeline(cfg)
	p.onSIP, p.onRTCP = s.send, s.sendRTCP
	unbound := 0
	p.onStreamStats = func(st *quality.Stream, final bool) {
		if final && st.CallID == "" {
			unbound++
		}
		s.sendStats(st, final)
	}
	src, err := capture.OpenFile(rtcpCapture)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var flushed int64
	err = p.runSourceEach(src, func() {
		if p.lastPktTS-flushed >= int64(time.Second) {
			p.liveBatch(p.lastPktTS, false)
			flushed = p.lastPktTS
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	p.liveBatch(p.lastPktTS, true) // shutdown
	wait(5 * time.Second)
	got := byProtoType(collectUDP(t, coll, 300*time.Millisecond))

	t.Run("every SIP message is forwarded", func(t *testing.T) {
		if n := len(got[hep.ProtoSIP]); n != mc.sipMessages {
			t.Errorf("%d SIP messages forwarded, the capture has %d", n, mc.sipMessages)
		}
	})
	t.Run("RTCP of the call is forwarded as heplify's JSON, other RTCP is counted", func(t *testing.T) {
		fwd := got[hep.ProtoRTCP]
		if len(fwd) != len(wantRTCP) {
			t.Fatalf("%d RTCP packets forwarded, want the %d that an SDP explains", len(fwd), len(wantRTCP))
		}
		for i, c := range wantRTCP {
			checkRTCPForwarded(t, fwd[i], c)
		}
		want := hepSendStats{sent: uint64(len(wantRTCP)), noCall: uint64(len(mc.rtcp) - len(wantRTCP))}
		if st := s.statsOf(hepKindRTCP); st != want {
			t.Errorf("RTCP counters %+v, want %+v", st, want)
		}
	})
	t.Run("each bound stream is reported under its call, the last report final and exact", func(t *testing.T) {
		oracle := tsharkStreams(t, rtcpCapture)
		off := newPipeline(correlate.DefaultConfig())
		src, err := capture.OpenFile(rtcpCapture)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if err := off.runSource(src); err != nil {
			t.Fatal(err)
		}
		reports := map[string][]statsJSON{}
		for _, r := range got[hep.ProtoMOSFull] {
			var st statsJSON
			decodeStrict(t, r.p.Payload, &st)
			key := fmt.Sprintf("%s %s:%d", st.SSRC, st.SrcIP, st.SrcPort)
			if string(r.p.CorrelationID) != st.CorrelationID || st.RTPSIPCallID != st.CorrelationID {
				t.Errorf("%s: correlation id %q, JSON says %q and %q", key, r.p.CorrelationID, st.CorrelationID, st.RTPSIPCallID)
			}
			if hs, js := netip.AddrPortFrom(r.p.SrcIP, r.p.SrcPort).String(), fmt.Sprintf("%s:%d", st.SrcIP, st.SrcPort); hs != js {
				t.Errorf("%s: HEP source %s", key, hs)
			}
			if r.p.UnixNano()/1e9 != st.ReportTS || st.ReportTS != st.ReportEnd {
				t.Errorf("%s: HEP time %d, REPORT_TS %d, REPORT_END %d", key, r.p.UnixNano()/1e9, st.ReportTS, st.ReportEnd)
			}
			reports[key] = append(reports[key], st)
		}
		bound := 0
		for _, want := range off.finishStreams(qualityOptions{g711PLC: true}) {
			if want.CallID == "" {
				continue
			}
			bound++
			key := fmt.Sprintf("0x%08x %s", want.SSRC, want.Src)
			rs := reports[key]
			if len(rs) < 2 {
				t.Errorf("%s: %d reports, want periodic ones and a final one", key, len(rs))
				continue
			}
			final := rs[len(rs)-1]
			for i, r := range rs[:len(rs)-1] {
				if r.Type != "PERIODIC" || r.TotalPK > final.TotalPK || (i > 0 && r.ReportTS-rs[i-1].ReportTS < int64(hepStatsEvery/time.Second)) {
					t.Errorf("%s: report %d is %s at %d with %d packets (previous at %d), final has %d", key, i, r.Type, r.ReportTS, r.TotalPK, rs[max(i-1, 0)].ReportTS, final.TotalPK)
				}
			}
			ts, ok := oracle[key]
			if !ok {
				t.Errorf("%s: not in tshark's SDP-learned streams", key)
				continue
			}
			mean, minMOS := 0.0, 0.0
			n := 0
			for _, iv := range want.MOSTimeline {
				if iv.MOS > 0 {
					if n == 0 || iv.MOS < minMOS {
						minMOS = iv.MOS
					}
					mean += iv.MOS
					n++
				}
			}
			mean /= float64(n)
			for _, c := range []struct {
				field     string
				got, want any
			}{
				{"TYPE", final.Type, "FINAL"},
				{"CORRELATION_ID", final.CorrelationID, want.CallID},
				{"DST", fmt.Sprintf("%s:%d", final.DstIP, final.DstPort), want.Dst.String()},
				{"CODEC_PT", final.CodecPT, want.PayloadType},
				{"CODEC_NAME", final.CodecName, want.Payload},
				{"CLOCK", final.Clock, uint32(8000)},
				{"REPORT_START", final.ReportStart, want.Start.Unix()},
				{"REPORT_END", final.ReportEnd, want.End.Unix()},
				{"TOTAL_PK (tshark)", final.TotalPK, ts.packets},
				{"PACKET_LOSS (tshark)", final.PacketLoss, max(ts.lost, 0)},
				{"EXPECTED_PK", final.ExpectedPK, want.Expected},
				{"MAX_DELTA (tshark)", final.MaxDelta, ts.maxDelta},
				{"MEAN_JITTER (tshark)", final.MeanJitter, ts.meanJitter},
				{"JITTER (tshark mean)", final.Jitter, ts.meanJitter},
				{"MAX_JITTER (tshark)", final.MaxJitter, ts.maxJitter},
				{"DELTA", final.Delta, round3(want.MeanDeltaMs)},
				{"MOS", final.MOS, round3(want.MOS)},
				{"MIN_MOS", final.MinMOS, round3(minMOS)},
				{"MEAN_MOS", final.MeanMOS, round3(mean)},
				{"RFACTOR", final.RFactor, round3(want.R)},
			} {
				if g, w := c.got, c.want; g != w {
					if gf, ok := g.(float64); ok && math.Abs(gf-w.(float64)) <= 0.0011 {
						continue // tshark prints 3 decimals, rounded its own way
					}
					t.Errorf("%s: final %s = %v, want %v", key, c.field, g, w)
				}
			}
			if final.MOS < 1 || final.MOS > 5 {
				t.Errorf("%s: MOS %v", key, final.MOS)
			}
		}
		if bound == 0 || bound != len(reports) {
			t.Errorf("%d streams bound to a call, reports for %d", bound, len(reports))
		}
		want := hepSendStats{sent: uint64(len(got[hep.ProtoMOSFull])), noCall: uint64(unbound)}
		if st := s.statsOf(hepKindStats); st != want || unbound == 0 {
			t.Errorf("stats counters %+v, want %+v (and some unbound streams)", st, want)
		}
	})
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// TestServeForwardsRTCPOnlyWhenAsked runs serve as a relay of the same
// call's SIP and RTCP, received over HEP: without --hep-send-rtcp nothing
// but SIP leaves; with hep_send_rtcp in the config file, the call's RTCP
// follows as heplify's JSON, the metric counts it, and RTCP of no call is
// counted and kept back.
func TestServeForwardsRTCPOnlyWhenAsked(t *testing.T) {
	mc := readMediaCapture(t, rtcpCapture)
	var wantRTCP []capturedRTCP
	for _, c := range mc.rtcp {
		if c.callID != "" {
			wantRTCP = append(wantRTCP, c)
		}
	}
	for _, tc := range []struct {
		name   string
		config map[string]any
		rtcp   bool
	}{
		{"with the flags off only SIP is forwarded", nil, false},
		{"with hep_send_rtcp in the config file the call's RTCP follows", map[string]any{"hep_send_rtcp": true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			coll, collAddr := udpCollector(t)
			hepIn := freeUDPAddr(t)
			args := []string{"--data", t.TempDir(), "--hep-listen", "udp://" + hepIn, "--flush", "200ms",
				"--hep-send", "udp://" + collAddr, "--hep-node-id", strconv.Itoa(int(hepTestNode.HEPNodeID)),
				"--hep-node-name", hepTestNode.HEPNodeName, "--hep-auth-key", hepTestNode.HEPAuthKey}
			if tc.config != nil {
				path := filepath.Join(t.TempDir(), "sipscope.json")
				b, err := json.Marshal(tc.config)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, b, 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config", path)
			}
			base, stop := startServe(t, args...)
			defer stop()
			conn, err := net.Dial("udp", hepIn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for _, b := range mc.hepFeed {
				if _, err := conn.Write(b); err != nil {
					t.Fatal(err)
				}
				time.Sleep(200 * time.Microsecond)
			}
			wantSent, wantNoCall := 0, 0
			if tc.rtcp {
				wantSent, wantNoCall = len(wantRTCP), len(mc.rtcp)-len(wantRTCP)
			}
			for deadline := time.Now().Add(5 * time.Second); ; {
				sent := metricValue(t, base, `sipscope_hep_send_packets_total{result="sent",type="rtcp"}`)
				noCall := metricValue(t, base, `sipscope_hep_send_packets_total{result="no_call",type="rtcp"}`)
				sip := metricValue(t, base, `sipscope_hep_send_packets_total{result="sent",type="sip"}`)
				if sent == float64(wantSent) && noCall == float64(wantNoCall) && sip == float64(mc.sipMessages) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("metrics: rtcp sent %v, no_call %v, sip sent %v; want %d, %d, %d", sent, noCall, sip, wantSent, wantNoCall, mc.sipMessages)
				}
				time.Sleep(20 * time.Millisecond)
			}
			stop()
			got := byProtoType(collectUDP(t, coll, 300*time.Millisecond))
			if n := len(got[hep.ProtoSIP]); n != mc.sipMessages {
				t.Errorf("%d SIP messages forwarded, want %d", n, mc.sipMessages)
			}
			if n := len(got[hep.ProtoRTCP]); n != wantSent {
				t.Fatalf("%d RTCP packets forwarded, want %d", n, wantSent)
			}
			for i, c := range wantRTCP[:wantSent] {
				checkRTCPForwarded(t, got[hep.ProtoRTCP][i], c)
			}
			if len(got) != 1+min(wantSent, 1) {
				t.Errorf("the collector got HEP types %v", keys(got))
			}
		})
	}
}

func keys(m map[uint8][]received) []uint8 {
	var out []uint8
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestRTCPJSONOfAnExtendedReport builds RTCP XR with pion/rtcp: the VoIP
// metrics block (the one heplify shows) is found behind another block.
func TestRTCPJSONOfAnExtendedReport(t *testing.T) {
	vm := &rtcp.VoIPMetricsReportBlock{
		SSRC: 0x01020304, LossRate: 12, DiscardRate: 3, BurstDensity: 40, GapDensity: 2,
		BurstDuration: 120, GapDuration: 5000, RoundTripDelay: 88, EndSystemDelay: 61,
		RFactor: 80, MOSLQ: 41, MOSCQ: 39,
	}
	rr := &rtcp.ReceiverReport{SSRC: 0xcafe, Reports: []rtcp.ReceptionReport{{SSRC: 0x01020304, FractionLost: 9, TotalLost: 0x123456, LastSequenceNumber: 70000, Jitter: 31, LastSenderReport: 77, Delay: 99}}}
	xr := &rtcp.ExtendedReport{SenderSSRC: 0xcafe, Reports: []rtcp.ReportBlock{
		&rtcp.ReceiverReferenceTimeReportBlock{NTPTimestamp: 0x0102030405060708}, vm,
	}}
	raw, err := rtcp.Marshal([]rtcp.Packet{rr, xr})
	if err != nil {
		t.Fatal(err)
	}
	var v rtcpView
	if !v.parse(raw) {
		t.Fatal("a receiver report with an extended report was not read")
	}
	var got rtcpJSON
	decodeStrict(t, v.appendJSON(nil), &got)
	want := wantRTCPJSON(t, raw)
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		t.Errorf("JSON\n got %s\nwant %s", g, w)
	}
	if got.XR.Type != 7 || got.XR.ID != vm.SSRC || got.XR.GapDuration != vm.GapDuration || got.ReportBlocks[0].PacketsLost != 0x123456 {
		t.Errorf("XR or report block misread: %+v", got)
	}
}

func TestRTCPViewRefusesWhatIsNotRTCP(t *testing.T) {
	var v rtcpView
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"an empty datagram", nil},
		{"a header alone", []byte{0x80, 200, 0, 0}},
		{"RTP version 1", []byte{0x40, 200, 0, 1, 1, 2, 3, 4}},
		{"a length past the end", []byte{0x80, 201, 0, 9, 1, 2, 3, 4}},
		{"a sender report too short for its sender information", []byte{0x80, 200, 0, 1, 1, 2, 3, 4}},
		{"only an APP packet", []byte{0x80, 204, 0, 2, 1, 2, 3, 4, 'n', 'a', 'm', 'e'}},
	} {
		if v.parse(tc.b) {
			t.Errorf("%s was read as RTCP", tc.name)
		}
	}
}

// TestJSONStringsAreEscapedAsEncodingJSONDoes: a Call-ID may hold quotes
// and backslashes, a captured one any byte.
func TestJSONStringsAreEscapedAsEncodingJSONDoes(t *testing.T) {
	for _, s := range []string{
		"a84b4c76e66710@pc33.atlanta.com",
		`quote"and\backslash`,
		"tab\tnewline\ncontrol\x01",
		"caf\xc3\xa9 and \xff\xfe invalid",
		"",
	} {
		b := appendJSONString(nil, s)
		var got, want string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q: %s is not a JSON string: %v", s, b, err)
			continue
		}
		ref, _ := json.Marshal(s)
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%q came back as %q, encoding/json gives %q", s, got, want)
		}
	}
}

// TestHEPSenderAllocatesNothingPerRTCPPacket forwards a real compound RTCP
// packet of the call over a real UDP socket.
func TestHEPSenderAllocatesNothingPerRTCPPacket(t *testing.T) {
	mc := readMediaCapture(t, rtcpCapture)
	var c capturedRTCP
	for _, r := range mc.rtcp {
		if r.callID != "" && len(r.raw) > len(c.raw) {
			c = r
		}
	}
	coll, addr := udpCollector(t)
	go func() {
		buf := make([]byte, 70000)
		for {
			if _, err := coll.Read(buf); err != nil {
				return
			}
		}
	}()
	s := newHEPSenderTo("udp", addr, hepTestNode, hepRingBytes, hepMaxSpans, nil)
	_, wait := runSender(t, s)
	pkt := decode.Packet{TS: c.ts, Src: c.src, Dst: c.dst, Transport: decode.TransportUDP}
	for range 100 {
		s.sendRTCP(&pkt, c.raw, c.callID)
	}
	allocs := testing.AllocsPerRun(2000, func() { s.sendRTCP(&pkt, c.raw, c.callID) })
	wait(5 * time.Second)
	if allocs != 0 {
		t.Errorf("%v allocations per forwarded RTCP packet, want 0", allocs)
	}
	if st := s.statsOf(hepKindRTCP); st.sent != 2101 {
		t.Errorf("counters %+v, want 2101 sent", st)
	}
}

func TestServeRefusesRTCPOrStatsWithoutHEPSend(t *testing.T) {
	for _, flag := range []string{"--hep-send-rtcp", "--hep-send-stats"} {
		var out, errb bytes.Buffer
		code := run(t.Context(), []string{"serve", "--data", t.TempDir(), "--listen", freeAddr(t), "--hep-listen", "udp://" + freeUDPAddr(t), flag}, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), "need --hep-send") {
			t.Errorf("serve %s without --hep-send exited %d: %s", flag, code, errb.String())
		}
	}
}

// FuzzRTCPJSON: whatever the datagram, reading it never panics and what is
// read becomes valid JSON.
func FuzzRTCPJSON(f *testing.F) {
	src, err := capture.OpenFile(rtcpCapture)
	if err != nil {
		f.Fatalf("the capture %s is needed: %v", rtcpCapture, err)
	}
	dec := decode.NewDecoder()
	var (
		fr frame.Frame
		p  decode.Packet
	)
	for src.Next(&fr) == nil {
		if dec.Decode(fr.LinkType, fr.Data, fr.TS, &p) == nil && isRTCP(p.Payload) {
			f.Add(bytes.Clone(p.Payload))
		}
	}
	src.Close()
	var v rtcpView
	f.Fuzz(func(t *testing.T, b []byte) {
		if !v.parse(b) {
			return
		}
		if out := v.appendJSON(nil); !json.Valid(out) {
			t.Fatalf("invalid JSON %s", out)
		}
	})
}

// BenchmarkHEPSenderSendRTCP is the pipeline's cost per forwarded RTCP
// packet: JSON, HEP encoding and queueing (the queue is emptied in place).
func BenchmarkHEPSenderSendRTCP(b *testing.B) {
	src, err := capture.OpenFile(rtcpCapture)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dec := decode.NewDecoder()
	var (
		fr  frame.Frame
		p   decode.Packet
		raw []byte
	)
	for src.Next(&fr) == nil {
		if dec.Decode(fr.LinkType, fr.Data, fr.TS, &p) == nil && isRTCP(p.Payload) && len(p.Payload) > len(raw) {
			raw = bytes.Clone(p.Payload)
		}
	}
	s := newHEPSenderTo("udp", "127.0.0.1:9", hepTestNode, hepRingBytes, hepMaxSpans, nil)
	pkt := decode.Packet{TS: 1700000000e9, Src: netip.MustParseAddrPort("192.0.2.1:40377"), Dst: netip.MustParseAddrPort("192.0.2.2:8001")}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		s.sendRTCP(&pkt, raw, "12013223@200.57.7.195")
		s.q.release(<-s.q.spans)
	}
	if st := s.stats(); st.dropped+st.errors+st.malformed != 0 {
		b.Fatalf("%+v", st)
	}
}
