package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
)

var apiTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

func callIDs(l api.CallListView) []string {
	ids := make([]string, 0, len(l.Calls))
	for _, c := range l.Calls {
		ids = append(ids, c.CallID)
	}
	return ids
}

// TestAPI runs every store-backed check against one real embedded store:
// chDB allows a single session per process, and opening it once keeps the
// suite fast.
func TestAPI(t *testing.T) {
	fs := fixtures()
	srv := startServer(t, openStore(t, fs))

	t.Run("listing filters select the matching calls", func(t *testing.T) { testListFilters(t, srv) })
	t.Run("call JSON uses the documented field names and formats", func(t *testing.T) { testCallJSONShape(t, srv, fs) })
	t.Run("bad query parameters are refused naming the parameter", func(t *testing.T) { testBadParams(t, srv) })
	t.Run("a call comes back with its messages in order and its streams", func(t *testing.T) { testGetCall(t, srv, fs) })
	t.Run("an unknown call is 404 for details and pcap", func(t *testing.T) { testUnknownCall(t, srv) })
	t.Run("the pcap export carries every message intact", func(t *testing.T) { testPCAPOverHTTP(t, srv, fs) })
	t.Run("health check answers ok", func(t *testing.T) { testHealthz(t, srv) })
	t.Run("unknown routes and methods answer JSON errors", func(t *testing.T) { testUnknownRoutes(t, srv) })
}

func testListFilters(t *testing.T, srv *httptest.Server) {
	tm := func(d time.Duration) string { return baseTime.Add(d).Format(time.RFC3339Nano) }
	tests := []struct {
		name      string
		query     url.Values
		want      []string
		wantTotal int
	}{
		{"no filter lists every call newest first", url.Values{}, []string{cancelledID, failedID, answeredID}, 3},
		{"state keeps only failed calls", url.Values{"state": {"failed"}}, []string{failedID}, 1},
		{"free text matches the caller case-insensitively", url.Values{"q": {"ALIC"}}, []string{answeredID}, 1},
		{"free text matches part of the Call-ID", url.Values{"q": {"38482762"}}, []string{cancelledID}, 1},
		{"from_user matches a substring of the caller", url.Values{"from_user": {"aro"}}, []string{failedID}, 1},
		{"to_user matches a substring of the callee", url.Values{"to_user": {"fran"}}, []string{cancelledID}, 1},
		{"call_id matches a Call-ID with slash and plus exactly", url.Values{"call_id": {answeredID}}, []string{answeredID}, 1},
		{"ip matches the IPv6 callee", url.Values{"ip": {"2001:db8::20"}}, []string{failedID}, 1},
		{"ip matches the IPv4 caller", url.Values{"ip": {"192.0.2.10"}}, []string{answeredID}, 1},
		{"final_code selects 487", url.Values{"final_code": {"487"}}, []string{cancelledID}, 1},
		{"end_reason selects busy calls", url.Values{"end_reason": {"busy"}}, []string{failedID}, 1},
		{"end_reason selects calls the caller hung up", url.Values{"end_reason": {"caller_bye"}}, []string{answeredID}, 1},
		{"end_reason and state combine", url.Values{"end_reason": {"cancelled"}, "state": {"failed"}}, []string{}, 0},
		{"from and to bound the start time", url.Values{"from": {tm(30 * time.Minute)}, "to": {tm(90 * time.Minute)}}, []string{failedID}, 1},
		{"from alone keeps later calls", url.Values{"from": {tm(time.Hour)}}, []string{cancelledID, failedID}, 2},
		{"limit and offset page through all matches", url.Values{"limit": {"1"}, "offset": {"1"}}, []string{failedID}, 3},
		{"filters combine", url.Values{"state": {"answered"}, "q": {"bob"}}, []string{answeredID}, 1},
		{"a filter matching nothing gives an empty list", url.Values{"q": {"nobody-here"}}, []string{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got api.CallListView
			getJSON(t, srv, "/api/v1/calls?"+tt.query.Encode(), http.StatusOK, &got)
			if ids := callIDs(got); !slices.Equal(ids, tt.want) {
				t.Errorf("calls %q, want %q", ids, tt.want)
			}
			if got.Total != tt.wantTotal {
				t.Errorf("total %d, want %d", got.Total, tt.wantTotal)
			}
			if got.Calls == nil {
				t.Errorf("calls is null, want an array")
			}
		})
	}
}

func testCallJSONShape(t *testing.T, srv *httptest.Server, fs []fixture) {
	var raw struct {
		Calls []map[string]any `json:"calls"`
		Total *int             `json:"total"`
	}
	getJSON(t, srv, "/api/v1/calls?call_id="+url.QueryEscape(answeredID), http.StatusOK, &raw)
	if raw.Total == nil || len(raw.Calls) != 1 {
		t.Fatalf("want total and one call, got %+v", raw)
	}
	c := raw.Calls[0]
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"answer_ms", "bye_by", "call_id", "cancel_seen", "diagnosis", "dst_ip", "duration_ms", "end", "end_reason",
		"final_code", "final_text", "findings", "finished", "forked", "from_user", "hold", "info_dtmf", "last_update", "linked_call_ids",
		"malformed", "messages", "mos", "nodes", "partial", "pdd_ms", "q850_cause", "q850_text", "re_invites", "reason_header", "retransmissions", "ring_ms",
		"setup_ms", "src_ip", "start", "state", "to_user", "user_agent", "x_call_id"}
	if !slices.Equal(keys, want) {
		t.Fatalf("call keys %q, want %q", keys, want)
	}
	f := fs[0]
	wantValues := map[string]any{
		"call_id": answeredID, "from_user": "alice", "to_user": "bob", "state": "answered",
		"final_code": 200.0, "messages": float64(len(f.msgs)), "mos": 4.2,
		"src_ip": "192.0.2.10", "dst_ip": "198.51.100.20",
		"start": "2024-03-05T10:20:30.123456Z", "end": "2024-03-05T10:20:44.132456Z",
		"end_reason": "caller_bye", "bye_by": "caller", "q850_cause": 16.0, "reason_header": `Q.850;cause=16;text="Normal call clearing"`,
		"pdd_ms": 340.0, "ring_ms": 2160.0, "answer_ms": 2500.0, "duration_ms": 11500.001,
		"retransmissions": 1.0, "re_invites": 2.0, "hold": true, "forked": false, "user_agent": "Linphone/5.2",
		"x_call_id": "leg-a@sbc.example.com", "last_update": "2024-03-05T10:20:44.132456Z", "finished": true,
		"final_text": "OK", "q850_text": "Normal call clearing", "partial": false, "cancel_seen": false,
	}
	// What diagnose wrote comes back through the store.
	if l, ok := c["findings"].([]any); !ok || len(l) != 0 {
		t.Errorf("findings = %#v, want an empty list", c["findings"])
	}
	const diagnosis = "alice at 192.0.2.10 called bob at 198.51.100.20, answered after 2.5 s; the caller hung up after 11.5 s of talk " +
		"(Q.850 cause 16, Normal call clearing). Audio flowed both ways; MOS 4.20 (good)."
	if c["diagnosis"] != diagnosis {
		t.Errorf("diagnosis = %q, want %q", c["diagnosis"], diagnosis)
	}
	if l, ok := c["linked_call_ids"].([]any); !ok || len(l) != 1 || l[0] != "leg-a@sbc.example.com" {
		t.Errorf("linked_call_ids = %#v", c["linked_call_ids"])
	}
	for k, v := range wantValues {
		if c[k] != v {
			t.Errorf("%s = %#v, want %#v", k, c[k], v)
		}
	}
}

func testBadParams(t *testing.T, srv *httptest.Server) {
	tests := []struct {
		name  string
		query string
		param string
	}{
		{"a date that is not RFC 3339 is refused", "from=2024-03-05", "from"},
		{"a free-form time is refused", "to=yesterday", "to"},
		{"to before from is refused", "from=2024-03-05T12:00:00Z&to=2024-03-05T11:00:00Z", "to"},
		{"an invalid IP is refused", "ip=999.1.1.1", "ip"},
		{"an unknown state is refused", "state=ringing", "state"},
		{"an unknown end reason is refused", "end_reason=hangup", "end_reason"},
		{"a non-numeric final code is refused", "final_code=OK", "final_code"},
		{"a final code outside 100-699 is refused", "final_code=99", "final_code"},
		{"a zero limit is refused", "limit=0", "limit"},
		{"a limit above the maximum is refused", "limit=1001", "limit"},
		{"a negative offset is refused", "offset=-1", "offset"},
		{"an over-long search is refused", "q=" + strings.Repeat("x", 300), "q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body struct {
				Error string `json:"error"`
				Param string `json:"param"`
			}
			getJSON(t, srv, "/api/v1/calls?"+tt.query, http.StatusBadRequest, &body)
			if body.Param != tt.param || !strings.Contains(body.Error, tt.param) {
				t.Errorf("error %q (param %q), want it to name %q", body.Error, body.Param, tt.param)
			}
		})
	}
}

func testGetCall(t *testing.T, srv *httptest.Server, fs []fixture) {
	for _, f := range fs {
		t.Run(f.call.CallID, func(t *testing.T) {
			var d api.CallDetailView
			getJSON(t, srv, "/api/v1/calls/"+url.PathEscape(f.call.CallID), http.StatusOK, &d)
			if !reflect.DeepEqual(d.Call, api.NewCallView(f.call)) {
				t.Errorf("call %+v, want %+v", d.Call, api.NewCallView(f.call))
			}
			if len(d.Messages) != len(f.msgs) {
				t.Fatalf("%d messages, want %d", len(d.Messages), len(f.msgs))
			}
			for i, m := range f.msgs {
				got := d.Messages[i]
				want := api.MessageView{
					TS: m.TS.UTC().Format("2006-01-02T15:04:05.000000Z"), Src: m.Src.String(), Dst: m.Dst.String(),
					Transport: m.Transport, IsRequest: m.IsRequest, Method: m.Method, StatusCode: m.StatusCode,
					Reason: m.Reason, CSeq: m.CSeq, CSeqMethod: m.CSeqMethod, Raw: string(m.Raw),
				}
				if got != want {
					t.Errorf("message %d:\n got %+v\nwant %+v", i, got, want)
				}
				if !apiTime.MatchString(got.TS) {
					t.Errorf("message %d ts %q is not RFC 3339 UTC with microseconds", i, got.TS)
				}
			}
			if len(d.RTPStreams) != len(f.streams) {
				t.Fatalf("%d streams, want %d", len(d.RTPStreams), len(f.streams))
			}
			for i, s := range f.streams {
				if got, want := d.RTPStreams[i], api.NewStreamView(s); !reflect.DeepEqual(got, want) {
					t.Errorf("stream %d:\n got %+v\nwant %+v", i, got, want)
				}
			}
			if d.RTPStreams == nil || d.Messages == nil {
				t.Errorf("null arrays in %+v", d)
			}
		})
	}

	// The raw JSON names of messages and streams, which the UI depends on.
	var raw struct {
		Messages   []map[string]any `json:"messages"`
		RTPStreams []map[string]any `json:"rtp_streams"`
	}
	getJSON(t, srv, "/api/v1/calls/"+url.PathEscape(answeredID), http.StatusOK, &raw)
	for _, k := range []string{"ts", "src", "dst", "transport", "method", "status_code", "reason", "cseq", "raw"} {
		if _, ok := raw.Messages[0][k]; !ok {
			t.Errorf("message JSON lacks %q: %v", k, raw.Messages[0])
		}
	}
	for _, k := range []string{"ssrc", "src", "dst", "payload", "packets", "lost", "min_delta_ms", "mean_delta_ms",
		"max_delta_ms", "min_jitter_ms", "mean_jitter_ms", "max_jitter_ms", "mos", "call_id"} {
		if _, ok := raw.RTPStreams[0][k]; !ok {
			t.Errorf("stream JSON lacks %q: %v", k, raw.RTPStreams[0])
		}
	}
	for _, k := range []string{"late", "effective_lost", "jitter_buffer", "jitter_buffer_ms", "burst_r", "rtt_ms",
		"r_factor", "rtcp", "mos_timeline", "dtmf"} {
		if _, ok := raw.RTPStreams[0][k]; !ok {
			t.Errorf("stream JSON lacks %q: %v", k, raw.RTPStreams[0])
		}
	}
	checkQualityJSON(t, raw.RTPStreams)
	if got := raw.RTPStreams[0]["ssrc"]; got != "0x1A2B3C4D" {
		t.Errorf("ssrc %v, want 0x1A2B3C4D", got)
	}
	if got := raw.RTPStreams[1]["ssrc"]; got != "0x0000BEEF" {
		t.Errorf("ssrc %v, want 0x0000BEEF", got)
	}
}

func testUnknownCall(t *testing.T, srv *httptest.Server) {
	for _, path := range []string{"/api/v1/calls/no-such-call@example.com", "/api/v1/calls/no-such-call@example.com/pcap"} {
		var body struct{ Error string }
		getJSON(t, srv, path, http.StatusNotFound, &body)
		if body.Error == "" {
			t.Errorf("GET %s: empty error", path)
		}
	}
}

func testHealthz(t *testing.T, srv *httptest.Server) {
	for _, path := range []string{"/healthz", "/api/v1/healthz"} {
		var body map[string]string
		getJSON(t, srv, path, http.StatusOK, &body)
		if len(body) != 1 || body["status"] != "ok" {
			t.Errorf("GET %s: %v, want {status: ok}", path, body)
		}
	}
}

func testUnknownRoutes(t *testing.T, srv *httptest.Server) {
	var body struct{ Error string }
	getJSON(t, srv, "/api/v1/nothing", http.StatusNotFound, &body)
	// Without a UI configured, / is not served either.
	getJSON(t, srv, "/", http.StatusNotFound, &body)

	resp, err := srv.Client().Post(srv.URL+"/api/v1/calls", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/v1/calls: %d, want 405", resp.StatusCode)
	}
}

// TestStoreFailureIs500 uses a store that was closed: every read fails, and
// the API must answer 500 without leaking the storage error text.
func TestStoreFailureIs500(t *testing.T) {
	st, err := embedded.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatalf("embedded.Open: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, st)
	for _, path := range []string{"/api/v1/calls", "/api/v1/calls/x@y", "/api/v1/calls/x@y/pcap"} {
		var body struct{ Error string }
		getJSON(t, srv, path, http.StatusInternalServerError, &body)
		if body.Error != "storage unavailable" {
			t.Errorf("GET %s: error %q, want %q", path, body.Error, "storage unavailable")
		}
	}
}

func TestPCAPFilenameKeepsOnlySafeCharacters(t *testing.T) {
	tests := []struct{ callID, want string }{
		{"abc123@host.example.com", "abc123@host.example.com.pcap"},
		{"a84b4c76e66710/x+y@pc33", "a84b4c76e66710_x_y@pc33.pcap"},
		{`evil"; filename=x.exe`, "evil___filename_x.exe.pcap"},
		{"../../etc/passwd", "_._.._etc_passwd.pcap"},
		{"", "call.pcap"},
		{"\r\nSet-Cookie: x", "__Set-Cookie__x.pcap"},
		{strings.Repeat("a", 300), strings.Repeat("a", 120) + ".pcap"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.callID), func(t *testing.T) {
			if got := api.PCAPFilename(tt.callID); got != tt.want {
				t.Errorf("PCAPFilename(%q) = %q, want %q", tt.callID, got, tt.want)
			}
		})
	}
}

// Zero values must encode without placeholders: no "invalid IP", no
// "0001-01-01" times, and empty arrays rather than null.
func TestViewsOfEmptyRecordsHaveNoPlaceholders(t *testing.T) {
	b, err := json.Marshal(api.NewCallDetailView(storage.CallDetail{}))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, bad := range []string{"invalid", "0001-01-01", "null"} {
		if strings.Contains(got, bad) {
			t.Errorf("%s contains %q", got, bad)
		}
	}
	for _, want := range []string{`"messages":[]`, `"rtp_streams":[]`, `"src_ip":""`, `"start":""`, `"linked_call_ids":[]`, `"last_update":""`} {
		if !strings.Contains(got, want) {
			t.Errorf("%s lacks %s", got, want)
		}
	}
	if v := api.NewStreamView(quality.Stream{}); v.SSRC != "0x00000000" || v.Src != "" {
		t.Errorf("zero stream view %+v", v)
	}
	b, err = json.Marshal(api.NewStreamView(quality.Stream{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"mos_timeline":[]`, `"dtmf":[]`, `"rtcp":{"reports":0,`, `"jitter_buffer":""`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	if strings.Contains(string(b), "null") {
		t.Errorf("zero stream view has null: %s", b)
	}
}

// checkQualityJSON checks the JSON of the answered call's streams: the
// first has a timeline, DTMF and RTCP, the second none of them.
func checkQualityJSON(t *testing.T, streams []map[string]any) {
	t.Helper()
	tl, ok := streams[0]["mos_timeline"].([]any)
	if !ok || len(tl) != 3 {
		t.Fatalf("mos_timeline %v, want 3 intervals", streams[0]["mos_timeline"])
	}
	iv := tl[1].(map[string]any)
	want := map[string]any{"start_ms": 5000.0, "duration_ms": 5000.0, "packets": 245.0, "lost": 2.0, "late": 3.0,
		"loss_pct": 2.0, "burst_r": 1.4, "jitter_buffer_ms": 45.0, "mos": 3.7}
	if !reflect.DeepEqual(iv, want) {
		t.Errorf("interval JSON %v\nwant %v", iv, want)
	}
	dtmf, ok := streams[0]["dtmf"].([]any)
	if !ok || len(dtmf) != 2 {
		t.Fatalf("dtmf %v, want 2 events", streams[0]["dtmf"])
	}
	ev := dtmf[1].(map[string]any)
	wantEv := map[string]any{"digit": "#", "start": "2024-03-05T10:20:37.123457Z", "duration_ms": 200.125, "volume": 8.0}
	if !reflect.DeepEqual(ev, wantEv) {
		t.Errorf("DTMF JSON %v\nwant %v", ev, wantEv)
	}
	if s, _ := ev["start"].(string); !apiTime.MatchString(s) {
		t.Errorf("DTMF start %q is not RFC 3339 UTC with microseconds", s)
	}
	rtcp, _ := streams[0]["rtcp"].(map[string]any)
	var keys []string
	for k := range rtcp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	wantKeys := []string{"bye", "cname", "cumulative_lost", "fraction_lost_pct", "jitter_ms", "max_fraction_lost_pct",
		"max_jitter_ms", "max_rtt_ms", "mean_rtt_ms", "receiver_reports", "reports", "rtt_ms", "rtt_samples",
		"sender_octets", "sender_packets", "sender_reports", "xr"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("rtcp keys %q\nwant %q", keys, wantKeys)
	}
	if xr, _ := rtcp["xr"].(map[string]any); xr["mos_lq"] != 4.1 || xr["mos_cq"] != -1.0 || xr["round_trip_ms"] != 97.0 {
		t.Errorf("rtcp.xr %v", rtcp["xr"])
	}
	if streams[0]["r_factor"] != 84.125 || streams[0]["jitter_buffer"] != "adaptive" || streams[0]["rtt_ms"] != 96.25 {
		t.Errorf("r_factor %v, jitter_buffer %v, rtt_ms %v", streams[0]["r_factor"], streams[0]["jitter_buffer"], streams[0]["rtt_ms"])
	}
	// A stream without them has empty arrays, not null, and reports 0.
	if tl, ok := streams[1]["mos_timeline"].([]any); !ok || len(tl) != 0 {
		t.Errorf("second stream mos_timeline %#v, want []", streams[1]["mos_timeline"])
	}
	if d, ok := streams[1]["dtmf"].([]any); !ok || len(d) != 0 {
		t.Errorf("second stream dtmf %#v, want []", streams[1]["dtmf"])
	}
	if r, _ := streams[1]["rtcp"].(map[string]any); r["reports"] != 0.0 {
		t.Errorf("second stream rtcp %v", streams[1]["rtcp"])
	}
}
