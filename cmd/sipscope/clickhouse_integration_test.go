//go:build integration

package main

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage/server/servertest"
)

// TestImportAndServeWithClickHouseServer runs `sipscope import
// --clickhouse URL` and `sipscope serve --clickhouse URL` against a real
// clickhouse-server (Debian's 18.16): the schema is created there, the
// capture's calls and every SIP message land in it, and serve's API reads
// them back from it, the same as the offline analysis finds.
func TestImportAndServeWithClickHouseServer(t *testing.T) {
	const capture = "../../testdata/calls.pcap"
	srv := servertest.Start(t, servertest.Options{})
	chURL := "clickhouse://default@" + srv.Addr() + "/cli_e2e"

	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"import", "--clickhouse", chURL, capture}, &out, &errb); code != 0 {
		t.Fatalf("import exited with %d: %s\nserver output:\n%s", code, errb.String(), srv.Output())
	}
	want, err := pipeline.AnalyzeFile(capture, pipeline.QualityOptions{G711PLC: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), capture) {
		t.Errorf("import printed %q", out.String())
	}

	// serve imports the same file again (it dedupes) and reads from the server.
	base, stop := startServe(t, "--data", t.TempDir(), "--clickhouse", chURL, "--import", capture)
	defer stop()
	var list api.CallListView
	getJSON(t, base+"/api/v1/calls?limit=1000", &list)
	if list.Total != len(want.Calls) || len(list.Calls) != len(want.Calls) {
		t.Fatalf("serve shows %d calls (%d listed), the analysis finds %d", list.Total, len(list.Calls), len(want.Calls))
	}
	for _, c := range want.Calls {
		var d api.CallDetailView
		getJSON(t, base+"/api/v1/calls/"+url.PathEscape(c.CallID), &d)
		if d.Call.State != c.State || len(d.Messages) != c.Messages {
			t.Errorf("call %s: %s with %d messages, want %s with %d", c.CallID, d.Call.State, len(d.Messages), c.State, c.Messages)
		}
	}
	// The data is in the server's database, not in the data directory.
	var n uint64
	if err := countRows(t.Context(), srv.Addr(), "SELECT count() FROM cli_e2e.calls FINAL", &n); err != nil {
		t.Fatal(err)
	}
	if int(n) != len(want.Calls) {
		t.Errorf("the server holds %d calls, want %d", n, len(want.Calls))
	}
}

// countRows runs a one-number query on the server at addr.
func countRows(ctx context.Context, addr, query string, n *uint64) error {
	conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.Native, Addr: []string{addr}})
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.QueryRow(ctx, query).Scan(n)
}

// TestServeWithClickHouseRidesOutAServerOutage feeds serve --clickhouse
// over HEP while the ClickHouse server is stopped part-way: the batches it
// refuses go to the store spool (status shows them waiting), and once the
// server is back they are replayed, so every SIP message is in the server
// exactly once (counted without FINAL, which would hide a duplicate) and
// every call is whole.
func TestServeWithClickHouseRidesOutAServerOutage(t *testing.T) {
	const capture = "../../testdata/calls.pcap"
	pkts, _ := hepMessages(t, capture)
	srv := servertest.Start(t, servertest.Options{})
	hepAddr := freeUDPAddr(t)
	base, stop := startServe(t, "--data", t.TempDir(), "--clickhouse", "clickhouse://default@"+srv.Addr()+"/outage",
		"--hep-listen", "udp://"+hepAddr, "--flush", "100ms")
	defer stop()
	conn, err := net.Dial("udp", hepAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	type status struct {
		Live pipeline.LiveStatus `json:"live"`
	}
	send := func(from, to int) {
		for _, b := range pkts[from:to] {
			if _, err := conn.Write(b); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Microsecond) // a loopback socket buffer is small
		}
	}
	waitFor := func(what string, ok func(st status) bool) status {
		t.Helper()
		var st status
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			getJSON(t, base+"/api/v1/status", &st)
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: status %+v, spool %+v", what, st.Live, st.Live.StoreSpool)
			}
		}
	}
	half := len(pkts) / 2
	send(0, half)
	waitFor("the first half stored", func(st status) bool {
		return st.Live.HEPReceived == uint64(half) && st.Live.LastFlush != "" && st.Live.StoreSpool != nil
	})
	srv.Stop()
	send(half, len(pkts))
	st := waitFor("the second half spooled", func(st status) bool {
		return st.Live.HEPReceived == uint64(len(pkts)) && st.Live.StoreSpool.Records > 0
	})
	if st.Live.WriteErrors == 0 {
		t.Error("no write error counted while the server was down")
	}
	srv.Start()
	st = waitFor("the spool replayed", func(st status) bool {
		return st.Live.StoreSpool.Records == 0 && st.Live.StoreSpool.Replayed > 0
	})
	if sp := st.Live.StoreSpool; sp.Dropped != 0 || st.Live.StoreLost != 0 || sp.Replayed != sp.Appended {
		t.Errorf("spool %+v, %d batches lost: want every spooled batch replayed", sp, st.Live.StoreLost)
	}

	var rows uint64
	if err := countRows(t.Context(), srv.Addr(), "SELECT count() FROM outage.sip_messages", &rows); err != nil {
		t.Fatal(err)
	}
	if int(rows) != len(pkts) {
		t.Errorf("the server holds %d SIP message rows, %d messages were sent", rows, len(pkts))
	}
	want, err := pipeline.AnalyzeFile(capture, pipeline.QualityOptions{G711PLC: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range want.Calls {
		var d api.CallDetailView
		getJSON(t, base+"/api/v1/calls/"+url.PathEscape(c.CallID), &d)
		if d.Call.State != c.State || len(d.Messages) != c.Messages {
			t.Errorf("call %s: %s with %d messages, want %s with %d", c.CallID, d.Call.State, len(d.Messages), c.State, c.Messages)
		}
	}
}
