package pipeline_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/hepsend"
	"github.com/sipscope/sipscope/internal/heptest"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
)

// edgeRun is what an edge measured of a capture while forwarding it.
type edgeRun struct {
	streams map[string]quality.Stream // latest record of each stream bound to a call
	calls   map[string]float64        // latest MOS of each call
	sent    int                       // HEP packets the sender delivered
}

func streamID(st *quality.Stream) string {
	return fmt.Sprintf("%s 0x%08x %s>%s", st.CallID, st.SSRC, st.Src, st.Dst)
}

// runEdge plays path through a live-mode pipeline with a HEP sender
// attached, as serve --iface --hep-send --hep-send-rtcp --hep-send-stats
// runs it, flushing every second of capture time.
func runEdge(t *testing.T, path, collector string) edgeRun {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := hepsend.Config{HEPSend: "tcp://" + collector, HEPNodeID: 11, HEPNodeName: "edge-a", HEPSendRTCP: true, HEPSendStats: true}
	s, err := hepsend.New(cfg, true, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	ccfg := correlate.DefaultConfig()
	ccfg.KeepMessages, ccfg.Retain = true, false // as live mode runs it
	p := pipeline.New(ccfg)
	s.Attach(p, cfg)
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatalf("the capture %s is needed: %v", path, err)
	}
	defer src.Close()
	run := edgeRun{streams: map[string]quality.Stream{}, calls: map[string]float64{}}
	take := func(b *storage.Batch) {
		for _, st := range b.Streams {
			if st.CallID != "" {
				run.streams[streamID(&st)] = st
			}
		}
		for _, c := range b.Calls {
			run.calls[c.CallID] = c.MOS
		}
	}
	var flushed int64
	err = p.RunSourceEach(src, func() {
		if p.LastPacketTS()-flushed >= int64(time.Second) {
			var b storage.Batch
			p.AppendLiveBatch(&b, p.LastPacketTS(), false)
			take(&b)
			flushed = p.LastPacketTS()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var b storage.Batch
	p.AppendLiveBatch(&b, p.LastPacketTS(), true) // shutdown
	take(&b)
	s.Finish()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sender: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the sender did not drain")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() != "sent" && l.GetValue() != "no_call" && m.GetCounter().GetValue() > 0 {
					t.Fatalf("the edge's sender counted %v %s", m.GetCounter().GetValue(), l.GetValue())
				}
				if l.GetName() == "result" && l.GetValue() == "sent" {
					run.sent += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	if len(run.streams) == 0 {
		t.Fatalf("the edge bound no stream of %s to a call", path)
	}
	return run
}

// TestACollectorStoresTheStreamsEdgesReport: an edge forwards a capture's
// SIP, RTCP (heplify JSON, HEP type 5) and RTP statistics (HEP type 34) to
// a collector that sees no RTP; the collector's store then holds every
// stream the edge bound to a call, under that call, with the edge's
// figures, and the call's MOS is the edge's.
func TestACollectorStoresTheStreamsEdgesReport(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		rtcp       bool // the capture has RTCP on the calls' flows
	}{
		{"heplify's example call with RTCP both ways", heptest.RTCPCapture, true},
		{"generated calls with loss", "../testdata/loss.pcap", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			store, err := embedded.Open(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			addr := heptest.FreeAddr(t)
			coll := pipeline.NewLiveRunner(pipeline.LiveOptions{HEPTCP: []string{addr}, FlushEvery: 50 * time.Millisecond, NoFrames: true},
				store, slog.New(slog.DiscardHandler), nil)
			cctx, stop := context.WithCancel(ctx)
			defer stop()
			if err := coll.Open(cctx); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- coll.Run(cctx) }()

			edge := runEdge(t, tc.path, addr)
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if st := coll.Status(); st.Stages["decode"]["hep_packets"] == float64(edge.sent) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the collector unwrapped %v HEP packets, the edge sent %d", coll.Status().Stages["decode"]["hep_packets"], edge.sent)
				}
			}
			stop()
			if err := <-done; err != nil {
				t.Fatalf("collector: %v", err)
			}
			stages := coll.Status().Stages
			if n := stages["rtp"]["agent_reports"]; n == float64(0) {
				t.Errorf("the collector took no RTP agent report: %v", stages)
			}
			if e := stages["decode"]["errors"]; len(e.(map[string]int)) != 0 {
				t.Errorf("decode errors at the collector: %v", e)
			}

			got := map[string]quality.Stream{}
			for id, mos := range edge.calls {
				d, err := store.GetCall(ctx, id)
				if err != nil {
					t.Fatalf("call %s: %v", id, err)
				}
				// The call's MOS is judged when its record is written,
				// on the figures known then: at either end that depends on
				// when the reports came, so only its presence is checked.
				if mos > 0 && d.Call.MOS <= 0 {
					t.Errorf("call %s: no MOS at the collector, %v at the edge", id, mos)
				}
				for _, st := range d.Streams {
					got[streamID(&st)] = st
				}
			}
			if len(got) != len(edge.streams) {
				t.Errorf("the collector stored %d streams, the edge bound %d", len(got), len(edge.streams))
			}
			// The edge forwards the RTCP of calls only (heplify-server
			// files RTCP under a Call-ID): what the collector knows is what
			// that RTCP says, at the edge's capture times.
			wantRTCP, err := quality.NewRTCPTracker(quality.RTCPConfig{})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range heptest.ReadMediaCapture(t, tc.path).RTCP {
				if c.CallID != "" {
					_ = wantRTCP.HandleFrom(c.Raw, c.TS, c.Src, c.Dst)
				}
			}
			withRTCP := 0
			for id, want := range edge.streams {
				st, ok := got[id]
				if !ok {
					t.Errorf("stream %s: not stored at the collector", id)
					continue
				}
				checkReported(t, id, st, want)
				if rep, ok := wantRTCP.Report(want.SSRC); ok {
					withRTCP++
					clock := float64(quality.ClockRate(want.PayloadType))
					rep.JitterMs = float64(rep.Jitter) * 1000 / clock
					checkRTCP(t, id, st.RTCP, rep)
				} else if st.RTCP.Reports != 0 {
					t.Errorf("stream %s: RTCP %+v at the collector, none forwarded", id, st.RTCP)
				}
			}
			if tc.rtcp && withRTCP == 0 {
				t.Error("no stream of the capture had RTCP reports: the RTCP path is not tested")
			}
		})
	}
}

// checkReported compares a stream stored at the collector with the edge's
// record: counts exactly, figures to the 3 decimals the report carries,
// the end to the microsecond the HEP time carries, the start to the second.
func checkReported(t *testing.T, id string, got, want quality.Stream) {
	t.Helper()
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"packets", got.Packets, want.Packets},
		{"expected", got.Expected, want.Expected},
		{"lost", got.Lost, want.Lost},
		{"payload type", got.PayloadType, want.PayloadType},
		{"payload", got.Payload, want.Payload},
		{"start (s)", got.Start.Unix(), want.Start.Unix()},
		{"end (µs)", got.End.UnixMicro(), want.End.UnixMicro()},
		{"mean jitter", heptest.Round3(got.MeanJitterMs), heptest.Round3(want.MeanJitterMs)},
		{"max jitter", heptest.Round3(got.MaxJitterMs), heptest.Round3(want.MaxJitterMs)},
		{"mean delta", heptest.Round3(got.MeanDeltaMs), heptest.Round3(want.MeanDeltaMs)},
		{"max delta", heptest.Round3(got.MaxDeltaMs), heptest.Round3(want.MaxDeltaMs)},
		{"MOS", heptest.Round3(got.MOS), heptest.Round3(want.MOS)},
		{"R", heptest.Round3(got.R), heptest.Round3(want.R)},
	} {
		if c.got != c.want {
			t.Errorf("stream %s: %s %v at the collector, %v at the edge", id, c.field, c.got, c.want)
		}
	}
}

// checkRTCP compares what RTCP said about a stream at both ends: the
// collector rebuilt it from heplify's JSON.
func checkRTCP(t *testing.T, id string, got, want quality.RTCPReport) {
	t.Helper()
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"receiver reports", got.ReceiverReports, want.ReceiverReports},
		{"sender reports", got.SenderReports, want.SenderReports},
		{"sender packets", got.SenderPackets, want.SenderPackets},
		{"fraction lost", got.FractionLostPct, want.FractionLostPct},
		{"cumulative lost", got.CumulativeLost, want.CumulativeLost},
		{"jitter (ms)", heptest.Round3(got.JitterMs), heptest.Round3(want.JitterMs)},
		{"XR reports", got.XR.Reports, want.XR.Reports},
		{"round trip samples", got.RTTSamples, want.RTTSamples},
		{"mean round trip", heptest.Round3(got.MeanRTTMs), heptest.Round3(want.MeanRTTMs)},
	} {
		if c.got != c.want {
			t.Errorf("stream %s: RTCP %s %v at the collector, %v at the edge", id, c.field, c.got, c.want)
		}
	}
}
