// Package heptest holds what the HEP sender's tests and serve's forwarding
// tests share: HEP collectors on loopback, decoders of what they receive,
// and the expected RTCP, RTP statistics and SIP of a real capture. It is
// imported only by tests.
package heptest

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
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sdp"
	"github.com/sipscope/sipscope/decode/sip"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/hep"
)

// Node is the agent identity the sender tests configure.
var Node = struct {
	HEPNodeID               uint32
	HEPNodeName, HEPAuthKey string
}{HEPNodeID: 4242, HEPNodeName: "edge-test", HEPAuthKey: "s3cret"}

// Received is one HEP packet as the collector got it, copied out.
type Received struct {
	P   hep.Packet
	Raw []byte
}

func DecodeHEP(t *testing.T, b []byte) Received {
	t.Helper()
	raw := bytes.Clone(b)
	var r Received
	if err := r.P.Unmarshal(raw); err != nil {
		t.Fatalf("the collector got a packet that is not HEP: %v", err)
	}
	r.Raw = raw
	return r
}

// CheckForwarded verifies that r is exactly message i sent with pkt.
func CheckForwarded(t *testing.T, r Received, pkt decode.Packet, payload []byte) {
	t.Helper()
	p := &r.P
	wantProto := map[decode.Transport]uint8{decode.TransportUDP: 17, decode.TransportTCP: 6, decode.TransportSCTP: 132}[pkt.Transport]
	wantFamily := uint8(hep.FamilyIPv4)
	if pkt.Src.Addr().Is6() {
		wantFamily = hep.FamilyIPv6
	}
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"version", p.Version, uint8(3)},
		{"proto type", p.ProtoType, uint8(hep.ProtoSIP)},
		{"node id", p.NodeID, Node.HEPNodeID},
		{"node name", string(p.NodeName), Node.HEPNodeName},
		{"auth key", string(p.AuthKey), Node.HEPAuthKey},
		{"IP family", p.IPFamily, wantFamily},
		{"IP protocol", p.Protocol, wantProto},
		{"source", netip.AddrPortFrom(p.SrcIP, p.SrcPort), pkt.Src},
		{"destination", netip.AddrPortFrom(p.DstIP, p.DstPort), pkt.Dst},
		{"capture time", p.UnixNano(), pkt.TS / 1000 * 1000},
		{"payload", string(p.Payload), string(payload)},
		{"compressed", p.CompressedPayload, false},
	} {
		if c.got != c.want {
			t.Errorf("forwarded %s = %v, want %v", c.field, c.got, c.want)
		}
	}
}

// UDPCollector is a real UDP socket on 127.0.0.1 that reads HEP datagrams.
func UDPCollector(t *testing.T) (*net.UDPConn, string) {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadBuffer(8 << 20)
	t.Cleanup(func() { c.Close() })
	return c, c.LocalAddr().String()
}

func ReadDatagram(t *testing.T, c *net.UDPConn) Received {
	t.Helper()
	buf := make([]byte, 70000)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("collector read: %v", err)
	}
	return DecodeHEP(t, buf[:n])
}

// RTCPCapture is heplify's own example call: SIP over UDP, G.711 RTP both
// ways and 26 RTCP packets, half of them on a flow no SDP announces.
var RTCPCapture = filepath.Join(Testdata(), "captures/heplify__rtp_rtcp_sip_ipv4_udp.pcap")

// Testdata is the project's testdata directory, wherever the test runs.
func Testdata() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "../../testdata")
}

// CapturedRTCP is one RTCP packet of the capture and the Call-ID whose SDP
// (seen before it) announces one of its ends, "" when none does.
type CapturedRTCP struct {
	Src, Dst netip.AddrPort
	TS       int64
	Raw      []byte
	CallID   string
}

// MediaCapture is what the tests expect from a capture, read without the
// pipeline: RTCP is recognised by pion/rtcp, its call by the SDP of the SIP
// messages before it.
type MediaCapture struct {
	SIPMessages int
	RTCP        []CapturedRTCP
	HEPFeed     [][]byte // SIP and RTCP in capture order, as a HEP agent sends them
}

func ReadMediaCapture(t *testing.T, path string) MediaCapture {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatalf("the capture %s is needed: %v", path, err)
	}
	defer src.Close()
	var (
		mc   MediaCapture
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
		mc.HEPFeed = append(mc.HEPFeed, b)
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
			mc.SIPMessages++
			wrap(hep.ProtoSIP, p.Payload)
			if len(msg.Body) > 0 && sess.Unmarshal(msg.Body) == nil {
				for i := range sess.NumMedia {
					eps[sess.RTCPAddr(i)] = string(msg.CallID)
				}
			}
			continue
		}
		if !IsRTCP(p.Payload) {
			continue
		}
		id, ok := eps[p.Dst]
		if !ok {
			id = eps[p.Src]
		}
		mc.RTCP = append(mc.RTCP, CapturedRTCP{Src: p.Src, Dst: p.Dst, TS: f.TS, Raw: bytes.Clone(p.Payload), CallID: id})
		wrap(hep.ProtoRTCP, p.Payload)
	}
}

// IsRTCP: pion/rtcp reads the datagram as a compound of RTCP packets.
func IsRTCP(b []byte) bool {
	if len(b) < 8 || b[0]>>6 != 2 || b[1] < 200 || b[1] > 207 {
		return false
	}
	pkts, err := rtcp.Unmarshal(RTCPCompound(b))
	return err == nil && len(pkts) > 0
}

// RTCPCompound is b up to the end of its last whole RTCP packet: a few
// endpoints send stray bytes after the compound, which tshark ignores
// ("RTCP frame length check") and pion/rtcp would refuse.
func RTCPCompound(b []byte) []byte {
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

// RTCPJSON is heplify's RTCP JSON (heplify v1.67.1 protos/rtcp.go,
// RTCP_Packet), the shape heplify-server and homer-ui read.
type RTCPJSON struct {
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
	ReportBlocks []RTCPBlockJSON `json:"report_blocks"`
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

type RTCPBlockJSON struct {
	SourceSSRC   uint32 `json:"source_ssrc"`
	FractionLost uint8  `json:"fraction_lost"`
	PacketsLost  uint32 `json:"packets_lost"`
	HighestSeqNo uint32 `json:"highest_seq_no"`
	IAJitter     uint32 `json:"ia_jitter"`
	LSR          uint32 `json:"lsr"`
	DLSR         uint32 `json:"dlsr"`
}

// DecodeStrict parses b into v, refusing keys v does not have.
func DecodeStrict(t *testing.T, b []byte, v any) {
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

// WantRTCPJSON is what heplify's JSON must say about raw, as pion/rtcp
// reads it: the leading packet's type and count, the first SR's sender
// information, every SR and RR report block, the first SDES chunk's SSRC
// and the first XR VoIP metrics block.
func WantRTCPJSON(t *testing.T, raw []byte) RTCPJSON {
	t.Helper()
	pkts, err := rtcp.Unmarshal(RTCPCompound(raw))
	if err != nil {
		t.Fatal(err)
	}
	var w RTCPJSON
	w.ReportBlocks = []RTCPBlockJSON{}
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
			w.ReportBlocks = append(w.ReportBlocks, RTCPBlockJSON{
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
					w.XR.Type = XRBlockType(rb)
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

// XRBlockType is the block type pion read.
func XRBlockType(rb rtcp.ReportBlock) uint8 {
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

// CheckRTCPForwarded verifies that r is c as heplify forwards it.
func CheckRTCPForwarded(t *testing.T, r Received, c CapturedRTCP) {
	t.Helper()
	p := &r.P
	for _, f := range []struct {
		field     string
		got, want any
	}{
		{"proto type", p.ProtoType, uint8(hep.ProtoRTCP)},
		{"IP protocol", p.Protocol, uint8(17)},
		{"correlation id", string(p.CorrelationID), c.CallID},
		{"node id", p.NodeID, Node.HEPNodeID},
		{"node name", string(p.NodeName), Node.HEPNodeName},
		{"auth key", string(p.AuthKey), Node.HEPAuthKey},
		{"source", netip.AddrPortFrom(p.SrcIP, p.SrcPort), c.Src},
		{"destination", netip.AddrPortFrom(p.DstIP, p.DstPort), c.Dst},
		{"capture time", p.UnixNano(), c.TS / 1000 * 1000},
	} {
		if f.got != f.want {
			t.Errorf("forwarded RTCP %s = %v, want %v", f.field, f.got, f.want)
		}
	}
	var got RTCPJSON
	DecodeStrict(t, p.Payload, &got)
	want := WantRTCPJSON(t, c.Raw)
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		t.Errorf("forwarded RTCP JSON\n got %s\nwant %s\n(%s)", g, w, p.Payload)
	}
}

// StatsJSON is an RTP agent report as sipscope sends it.
type StatsJSON struct {
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

// TsharkStream is one line of the oracle's "SDP-learned RTP only" table.
type TsharkStream struct {
	Packets, Lost                   int
	MaxDelta, MeanJitter, MaxJitter float64
}

// TsharkStreams reads the SDP-learned RTP streams of a capture's tshark
// oracle, keyed by "SSRC srcIP:port".
func TsharkStreams(t *testing.T, capturePath string) map[string]TsharkStream {
	t.Helper()
	f, err := os.Open(capturePath + ".tshark.txt")
	if err != nil {
		t.Fatalf("the tshark oracle is needed: %v", err)
	}
	defer f.Close()
	// Start End SrcIP SrcPort DstIP DstPort SSRC Payload Pkts Lost (pct) MinD MeanD MaxD MinJ MeanJ MaxJ
	line := regexp.MustCompile(`^\s*\S+\s+\S+\s+(\S+)\s+(\d+)\s+\S+\s+\d+\s+0x([0-9A-F]+)\s+\S+\s+(\d+)\s+(-?\d+) \(\S+\)\s+\S+\s+\S+\s+(\S+)\s+\S+\s+(\S+)\s+(\S+)`)
	out := map[string]TsharkStream{}
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
		var ts TsharkStream
		ts.Packets, _ = strconv.Atoi(m[4])
		ts.Lost, _ = strconv.Atoi(m[5])
		ts.MaxDelta, _ = strconv.ParseFloat(m[6], 64)
		ts.MeanJitter, _ = strconv.ParseFloat(m[7], 64)
		ts.MaxJitter, _ = strconv.ParseFloat(m[8], 64)
		ssrc, _ := strconv.ParseUint(m[3], 16, 32)
		out[fmt.Sprintf("0x%08x %s:%s", ssrc, m[1], m[2])] = ts
	}
	if len(out) == 0 {
		t.Fatalf("no SDP-learned RTP streams in %s.tshark.txt", capturePath)
	}
	return out
}

// CollectUDP reads every datagram that reaches c until it has been quiet
// for quiet.
func CollectUDP(t *testing.T, c *net.UDPConn, quiet time.Duration) []Received {
	t.Helper()
	var out []Received
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
		out = append(out, DecodeHEP(t, buf[:n]))
	}
}

func ByProtoType(rs []Received) map[uint8][]Received {
	m := map[uint8][]Received{}
	for _, r := range rs {
		m[r.P.ProtoType] = append(m[r.P.ProtoType], r)
	}
	return m
}

func Round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func Keys(m map[uint8][]Received) []uint8 {
	var out []uint8
	for k := range m {
		out = append(out, k)
	}
	return out
}

// FreeAddr is a loopback TCP address nothing listens on (just now).
func FreeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
