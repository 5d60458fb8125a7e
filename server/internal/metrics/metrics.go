// Package metrics defines the server's Prometheus metrics. Label values are
// bounded sets (message types, outcomes), never host or software names.
package metrics

import (
	"runtime"
	"time"

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
	// AgentDisconnects counts agent connections that ended, by why
	// (DisconnectReasons).
	AgentDisconnects *prometheus.CounterVec
	// PolicyPushDuration is how long a policy set push took, from the
	// read of the changed set to its last write to an agent.
	PolicyPushDuration prometheus.Histogram
	// MessageBytes counts the decoded size of agent messages by type.
	MessageBytes *prometheus.CounterVec
	// InventoryChanges counts inventory changes recorded, by change kind
	// (a fixed set, package changes).
	InventoryChanges *prometheus.CounterVec

	// Store: latency and errors of each store operation (a method of
	// store.Store: a fixed set), and whether the database answered the
	// last ping. Pool statistics are read by a collector at scrape time
	// from the pool's in-memory counters (RegisterPool).
	StoreDuration *prometheus.HistogramVec
	StoreErrors   *prometheus.CounterVec
	StoreUp       prometheus.Gauge
	// TLSCertExpiry is the NotAfter of the serving certificate, when the
	// server terminates TLS itself.
	TLSCertExpiry prometheus.Gauge

	// Agent health, from agents' heartbeats, summed over the fleet; never
	// labelled by host.
	AgentScanDuration  *prometheus.HistogramVec
	AgentCheckErrors   prometheus.Counter
	AgentDropped       prometheus.Counter
	AgentReconnects    prometheus.Counter
	AgentSpooled       prometheus.Gauge
	AgentHealthReports prometheus.Counter

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

	// HTTP edge: connections and refusals (edge.go).
	HTTPRefused        *prometheus.CounterVec
	HTTPConnections    *prometheus.GaugeVec
	HTTPMaxConnections prometheus.Gauge

	// Retention: rows deleted per history and runs (retention.go).
	RetentionDeleted *prometheus.CounterVec
	RetentionRuns    *prometheus.CounterVec
}

// RegisterTLSExpiry exports the serving certificate's expiry; the gauge
// is registered only when the server has one, so that its absence means
// no TLS rather than a certificate that expired in 1970.
func (m *Metrics) RegisterTLSExpiry(notAfter time.Time) {
	m.TLSCertExpiry.Set(float64(notAfter.Unix()))
	m.Registry.MustRegister(m.TLSCertExpiry)
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
		AgentDisconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_agent_disconnects_total",
			Help: "Agent connections that ended, by reason (see docs/metrics.md).",
		}, []string{"reason"}),
		PolicyPushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "steward_policy_push_duration_seconds",
			Help:    "Time from reading a changed policy set to writing it to the last connected agent it was sent to.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
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
		MessageBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_agent_message_bytes_total",
			Help: "Bytes of agent messages received after decompression, by message type.",
		}, []string{"type"}),
		InventoryChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_inventory_changes_total",
			Help: "Inventory changes recorded, by kind (software_installed, hardware_changed, ...).",
		}, []string{"kind"}),
		StoreDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "steward_store_operation_duration_seconds",
			Help:    "Time each store operation took, by operation (the store method), successful or not.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"operation"}),
		StoreErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_store_operation_errors_total",
			Help: "Store operations that failed, by operation; a row that was not found is not a failure.",
		}, []string{"operation"}),
		StoreUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "steward_store_up",
			Help: "1 when the database answered the last ping (every metrics.fleet_interval), else 0.",
		}),
		TLSCertExpiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "steward_tls_certificate_expiry_timestamp_seconds",
			Help: "Unix time when the server's TLS certificate expires; absent without TLS.",
		}),
		AgentScanDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "steward_agent_scan_duration_seconds",
			Help:    "Duration of agents' scans as they report them in heartbeats, by kind (inventory or policy).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"kind"}),
		AgentCheckErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "steward_agent_check_errors_total",
			Help: "Policy checks that ended in error on agents, summed over the fleet from heartbeats.",
		}),
		AgentDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "steward_agent_messages_dropped_total",
			Help: "Data messages agents gave up on without an ack (connection ended first, or too large to send), summed over the fleet from heartbeats.",
		}),
		AgentReconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "steward_agent_reconnects_total",
			Help: "Connections agents re-established after losing one, summed over the fleet from heartbeats.",
		}),
		AgentSpooled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "steward_agent_spooled_messages",
			Help: "Messages agents connected to this server have sent and not yet seen acknowledged, as of their last applied heartbeat.",
		}),
		AgentHealthReports: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "steward_agent_health_reports_total",
			Help: "Heartbeats that carried agent health counters and were applied.",
		}),
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
	reg.MustRegister(m.AgentsConnected, m.MessagesReceived, m.MessagesRejected, m.AgentDisconnects, m.PolicyPushDuration,
		m.IngestDuration, m.BatchSize, m.BatchFailures, m.Enrollments, build,
		m.MessageBytes, m.InventoryChanges, m.StoreDuration, m.StoreErrors, m.StoreUp,
		m.AgentScanDuration, m.AgentCheckErrors, m.AgentDropped, m.AgentReconnects, m.AgentSpooled, m.AgentHealthReports,
		m.AlertTransitions, m.Notifications, m.NotificationDuration, m.NotificationDelay, m.AlertmanagerReposts,
		m.Alerts, m.NotificationsQueued, m.Hosts, m.AgentVersions, m.PolicyResults, m.ComplianceRatio,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, t := range []string{"hello", "inventory", "heartbeat", "results"} {
		m.MessagesReceived.WithLabelValues(t)
		m.MessageBytes.WithLabelValues(t)
	}
	for _, k := range []string{"inventory", "policy"} {
		m.AgentScanDuration.WithLabelValues(k)
	}
	m.registerEdge()
	m.registerRetention()
	for _, r := range []string{"ok", "refused", "error"} {
		m.Enrollments.WithLabelValues(r)
	}
	for _, r := range DisconnectReasons {
		m.AgentDisconnects.WithLabelValues(r)
	}
	return m
}

// Values of steward_agent_disconnects_total's reason label.
const (
	DisconnectAgentClosed = "agent_closed"    // the agent closed the connection (a close frame)
	DisconnectLost        = "connection_lost" // the connection broke without a close frame
	DisconnectTimeout     = "timeout"         // no hello in time, or silent past the pong wait
	DisconnectRejected    = "rejected"        // a message the server refuses (malformed, too large, unsupported version)
	DisconnectWindow      = "window"          // the agent kept sending past its in-flight window
	DisconnectSlowReader  = "slow_reader"     // the agent stopped reading; its queue of frames filled up
	DisconnectWriteFailed = "write_failed"    // a write to the agent failed or timed out
	DisconnectUnavailable = "unavailable"     // the database failed or ingest is not accepting data
	DisconnectReplaced    = "replaced"        // the same host connected again
	DisconnectRetired     = "retired"         // an administrator retired the host
	DisconnectShutdown    = "shutdown"        // this server is shutting down
)

// DisconnectReasons are every reason label value, each counted from the
// start so that a rate or an alert on one works before it first happens.
var DisconnectReasons = []string{
	DisconnectAgentClosed,
	DisconnectLost,
	DisconnectTimeout,
	DisconnectRejected,
	DisconnectWindow,
	DisconnectSlowReader,
	DisconnectWriteFailed,
	DisconnectUnavailable,
	DisconnectReplaced,
	DisconnectRetired,
	DisconnectShutdown,
}
