package generate

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// alertSel selects the chosen rules and severities.
const alertSel = `rule=~"$rule", severity=~"$severity"`

// Alerts is Steward's own alerting: what is open, what opened and
// resolved, and whether notifications reach their receivers. Counts and
// rates from Prometheus; the open alerts, stuck and dead notifications
// and silences from PostgreSQL.
func Alerts() (dashboard.Dashboard, []string, error) {
	d := newBoard(UIDAlerts, "Steward / Alerts and notifications",
		"Steward's own alerts (policy_failing, host_offline, inventory_change and expr rules): what is open, what opened and resolved, and whether notifications reach their receivers. Counts and rates from Prometheus; open alerts, queued and dead notifications and silences from PostgreSQL.",
		"now-24h", "1m")
	d.links(fullNav)
	d.variable(promVar("rule", "Rule", "Alerting rules to show (rule names from the server's alerting configuration).",
		`{__name__=~"steward:alerts:max|steward_alert_transitions_total"}`, "rule", ""))
	d.variable(severityVar(true))
	d.variable(promVar("receiver", "Receiver", "Notification receivers to show (names from the alerting configuration).",
		`{__name__=~"steward_notifications_total|steward:notifications_queued:max"}`, "receiver", ""))
	d.b.Annotation(auditAnnotation("Silences and reloads", "purple",
		"silence_added", "silence_expired", "alerting_reloaded"))

	d.addCore(statPanel("Firing",
		"Open alerts of the selected rules and severities that are neither acknowledged nor muted.",
		"short", 4, 4,
		promNow(`sum(steward:alerts:max{`+alertSel+`, state="firing"}) or vector(0)`, "firing")).
		Thresholds(steps(green, step{1, red})))
	d.add(statPanel("Acknowledged",
		"Open alerts someone acknowledged; they stay open until the problem resolves.",
		"short", 4, 4,
		promNow(`sum(steward:alerts:max{`+alertSel+`, state="acknowledged"}) or vector(0)`, "acknowledged")).
		Thresholds(steps(blue)))
	d.add(statPanel("Muted",
		"Open alerts held back by a silence or a maintenance window: not notified until it ends.",
		"short", 4, 4,
		promNow(`sum(steward:alerts:max{`+alertSel+`, state="muted"}) or vector(0)`, "muted")).
		Thresholds(steps(grey)))
	d.addCore(statPanel("Opened in range",
		"Alert episodes opened within the dashboard's time range, summed over servers; a server restart starts its counter again, so this can undercount.",
		"short", 4, 4,
		promNow(`sum(increase(steward_alert_transitions_total{`+alertSel+`, transition="opened"}[$__range])) or vector(0)`, "opened")).
		Thresholds(steps(blue)))
	d.add(statPanel("Pending notifications",
		"Outbox rows not delivered yet for the selected receivers: waiting for their first attempt or a retry.",
		"short", 4, 4,
		promNow(`sum(steward:notifications_queued:max{receiver=~"$receiver", state="pending"}) or vector(0)`, "pending")).
		Thresholds(steps(green, step{10, yellow}, step{100, red})))
	d.add(statPanel("Dead letters kept",
		"Notifications given up (refused with a 4xx, or out of retries), kept for inspection (the table below, or GET /api/v1/notifications?state=dead): those alerts never reached the receiver.",
		"short", 4, 4,
		promNow(`sum(steward:notifications_queued:max{receiver=~"$receiver", state="dead"}) or vector(0)`, "dead")).
		Thresholds(steps(green, step{1, red})))

	d.row("Alerts")
	d.addCore(stacked(seriesPanel("Open alerts by rule and state",
		"Open alerts over time per rule and state (firing, acknowledged, muted), from the store every 30 s (steward:alerts:max).",
		"short", 12, 8,
		prom(`sum by (rule, state) (steward:alerts:max{`+alertSel+`})`, "{{rule}} {{state}}"))))
	d.addCore(colorSeries(stacked(seriesPanel("Open alerts by severity",
		"Open alerts over time per severity, every state.",
		"short", 6, 8,
		prom(`sum by (severity) (steward:alerts:max{`+alertSel+`})`, "{{severity}}"))), severityColors...))
	d.addCore(seriesPanel("Alert transitions",
		"Alert episodes opened, resolved and unmuted (notified after a silence ended) per minute, summed over servers.",
		"cpm", 6, 8,
		prom(`60 * sum by (transition) (rate(steward_alert_transitions_total{`+alertSel+`}[$__rate_interval]))`, "{{transition}}")))
	d.addCore(cellColors(cellColors(linkOverrides(tablePanel("Open alerts",
		"Every open alert of the selected rules and severities, most severe first, newest first; summary is the alert's summary annotation. Acknowledge with stewardctl alerts ack ID. Click a host name for its details.",
		24, 10,
		sqlTable(`SELECT a.id, a.severity, a.rule, CASE WHEN a.muted THEN 'muted' ELSE a.state END AS state,
  h.id AS host_id, h.hostname, a.subject, a.started_at, a.acked_by, a.ack_comment,
  a.annotations->>'summary' AS summary
FROM alerts a
JOIN hosts h ON h.id = a.host_id
WHERE a.state <> 'resolved'
  AND a.rule = ANY(ARRAY[${rule:sqlstring}]::text[])
  AND a.severity = ANY(ARRAY[${severity:sqlstring}]::text[])
ORDER BY `+severityRank("a.severity")+`, a.started_at DESC, a.id DESC
LIMIT 500`)), hostLink("hostname")), "severity", severityColors...), "state",
		valueText{"firing", "firing", red}, valueText{"acknowledged", "acknowledged", blue}, valueText{"muted", "muted", grey}))

	d.row("Notifications")
	d.addCore(seriesPanel("Notifications by receiver and result",
		"Delivery attempts per minute by receiver and result: sent, failed (will be retried), dead (given up) or skipped (acknowledge to a receiver without acknowledgements).",
		"cpm", 12, 8,
		prom(`60 * sum by (receiver, result) (rate(steward_notifications_total{receiver=~"$receiver"}[$__rate_interval]))`, "{{receiver}} {{result}}")))
	d.add(seriesPanel("Notification queue",
		"Outbox rows per receiver: pending (not delivered yet) and dead (dead letters kept). Pending that keeps growing is a receiver that is down or too slow.",
		"short", 12, 8,
		prom(`sum by (receiver, state) (steward:notifications_queued:max{receiver=~"$receiver"})`, "{{receiver}} {{state}}")))
	d.addCore(seriesPanel("Delivery delay",
		"Time from writing a notification to the outbox to its delivery, by event (trigger, acknowledge, resolve): 50th and 99th percentile, retries included.",
		"s", 8, 8,
		prom(`histogram_quantile(0.99, sum by (le, event) (rate(steward_notification_delay_seconds_bucket[$__rate_interval])))`, "p99 {{event}}"),
		prom(`histogram_quantile(0.5, sum by (le, event) (rate(steward_notification_delay_seconds_bucket[$__rate_interval])))`, "p50 {{event}}")))
	d.addCore(seriesPanel("Send duration by receiver",
		"99th percentile of the time one send to a receiver took, answered or not: a receiver's own latency.",
		"s", 8, 8,
		prom(`histogram_quantile(0.99, sum by (le, receiver) (rate(steward_notification_send_duration_seconds_bucket{receiver=~"$receiver"}[$__rate_interval])))`, "{{receiver}}")))
	d.add(seriesPanel("Alertmanager re-posts",
		"Open alerts re-posted per minute to Alertmanager receivers so that Alertmanager keeps them firing (every delivery.resend_interval).",
		"cpm", 8, 8,
		prom(`60 * sum by (receiver) (rate(steward_alertmanager_reposts_total{receiver=~"$receiver"}[$__rate_interval]))`, "{{receiver}}")))
	d.add(linkOverrides(tablePanel("Oldest pending notifications",
		"Notifications still waiting, oldest first, with their attempts and the last error: what a receiver outage is holding back.",
		12, 8,
		sqlTable(`SELECT n.id, n.receiver, n.event, a.rule, h.id AS host_id, h.hostname, n.created_at, n.attempts,
  n.next_attempt_at, n.last_status, n.last_error
FROM notifications n
JOIN alerts a ON a.id = n.alert_id
JOIN hosts h ON h.id = a.host_id
WHERE n.state = 'pending'
  AND n.receiver = ANY(ARRAY[${receiver:sqlstring}]::text[])
ORDER BY n.created_at, n.id
LIMIT 100`)), hostLink("hostname")))
	d.add(linkOverrides(tablePanel("Dead letters",
		"Notifications given up, newest first, with the receiver's last answer: a 4xx refusal is dead at once, other failures after max_attempts. These events are not sent again: fix the receiver and check the alerts by hand.",
		12, 8,
		sqlTable(`SELECT n.id, n.receiver, n.event, a.rule, h.id AS host_id, h.hostname, a.subject, n.attempts,
  n.last_status, n.last_error, n.created_at
FROM notifications n
JOIN alerts a ON a.id = n.alert_id
JOIN hosts h ON h.id = a.host_id
WHERE n.state = 'dead'
  AND n.receiver = ANY(ARRAY[${receiver:sqlstring}]::text[])
ORDER BY n.id DESC
LIMIT 200`)), hostLink("hostname")))
	d.add(tablePanel("Active silences",
		"Silences in force or scheduled, soonest end first: alerts whose labels match every matcher are muted until the end.",
		24, 6,
		sqlTable(`SELECT s.id, s.matchers::text AS matchers, s.comment, s.created_by, s.starts_at, s.ends_at
FROM silences s
WHERE s.expired_at IS NULL
  AND s.ends_at > now()
ORDER BY s.ends_at, s.id
LIMIT 200`)))

	dash, err := d.build()
	return dash, d.core, err
}
