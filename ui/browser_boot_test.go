package ui_test

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/ui"
)

// listRequests lists the call list's row requests of the page's load (the
// count strip's, rows=false, left out).
const listRequests = `performance.getEntriesByType('resource').map((r) => new URL(r.name))
	.filter((u) => u.pathname === '/api/v1/calls' && u.searchParams.get('rows') !== 'false').map((u) => u.search)`

// TestTheListsFirstPageIsAskedForBeforeThePageRuns: on a cold load of a
// list hash, boot.js asks for the first page before the bundle's init, and
// the list draws that answer without asking again, with the saved page
// size and the hash's filter; a relative time range is left to the list.
func TestTheListsFirstPageIsAskedForBeforeThePageRuns(t *testing.T) {
	st := openStore(t, fixtureCalls())
	srv := httptest.NewServer(api.New(api.Config{UI: ui.Handler()}, st, nil).Handler())
	t.Cleanup(srv.Close)
	b := startBrowser(t)

	cases := []struct {
		name     string
		hash     string
		pageSize string // saved preference, "" for none
		rows     int
		want     string // the one rows request
		early    bool
	}{
		{"the plain list is asked for once, before init", "", "", 4, "?limit=50&offset=0", true},
		{"a saved page size and the hash's filter are asked for once, before init", "#/?state=failed", "25", 1, "?state=failed&limit=25&offset=0", true},
		{"a relative range is left to the list", "#/?range=24h", "", 0, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b.do(t, chromedp.Navigate(srv.URL+"/ui/favicon.svg"))
			b.do(t, chromedp.Evaluate[chromedp.Void](`localStorage.clear(); if (`+js(tc.pageSize)+`) localStorage.setItem('sipscope.pageSize', `+js(tc.pageSize)+`)`))
			b.do(t, chromedp.Navigate("about:blank"), chromedp.Navigate(srv.URL+"/"+tc.hash))
			b.waitFor(t, `performance.getEntriesByName('list:rows').length > 0 && `+rowCount+` === `+strconv.Itoa(tc.rows))
			reqs := eval[[]string](t, b, listRequests)
			if len(reqs) != 1 || tc.want != "" && reqs[0] != tc.want {
				t.Errorf("rows requests %q, want one %q", reqs, tc.want)
			}
			// When the rows request that was drawn went out, against init.
			early := eval[bool](t, b, `performance.getEntriesByType('resource').filter((r) => { const u = new URL(r.name);
				return u.pathname === '/api/v1/calls' && u.searchParams.get('rows') !== 'false'; })
				.pop().startTime < performance.getEntriesByName('app:init')[0].startTime`)
			if early != tc.early {
				t.Errorf("list request before init: %v, want %v", early, tc.early)
			}
		})
	}
	if errs := b.pageErrors(); len(errs) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
}
