package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
)

// sseEvent is one event as a client parses it.
type sseEvent struct {
	id, name, data string
}

// sseStream reads events from a response body; comments are kept as
// events named ":" so that heartbeats can be seen.
type sseStream struct {
	r *bufio.Reader
}

// next returns the next event or comment, or io.EOF at the end of the
// stream.
func (s *sseStream) next() (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.name != "" || ev.data != "" {
				return ev, nil
			}
		case strings.HasPrefix(line, ":"):
			return sseEvent{name: ":", data: strings.TrimSpace(line[1:])}, nil
		default:
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "id":
				ev.id = v
			case "event":
				ev.name = v
			case "data":
				ev.data = v
			}
		}
	}
}

// eventsServer serves a hub over real HTTP on a loopback port (the server
// runs open there: no users).
func eventsServer(t *testing.T, h *Events) (*Server, *httptest.Server) {
	t.Helper()
	s := New(Config{Events: h}, nil, nil)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv
}

// connect opens GET /api/v1/events?query and waits until the hub has the
// client (its first comment comes after it subscribed).
func connect(t *testing.T, srv *httptest.Server, query string) (*sseStream, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/events?"+query, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET events?%s: %s %s", query, resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q, want text/event-stream", ct)
	}
	st := &sseStream{r: bufio.NewReader(resp.Body)}
	ev, err := st.next()
	if err != nil || ev.name != ":" || ev.data != "connected" {
		t.Fatalf("first event %+v (%v), want the connected comment", ev, err)
	}
	return st, resp
}

// eventCalls are three calls as correlate hands them to storage.
func eventCalls() []correlate.Call {
	t0 := time.Date(2024, 3, 5, 10, 20, 30, 0, time.UTC)
	return []correlate.Call{
		{CallID: "answered@a", FromUser: "alice", ToUser: "bob", SrcIP: netip.MustParseAddr("192.0.2.10"),
			DstIP: netip.MustParseAddr("198.51.100.20"), State: correlate.StateAnswered, FinalCode: 200,
			EndReason: correlate.EndCallerBye, Start: t0, End: t0.Add(time.Minute), Messages: 7, MOS: 4.2},
		{CallID: "failed@b", FromUser: "carol", ToUser: "dave", SrcIP: netip.MustParseAddr("2001:db8::10"),
			DstIP: netip.MustParseAddr("2001:db8::20"), State: correlate.StateFailed, FinalCode: 486,
			EndReason: correlate.EndBusy, Start: t0.Add(time.Hour), End: t0.Add(time.Hour + time.Second), Messages: 4},
		{CallID: "ringing@c", FromUser: "alice", ToUser: "erin", SrcIP: netip.MustParseAddr("192.0.2.10"),
			DstIP: netip.MustParseAddr("203.0.113.5"), State: correlate.StateNoFinal,
			EndReason: correlate.EndInProgress, Start: t0.Add(2 * time.Hour), End: t0.Add(2 * time.Hour), Messages: 1},
	}
}

func eventRegistration() correlate.Registration {
	t0 := time.Date(2024, 3, 5, 10, 20, 30, 0, time.UTC)
	return correlate.Registration{CallID: "reg@alice", AoR: "sip:alice@example.com", FinalCode: 200, Start: t0, End: t0,
		Messages: 4, SrcIP: netip.MustParseAddr("192.0.2.10"), Contact: "sip:alice@192.0.2.10:5060", Expires: 3600,
		Attempts: 2, Challenged: true, SucceededAt: t0}
}

func eventAlert() alert.Alert {
	return alert.Alert{ID: "a1", Rule: alert.RuleRegistrationStorm, Severity: "warning", Key: "global", State: alert.StateFiring,
		Start: time.Date(2024, 3, 5, 10, 21, 0, 0, time.UTC), Summary: "REGISTER storm"}
}

// drainAndClose waits until the handler took every queued event, then
// ends the streams as a server shutdown does, so the client reads to EOF.
func drainAndClose(t *testing.T, s *Server, h *Events) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		h.mu.Lock()
		queued := 0
		for cl := range h.clients {
			queued += len(cl.ch)
		}
		h.mu.Unlock()
		if queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still queued after 10 s", queued)
		}
	}
	s.closeOnce.Do(func() { close(s.closing) })
}

// readAll returns "kind key" for each event up to the end of the stream:
// the Call-ID of calls and registrations, the rule of alerts.
func readAll(t *testing.T, st *sseStream) []string {
	t.Helper()
	var got []string
	for {
		ev, err := st.next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.name == ":" {
			continue
		}
		var v struct {
			CallID string `json:"call_id"`
			Rule   string `json:"rule"`
		}
		if err := json.Unmarshal([]byte(ev.data), &v); err != nil {
			t.Fatalf("event %s: data %q is not JSON: %v", ev.name, ev.data, err)
		}
		if ev.id == "" {
			t.Errorf("event %s without id", ev.name)
		}
		got = append(got, ev.name+" "+v.CallID+v.Rule)
	}
}

func TestEventsStreamWhatTheFilterSelects(t *testing.T) {
	all := []string{"call answered@a", "call failed@b", "call ringing@c", "registration reg@alice", "alert " + alert.RuleRegistrationStorm}
	cases := []struct {
		name, query string
		want        []string
	}{
		{"a client without filter gets every call, registration and alert", "", all},
		{"state=failed gets the failed call, no registration, and alerts (selected by kind only)", "state=failed",
			[]string{"call failed@b", "alert " + alert.RuleRegistrationStorm}},
		{"an IPv6 address matches the caller", "ip=2001:db8::10&kinds=calls,registrations", []string{"call failed@b"}},
		{"an IPv4 address matches calls from or to it and registrations from it", "ip=192.0.2.10",
			[]string{"call answered@a", "call ringing@c", "registration reg@alice", "alert " + alert.RuleRegistrationStorm}},
		{"from_user matches case-insensitively, in calls and in the AoR", "from_user=ALI&kinds=calls,registrations",
			[]string{"call answered@a", "call ringing@c", "registration reg@alice"}},
		{"to_user selects the callee", "to_user=dav&kinds=calls", []string{"call failed@b"}},
		{"kinds=registrations gets only registrations", "kinds=registrations", []string{"registration reg@alice"}},
		{"kinds=alerts gets only alerts", "kinds=alerts", []string{"alert " + alert.RuleRegistrationStorm}},
		{"a time range selects calls by start", "from=2024-03-05T11:00:00Z&to=2024-03-05T12:00:00Z&kinds=calls",
			[]string{"call failed@b"}},
		{"final_code and end_reason select calls only", "final_code=486&end_reason=busy", []string{"call failed@b", "alert " + alert.RuleRegistrationStorm}},
		{"q matches a Call-ID", "q=RINGING&kinds=calls", []string{"call ringing@c"}},
		{"a CIDR prefix selects calls and registrations inside it", "ip=2001:db8::/64&kinds=calls,registrations", []string{"call failed@b"}},
		{"a wildcard is anchored as in the search", "to_user=*b&kinds=calls", []string{"call answered@a"}},
		{"final_class selects calls only", "final_class=4xx", []string{"call failed@b", "alert " + alert.RuleRegistrationStorm}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := NewEvents(EventsConfig{})
			s, srv := eventsServer(t, h)
			st, _ := connect(t, srv, tc.query)
			reg := eventRegistration()
			h.Publish(storage.Batch{Calls: eventCalls(), Registrations: []correlate.Registration{reg}})
			h.Alert(eventAlert())
			drainAndClose(t, s, h)
			got := readAll(t, st)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestEventsKeepNothingOfTheBatch(t *testing.T) {
	h := NewEvents(EventsConfig{})
	s, srv := eventsServer(t, h)
	st, _ := connect(t, srv, "kinds=calls")
	calls := eventCalls()[:1]
	h.Publish(storage.Batch{Calls: calls})
	// The runner reuses the batch's memory once Publish returns.
	calls[0].CallID = "overwritten"
	drainAndClose(t, s, h)
	if got := readAll(t, st); !slices.Equal(got, []string{"call answered@a"}) {
		t.Errorf("got %q, want the call as it was published", got)
	}
}

func TestEventsSlowClientIsDroppedAndCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := NewEvents(EventsConfig{Buffer: 4, Registerer: reg})
	_, srv := eventsServer(t, h)
	_, resp := connect(t, srv, "")             // never read again
	fast, _ := connect(t, srv, "kinds=alerts") // gets nothing but stays
	// A call per event of about 1 kB: the socket buffers take some
	// megabytes, then the handler blocks and the buffer of 4 fills.
	calls := make([]correlate.Call, 1000)
	for i := range calls {
		calls[i] = eventCalls()[0]
		calls[i].CallID = fmt.Sprintf("%d-%s", i, strings.Repeat("x", 800))
	}
	start := time.Now()
	for h.Clients() == 2 {
		if time.Since(start) > 20*time.Second {
			t.Fatal("a client that reads nothing is still connected after 20 s of publishing")
		}
		t0 := time.Now()
		h.Publish(storage.Batch{Calls: calls})
		if d := time.Since(t0); d > time.Second {
			t.Fatalf("Publish of 1000 calls took %v: it waits for clients", d)
		}
	}
	if got := metricValue(t, h.m.dropped); got != 1 {
		t.Errorf("sipscope_api_events_dropped_clients_total = %v, want 1", got)
	}
	if got := metricValue(t, h.m.clients); got != 1 {
		t.Errorf("sipscope_api_events_clients = %v, want 1 (the client that keeps up)", got)
	}
	// The dropped client's stream ends (after what the sockets held).
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Errorf("reading the dropped stream to its end: %v", err)
	}
	h.Alert(eventAlert())
	ev, err := fast.next()
	if err != nil || ev.name != EventAlert {
		t.Errorf("the client that keeps up got %+v (%v), want the alert", ev, err)
	}
}

func TestEventsAnswerErrorsAndLimits(t *testing.T) {
	t.Run("without a hub the route answers 501", func(t *testing.T) {
		_, srv := eventsServer(t, nil)
		resp, err := srv.Client().Get(srv.URL + "/api/v1/events")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("status %d, want 501", resp.StatusCode)
		}
	})
	for _, q := range []string{"kinds=calls,dialogs", "state=ringing", "ip=300.1.1.1", "from_user=" + strings.Repeat("a", 300),
		"final_code=1%27%20OR%201=1"} {
		t.Run("a bad filter "+q[:min(len(q), 24)]+" answers 400", func(t *testing.T) {
			_, srv := eventsServer(t, NewEvents(EventsConfig{}))
			resp, err := srv.Client().Get(srv.URL + "/api/v1/events?" + q)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Error, Param string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != http.StatusBadRequest || body.Param == "" {
				t.Errorf("status %d, body %+v; want 400 naming the parameter", resp.StatusCode, body)
			}
		})
	}
	t.Run("one client more than MaxClients answers 503", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		h := NewEvents(EventsConfig{MaxClients: 2, Registerer: reg})
		_, srv := eventsServer(t, h)
		connect(t, srv, "")
		connect(t, srv, "")
		resp, err := srv.Client().Get(srv.URL + "/api/v1/events")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("third client: status %d, want 503", resp.StatusCode)
		}
		if got := metricValue(t, h.m.refused); got != 1 {
			t.Errorf("refused clients counted %v, want 1", got)
		}
	})
	t.Run("an idle stream gets heartbeats", func(t *testing.T) {
		_, srv := eventsServer(t, NewEvents(EventsConfig{Heartbeat: 20 * time.Millisecond}))
		st, _ := connect(t, srv, "")
		for range 2 {
			ev, err := st.next()
			if err != nil || ev.name != ":" || ev.data != "heartbeat" {
				t.Fatalf("got %+v (%v), want a heartbeat comment", ev, err)
			}
		}
	})
	t.Run("a client that leaves is forgotten", func(t *testing.T) {
		h := NewEvents(EventsConfig{})
		_, srv := eventsServer(t, h)
		_, resp := connect(t, srv, "")
		resp.Body.Close()
		for deadline := time.Now().Add(10 * time.Second); h.Clients() != 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the hub still holds a client that closed its connection")
			}
			h.Publish(storage.Batch{Calls: eventCalls()}) // a write notices the closed peer
		}
	})
}

func TestEventsConfigRefusesNegativeBounds(t *testing.T) {
	for _, c := range []EventsConfig{{MaxClients: -1}, {Buffer: -1}, {Heartbeat: -time.Second}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v validated", c)
		}
	}
	if err := (EventsConfig{}).Validate(); err != nil {
		t.Errorf("the zero config: %v", err)
	}
}

// metricValue reads a counter or gauge.
func metricValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
