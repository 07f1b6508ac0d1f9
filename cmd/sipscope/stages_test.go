package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/sipscope/sipscope/hep"
	"github.com/sipscope/sipscope/pipeline"
)

// TestServeShowsEveryStageCounterInMetricsAndStatus feeds a running serve
// real calls over HEP plus HEP packets whose SIP is broken: the broken ones
// must not vanish (they are counted per reason), and /metrics and
// /api/v1/status must show the same decode and correlate figures.
func TestServeShowsEveryStageCounterInMetricsAndStatus(t *testing.T) {
	pkts, ids := hepMessages(t, "../../testdata/calls.pcap")
	distinct := map[string]bool{}
	for _, id := range ids {
		distinct[id] = true
	}
	// SIP start lines with no Call-ID, and bytes that are not SIP at all.
	broken := [][]byte{
		[]byte("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:bob@example.com>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"),
		[]byte("OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@example.com>\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"),
		[]byte("\x00\x01garbage that is neither SIP nor RTCP"),
	}
	for _, payload := range broken {
		h := hep.Packet{Version: 3, IPFamily: hep.FamilyIPv4, Protocol: 17, ProtoType: hep.ProtoSIP, Payload: payload}
		b, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, b)
	}
	hepAddr := freeUDPAddr(t)
	base, stop := startServe(t, "--data", t.TempDir(), "--hep-listen", "udp://"+hepAddr, "--flush", "100ms")
	defer stop()
	sendHEP(t, hepAddr, pkts)
	wantSIP := len(pkts) - 1 // all but the garbage have a SIP start line
	var st struct {
		Live pipeline.LiveStatus `json:"live"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		getJSON(t, base+"/api/v1/status", &st)
		if d := st.Live.Stages["decode"]; d != nil && d["hep_packets"] == float64(len(pkts)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status stages after %d HEP packets: %v", len(pkts), st.Live.Stages)
		}
	}
	dec, corr := st.Live.Stages["decode"], st.Live.Stages["correlate"]
	errs, _ := dec["errors"].(map[string]any)
	ignored, _ := dec["ignored"].(map[string]any)
	checks := []struct {
		what   string
		status any
		metric string
		want   float64
	}{
		{"SIP messages decoded", dec["sip_messages"], `sipscope_decode_sip_messages_total`, float64(wantSIP)},
		{"messages without a Call-ID", errs["sip_missing_call_id"], `sipscope_decode_errors_total{reason="sip_missing_call_id"}`, 2},
		{"HEP payloads neither SIP nor RTCP", ignored["hep_not_sip_rtcp"], `sipscope_decode_ignored_total{reason="hep_not_sip_rtcp"}`, 1},
		{"messages correlated", corr["messages"], `sipscope_correlate_messages_total`, float64(len(ids))},
		{"dialogs started", corr["dialogs_started"], `sipscope_correlate_dialogs_started_total`, float64(len(distinct))},
		{"frames", st.Live.Stages["pipeline"]["frames"], `sipscope_pipeline_frames_total`, float64(len(pkts))},
	}
	for _, c := range checks {
		if c.status != c.want {
			t.Errorf("status: %s = %v, want %v", c.what, c.status, c.want)
		}
		if got := metricValue(t, base, c.metric); got != c.want {
			t.Errorf("/metrics %s = %v, want %v", c.metric, got, c.want)
		}
	}
	if t.Failed() {
		t.Log(fmt.Sprint(st.Live.Stages))
	}
}
