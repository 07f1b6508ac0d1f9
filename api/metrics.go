package api

import "github.com/prometheus/client_golang/prometheus"

// metrics are the API's counters. They exist whether or not a registerer
// was given, so that the code counting never checks.
type metrics struct {
	logins    *prometheus.CounterVec // result
	denied    *prometheus.CounterVec // reason
	evictions *prometheus.CounterVec // table
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sipscope_api_logins_total",
			Help: "Login attempts by result (ok, bad_credentials, rate_limited, bad_request).",
		}, []string{"result"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sipscope_api_denied_total",
			Help: "Requests refused by reason (unauthenticated, forbidden, csrf, host, query).",
		}, []string{"reason"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sipscope_api_evictions_total",
			Help: "Entries dropped from a full bounded table (sessions, login_ip, login_user).",
		}, []string{"table"}),
	}
	if reg != nil {
		reg.MustRegister(m.logins, m.denied, m.evictions)
	}
	return m
}

// eventMetrics are the live event hub's (Events) counters.
type eventMetrics struct {
	dropped   prometheus.Counter
	refused   prometheus.Counter
	clients   prometheus.Gauge
	published *prometheus.CounterVec // kind
}

func newEventMetrics(reg prometheus.Registerer) *eventMetrics {
	m := &eventMetrics{
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sipscope_api_events_dropped_clients_total",
			Help: "Live event clients disconnected because they let their buffer fill.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sipscope_api_events_refused_clients_total",
			Help: "Live event streams refused because the most allowed were open.",
		}),
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sipscope_api_events_clients",
			Help: "Live event streams open.",
		}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sipscope_api_events_published_total",
			Help: "Live events sent to at least one client, by kind (call, registration, alert).",
		}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.dropped, m.refused, m.clients, m.published)
	}
	return m
}
