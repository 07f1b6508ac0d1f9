package alert

import "github.com/prometheus/client_golang/prometheus"

// metrics are the engine's Prometheus series. Children are resolved once,
// so transitions and evictions do no label lookups.
type metrics struct {
	firing      *prometheus.GaugeVec
	total       *prometheus.CounterVec
	evictions   *prometheus.CounterVec
	historyDrop prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		firing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sipscope_alerts_firing",
			Help: "Alerts firing now, by rule.",
		}, []string{"rule"}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sipscope_alerts_total",
			Help: "Alerts that started firing, by rule.",
		}, []string{"rule"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sipscope_alerts_evictions_total",
			Help: "Keys evicted from the alert engine's capped tables, by table.",
		}, []string{"table"}),
		historyDrop: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sipscope_alerts_history_dropped_total",
			Help: "Resolved alerts forgotten because more than max_alerts were kept.",
		}),
	}
	for _, r := range Rules() {
		m.firing.WithLabelValues(r)
		m.total.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.firing, m.total, m.evictions, m.historyDrop} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
