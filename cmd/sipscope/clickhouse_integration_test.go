//go:build integration

package main

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"

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
