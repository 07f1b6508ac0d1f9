package storage

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestListCallsSQLWithEveryFilter(t *testing.T) {
	f := CallFilter{
		From: time.Unix(1, 0), To: time.Unix(2, 500),
		FromUser: "al'ice", ToUser: `b\ob`, CallID: "x\x00y", IP: netip.MustParseAddr("2001:db8::1"),
		State: "failed", EndReason: "busy", FinalCode: 486, Query: "%", Limit: 20, Offset: 40,
	}
	list, count, err := listCallsSQL("db", f, false)
	if err != nil {
		t.Fatal(err)
	}
	where := " FROM db.calls FINAL WHERE start_us >= 1000000 AND start_us < 2000000" +
		` AND positionCaseInsensitive(replaceRegexpOne(from_user, '^\\+', ''), 'al\'ice') > 0` +
		` AND positionCaseInsensitive(replaceRegexpOne(to_user, '^\\+', ''), 'b\\ob') > 0` +
		` AND start_us GLOBAL IN (SELECT start_us FROM db.call_index WHERE call_id = 'x\x00y') AND call_id = 'x\x00y'` +
		` AND (src_ip = '2001:db8::1' OR dst_ip = '2001:db8::1')` +
		` AND state = 'failed' AND end_reason = 'busy' AND final_code = 486` +
		` AND (positionCaseInsensitive(call_id, '%') > 0 OR positionCaseInsensitive(from_user, '%') > 0 OR positionCaseInsensitive(to_user, '%') > 0)`
	if want := "SELECT count()" + where; count != want {
		t.Errorf("count:\n%s\nwant\n%s", count, want)
	}
	if want := "SELECT " + callSelect + where + " ORDER BY start_us DESC, call_id LIMIT 40, 20"; list != want {
		t.Errorf("list:\n%s\nwant\n%s", list, want)
	}
}

func TestListCallsSQLWithoutFilterReadsEverythingWithTheDefaultLimit(t *testing.T) {
	list, count, err := listCallsSQL("db", CallFilter{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if count != "SELECT count() FROM db.calls FINAL" {
		t.Errorf("count: %s", count)
	}
	if !strings.HasSuffix(list, " FROM db.calls FINAL ORDER BY start_us DESC, call_id LIMIT 0, 50") {
		t.Errorf("list: %s", list)
	}
	list, _, _ = listCallsSQL("db", CallFilter{Limit: 5000}, false)
	if !strings.HasSuffix(list, "LIMIT 0, 1000") {
		t.Errorf("limit not capped: %s", list)
	}
}

func TestListCallsSQLRejectsBadFilters(t *testing.T) {
	for name, f := range map[string]CallFilter{
		"negative limit":    {Limit: -1},
		"negative offset":   {Offset: -5},
		"inverted range":    {From: time.Unix(10, 0), To: time.Unix(5, 0)},
		"negative code":     {FinalCode: -1},
		"code beyond range": {FinalCode: 1 << 20},
	} {
		if _, _, err := listCallsSQL("db", f, false); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("%s: error %v, want ErrInvalidFilter", name, err)
		}
		// ListCalls refuses it before it asks the store anything, a
		// Call-ID lookup included.
		f.CallID = "a@example.com"
		if _, err := ListCalls(context.Background(), noQueries{t}, "db", f); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("%s with a Call-ID: ListCalls error %v, want ErrInvalidFilter", name, err)
		}
	}
}

// noQueries is a Querier that fails the test when asked anything.
type noQueries struct{ t *testing.T }

func (n noQueries) Query(_ context.Context, query string, _ []any, _ func() error) error {
	n.t.Errorf("unexpected query %s", query)
	return nil
}
