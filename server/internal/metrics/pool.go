package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PoolStats is what the database pool reports at a scrape: plain numbers,
// so that this package needs nothing from the store. Its fields are those
// of store.PoolStats, which converts to it.
type PoolStats struct {
	MaxConns     int64
	InUse, Idle  int64
	Acquires     int64
	HasAcquires  bool
	AcquireWaits int64
	AcquireWait  time.Duration
}

// RegisterPool exports the database pool's statistics (steward_db_*),
// calling read at every scrape. read must only read counters the pool
// keeps in memory: a scrape must never cost a query.
func (m *Metrics) RegisterPool(read func() PoolStats) {
	m.Registry.MustRegister(newPoolCollector(read))
}

// poolCollector turns one PoolStats reading into the steward_db_* series.
type poolCollector struct {
	read                                     func() PoolStats
	conns, max, acquires, waits, waitSeconds *prometheus.Desc
}

func newPoolCollector(read func() PoolStats) *poolCollector {
	return &poolCollector{
		read: read,
		conns: prometheus.NewDesc("steward_db_connections",
			"Open database connections by state: in_use (handed out) or idle (waiting in the pool).",
			[]string{"state"}, nil),
		max: prometheus.NewDesc("steward_db_max_connections",
			"The most database connections the server opens at once.", nil, nil),
		acquires: prometheus.NewDesc("steward_db_acquires_total",
			"Connections the pool handed out; absent when the pool does not count them (SQLite's database/sql).", nil, nil),
		waits: prometheus.NewDesc("steward_db_acquire_waits_total",
			"Connection requests that found no connection free and waited.", nil, nil),
		waitSeconds: prometheus.NewDesc("steward_db_acquire_wait_seconds_total",
			"Time connection requests spent waiting for a connection.", nil, nil),
	}
}

// Describe sends every series the collector may export.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.max, c.acquires, c.waits, c.waitSeconds} {
		ch <- d
	}
}

// Collect reads the pool once and sends its series.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.read()
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.InUse), "in_use")
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.Idle), "idle")
	ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(s.MaxConns))
	if s.HasAcquires {
		ch <- prometheus.MustNewConstMetric(c.acquires, prometheus.CounterValue, float64(s.Acquires))
	}
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(s.AcquireWaits))
	ch <- prometheus.MustNewConstMetric(c.waitSeconds, prometheus.CounterValue, s.AcquireWait.Seconds())
}
