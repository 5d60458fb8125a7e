package generate

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// srvSel selects the chosen servers' series.
const srvSel = `job=~"$job", instance=~"$instance"`

// Server is the health of steward-server itself: ingest, the store and
// its pool, the agents' own health as their heartbeats report it, the
// process, and the TLS certificate. Prometheus only.
func Server() (dashboard.Dashboard, []string, error) {
	d := newBoard(UIDServer, "Steward / Server health",
		"The health of steward-server itself: ingest rate, latency and failures, store operations and the database pool, the agents' own health from their heartbeats, the process and the TLS certificate. Prometheus only: works with either store.",
		"now-6h", "30s")
	d.links(fullNav)
	d.variable(promVar("job", "Job", "Prometheus jobs scraping steward-server.", "steward_build_info", "job", ""))
	d.variable(promVar("instance", "Server", "steward-server instances (replicas) to show.",
		`steward_build_info{job=~"$job"}`, "instance", ""))

	d.addCore(statPanel("Servers up",
		"steward-server targets Prometheus scrapes successfully (up), and those it cannot reach.",
		"short", 4, 4,
		promNow(`sum(up{job=~"$job"}) or vector(0)`, "up"),
		promNow(`count(up{job=~"$job"} == 0) or vector(0)`, "down")).
		GraphMode(common.BigValueGraphModeNone).
		TextMode(common.BigValueTextModeValueAndName).
		Thresholds(steps(green)).
		OverrideByName("down", []dashboard.DynamicConfigValue{{Id: "thresholds", Value: map[string]any{
			"mode": "absolute", "steps": []map[string]any{{"color": green, "value": nil}, {"color": red, "value": 1}}}}}))
	d.addCore(statPanel("Database",
		"Whether the database answered the last ping of each selected server (steward_store_up, every metrics.fleet_interval); down on any server shows down.",
		"none", 4, 4,
		promNow(`min(steward_store_up{`+srvSel+`})`, "database")).
		GraphMode(common.BigValueGraphModeNone).
		Mappings(mappings(valueText{"1", "up", green}, valueText{"0", "down", red})))
	d.addCore(statPanel("Agents connected",
		"Agents with an open, welcomed WebSocket on the selected servers (steward_agents_connected).",
		"short", 4, 4,
		promNow(`sum(steward_agents_connected{`+srvSel+`})`, "agents")).
		Thresholds(steps(blue)))
	d.addCore(statPanel("Messages received",
		"Agent messages received per second over the last five minutes, every type, summed over servers (job:steward_agent_messages_received:rate5m).",
		"cps", 4, 4,
		promNow(`sum(job:steward_agent_messages_received:rate5m{job=~"$job"})`, "messages")).
		Thresholds(steps(blue)))
	d.addCore(statPanel("Ingest p99",
		"99th percentile of the time from receiving an agent message to committing it, over the last five minutes (job:steward_ingest_duration_seconds:p99_5m). The server is sized for 250 ms at 20,000 messages/s.",
		"s", 4, 4,
		promNow(`max(job:steward_ingest_duration_seconds:p99_5m{job=~"$job"})`, "p99")).
		Thresholds(steps(green, step{0.25, yellow}, step{1, red})))
	d.add(statPanel("TLS certificate expires in",
		"Time left before the serving certificate expires, the soonest over the selected servers (steward_tls_certificate_expiry_timestamp_seconds). The server reads the certificate when it starts: restart it after renewing. Empty when the server does not terminate TLS itself.",
		"dtdurations", 4, 4,
		promNow(`min(steward_tls_certificate_expiry_timestamp_seconds{`+srvSel+`}) - time()`, "expires in")).
		GraphMode(common.BigValueGraphModeNone).
		NoValue("no TLS").
		Thresholds(steps(red, step{3 * 86400, orange}, step{14 * 86400, green})))

	d.row("Ingest")
	d.addCore(seriesPanel("Messages received by type",
		"Agent messages received per second by type (hello, inventory, heartbeat, results), summed over servers, over five-minute windows (job:steward_agent_messages_received:rate5m).",
		"cps", 8, 8,
		prom(`sum by (type) (job:steward_agent_messages_received:rate5m{job=~"$job"})`, "{{type}}")))
	d.addCore(stacked(seriesPanel("Message bytes by type",
		"Bytes of agent messages received per second after decompression, by type (steward_agent_message_bytes_total): inventories dominate; a jump is agents resending full inventories.",
		"Bps", 8, 8,
		prom(`sum by (type) (rate(steward_agent_message_bytes_total{`+srvSel+`}[$__rate_interval]))`, "{{type}}"))))
	d.addCore(seriesPanel("Ingest latency",
		"Time from receiving an agent message to committing it: 99th percentile over five minutes (recording rule) and median over the panel's interval.",
		"s", 8, 8,
		prom(`max(job:steward_ingest_duration_seconds:p99_5m{job=~"$job"})`, "p99 (5m)"),
		prom(`histogram_quantile(0.5, sum by (le) (rate(steward_ingest_duration_seconds_bucket{`+srvSel+`}[$__rate_interval])))`, "p50")))
	d.addCore(seriesPanel("Messages per ingest transaction",
		"How many agent messages each ingest transaction committed: median, 99th percentile and mean. Batches grow under load, which is how ingest keeps up.",
		"short", 8, 8,
		prom(`histogram_quantile(0.5, sum by (le) (rate(steward_ingest_batch_messages_bucket{`+srvSel+`}[$__rate_interval])))`, "p50"),
		prom(`histogram_quantile(0.99, sum by (le) (rate(steward_ingest_batch_messages_bucket{`+srvSel+`}[$__rate_interval])))`, "p99"),
		prom(`sum(rate(steward_ingest_batch_messages_sum{`+srvSel+`}[$__rate_interval])) / sum(rate(steward_ingest_batch_messages_count{`+srvSel+`}[$__rate_interval]))`, "mean")))
	d.add(seriesPanel("Ingest failures and rejected messages",
		"Per minute: ingest transactions that failed and were not committed (the agents resend), and agent messages that closed their connection, by reason (malformed, too_large, unsupported_version).",
		"cpm", 8, 8,
		prom(`60 * sum(rate(steward_ingest_batch_failures_total{`+srvSel+`}[$__rate_interval]))`, "failed transactions"),
		prom(`60 * sum by (reason) (rate(steward_agent_messages_rejected_total{`+srvSel+`}[$__rate_interval]))`, "rejected {{reason}}")))
	d.addCore(seriesPanel("Enrollments by result",
		"Enrollment requests per minute by result: ok, refused (a wrong or revoked enroll secret) or error.",
		"cpm", 8, 8,
		prom(`60 * sum by (result) (rate(steward_enrollments_total{`+srvSel+`}[$__rate_interval]))`, "{{result}}")))

	d.row("Store")
	d.addCore(seriesPanel("Store operation latency p99",
		"99th percentile of each store operation's duration over five minutes (job:steward_store_operation_duration_seconds:p99_5m), the ten slowest at each moment.",
		"s", 12, 8,
		prom(`topk(10, max by (operation) (job:steward_store_operation_duration_seconds:p99_5m{job=~"$job"}))`, "{{operation}}")))
	d.add(seriesPanel("Store operation errors",
		"Store operations that failed per minute, by operation (steward_store_operation_errors_total); a row not found is not a failure.",
		"cpm", 12, 8,
		prom(`60 * sum by (operation) (rate(steward_store_operation_errors_total{`+srvSel+`}[$__rate_interval])) > 0`, "{{operation}}")).
		NoValue("no errors"))
	d.addCore(seriesPanel("Database pool connections",
		"Database connections in use and idle, and the most the server opens, summed over the selected servers (steward_db_*): the PostgreSQL pool, or SQLite's writer and reader connections.",
		"short", 8, 8,
		prom(`sum by (state) (steward_db_connections{`+srvSel+`})`, "{{state}}"),
		prom(`sum(steward_db_max_connections{`+srvSel+`})`, "max")))
	d.add(seriesPanel("Pool acquires that waited",
		"Share of pool acquisitions that had to wait for a free connection. Steadily above zero with in_use at max: the pool is saturated (StewardDatabasePoolSaturated). PostgreSQL only: SQLite's database/sql does not count acquisitions.",
		"percentunit", 8, 8,
		prom(`sum(rate(steward_db_acquire_waits_total{`+srvSel+`}[$__rate_interval])) / sum(rate(steward_db_acquires_total{`+srvSel+`}[$__rate_interval]))`, "waited")).
		Min(0))
	d.add(seriesPanel("Mean pool wait",
		"Average time an acquisition that waited spent waiting for a connection.",
		"s", 8, 8,
		prom(`sum(rate(steward_db_acquire_wait_seconds_total{`+srvSel+`}[$__rate_interval])) / sum(rate(steward_db_acquire_waits_total{`+srvSel+`}[$__rate_interval]))`, "mean wait")))

	d.row("Agents' health (fleet-wide, from heartbeats)")
	d.addCore(seriesPanel("Agents connected per server",
		"Agents with an open WebSocket on each server: how the load balancer spreads them.",
		"short", 8, 8,
		prom(`sum by (instance) (steward_agents_connected{`+srvSel+`})`, "{{instance}}")))
	d.addCore(seriesPanel("Agent scan duration",
		"How long agents' scans take, by kind (inventory, policy), as the agents report them in heartbeats: median and 95th percentile over the fleet.",
		"s", 8, 8,
		prom(`histogram_quantile(0.95, sum by (le, kind) (rate(steward_agent_scan_duration_seconds_bucket{`+srvSel+`}[$__rate_interval])))`, "p95 {{kind}}"),
		prom(`histogram_quantile(0.5, sum by (le, kind) (rate(steward_agent_scan_duration_seconds_bucket{`+srvSel+`}[$__rate_interval])))`, "p50 {{kind}}")))
	d.addCore(seriesPanel("Health reports applied",
		"Heartbeats per minute that carried agent health counters and were applied (steward_agent_health_reports_total): the source of this row.",
		"cpm", 8, 8,
		prom(`60 * sum(rate(steward_agent_health_reports_total{`+srvSel+`}[$__rate_interval]))`, "reports")))
	d.add(seriesPanel("Agent problems",
		"Per minute, summed over the fleet from heartbeats: policy checks that ended in error, messages agents dropped because their spool was full (data lost), and connections agents had to re-establish.",
		"cpm", 8, 8,
		prom(`60 * sum(rate(steward_agent_check_errors_total{`+srvSel+`}[$__rate_interval]))`, "check errors"),
		prom(`60 * sum(rate(steward_agent_messages_dropped_total{`+srvSel+`}[$__rate_interval]))`, "dropped messages"),
		prom(`60 * sum(rate(steward_agent_reconnects_total{`+srvSel+`}[$__rate_interval]))`, "reconnects")))
	d.add(seriesPanel("Spooled messages",
		"Messages waiting in the spools of connected agents, as of their last heartbeat (steward_agent_spooled_messages): agents catching up after being offline, or a server too slow to take their messages.",
		"short", 8, 8,
		prom(`sum(steward_agent_spooled_messages{`+srvSel+`})`, "spooled")))
	d.add(changesByKind(8))
	d.add(seriesPanel("Agent disconnects by reason",
		"Agent connections that ended per minute, by why (steward_agent_disconnects_total): agent_closed (restarts, stops), connection_lost and timeout (machines and networks gone) are a fleet's normal churn; slow_reader, write_failed and window are agents or a network that cannot keep up; replaced without a reconnect storm suggests machines sharing a node key.",
		"cpm", 12, 8,
		prom(`60 * sum by (reason) (rate(steward_agent_disconnects_total{`+srvSel+`}[$__rate_interval])) > 0`, "{{reason}}")).
		NoValue("no disconnects"))
	d.add(seriesPanel("Policy push duration",
		"Mean time a policy change's push took in each interval that had one, from reading the changed set to writing it to the last connected agent it was sent to (steward_policy_push_duration_seconds); empty where no policy changed.",
		"s", 12, 8,
		prom(`sum(increase(steward_policy_push_duration_seconds_sum{`+srvSel+`}[$__rate_interval])) / sum(increase(steward_policy_push_duration_seconds_count{`+srvSel+`}[$__rate_interval])) > 0`, "mean push")).
		NoValue("no policy changes"))

	d.row("Process")
	d.addCore(seriesPanel("CPU",
		"CPU time each server process used per second (1 = one core busy).",
		"percentunit", 6, 8,
		prom(`rate(process_cpu_seconds_total{`+srvSel+`}[$__rate_interval])`, "{{instance}}")))
	d.addCore(seriesPanel("Memory",
		"Resident memory of each server process and the Go heap in use. The server is sized for at most 40 KiB of resident memory per connected agent (docs/loadgen.md).",
		"bytes", 6, 8,
		prom(`process_resident_memory_bytes{`+srvSel+`}`, "RSS {{instance}}"),
		prom(`go_memstats_heap_inuse_bytes{`+srvSel+`}`, "heap {{instance}}")))
	d.addCore(seriesPanel("Goroutines",
		"Goroutines of each server process: a few per connected agent; steady growth with a steady fleet is a leak.",
		"short", 6, 8,
		prom(`go_goroutines{`+srvSel+`}`, "{{instance}}")))
	d.add(seriesPanel("Open file descriptors",
		"File descriptors each server process holds (one per agent connection, plus the database's) and its limit: raise the limit before agents reach it.",
		"short", 6, 8,
		prom(`process_open_fds{`+srvSel+`}`, "open {{instance}}"),
		prom(`process_max_fds{`+srvSel+`}`, "limit {{instance}}")))
	d.addCore(tablePanel("Server versions",
		"The version and Go version of each selected server (steward_build_info).",
		24, 5,
		promTable(`steward_build_info{`+srvSel+`}`)).
		WithTransformation(dashboard.DataTransformerConfig{
			Id: "organize",
			Options: map[string]any{
				"excludeByName": map[string]any{"Time": true, "Value": true, "__name__": true},
				"indexByName":   map[string]any{"instance": 0, "job": 1, "version": 2, "goversion": 3},
			},
		}))

	dash, err := d.build()
	return dash, d.core, err
}
