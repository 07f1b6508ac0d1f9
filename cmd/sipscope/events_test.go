package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipscope/sipscope/hep"
)

// sse is one event of a live stream: its name and its data decoded.
type sse struct {
	name string
	data struct {
		CallID string `json:"call_id"`
		State  string `json:"state"`
		Rule   string `json:"rule"`
		Key    string `json:"key"`
	}
}

// listen opens GET /api/v1/events?query on a running serve and delivers
// its events on the returned channel until the stream ends.
func listen(t *testing.T, base, query string) <-chan sse {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/events?"+query, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET events?%s: %s %s", query, resp.Status, b)
	}
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry:") {
		t.Fatalf("stream starts with %q (%v)", line, err)
	}
	out := make(chan sse, 1000)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		var ev sse
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[len("data: "):]), &ev.data)
			case line == "" && ev.name != "":
				out <- ev
				ev = sse{}
			}
		}
	}()
	return out
}

// TestServeStreamsLiveCallsAndAlerts: a client of GET /api/v1/events on a
// running serve gets a call sent over HEP within 2 s of its INVITE, a
// filtered client only what it asked for, and the scanner alert that the
// webhook also receives (the engine's sink fans out to both).
func TestServeStreamsLiveCallsAndAlerts(t *testing.T) {
	var posted atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		posted.Add(1)
	}))
	defer hook.Close()
	pkts, ids := hepMessages(t, "../../testdata/calls.pcap")
	hepAddr := freeUDPAddr(t)
	base, stop := startServe(t, "--data", t.TempDir(), "--hep-listen", "udp://"+hepAddr, "--flush", "200ms", "--alert-webhook", hook.URL)
	defer stop()
	all := listen(t, base, "")
	answered := listen(t, base, "kinds=calls&state=answered")

	conn, err := net.Dial("udp", hepAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(pkts[0]); err != nil { // the first INVITE only
		t.Fatal(err)
	}
	sent := time.Now()
	timeout := time.After(2 * time.Second)
wait:
	for {
		select {
		case ev, ok := <-all:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.name == "call" && ev.data.CallID == ids[0] {
				t.Logf("call %s streamed %v after its INVITE, state %s", ids[0], time.Since(sent).Round(time.Millisecond), ev.data.State)
				break wait
			}
		case <-timeout:
			t.Fatalf("call %s not streamed 2 s after its INVITE", ids[0])
		}
	}

	sendHEP(t, hepAddr, pkts[1:])
	// calls.pcap has two answered calls (TestLiveHEPCallsAppearWhileRinging).
	got := map[string]bool{}
	for deadline := time.After(10 * time.Second); len(got) < 2; {
		select {
		case ev, ok := <-answered:
			if !ok {
				t.Fatal("the filtered stream ended")
			}
			if ev.name != "call" || ev.data.State != "answered" {
				t.Fatalf("a client of answered calls got %s %+v", ev.name, ev.data)
			}
			got[ev.data.CallID] = true
		case <-deadline:
			t.Fatalf("10 s after the capture, the filtered client has %d answered calls, want 2", len(got))
		}
	}

	var sweep [][]byte
	for _, d := range scannerSweep(time.Now().Add(-time.Minute)) {
		h := hep.Packet{Version: 3, IPFamily: hep.FamilyIPv4, Protocol: 17, SrcIP: d.src.Addr(), DstIP: d.dst.Addr(),
			SrcPort: d.src.Port(), DstPort: d.dst.Port(), TimestampSec: uint32(d.ts.Unix()), TimestampUsec: uint32(d.ts.Nanosecond() / 1000),
			ProtoType: hep.ProtoSIP, Payload: d.payload}
		b, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		sweep = append(sweep, b)
	}
	sendHEP(t, hepAddr, sweep)
	for deadline := time.After(10 * time.Second); ; {
		select {
		case ev, ok := <-all:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.name != "alert" {
				continue
			}
			if ev.data.Rule != "scanner" || !strings.Contains(ev.data.Key, "203.0.113.9") {
				t.Errorf("alert streamed: %+v, want the scanner 203.0.113.9", ev.data)
			}
		case <-deadline:
			t.Fatal("no alert streamed 10 s after the scanner sweep")
		}
		break
	}
	for deadline := time.Now().Add(10 * time.Second); posted.Load() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the alert was streamed but not posted to the webhook")
		}
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"sipscope_api_events_clients 2", "sipscope_api_events_dropped_clients_total 0",
		`sipscope_api_events_published_total{kind="alert"}`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
