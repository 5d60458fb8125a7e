// Package grafanaq turns the queries of a Grafana dashboard JSON file into
// the exact text Grafana would send to its data sources, so that a test
// can run them against a real Prometheus and a real PostgreSQL without a
// Grafana in between.
//
// It covers what Steward's dashboards use and what Grafana documents:
//
//   - the dashboard model: panels with their grid positions, the panels
//     of collapsed rows, targets with their data source, and the
//     templating variables (query, custom, textbox, constant, interval,
//     datasource) with their current selection (Dashboard, Panel, Target,
//     Variable);
//   - variable interpolation ($var, ${var}, ${var:format}, [[var]]) with
//     each data source's escaping: the Prometheus data source regex
//     escapes the values of multi-value and include-All variables and
//     joins several as (a|b); the PostgreSQL data source quotes them as
//     SQL literals joined by commas; explicit formats (raw, regex, pipe,
//     csv, sqlstring, singlequote, doublequote, json, glob, text,
//     queryparam, percentencode, lucene, distributed, date) follow
//     Grafana's format registry (Env.Interpolate);
//   - Grafana's built-in variables $__interval, $__interval_ms,
//     $__rate_interval, $__range, $__range_s, $__range_ms, $__from and
//     $__to;
//   - the PostgreSQL data source's macros ($__time, $__timeEpoch,
//     $__timeFilter, $__timeFrom, $__timeTo, $__timeGroup,
//     $__timeGroupAlias, $__unixEpochFilter, $__unixEpochGroup and their
//     relatives), expanded as Grafana's backend does, an unknown macro
//     being an error as it is there (ExpandSQLMacros);
//   - the Prometheus variable query functions label_values, label_names,
//     metrics and query_result (ParsePromVarQuery), and the regex and sort
//     a variable applies to what its query returned (VariableOptions);
//   - the metric names a PromQL expression reads (MetricNames), found by a
//     small lexer that knows PromQL's keywords, function calls, label
//     matchers and grouping clauses.
//
// The package does no I/O: callers run the queries and feed the answers of
// variable queries back into an Env.
package grafanaq
