package main

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

// The KPI route over an imported capture gives the generator's truth for
// calls.pcap (8 attempts: 2 answered, 2 busy, 2 cancelled, 2 unanswered;
// 2 registrations, both succeeded) and refuses a bad step.
func TestServeKPIsOfAnImportedCapture(t *testing.T) {
	base, stop := startServe(t, "--data", t.TempDir(), "--import", "../../testdata/calls.pcap")
	defer stop()
	var got struct {
		Buckets []struct {
			Attempts, Answered, Registrations int
			ASR                               float64 `json:"asr"`
			NER                               float64 `json:"ner"`
			Success                           float64 `json:"registration_success"`
		} `json:"buckets"`
	}
	getJSON(t, base+"/api/v1/kpis?from=2026-01-01T10:00:00Z&to=2026-01-01T11:00:00Z&step=1h", &got)
	if len(got.Buckets) != 1 {
		t.Fatalf("%d buckets, want 1: %+v", len(got.Buckets), got)
	}
	b := got.Buckets[0]
	if b.Attempts != 8 || b.Answered != 2 || b.ASR != 0.25 || b.NER != 0.5 || b.Registrations != 2 || b.Success != 1 {
		t.Errorf("KPIs %+v; want 8 attempts, 2 answered, ASR 0.25, NER 0.5 (answered + busy), 2 registrations all succeeded", b)
	}
	resp, err := http.Get(base + "/api/v1/kpis?step=1s")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("step=1s: %d, want 400", resp.StatusCode)
	}
}

// serve's call PCAP carries the captured RTP, not only the SIP: the store
// reaches the API with its frames (a wrapper once hid such methods).
func TestServeCallPCAPCarriesTheCapturedRTP(t *testing.T) {
	base, stop := startServe(t, "--data", t.TempDir(), "--import", "../../testdata/calls.pcap")
	defer stop()
	resp, err := http.Get(base + "/api/v1/calls/" + url.PathEscape("dd1a8567d1b67dac@10.1.0.10") + "/pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r, err := pcapgo.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	n := 0
	for {
		if _, _, err := r.ReadPacketData(); err != nil {
			break
		}
		n++
	}
	// 7 SIP messages and 100 RTP packets each way (testdata/calls.truth.json).
	if n != 207 {
		t.Errorf("the call's PCAP has %d frames, want 7 SIP + 200 RTP", n)
	}
}
