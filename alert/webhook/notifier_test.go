package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/sipscope/sipscope/alert"
)

// receiver is a local HTTP server recording what it is sent; it answers
// with status (200 when 0).
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	srv    *httptest.Server
}

func newReceiver(t *testing.T, status int) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s with Content-Type %q", req.Method, req.Header.Get("Content-Type"))
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func (r *receiver) body(i int) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[i]
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func value(c prometheus.Counter) float64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		panic(err)
	}
	return d.Counter.GetValue()
}

var sample = alert.Alert{
	ID: "00c0ffee00c0ffee", Rule: alert.RuleScanner, Severity: alert.SeverityWarning, Key: "source 203.0.113.9",
	State: alert.StateResolved, Start: time.Date(2026, 3, 2, 9, 10, 0, 0, time.UTC), End: time.Date(2026, 3, 2, 9, 15, 10, 0, time.UTC),
	Summary:       "Source 203.0.113.9 sent 500 requests to about 504 distinct users.",
	Figures:       map[string]float64{"distinct_users": 504},
	Thresholds:    map[string]float64{"min_distinct_users": 100},
	TopOffenders:  []alert.Offender{{Kind: "user_agent", Value: "friendly-scanner", Count: 500}},
	SampleCallIDs: []string{"scan-1", "scan-2"},
}

func TestEachFormatReachesItsReceiverAndAFailingOneIsRetriedThenDropped(t *testing.T) {
	// Registered first, so it runs after the receivers' cleanups.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	generic, slack, am, failing := newReceiver(t, 0), newReceiver(t, 0), newReceiver(t, http.StatusNoContent), newReceiver(t, http.StatusServiceUnavailable)
	cfg := Config{
		Targets: []Target{
			{URL: generic.srv.URL}, {URL: slack.srv.URL, Format: FormatSlack},
			{URL: am.srv.URL + "/api/v2/alerts", Format: FormatAlertmanager}, {URL: failing.srv.URL},
		},
		MaxAttempts: 3, Backoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
	}.WithDefaults()
	reg := prometheus.NewRegistry()
	n, err := New(cfg, nil, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- n.Run(ctx) }()
	n.Alert(sample)

	waitFor(t, "the three good receivers", func() bool { return generic.count() == 1 && slack.count() == 1 && am.count() == 1 })
	waitFor(t, "the failing receiver's tries", func() bool { return value(n.metrics[3].failed) == 1 })
	if got := failing.count(); got != 3 {
		t.Errorf("failing receiver got %d tries, want 3", got)
	}
	if r := value(n.metrics[3].retried); r != 2 {
		t.Errorf("retried %v, want 2", r)
	}
	for i := 0; i < 3; i++ {
		if s := value(n.metrics[i].sent); s != 1 {
			t.Errorf("target %d sent %v", i, s)
		}
	}

	var g alert.Alert
	if err := json.Unmarshal(generic.body(0), &g); err != nil || g.ID != sample.ID || !g.End.Equal(sample.End) || g.Summary != sample.Summary {
		t.Errorf("generic body %s (%v)", generic.body(0), err)
	}
	var s struct{ Text string }
	if err := json.Unmarshal(slack.body(0), &s); err != nil || !strings.Contains(s.Text, "[RESOLVED] scanner source 203.0.113.9") || !strings.Contains(s.Text, sample.Summary) {
		t.Errorf("slack body %s (%v)", slack.body(0), err)
	}
	var ams []struct {
		Labels      map[string]string
		Annotations map[string]string
		StartsAt    string
		EndsAt      string
	}
	if err := json.Unmarshal(am.body(0), &ams); err != nil || len(ams) != 1 {
		t.Fatalf("alertmanager body %s (%v)", am.body(0), err)
	}
	if a := ams[0]; a.Labels["alertname"] != "scanner" || a.Labels["severity"] != "warning" || a.Labels["key"] != sample.Key ||
		a.Annotations["summary"] != sample.Summary || a.StartsAt != "2026-03-02T09:10:00Z" || a.EndsAt != "2026-03-02T09:15:10Z" {
		t.Errorf("alertmanager alert %+v", a)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestAFullQueueDropsAndCountsWithoutBlocking(t *testing.T) {
	r := newReceiver(t, 0)
	n, err := New(Config{Targets: []Target{{URL: r.srv.URL}}, QueueSize: 2}.WithDefaults(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Nobody runs the notifier: the queue fills, the caller never waits.
	for range 5 {
		n.Alert(sample)
	}
	if d := value(n.metrics[0].dropped); d != 3 {
		t.Errorf("dropped %v, want 3", d)
	}
	// Run delivers what was queued; a cancelled Run drains it too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if c := r.count(); c != 2 {
		t.Errorf("receiver got %d, want the 2 queued", c)
	}
}

func TestARejectingReceiverIsNotRetried(t *testing.T) {
	r := newReceiver(t, http.StatusBadRequest)
	n, err := New(Config{Targets: []Target{{URL: r.srv.URL}}, Backoff: time.Millisecond, MaxBackoff: time.Millisecond}.WithDefaults(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.Alert(sample)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = n.Run(ctx)
	if c := r.count(); c != 1 || value(n.metrics[0].failed) != 1 {
		t.Errorf("tries %d, failed %v", c, value(n.metrics[0].failed))
	}
	if !errors.Is(&statusError{code: 400, permanent: true}, ErrRejected) || !errors.Is(&statusError{code: 503}, ErrStatus) {
		t.Error("status errors do not wrap the sentinels")
	}
}

func TestConfigNamesTheBadField(t *testing.T) {
	tests := []struct {
		name, field string
		cfg         Config
	}{
		{"a URL must be http or https", "alert_webhooks[0].url", Config{Targets: []Target{{URL: "ftp://x"}}}},
		{"a format is json, slack or alertmanager", "alert_webhooks[0].format", Config{Targets: []Target{{URL: "http://x", Format: "teams"}}}},
		{"the back-off is ordered", "Backoff", Config{Backoff: time.Minute, MaxBackoff: time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.WithDefaults().Validate()
			if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %v, want one naming %s", err, tc.field)
			}
		})
	}
	if err := (Config{Targets: []Target{{URL: "https://hooks.slack.com/services/x", Format: FormatSlack}}}).WithDefaults().Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}
