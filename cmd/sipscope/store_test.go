package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/storebench"
)

func TestStoreConfigChoosesTheBackend(t *testing.T) {
	cases := []struct {
		name       string
		cfg        storeConfig
		wantServer bool
		wantErr    string
	}{
		{"no URL keeps the embedded store", storeConfig{}, false, ""},
		{"a URL selects the server", storeConfig{ClickHouse: "clickhouse://u:p@127.0.0.1:9000/voip"}, true, ""},
		{"a URL with a cluster selects the cluster", storeConfig{ClickHouse: "clickhouse://127.0.0.1", ClickHouseCluster: "sip_cluster"}, true, ""},
		{"a cluster without a URL is refused", storeConfig{ClickHouseCluster: "c"}, false, "clickhouse_cluster"},
		{"an HTTP URL is refused", storeConfig{ClickHouse: "http://127.0.0.1:8123"}, false, "clickhouse:"},
		{"a cluster name with a quote is refused", storeConfig{ClickHouse: "clickhouse://h", ClickHouseCluster: "a'b"}, false, "clickhouse_cluster"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc, remote, err := c.cfg.Server()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if remote != c.wantServer || (remote && sc.Cluster != c.cfg.ClickHouseCluster) {
				t.Errorf("server %v cluster %q, want server %v cluster %q", remote, sc.Cluster, c.wantServer, c.cfg.ClickHouseCluster)
			}
		})
	}
}

func TestServeAndImportRefuseABadStoreBeforeOpeningIt(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--data", "x", "--clickhouse-cluster", "c1"},
		{"import", "--clickhouse-cluster", "c1", "x.pcap"},
		{"import", "--clickhouse", "clickhouse://h?secur=true", "x.pcap"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code == 0 || !strings.Contains(errb.String(), "clickhouse") {
			t.Errorf("%q: exit %d, stderr %q: want a refusal naming the clickhouse setting", args, code, errb.String())
		}
	}
}

// TestServeShowsTheStoreSpool: a live serve spools in its data directory
// by default and shows the spool in its status and metrics; 0 turns it off.
func TestServeShowsTheStoreSpool(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want bool
	}{
		{"the spool is on by default", nil, true},
		{"spool_store_mb 0 turns it off", []string{"--spool-store-mb", "0"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := t.TempDir()
			base, stop := startServe(t, append([]string{"--data", data, "--hep-listen", "udp://" + freeUDPAddr(t)}, c.args...)...)
			defer stop()
			var st struct {
				Live pipeline.LiveStatus `json:"live"`
			}
			getJSON(t, base+"/api/v1/status", &st)
			if (st.Live.StoreSpool != nil) != c.want {
				t.Fatalf("status store_spool = %+v, want present: %v", st.Live.StoreSpool, c.want)
			}
			resp, err := http.Get(base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if has := strings.Contains(string(body), "sipscope_store_spool_oldest_age_seconds"); has != c.want {
				t.Errorf("/metrics has the spool's age: %v, want %v", has, c.want)
			}
			if _, err := os.Stat(filepath.Join(data, storeSpoolDir)); (err == nil) != c.want {
				t.Errorf("spool directory in the data directory: %v, want present: %v", err, c.want)
			}
		})
	}
}

// TestServeAppliesRetention: serve imports a capture from the past with a
// one-day limit on SIP messages; the retention round drops the messages'
// partitions and keeps the calls, and the status shows the disk per table.
func TestServeAppliesRetention(t *testing.T) {
	const capture = "../../testdata/calls.pcap"
	base, stop := startServe(t, "--data", t.TempDir(), "--import", capture, "--hep-listen", "udp://"+freeUDPAddr(t),
		"--retention-messages-days", "1", "--retention-max-gb", "100")
	defer stop()
	var st struct {
		Live struct {
			Retention *storage.RetentionStatus `json:"retention"`
		} `json:"live"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		getJSON(t, base+"/api/v1/status", &st)
		if r := st.Live.Retention; r != nil && r.LastRun != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retention round in the status: %+v", st.Live.Retention)
		}
	}
	r := st.Live.Retention
	if r.Dropped["age"] == 0 || r.TableBytes[storage.TableMessages] != 0 || r.TableBytes[storage.TableCalls] <= 0 || r.MaxBytes != 100e9 {
		t.Errorf("retention status %+v: want the messages' partitions dropped for age, the calls kept", r)
	}
	var list api.CallListView
	getJSON(t, base+"/api/v1/calls?limit=1000", &list)
	if list.Total == 0 {
		t.Fatal("no calls kept")
	}
	var d api.CallDetailView
	getJSON(t, base+"/api/v1/calls/"+url.PathEscape(list.Calls[0].CallID), &d)
	if len(d.Messages) != 0 {
		t.Errorf("call %s still has %d messages after a one-day limit on a capture from the past", list.Calls[0].CallID, len(d.Messages))
	}
}

func TestRetentionKeysAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"--retention-calls-days", "-1"},
		{"--retention-max-gb", "-2"},
	} {
		_, err := parseServeArgs(append([]string{"--hep-listen", "udp://127.0.0.1:9060"}, args...))
		if err == nil || !strings.Contains(err.Error(), "retention_") {
			t.Errorf("%q: %v, want an error naming the retention key", args, err)
		}
	}
}

// TestBenchStoreMeasuresEachQueryOnAnImportedStore: `bench store` on a
// store that `import` filled (twice) merges its finished days with
// --settle, then prints the store's span and one line per query kind,
// each with its rounds; on an empty store it says so.
func TestBenchStoreMeasuresEachQueryOnAnImportedStore(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"bench", "store", "--data", dir, "--rounds", "3"}, &out, &errb); code == 0 {
		t.Fatalf("bench store on an empty store succeeded: %s", out.String())
	}
	if code := run(t.Context(), []string{"import", "--data", dir, "../../testdata/calls.pcap"}, &out, &errb); code != 0 {
		t.Fatalf("import exited %d: %s", code, errb.String())
	}
	// Imported twice: the day's partitions in two parts each, which
	// --settle merges first.
	if code := run(t.Context(), []string{"import", "--data", dir, "../../testdata/calls.pcap"}, &out, &errb); code != 0 {
		t.Fatalf("import exited %d: %s", code, errb.String())
	}
	out.Reset()
	if code := run(t.Context(), []string{"bench", "store", "--data", dir, "--rounds", "3", "--settle"}, &out, &errb); code != 0 {
		t.Fatalf("bench store exited %d: %s", code, errb.String())
	}
	text := out.String()
	if m := regexp.MustCompile(`(?m)^settled: ([0-9]+) partitions merged`).FindStringSubmatch(text); m == nil || m[1] == "0" {
		t.Errorf("no partitions merged by --settle:\n%s", text)
	}
	if !strings.Contains(text, ": 8 calls from ") {
		t.Errorf("no store span of 8 calls:\n%s", text)
	}
	for _, q := range []string{storebench.QueryNewest, storebench.QueryNewestRows, storebench.QueryRange, storebench.QueryCallID, storebench.QueryDetail} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(q) + ` +n=3 p50=[0-9.]+ms p99=`).MatchString(text) {
			t.Errorf("no line for %q:\n%s", q, text)
		}
	}
}
