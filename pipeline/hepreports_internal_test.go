package pipeline

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/hep"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
)

const reportCapture = "../testdata/loss.pcap"

// captureStreams is the bound streams an offline analysis finds in path.
func captureStreams(t *testing.T, path string) []quality.Stream {
	t.Helper()
	p := New(correlate.DefaultConfig())
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatalf("the capture %s is needed: %v", path, err)
	}
	defer src.Close()
	if err := p.RunSource(src); err != nil {
		t.Fatal(err)
	}
	var out []quality.Stream
	for _, st := range p.FinishStreams(QualityOptions{G711PLC: true}) {
		if st.CallID != "" {
			out = append(out, st)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no stream bound to a call", path)
	}
	return out
}

// reportFrame is st as an edge's RTP agent report (the keys hepsend
// writes), in a HEP frame stamped with the stream's end.
func reportFrame(t *testing.T, st *quality.Stream, final bool) frame.Frame {
	t.Helper()
	typ := "PERIODIC"
	if final {
		typ = "FINAL"
	}
	js := fmt.Sprintf(`{"CORRELATION_ID":%q,"REPORT_START":%d,"REPORT_END":%d,"TYPE":%q,"SSRC":"0x%08x",`+
		`"SRC_IP":"%s","SRC_PORT":%d,"DST_IP":"%s","DST_PORT":%d,"CODEC_PT":%d,"CODEC_NAME":%q,"CLOCK":8000,`+
		`"TOTAL_PK":%d,"EXPECTED_PK":%d,"PACKET_LOSS":%d,"DELTA":%.3f,"MAX_DELTA":%.3f,"JITTER":%.3f,"MAX_JITTER":%.3f,"MOS":%.3f,"RFACTOR":%.3f}`,
		st.CallID, st.Start.Unix(), st.End.Unix(), typ, st.SSRC, st.Src.Addr(), st.Src.Port(), st.Dst.Addr(), st.Dst.Port(),
		st.PayloadType, st.Payload, st.Packets, st.Expected, max(st.Lost, 0), st.MeanDeltaMs, st.MaxDeltaMs, st.MeanJitterMs, st.MaxJitterMs, st.MOS, st.R)
	ts := st.End.UnixNano()
	h := hep.Packet{Version: 3, Protocol: 17, SrcIP: st.Src.Addr(), DstIP: st.Dst.Addr(), SrcPort: st.Src.Port(), DstPort: st.Dst.Port(),
		TimestampSec: uint32(ts / 1e9), TimestampUsec: uint32(ts % 1e9 / 1e3), ProtoType: hep.ProtoMOSFull,
		CorrelationID: []byte(st.CallID), Payload: []byte(js)}
	b, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return frame.Frame{TS: ts, LinkType: frame.LinkHEP, Data: b, OrigLen: len(b)}
}

func liveConfig() correlate.Config {
	cfg := correlate.DefaultConfig()
	cfg.KeepMessages, cfg.Retain = true, false
	return cfg
}

func keyOf(st *quality.Stream) streamKey { return streamKey{src: st.Src, dst: st.Dst, ssrc: st.SSRC} }

// TestReportsAboutStreamsMeasuredHereAreNotCountedTwice: a collector that
// also sees the RTP stores each stream once, whichever came first.
func TestReportsAboutStreamsMeasuredHereAreNotCountedTwice(t *testing.T) {
	want := captureStreams(t, reportCapture)
	t.Run("reports after the RTP are dropped and counted", func(t *testing.T) {
		p := New(liveConfig())
		src, err := capture.OpenFile(reportCapture)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if err := p.RunSource(src); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			f := reportFrame(t, &want[i], true)
			p.HandleFrame(&f)
		}
		var b storage.Batch
		p.AppendLiveBatch(&b, p.LastPacketTS(), true)
		seen := map[streamKey]int{}
		for _, st := range b.Streams {
			seen[keyOf(&st)]++
		}
		for i := range want {
			if n := seen[keyOf(&want[i])]; n != 1 {
				t.Errorf("stream %v written %d times", keyOf(&want[i]), n)
			}
		}
		if n := p.counts.ignored["hep_rtp_stats_measured_here"]; n != len(want) {
			t.Errorf("%d reports counted as measured here, want %d", n, len(want))
		}
		if n := p.reports.reports; n != 0 {
			t.Errorf("%d reports taken", n)
		}
	})
	t.Run("a reported stream the RTP then arrives for is taken over under the same identity", func(t *testing.T) {
		p := New(liveConfig())
		for i := range want {
			f := reportFrame(t, &want[i], false)
			p.HandleFrame(&f)
		}
		var b storage.Batch
		p.AppendLiveBatch(&b, p.LastPacketTS(), false)
		if len(b.Streams) != len(want) {
			t.Fatalf("%d reported streams written, want %d", len(b.Streams), len(want))
		}
		src, err := capture.OpenFile(reportCapture)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if err := p.RunSource(src); err != nil {
			t.Fatal(err)
		}
		p.AppendLiveBatch(&b, p.LastPacketTS(), true)
		// The store keys a stream by SSRC, addresses and start: every
		// record of one stream must carry the same start.
		starts := map[streamKey]map[int64]bool{}
		for _, st := range b.Streams {
			k := keyOf(&st)
			if starts[k] == nil {
				starts[k] = map[int64]bool{}
			}
			starts[k][st.Start.UnixMicro()] = true
		}
		for i := range want {
			k := keyOf(&want[i])
			if len(starts[k]) != 1 {
				t.Errorf("stream %v written with %d different starts: %v", k, len(starts[k]), starts[k])
			}
			if !starts[k][want[i].Start.Truncate(time.Second).UnixMicro()] {
				t.Errorf("stream %v: the measured records do not keep the reported start", k)
			}
		}
		if p.reports.adopted != len(want) || len(p.reports.streams) != 0 {
			t.Errorf("%d reported streams taken over, %d left; want %d and 0", p.reports.adopted, len(p.reports.streams), len(want))
		}
	})
}

// TestReportedStreamsAreBoundedAndForgotten: the reported streams a
// collector holds stay within their bound (evictions counted), and a
// stream is dropped once its final report is written.
func TestReportedStreamsAreBoundedAndForgotten(t *testing.T) {
	want := captureStreams(t, reportCapture)
	if len(want) < 3 {
		t.Fatalf("the capture has %d bound streams, the test needs 3", len(want))
	}
	p := New(liveConfig())
	p.SetMaxReportedStreams(2)
	for i := range want {
		f := reportFrame(t, &want[i], false)
		p.HandleFrame(&f)
	}
	if n := len(p.reports.streams); n != 2 {
		t.Errorf("%d reported streams held, the bound is 2", n)
	}
	if p.reports.evicted != len(want)-2 {
		t.Errorf("%d evictions counted, want %d", p.reports.evicted, len(want)-2)
	}
	var b storage.Batch
	p.AppendLiveBatch(&b, p.LastPacketTS(), false)
	for i := range want {
		f := reportFrame(t, &want[i], true)
		p.HandleFrame(&f)
	}
	b = storage.Batch{}
	p.AppendLiveBatch(&b, p.LastPacketTS(), false)
	if len(p.reports.streams) != 0 {
		t.Errorf("%d reported streams held after their final reports were written", len(p.reports.streams))
	}
	if len(b.Streams) != 2 {
		t.Errorf("%d final records written, want 2 (the bound)", len(b.Streams))
	}
}

// TestBrokenEdgeReportsAreCounted: a report that does not parse, one
// without a Call-ID, and heplify RTCP JSON that holds no report are each
// counted by reason, never a panic; a report without times is dated by
// its HEP time.
func TestBrokenEdgeReportsAreCounted(t *testing.T) {
	cases := []struct {
		name    string
		proto   uint8
		payload string
		errs    string // decode error reason, or "" for ignored
		ignored string
	}{
		{"a report that is not JSON", hep.ProtoMOSFull, `not json`, "hep_rtp_stats_malformed", ""},
		{"a report without its addresses", hep.ProtoMOSFull, `{"SSRC":"0x1","TOTAL_PK":1,"CORRELATION_ID":"c"}`, "hep_rtp_stats_malformed", ""},
		{"a report with no Call-ID", hep.ProtoMOSFull, `{"SSRC":"0x1","SRC_IP":"10.0.0.1","SRC_PORT":1,"DST_IP":"10.0.0.2","DST_PORT":2,"TOTAL_PK":1}`, "", "hep_rtp_stats_no_call"},
		{"RTCP JSON that is cut", hep.ProtoRTCP, `{"ssrc":1,"type":200,"report_blocks":[{"source_ssrc":`, "hep_rtcp_json_malformed", ""},
		{"a report without times starts at its HEP time", hep.ProtoMOSFull, `{"SSRC":"0x1","SRC_IP":"10.0.0.1","SRC_PORT":1,"DST_IP":"10.0.0.2","DST_PORT":2,"TOTAL_PK":1,"CORRELATION_ID":"c"}`, "", ""},
		{"RTCP JSON of an SDES-only compound", hep.ProtoRTCP, `{"ssrc":1,"type":202,"report_blocks":[],"sdes_ssrc":1}`, "", "hep_rtcp_json_no_report"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := New(liveConfig())
			h := hep.Packet{Version: 3, Protocol: 17, SrcIP: mustAddr("10.0.0.1"), DstIP: mustAddr("10.0.0.2"), SrcPort: 1, DstPort: 2,
				TimestampSec: 1700000000, ProtoType: c.proto, Payload: []byte(c.payload)}
			b, err := h.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			f := frame.Frame{TS: 1700000000e9, LinkType: frame.LinkHEP, Data: b}
			p.HandleFrame(&f)
			if c.errs != "" && p.counts.decodeErrors[c.errs] != 1 {
				t.Errorf("errors %v, want %s", p.counts.decodeErrors, c.errs)
			}
			if c.ignored != "" && p.counts.ignored[c.ignored] != 1 {
				t.Errorf("ignored %v, want %s", p.counts.ignored, c.ignored)
			}
			if c.errs == "" && c.ignored == "" {
				rs := p.reports.streams[streamKey{src: netip.MustParseAddrPort("10.0.0.1:1"), dst: netip.MustParseAddrPort("10.0.0.2:2"), ssrc: 1}]
				if rs == nil || rs.st.Start.Unix() != 1700000000 || rs.st.End.Unix() != 1700000000 {
					t.Errorf("the report became %+v", rs)
				}
				return
			}
			if len(p.reports.streams) != 0 {
				t.Errorf("a broken report made a stream")
			}
		})
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestAnOfflineAnalysisShowsReportedStreams: a capture of traffic to a
// collector (edges' reports, no RTP) analysed offline lists the reported
// streams with the reports' figures.
func TestAnOfflineAnalysisShowsReportedStreams(t *testing.T) {
	want := captureStreams(t, reportCapture)
	p := New(correlate.DefaultConfig())
	for i := range want {
		f := reportFrame(t, &want[i], true)
		p.HandleFrame(&f)
	}
	got := map[streamKey]quality.Stream{}
	for _, st := range p.FinishStreams(QualityOptions{G711PLC: true}) {
		got[keyOf(&st)] = st
	}
	if len(got) != len(want) {
		t.Fatalf("%d streams, %d reported", len(got), len(want))
	}
	for _, w := range want {
		g := got[keyOf(&w)]
		if g.CallID != w.CallID || g.Packets != w.Packets || g.Expected != w.Expected || g.Lost != w.Lost || g.Start.Unix() != w.Start.Unix() {
			t.Errorf("stream %v: got %s %d/%d lost %d from %v, want %s %d/%d lost %d from %v", keyOf(&w),
				g.CallID, g.Packets, g.Expected, g.Lost, g.Start, w.CallID, w.Packets, w.Expected, w.Lost, w.Start)
		}
	}
}
