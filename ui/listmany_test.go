package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
	"github.com/sipscope/sipscope/ui"
)

// TestCallListFirstRowsOnManyCalls measures how long a cold page load
// takes to show the first rows (with the count strip) over a store of
// SIPSCOPE_UI_MANY calls, e.g. SIPSCOPE_UI_MANY=100000. It logs the time
// and only checks that the rows come; it is skipped without the variable
// because writing the store takes longer than the UI tests' budget.
func TestCallListFirstRowsOnManyCalls(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SIPSCOPE_UI_MANY"))
	if n <= 0 {
		t.Skip("set SIPSCOPE_UI_MANY=<calls> to measure the first rows over a large store")
	}
	ctx := context.Background()
	st, err := embedded.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	start := time.Now()
	states := []string{correlate.StateAnswered, correlate.StateFailed, correlate.StateCancelled}
	codes := []int{200, 486, 487}
	for done := 0; done < n; {
		var b storage.Batch
		for i := 0; i < 10000 && done < n; i, done = i+1, done+1 {
			f := makeCall(fmt.Sprintf("many-%d@bench.example.net", done), fmt.Sprintf("u%d", done%5000), fmt.Sprintf("+4930%07d", done),
				states[done%3], codes[done%3], t0.Add(time.Duration(done)*time.Second), "udp", []step{
					{0, "10.0.0.1:5060", "10.0.0.2:5060", "INVITE", 0, "", 1},
					{time.Second, "10.0.0.2:5060", "10.0.0.1:5060", "INVITE", codes[done%3], "X", 1},
				})
			b.Calls = append(b.Calls, f.call)
			b.Messages = append(b.Messages, f.msgs...)
		}
		if err := st.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d calls in %v", n, time.Since(start).Round(time.Millisecond))
	srv := httptest.NewServer(api.New(api.Config{UI: ui.Handler()}, st, nil).Handler())
	t.Cleanup(srv.Close)

	apiStart := time.Now()
	resp, err := http.Get(srv.URL + "/api/v1/calls?limit=50&offset=0&counts=true")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	t.Logf("GET /api/v1/calls?limit=50&counts=true: %v", time.Since(apiStart).Round(time.Millisecond))

	b := startBrowser(t)
	b.do(t, chromedp.EmulateViewport(1280, 800))
	loadStart := time.Now()
	b.do(t, chromedp.Navigate(srv.URL+"/"))
	b.waitFor(t, rowCount+` === 50 && !document.getElementById('count-strip').hidden`)
	t.Logf("cold load to first 50 rows and counts over %d calls: %v", n, time.Since(loadStart).Round(time.Millisecond))
	// The page's own clock: from navigation start to the rows drawn.
	t.Logf("in the page: first rows at %.0f ms after navigation start", eval[float64](t, b, `performance.now()`))
	for _, q := range []string{"limit=50&offset=0", "limit=50&offset=0&counts=true"} {
		t0 := time.Now()
		resp, err := http.Get(srv.URL + "/api/v1/calls?" + q)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Logf("warm GET /api/v1/calls?%s: %v", q, time.Since(t0).Round(time.Millisecond))
	}
	if total := eval[string](t, b, `document.getElementById('page-info').textContent`); total != "1–50 of "+strconv.Itoa(n) {
		t.Errorf("pager %q", total)
	}
}
