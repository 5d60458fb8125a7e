package generate

import (
	"errors"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// The data sources every panel, query and variable refers to. Their uids
// are fixed so that the provisioning file and the dashboards agree
// without anyone picking a data source by hand.
const (
	PrometheusUID  = "steward-prometheus"
	PostgresUID    = "steward-postgres"
	PrometheusType = "prometheus"
	// PostgresType is the plugin id of Grafana's bundled PostgreSQL data
	// source (Grafana 10.2 and later; it was "postgres" before).
	PostgresType = "grafana-postgresql-datasource"
)

// dsRef returns a reference to one of the two data sources.
func dsRef(uid string) common.DataSourceRef {
	typ := PrometheusType
	if uid == PostgresUID {
		typ = PostgresType
	}
	return common.DataSourceRef{Type: &typ, Uid: &uid}
}

// query is one target of a panel, PromQL or SQL. Panels take a list of
// them and number them A, B, C...
type query struct {
	uid string // PrometheusUID or PostgresUID

	// PromQL
	expr    string
	legend  string
	instant bool // one value per series, at the end of the range
	table   bool // instant, as a table: labels become columns

	// SQL
	sql    string
	series bool // format time_series: columns time, metric, value
}

// prom is a PromQL range query drawn as one line per series, named by
// legend ("{{label}}" templates; empty for the series' labels).
func prom(expr, legend string) query {
	return query{uid: PrometheusUID, expr: expr, legend: legend}
}

// promNow is a PromQL instant query: the latest value of each series.
func promNow(expr, legend string) query {
	return query{uid: PrometheusUID, expr: expr, legend: legend, instant: true}
}

// promTable is a PromQL instant query returned as a table, one row per
// series and one column per label.
func promTable(expr string) query {
	return query{uid: PrometheusUID, expr: expr, instant: true, table: true}
}

// sqlTable is a SQL query shown as rows.
func sqlTable(sql string) query {
	return query{uid: PostgresUID, sql: sql}
}

// sqlSeries is a SQL query returning time, metric and value columns,
// drawn as one line per metric.
func sqlSeries(sql string) query {
	return query{uid: PostgresUID, sql: sql, series: true}
}

// target turns q into the SDK's data query under refID.
func (q query) target(refID string) cog.Builder[variants.Dataquery] {
	if q.uid == PostgresUID {
		format := "table"
		if q.series {
			format = "time_series"
		}
		return SQLQuery{RefID: refID, Datasource: dsRef(PostgresUID), EditorMode: "code",
			Format: format, RawQuery: true, RawSQL: q.sql}
	}
	b := prometheus.NewDataqueryBuilder().
		RefId(refID).
		Datasource(dsRef(PrometheusUID)).
		EditorMode(prometheus.QueryEditorModeCode).
		Expr(q.expr)
	if q.legend != "" {
		b.LegendFormat(q.legend)
	}
	switch {
	case q.table:
		b.Instant().Format(prometheus.PromQueryFormatTable)
	case q.instant:
		b.Instant()
	default:
		b.Range()
	}
	return b
}

// targets numbers queries A, B, C... and returns them with the data
// source they share; mixing data sources in one panel is refused.
func targets(qs []query) ([]cog.Builder[variants.Dataquery], common.DataSourceRef, error) {
	if len(qs) == 0 {
		return nil, common.DataSourceRef{}, errors.New("a panel needs at least one query")
	}
	out := make([]cog.Builder[variants.Dataquery], 0, len(qs))
	for i, q := range qs {
		if q.uid != qs[0].uid {
			return nil, common.DataSourceRef{}, fmt.Errorf("query %d uses %s, the first %s: one data source per panel", i, q.uid, qs[0].uid)
		}
		out = append(out, q.target(string(rune('A'+i))))
	}
	return out, dsRef(qs[0].uid), nil
}

// SQLQuery is a target of Grafana's PostgreSQL data source, in code mode
// (the SQL is sent as written, after Grafana expands its macros and
// variables). The SDK has no type for it, so this one implements the
// SDK's data query interface and is its own builder.
type SQLQuery struct {
	RefID      string               `json:"refId"`
	Datasource common.DataSourceRef `json:"datasource"`
	EditorMode string               `json:"editorMode"`
	// Format is "table" or "time_series".
	Format   string `json:"format"`
	RawQuery bool   `json:"rawQuery"`
	RawSQL   string `json:"rawSql"`
}

// ImplementsDataqueryVariant marks SQLQuery as a data query.
func (SQLQuery) ImplementsDataqueryVariant() {}

// DataqueryType names the data source plugin.
func (SQLQuery) DataqueryType() string { return PostgresType }

// Equals reports whether other is the same query.
func (q SQLQuery) Equals(other variants.Dataquery) bool {
	o, ok := other.(SQLQuery)
	return ok && q.RefID == o.RefID && q.Format == o.Format && q.RawSQL == o.RawSQL &&
		q.EditorMode == o.EditorMode && q.RawQuery == o.RawQuery &&
		ptrEq(q.Datasource.Uid, o.Datasource.Uid) && ptrEq(q.Datasource.Type, o.Datasource.Type)
}

// Validate refuses a query Grafana could not run.
func (q SQLQuery) Validate() error {
	if q.RawSQL == "" {
		return errors.New("sql query: empty rawSql")
	}
	if q.Format != "table" && q.Format != "time_series" {
		return fmt.Errorf("sql query: format %q", q.Format)
	}
	return nil
}

// Build returns the query itself, so that it can be given where the SDK
// expects a builder. Errors are cog.BuildErrors, as the SDK's builders
// expect of each other.
func (q SQLQuery) Build() (variants.Dataquery, error) {
	if err := q.Validate(); err != nil {
		return nil, cog.MakeBuildErrors("sqlQuery", err)
	}
	return q, nil
}

func ptrEq(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}
