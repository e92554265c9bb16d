package auth

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts credential checks for the operator's dashboards: never an identifier, an
// address or anything about a person, only what kind of check ended how.
type Metrics struct {
	checks    *prometheus.CounterVec
	throttles *prometheus.CounterVec
	reports   *prometheus.CounterVec
}

// NewMetrics registers the counters on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carnet_auth_checks_total", Help: "Credential checks by kind (password, code, activation, reset) and result.",
		}, []string{"check", "result"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carnet_auth_throttled_total", Help: "Credential checks refused because their key was waiting out a delay.",
		}, []string{"check"}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carnet_auth_guessing_reports_total", Help: "Rate-limit keys that crossed a reporting threshold (suspected guessing), by key class.",
		}, []string{"class"}),
	}
	reg.MustRegister(m.checks, m.throttles, m.reports)
	return m
}

func (m *Metrics) check(check string, ok bool) {
	if m == nil {
		return
	}
	result := "failure"
	if ok {
		result = "success"
	}
	m.checks.WithLabelValues(check, result).Inc()
}

func (m *Metrics) throttled(check string) {
	if m != nil {
		m.throttles.WithLabelValues(check).Inc()
	}
}

func (m *Metrics) reported(class string) {
	if m != nil {
		m.reports.WithLabelValues(class).Inc()
	}
}
