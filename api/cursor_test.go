package api_test

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
)

// Cursor paging walks the list by its last call, so a call that arrives
// at the head between two pages neither repeats a row nor hides one, as
// offset paging would; the total is the whole filter's.
func TestCursorPagingIsStableWhileCallsArrive(t *testing.T) {
	st := openStore(t, fixtures())
	srv := httptest.NewServer(api.New(api.Config{}, st, testLogger(t)).Handler())
	t.Cleanup(srv.Close)

	var first api.CallListView
	getJSON(t, srv, "/api/v1/calls?limit=1", 200, &first)
	if len(first.Calls) != 1 || first.Calls[0].CallID != cancelledID || first.NextCursor == "" || first.Total != 3 {
		t.Fatalf("first page: %+v", first)
	}
	// A new call arrives at the head of the list.
	newest := correlate.Call{CallID: "newest@example.com", FromUser: "zoe", ToUser: "yan", State: correlate.StateAnswered,
		FinalCode: 200, SrcIP: netip.MustParseAddr("192.0.2.99"), DstIP: netip.MustParseAddr("192.0.2.98"),
		Start: baseTime.Add(5 * time.Hour), End: baseTime.Add(5*time.Hour + time.Minute), Messages: 2}
	if err := st.Write(context.Background(), storage.Batch{Calls: []correlate.Call{newest}}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	cursor := first.NextCursor
	for range 5 {
		var p api.CallListView
		getJSON(t, srv, "/api/v1/calls?limit=1&cursor="+url.QueryEscape(cursor), 200, &p)
		if p.Total != 4 {
			t.Errorf("total %d on a cursor page, want the filter's 4", p.Total)
		}
		for _, c := range p.Calls {
			ids = append(ids, c.CallID)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if got, want := strings.Join(ids, " "), failedID+" "+answeredID; got != want {
		t.Errorf("pages after the first: %q, want %q", got, want)
	}
	var offset api.CallListView
	getJSON(t, srv, "/api/v1/calls?limit=1&offset=1", 200, &offset)
	if len(offset.Calls) != 1 || offset.Calls[0].CallID != cancelledID {
		t.Errorf("offset 1 after the new call: %+v (offset paging repeats the row the cursor did not)", offset.Calls)
	}

	for _, c := range []struct{ name, query string }{
		{"a cursor the API did not give", "cursor=c1.bm90LWEtY3Vyc29y"},
		{"a cursor that is not base64", "cursor=c1.!!"},
		{"a cursor with an offset", "offset=1&cursor=" + url.QueryEscape(first.NextCursor)},
		{"a cursor with another sort", "sort=mos&cursor=" + url.QueryEscape(first.NextCursor)},
	} {
		t.Run(c.name+" is refused", func(t *testing.T) {
			status, _, body := get(t, srv, "/api/v1/calls?"+c.query)
			if status != 400 || !strings.Contains(string(body), "cursor") {
				t.Errorf("status %d: %s", status, body)
			}
		})
	}
}

func TestCursorRoundTrips(t *testing.T) {
	for _, id := range []string{"a@b", "with:colons:inside@host", strings.Repeat("x", 200)} {
		k := storage.CallKey{Start: time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC), CallID: id}
		got, ok := api.DecodeCursor(api.EncodeCursor(k))
		if !ok || !got.Start.Equal(k.Start) || got.CallID != id {
			t.Errorf("%q: got %+v ok %v", id, got, ok)
		}
	}
}
