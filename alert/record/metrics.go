package record

import "github.com/prometheus/client_golang/prometheus"

// Results, the values of the result label.
const (
	resultWritten = "written" // stored
	resultRetried = "retried" // a write failed and another try follows
	resultFailed  = "failed"  // every try failed: dropped
	resultDropped = "dropped" // the queue was full
)

type metrics struct {
	written, retried, failed, dropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (metrics, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sipscope_alerts_stored_total",
		Help: "Alert transitions handed to the store, by result (written, retried, failed, dropped).",
	}, []string{"result"})
	if reg != nil {
		if err := reg.Register(vec); err != nil {
			return metrics{}, err
		}
	}
	return metrics{written: vec.WithLabelValues(resultWritten), retried: vec.WithLabelValues(resultRetried),
		failed: vec.WithLabelValues(resultFailed), dropped: vec.WithLabelValues(resultDropped)}, nil
}
