// Package metrics defines the server's Prometheus metrics. Label values are
// bounded sets (message types, outcomes), never host or software names.
package metrics

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every server metric.
type Metrics struct {
	Registry         *prometheus.Registry
	AgentsConnected  prometheus.Gauge
	MessagesReceived *prometheus.CounterVec
	MessagesRejected *prometheus.CounterVec
	IngestDuration   prometheus.Histogram
	BatchSize        prometheus.Histogram
	BatchFailures    prometheus.Counter
	Enrollments      *prometheus.CounterVec

	// Alerting: per rule, severity and receiver, all bounded by the
	// alerting configuration.
	AlertTransitions     *prometheus.CounterVec
	Notifications        *prometheus.CounterVec
	NotificationDuration *prometheus.HistogramVec
	NotificationDelay    *prometheus.HistogramVec
	AlertmanagerReposts  *prometheus.CounterVec
	// Alerts and NotificationsQueued are read from the store on a
	// schedule, never on a scrape.
	Alerts              *prometheus.GaugeVec
	NotificationsQueued *prometheus.GaugeVec

	// Fleet gauges, computed from the store on a schedule (package
	// fleet); bounded by OS versions, agent versions and policies.
	Hosts           *prometheus.GaugeVec
	AgentVersions   *prometheus.GaugeVec
	PolicyResults   *prometheus.GaugeVec
	ComplianceRatio *prometheus.GaugeVec
}

// New registers the metrics on a fresh registry, with Go and process
// collectors and a build info gauge.
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		AgentsConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "steward_agents_connected",
			Help: "Agents with an open, welcomed WebSocket on this server.",
		}),
		MessagesReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_agent_messages_received_total",
			Help: "Agent messages received, by message type.",
		}, []string{"type"}),
		MessagesRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_agent_messages_rejected_total",
			Help: "Agent messages that closed their connection, by reason.",
		}, []string{"reason"}),
		IngestDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "steward_ingest_duration_seconds",
			Help:    "Time from receiving an agent message to committing it.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "steward_ingest_batch_messages",
			Help:    "Messages committed per ingest transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		BatchFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "steward_ingest_batch_failures_total",
			Help: "Ingest transactions that failed and were not committed.",
		}),
		Enrollments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_enrollments_total",
			Help: "Enrollment requests, by result.",
		}, []string{"result"}),
		AlertTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_alert_transitions_total",
			Help: "Alert episodes opened, resolved and unmuted (notified after a silence ended), by rule and severity.",
		}, []string{"rule", "severity", "transition"}),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_notifications_total",
			Help: "Notification delivery attempts by receiver and result: sent, failed (will retry), dead (dead-lettered) or skipped.",
		}, []string{"receiver", "result"}),
		NotificationDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "steward_notification_send_duration_seconds",
			Help:    "Time one send to a receiver took, answered or not.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"receiver"}),
		NotificationDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "steward_notification_delay_seconds",
			Help:    "Time from writing a notification to the outbox to its delivery, by event.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"event"}),
		AlertmanagerReposts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_alertmanager_reposts_total",
			Help: "Open alerts re-posted to an Alertmanager receiver so that it keeps them firing.",
		}, []string{"receiver"}),
		Alerts: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "steward_alerts",
			Help: "Open alerts by rule, severity and state (firing, acknowledged, or muted by a silence or maintenance window).",
		}, []string{"rule", "severity", "state"}),
		NotificationsQueued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "steward_notifications_queued",
			Help: "Outbox rows by receiver and state: pending (not delivered yet) or dead (dead letters kept for inspection).",
		}, []string{"receiver", "state"}),
		Hosts: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "steward_hosts",
			Help: "Enrolled hosts by OS, platform, OS version and whether they were heard from recently (online).",
		}, []string{"os", "platform", "os_version", "online"}),
		AgentVersions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "steward_agent_versions",
			Help: "Enrolled hosts by the agent version they last reported.",
		}, []string{"version"}),
		PolicyResults: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "steward_policy_results",
			Help: "Hosts by their current result for each policy: pass, fail, not_applicable, error or exempt.",
		}, []string{"policy", "severity", "status"}),
		ComplianceRatio: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "steward_policy_compliance_ratio",
			Help: "Share of the hosts a policy concerns that pass it or are exempt: (pass + exempt) / (pass + fail + error + exempt).",
		}, []string{"policy", "severity"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "steward_build_info",
		Help: "Build information of the running server; always 1.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	reg.MustRegister(m.AgentsConnected, m.MessagesReceived, m.MessagesRejected,
		m.IngestDuration, m.BatchSize, m.BatchFailures, m.Enrollments, build,
		m.AlertTransitions, m.Notifications, m.NotificationDuration, m.NotificationDelay, m.AlertmanagerReposts,
		m.Alerts, m.NotificationsQueued, m.Hosts, m.AgentVersions, m.PolicyResults, m.ComplianceRatio,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, t := range []string{"hello", "inventory", "heartbeat"} {
		m.MessagesReceived.WithLabelValues(t)
	}
	for _, r := range []string{"ok", "refused", "error"} {
		m.Enrollments.WithLabelValues(r)
	}
	return m
}
