package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/steward-project/steward/server/internal/limits"
)

// registerEdge creates and registers the HTTP edge's metrics.
func (m *Metrics) registerEdge() {
	m.HTTPRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "steward_http_refused_total",
		Help: "Connections and requests refused at the HTTP edge, by reason: conn_cap and ip_cap (503 at accept), agent_cap (503 to an agent over its share of the cap), rate_ip and rate_credential (429).",
	}, []string{"reason"})
	m.HTTPConnections = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "steward_http_connections",
		Help: "Open HTTP connections (agent WebSockets included), by state: authenticated or unauthenticated.",
	}, []string{"state"})
	m.HTTPMaxConnections = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "steward_http_max_connections",
		Help: "The cap on open HTTP connections (limits.max_connections, or derived from the open files limit).",
	})
	m.Registry.MustRegister(m.HTTPRefused, m.HTTPConnections, m.HTTPMaxConnections)
	for _, r := range limits.Reasons {
		m.HTTPRefused.WithLabelValues(r)
	}
	for _, s := range []string{"authenticated", "unauthenticated"} {
		m.HTTPConnections.WithLabelValues(s)
	}
}
