package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/correlate"
)

func TestCallTextShowsTheLadderThenEveryMessage(t *testing.T) {
	fs := fixtures()
	odd := buildFixture("odd@x", "mallory", "bob", correlate.StateFailed, 403, baseTime.Add(3*time.Hour), 0, []leg{
		{0, "192.0.2.66:5060", "198.51.100.20:5060", "udp", "INVITE", 0, "", 1, false},
		{time.Millisecond, "198.51.100.20:5060", "192.0.2.66:5060", "udp", "INVITE", 403, "Forbidden", 1, false},
	})
	// A message that would clear the screen of whoever cats the export.
	odd.msgs[0].Raw = append([]byte("INVITE sip:bob@x SIP/2.0\r\nSubject: \x1b[2Jhi\xff\r\n"), odd.msgs[0].Raw[len("INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"):]...)
	srv := startServer(t, openStore(t, append(fs, odd)))

	status, h, body := get(t, srv, "/api/v1/calls/"+url.PathEscape(answeredID)+"/text")
	if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, Content-Type %q: %s", status, h.Get("Content-Type"), body)
	}
	text := string(body)
	msgs := fs[0].msgs
	lines := strings.Split(text, "\n")
	if !strings.HasPrefix(lines[0], "Call-ID:") || !strings.Contains(lines[0], answeredID) {
		t.Errorf("first line %q does not name the call", lines[0])
	}
	// The ladder: one line per message in order, with time, both ends and
	// the start line.
	at := 0
	for i, m := range msgs {
		first := strings.SplitN(string(m.Raw), "\r\n", 2)[0]
		want := []string{fmt.Sprintf("%4d  ", i+1), m.TS.UTC().Format("2006-01-02 15:04:05.000000"), m.Src.String() + " ", "--> " + m.Dst.String(), first}
		found := false
		for ; at < len(lines); at++ {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(lines[at], w)
			}
			if ok {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("no ladder line for message %d (%q) in order:\n%s", i+1, want, text)
		}
	}
	if !strings.Contains(text, "    2.500000  ") {
		t.Errorf("the 200 OK's offset from the INVITE (2.5 s) is not shown:\n%s", text)
	}
	// Then each message in full, with LF line ends.
	for i, m := range msgs {
		full := strings.ReplaceAll(string(m.Raw), "\r\n", "\n")
		idx := strings.Index(text, fmt.Sprintf("==== %d  ", i+1))
		if idx < 0 || !strings.Contains(text[idx:], full) {
			t.Errorf("message %d is not shown in full after its header", i+1)
		}
	}

	_, _, oddBody := get(t, srv, "/api/v1/calls/odd@x/text")
	if bytes.ContainsAny(oddBody, "\x1b\xff\r") {
		t.Errorf("control bytes or invalid UTF-8 reached the text export:\n%q", oddBody)
	}
	if !strings.Contains(string(oddBody), "Subject: .[2Jhi.") {
		t.Errorf("the odd message is not shown with its control bytes as '.':\n%s", oddBody)
	}

	if status, _, body := get(t, srv, "/api/v1/calls/nope@x/text"); status != http.StatusNotFound {
		t.Errorf("an unknown call: %d %s, want 404", status, body)
	}
}

// exportServer serves the fixtures with the given export bounds.
func exportServer(t *testing.T, cfg api.Config, fs []fixture) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(api.New(cfg, openStore(t, fs), testLogger(t)).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func TestCallsPCAPExportsTheSearchInCaptureOrder(t *testing.T) {
	fs := fixtures()
	// A fourth call overlapping the answered one in time, so that the file
	// must interleave two calls' messages.
	overlap := buildFixture("overlap@y", "grace", "heidi", correlate.StateAnswered, 200, baseTime.Add(time.Second), 3.9, []leg{
		{0, "192.0.2.77:5060", "198.51.100.20:5060", "udp", "INVITE", 0, "", 1, true},
		{2 * time.Second, "198.51.100.20:5060", "192.0.2.77:5060", "udp", "INVITE", 200, "OK", 1, true},
	})
	fs = append(fs, overlap)
	srv := exportServer(t, api.Config{MaxExportCalls: 3, MaxExportBytes: 1 << 20}, fs)
	count := func(calls ...int) int {
		n := 0
		for _, i := range calls {
			n += len(fs[i].msgs)
		}
		return n
	}
	cases := []struct {
		name, query string
		status      int
		packets     int
		calls       int
	}{
		{"a filter that selects two calls exports their messages", "state=answered", 200, count(0, 3), 2},
		{"a filter on one address exports its calls", "ip=2001:db8::10", 200, count(1), 1},
		{"more matching calls than the bound is refused", "", 413, 0, 0},
		{"a page within the bound is exported", "limit=2", 200, count(1, 2), 2}, // newest first: cancelled, failed
		{"a page beyond the search is an empty file", "offset=10&limit=5", 200, 0, 0},
		{"a bad filter is refused", "state=ringing", 400, 0, 0},
		{"an injection attempt in a text filter is an empty file", "from_user=" + url.QueryEscape("x' OR 1=1 --"), 200, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := get(t, srv, "/api/v1/calls.pcap?"+tc.query)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if status != http.StatusOK {
				var e struct{ Error string }
				if json.Unmarshal(body, &e) != nil || e.Error == "" {
					t.Errorf("refusal without a JSON error: %s", body)
				}
				return
			}
			if h.Get("Content-Type") != "application/vnd.tcpdump.pcap" || h.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Errorf("Content-Type %q, Content-Length %q for %d bytes", h.Get("Content-Type"), h.Get("Content-Length"), len(body))
			}
			if h.Get("X-Sipscope-Calls") != strconv.Itoa(tc.calls) {
				t.Errorf("X-Sipscope-Calls %q, want %d", h.Get("X-Sipscope-Calls"), tc.calls)
			}
			pkts := readPCAP(t, body)
			if len(pkts) != tc.packets {
				t.Fatalf("%d packets, want %d", len(pkts), tc.packets)
			}
			for i := 1; i < len(pkts); i++ {
				if pkts[i].ts.Before(pkts[i-1].ts) {
					t.Fatalf("packet %d (%v) is before packet %d (%v)", i, pkts[i].ts, i-1, pkts[i-1].ts)
				}
			}
		})
	}
}

func TestCallsPCAPRefusesAFileLargerThanTheByteBound(t *testing.T) {
	// The answered call's 7 messages weigh about 3 kB of SIP.
	srv := exportServer(t, api.Config{MaxExportBytes: 2000}, fixtures())
	if status, _, body := get(t, srv, "/api/v1/calls.pcap?state=answered"); status != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413: %s", status, body)
	}
	// The failed call's 4 messages fit.
	if status, _, body := get(t, srv, "/api/v1/calls.pcap?state=failed"); status != http.StatusOK {
		t.Errorf("status %d, want 200: %s", status, body)
	}
}

func TestExportBoundsAreValidated(t *testing.T) {
	for _, c := range []api.Config{{MaxExportCalls: -1}, {MaxExportCalls: 1001}, {MaxExportBytes: -1}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v validated", c)
		}
	}
}
