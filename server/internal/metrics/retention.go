package metrics

import "github.com/prometheus/client_golang/prometheus"

// RetentionKinds are the histories the retention job prunes, the values
// of steward_retention_deleted_rows_total's kind label.
var RetentionKinds = []string{"changes", "transitions", "alerts", "notifications", "audit"}

func (m *Metrics) registerRetention() {
	m.RetentionDeleted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "steward_retention_deleted_rows_total",
		Help: "History rows deleted by retention, by kind: changes, transitions, alerts, notifications or audit.",
	}, []string{"kind"})
	m.RetentionRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "steward_retention_runs_total",
		Help: "Retention runs by result: ok, error, or locked (another server sharing the database was running one).",
	}, []string{"result"})
	m.Registry.MustRegister(m.RetentionDeleted, m.RetentionRuns)
	for _, k := range RetentionKinds {
		m.RetentionDeleted.WithLabelValues(k)
	}
	for _, r := range []string{"ok", "error", "locked"} {
		m.RetentionRuns.WithLabelValues(r)
	}
}
