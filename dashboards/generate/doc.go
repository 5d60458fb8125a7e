// Package generate builds Steward's Grafana dashboards from Go code with
// the Grafana Foundation SDK and renders them as the JSON files that
// Grafana provisions from dashboards/grafana.
//
// Every dashboard is a function of this package: the panels, their
// queries (PromQL over the series steward-server exports and the
// recording rules in dashboards/prometheus, SQL over the PostgreSQL
// schema) and the links between them. Render returns the files;
// cmd/gen writes them (`make dashboards`). The tests keep the committed
// JSON equal to what Render produces, check the files' structure, run
// every SQL query against the real schema as the read-only reporting
// role, and check the Prometheus rules with promtool.
//
// Two data sources are referenced by fixed uids, defined by
// dashboards/provisioning/datasources/steward.yml: PrometheusUID and
// PostgresUID. The dashboards whose uid ends in "-prom" use Prometheus
// only, so they work with the embedded SQLite store too.
//
// CorePanels lists the panels that must show data on a running Steward
// with agents reporting; end-to-end tests import it.
package generate
