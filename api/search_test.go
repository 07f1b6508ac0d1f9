package api_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/storage"
)

func TestParseCallFilterReadsTheSearchExtensions(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name, query string
		check       func(storage.CallFilter) bool
	}{
		{"a CIDR prefix is a prefix, masked", "ip=10.1.2.3/8", func(f storage.CallFilter) bool {
			return f.IPPrefix == netip.MustParsePrefix("10.0.0.0/8") && !f.IP.IsValid()
		}},
		{"an IPv6 prefix", "ip=2001:db8::/32", func(f storage.CallFilter) bool { return f.IPPrefix == netip.MustParsePrefix("2001:db8::/32") }},
		{"a /32 is one address", "ip=192.0.2.1/32", func(f storage.CallFilter) bool {
			return f.IP == netip.MustParseAddr("192.0.2.1") && !f.IPPrefix.IsValid()
		}},
		{"a SIP URI stands for its user part", "from_user=sip:%2B4930123@example.com%3Buser=phone", func(f storage.CallFilter) bool { return f.FromUser == "+4930123" }},
		{"a tel URI stands for its number", "to_user=tel:%2B4989777%3Bphone-context=x", func(f storage.CallFilter) bool { return f.ToUser == "+4989777" }},
		{"a wildcard is kept", "to_user=49*7", func(f storage.CallFilter) bool { return f.ToUser == "49*7" }},
		{"final_class 4xx is 4", "final_class=4xx", func(f storage.CallFilter) bool { return f.FinalClass == 4 }},
		{"final_class 5 is 5", "final_class=5", func(f storage.CallFilter) bool { return f.FinalClass == 5 }},
		{"a finding code", "finding=rejected:404", func(f storage.CallFilter) bool { return f.Finding == "rejected:404" }},
		{"durations are seconds", "min_duration=1.5&max_duration=60", func(f storage.CallFilter) bool {
			return f.MinDurationMs == 1500 && f.MaxDurationMs == 60000
		}},
		{"a MOS range", "min_mos=3.1&max_mos=4", func(f storage.CallFilter) bool { return f.MinMOS == 3.1 && f.MaxMOS == 4 }},
		{"partial and has_rtp", "partial=true&has_rtp=0", func(f storage.CallFilter) bool {
			return f.Partial != nil && *f.Partial == yes && f.HasRTP != nil && *f.HasRTP == no
		}},
		{"sort and order", "sort=pdd&order=asc", func(f storage.CallFilter) bool { return f.Sort == storage.SortPDD && f.Ascending }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			f, err := api.ParseCallFilter(q)
			if err != nil || !tc.check(f) {
				t.Errorf("%s: %+v (%v)", tc.query, f, err)
			}
		})
	}
	for _, bad := range []string{"ip=10.0.0.0/33", "ip=::ffff:10.0.0.0/104", "from_user=sip:@example.com", "final_class=7xx", "final_class=44",
		"finding=no%20media", "finding='", "min_duration=-1", "min_duration=5&max_duration=1", "min_mos=4&max_mos=3", "max_mos=NaN",
		"partial=maybe", "has_rtp=yes", "sort=start_us", "order=up"} {
		q, _ := url.ParseQuery(bad)
		if _, err := api.ParseCallFilter(q); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

// Injection and oversize strings in every filter of the search, on a real
// store: a 400 or an answer, never a 500.
func TestSearchFiltersNeverFailOnHostileInput(t *testing.T) {
	srv := startServer(t, openStore(t, fixtures()))
	hostile := []string{"' OR 1=1 --", `\'; DROP TABLE calls; --`, "%00", "*'*", "\x00\xff", "1/0", string(make([]byte, 300)),
		"::1/0' OR '", "4xx' OR 1=1", "nan", "1e400"}
	params := []string{"from", "to", "from_user", "to_user", "call_id", "q", "ip", "state", "end_reason", "final_code", "final_class",
		"finding", "min_duration", "max_duration", "min_mos", "max_mos", "partial", "has_rtp", "sort", "order", "limit", "offset", "counts", "rows"}
	for _, p := range params {
		for _, v := range hostile {
			status, _, body := get(t, srv, "/api/v1/calls?"+url.Values{p: {v}}.Encode())
			if status != http.StatusOK && status != http.StatusBadRequest {
				t.Errorf("%s=%q: status %d %s", p, v, status, body)
			}
		}
	}
}

func TestCallListCountsPerStateAndFinalCode(t *testing.T) {
	srv := startServer(t, openStore(t, fixtures()))
	var v struct {
		Total  int `json:"total"`
		Counts *struct {
			Total     int            `json:"total"`
			State     map[string]int `json:"state"`
			FinalCode map[string]int `json:"final_code"`
		} `json:"counts"`
	}
	getJSON(t, srv, "/api/v1/calls?final_class=4xx&counts=true", http.StatusOK, &v)
	if v.Counts == nil || v.Counts.Total != 2 || v.Total != 2 || v.Counts.State["failed"] != 1 || v.Counts.State["cancelled"] != 1 ||
		v.Counts.FinalCode["486"] != 1 || v.Counts.FinalCode["487"] != 1 {
		t.Errorf("counts of 4xx: %+v (total %d)", v.Counts, v.Total)
	}
	v.Counts = nil
	getJSON(t, srv, "/api/v1/calls", http.StatusOK, &v)
	if v.Counts != nil {
		t.Errorf("counts without counts=true: %+v", v.Counts)
	}
}

// The UI asks for a page's count strip apart from its rows; rows=false
// answers the counts and the total without listing a call.
func TestCallListCountsAloneWithRowsFalse(t *testing.T) {
	srv := startServer(t, openStore(t, fixtures()))
	for _, tc := range []struct {
		name, query    string
		calls, total   int
		counts, failed bool
	}{
		{"rows=false with counts lists no call and keeps the total", "final_class=4xx&counts=true&rows=false", 0, 2, true, true},
		{"rows=true with counts is the ordinary answer", "final_class=4xx&counts=true&rows=true", 2, 2, true, true},
		{"rows=false without counts still lists the calls", "final_class=4xx&rows=false", 2, 2, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v struct {
				Calls  []json.RawMessage `json:"calls"`
				Total  int               `json:"total"`
				Counts *struct {
					Total int            `json:"total"`
					State map[string]int `json:"state"`
				} `json:"counts"`
			}
			getJSON(t, srv, "/api/v1/calls?"+tc.query, http.StatusOK, &v)
			if len(v.Calls) != tc.calls || v.Calls == nil || v.Total != tc.total || (v.Counts != nil) != tc.counts {
				t.Fatalf("%s: %d calls (nil %v), total %d, counts %+v", tc.query, len(v.Calls), v.Calls == nil, v.Total, v.Counts)
			}
			if tc.failed && (v.Counts.Total != 2 || v.Counts.State["failed"] != 1) {
				t.Errorf("%s: counts %+v", tc.query, v.Counts)
			}
		})
	}
}

// total=false leaves the total uncounted: -1 where the page cannot show
// it, the exact figure where it can (a first page that is not full) and
// the counts' total beside counts=true; the rows are the same either way.
func TestCallListWithoutItsTotal(t *testing.T) {
	srv := startServer(t, openStore(t, fixtures()))
	type list struct {
		Calls []struct {
			CallID string `json:"call_id"`
		} `json:"calls"`
		Total  int `json:"total"`
		Counts *struct {
			Total int `json:"total"`
		} `json:"counts"`
	}
	var all list
	getJSON(t, srv, "/api/v1/calls", http.StatusOK, &all)
	if all.Total < 3 || len(all.Calls) != all.Total {
		t.Fatalf("fixtures: %d calls listed of %d, want a few", len(all.Calls), all.Total)
	}
	for _, tc := range []struct {
		query string
		total int
	}{
		{"total=false&limit=2", -1},
		{"total=false&limit=2&offset=1", -1},
		{"total=false", all.Total},
		{"total=true&limit=2", all.Total},
		{"total=false&limit=2&counts=true", all.Total},
	} {
		var v list
		getJSON(t, srv, "/api/v1/calls?"+tc.query, http.StatusOK, &v)
		if v.Total != tc.total {
			t.Errorf("%s: total %d, want %d", tc.query, v.Total, tc.total)
		}
		offset := 0
		if strings.Contains(tc.query, "offset=1") {
			offset = 1
		}
		for i, c := range v.Calls {
			if c.CallID != all.Calls[offset+i].CallID {
				t.Errorf("%s: row %d is %s, the full list has %s", tc.query, i, c.CallID, all.Calls[offset+i].CallID)
			}
		}
		if v.Counts != nil && v.Counts.Total != all.Total {
			t.Errorf("%s: counts total %d", tc.query, v.Counts.Total)
		}
	}
	var bad struct {
		Param string `json:"param"`
	}
	if getJSON(t, srv, "/api/v1/calls?total=2", http.StatusBadRequest, &bad); bad.Param != "total" {
		t.Errorf("total=2 refused naming %q", bad.Param)
	}
}
