package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipscope/sipscope/internal/heptest"
	"github.com/sipscope/sipscope/storage"
)

// startServe runs "sipscope serve" in-process until the returned stop is called.
func startServe(t *testing.T, args ...string) (base string, stop func()) {
	t.Helper()
	addr := heptest.FreeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() { done <- run(ctx, append([]string{"serve", "--listen", addr}, args...), &out, &errb) }()
	base = "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("serve exited with %d before it was ready: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve not ready after 60 s: %s", errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// stop may be called more than once (a test stops serve to look at what
	// it left, and its cleanup stops it again in any case).
	var once sync.Once
	return base, func() {
		once.Do(func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("serve exited with %d: %s", code, errb.String())
			}
		})
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", u, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

type callList struct {
	Calls []struct {
		CallID   string `json:"call_id"`
		State    string `json:"state"`
		Messages int    `json:"messages"`
	} `json:"calls"`
	Total int `json:"total"`
}

// TestServeImportsAndSurvivesRestart is the skeleton end to end: serve
// --import a capture into the embedded store, query it over HTTP, stop,
// start again on the same data dir without importing, and find it all still
// there, with each call's SIP exportable as a pcap.
func TestServeImportsAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, "--data", dir, "--import", "../../testdata/calls.pcap")
	var before callList
	getJSON(t, base+"/api/v1/calls?limit=100", &before)
	stop()
	if before.Total != 8 {
		t.Fatalf("after import: %d calls, want 8", before.Total)
	}

	// Importing the same capture again must not duplicate anything.
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"import", "--data", dir, "../../testdata/calls.pcap"}, &out, &errb); code != 0 {
		t.Fatalf("re-import exited %d: %s", code, errb.String())
	}

	base, stop = startServe(t, "--data", dir)
	defer stop()
	var after callList
	getJSON(t, base+"/api/v1/calls?limit=100", &after)
	if after.Total != before.Total {
		t.Fatalf("after restart: %d calls, before %d", after.Total, before.Total)
	}
	var answered callList
	getJSON(t, base+"/api/v1/calls?state=answered", &answered)
	if answered.Total != 2 {
		t.Errorf("answered calls after restart: %d, want 2", answered.Total)
	}
	for _, c := range after.Calls {
		var detail struct {
			Messages []json.RawMessage `json:"messages"`
			Streams  []json.RawMessage `json:"rtp_streams"`
		}
		getJSON(t, base+"/api/v1/calls/"+url.PathEscape(c.CallID), &detail)
		if len(detail.Messages) != c.Messages {
			t.Errorf("call %s: %d messages stored, call says %d", c.CallID, len(detail.Messages), c.Messages)
		}
		if c.State == "answered" && len(detail.Streams) != 2 {
			t.Errorf("answered call %s has %d RTP streams, want 2", c.CallID, len(detail.Streams))
		}
		resp, err := http.Get(base + "/api/v1/calls/" + url.PathEscape(c.CallID) + "/pcap")
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("call %s pcap: %v", c.CallID, err)
		}
		n := 0
		for {
			if _, _, err := r.ReadPacketData(); err != nil {
				break
			}
			n++
		}
		resp.Body.Close()
		// Its SIP messages, and the RTP of an answered call: 100 packets
		// each way in calls.pcap.
		want := c.Messages
		if c.State == "answered" {
			want += 200
		}
		if n != want {
			t.Errorf("call %s (%s) pcap has %d packets, want %d", c.CallID, c.State, n, want)
		}
	}
	fmt.Fprintln(io.Discard, out.String())
}

// TestServeReportsDiskUsePerTableWithoutLiveCapture: serve without live
// capture and without a retention policy still measures its store's disk
// use per table (a retention round that drops nothing) and reports it in
// GET /api/v1/status under "store", for the admin page, and as
// sipscope_store_table_bytes on /metrics.
func TestServeReportsDiskUsePerTableWithoutLiveCapture(t *testing.T) {
	base, stop := startServe(t, "--data", t.TempDir(), "--import", "../../testdata/calls.pcap")
	defer stop()
	var st struct {
		Live  map[string]any          `json:"live"`
		Store storage.RetentionStatus `json:"store"`
	}
	// The first round runs as serve starts, after the import; wait for it.
	deadline := time.Now().Add(30 * time.Second)
	for getJSON(t, base+"/api/v1/status", &st); st.Store.LastRun == ""; getJSON(t, base+"/api/v1/status", &st) {
		if time.Now().After(deadline) {
			t.Fatalf("no retention round after 30 s: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(st.Live) != 0 {
		t.Errorf("live status %v from a serve that captures nothing", st.Live)
	}
	var sum int64
	for _, n := range st.Store.TableBytes {
		sum += n
	}
	if sum != st.Store.Bytes || sum == 0 {
		t.Errorf("tables sum to %d bytes, status says %d", sum, st.Store.Bytes)
	}
	// The import wrote calls, their messages, streams and frames.
	for _, table := range []string{storage.TableCalls, storage.TableMessages, storage.TableStreams, storage.TablePackets} {
		if st.Store.TableBytes[table] <= 0 {
			t.Errorf("%s: %d bytes after the import", table, st.Store.TableBytes[table])
		}
	}
	if st.Store.MaxBytes != 0 || len(st.Store.Dropped) != 0 {
		t.Errorf("a round without a policy bounded or dropped something: %+v", st.Store)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf(`sipscope_store_table_bytes{table="calls"} %d`, st.Store.TableBytes[storage.TableCalls])
	if !strings.Contains(string(metrics), want+"\n") {
		t.Errorf("/metrics lacks %q", want)
	}
}
