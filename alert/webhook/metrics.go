package webhook

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Delivery results, the values of the result label.
const (
	resultSent    = "sent"    // the receiver accepted it
	resultRetried = "retried" // a try failed and another follows
	resultFailed  = "failed"  // every try failed, or the receiver rejected it: dropped
	resultDropped = "dropped" // the queue was full
)

type targetMetrics struct {
	sent, retried, failed, dropped prometheus.Counter
}

// newMetrics labels receivers by their index in the config and format,
// never by URL (webhook URLs often carry a secret token).
func newMetrics(reg prometheus.Registerer, targets []Target) ([]targetMetrics, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sipscope_alerts_webhook_total",
		Help: "Alert notifications per webhook receiver and result (sent, retried, failed, dropped).",
	}, []string{"target", "format", "result"})
	if reg != nil {
		if err := reg.Register(vec); err != nil {
			return nil, err
		}
	}
	out := make([]targetMetrics, len(targets))
	for i, t := range targets {
		l := func(r string) prometheus.Counter { return vec.WithLabelValues(strconv.Itoa(i), t.Format, r) }
		out[i] = targetMetrics{sent: l(resultSent), retried: l(resultRetried), failed: l(resultFailed), dropped: l(resultDropped)}
	}
	return out, nil
}
