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
