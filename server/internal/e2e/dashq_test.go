package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/dashboards/preview"
	"github.com/steward-project/steward/dashboards/preview/grafanaq"
)

// The provisioned data sources the dashboards must name.
const (
	promUID     = "steward-prometheus"
	postgresUID = "steward-postgres"
)

// The Prometheus of this test scrapes every second. Grafana's
// $__rate_interval would then be 4 s; the test uses at least 15 s so
// that every rate window holds many scrapes even on a loaded machine.
const (
	scrapeInterval  = time.Second
	minRateInterval = 15 * time.Second
)

// dashSet is what the test checks: the dashboards, the rule files, and
// the panels that must show data.
type dashSet struct {
	dir        string
	dashboards []*grafanaq.Dashboard
	file       map[string]string // dashboard uid -> file
	ruleFiles  []string
	rules      []ruleDef
	core       map[string][]string
}

// ruleDef is one rule of a rule file.
type ruleDef struct {
	file, group   string
	record, alert string
	expr          string
}

// repoRoot is the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// loadDashSet reads the dashboards in DIR/grafana/*.json and the rule
// files DIR/prometheus/*.yml (not their test subdirectory). DIR is
// $STEWARD_DASHBOARDS_DIR, or the repository's dashboards directory. The
// core panels come from DIR/core-panels.json when it exists (the
// preview package's samples have one), else from the dashboard
// generator.
func loadDashSet(t *testing.T) *dashSet {
	t.Helper()
	dir := os.Getenv("STEWARD_DASHBOARDS_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "dashboards")
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(repoRoot(t), dir)
	}
	set := &dashSet{dir: dir, file: map[string]string{}}
	files, _ := filepath.Glob(filepath.Join(dir, "grafana", "*.json"))
	if len(files) == 0 {
		t.Fatalf("no dashboards in %s/grafana/*.json: generate them first (make dashboards)", dir)
	}
	for _, f := range files {
		d, err := grafanaq.Load(f)
		if err != nil {
			t.Fatalf("dashboard %v", err)
		}
		if d.UID == "" {
			t.Errorf("dashboard %s has no uid", f)
			d.UID = filepath.Base(f)
		}
		if other, dup := set.file[d.UID]; dup {
			t.Errorf("dashboards %s and %s have the same uid %q", other, f, d.UID)
		}
		set.file[d.UID] = filepath.Base(f)
		set.dashboards = append(set.dashboards, d)
	}
	for _, pat := range []string{"*.yml", "*.yaml"} {
		m, _ := filepath.Glob(filepath.Join(dir, "prometheus", pat))
		set.ruleFiles = append(set.ruleFiles, m...)
	}
	sort.Strings(set.ruleFiles)
	if len(set.ruleFiles) == 0 {
		t.Fatalf("no rule files in %s/prometheus/*.yml", dir)
	}
	for _, f := range set.ruleFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf struct {
			Groups []struct {
				Name  string `yaml:"name"`
				Rules []struct {
					Record string `yaml:"record"`
					Alert  string `yaml:"alert"`
					Expr   string `yaml:"expr"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("rule file %s: %v", f, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				set.rules = append(set.rules, ruleDef{file: filepath.Base(f), group: g.Name, record: r.Record, alert: r.Alert, expr: r.Expr})
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "core-panels.json")); err == nil {
		if err := json.Unmarshal(b, &set.core); err != nil {
			t.Fatalf("%s/core-panels.json: %v", dir, err)
		}
	} else {
		set.core = generatedCorePanels(t)
	}
	return set
}

// dashChecker runs dashboard and rule queries and records what is wrong.
type dashChecker struct {
	t        *testing.T
	prom     *promServer
	pg       *pgx.Conn
	from, to time.Time

	problems []string
	notes    []string
	// exprs are the PromQL expressions sent, for the metric name check.
	exprs []usedExpr
	// promQueries and sqlQueries count the queries run.
	promQueries, sqlQueries int
}

type usedExpr struct{ where, expr string }

func (c *dashChecker) problem(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *dashChecker) note(format string, args ...any) {
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

// dashRun is one dashboard run with one set of variable values.
type dashRun struct {
	env     *grafanaq.Env
	results preview.Results
	// hasData tells, by panel key, whether a visible query of the panel
	// returned samples or rows; queries has each panel's queries as sent.
	hasData map[string]bool
	queries map[string][]string
}

// run resolves the dashboard's variables (their saved selection, or with
// pick, particular values) and runs every query of every panel.
func (c *dashChecker) run(d *grafanaq.Dashboard, pick bool) *dashRun {
	scenario := "saved variable values"
	if pick {
		scenario = "variables set to their first options"
	}
	// The dashboard's own time range, within the test's lifetime.
	from := c.from
	if f, err := grafanaq.ParseRelativeTime(firstNonEmpty(d.Time.From, "now-6h"), c.to); err != nil {
		c.problem("dashboard %s: time.from: %v", d.UID, err)
	} else if f.After(from) {
		from = f
	}
	env := &grafanaq.Env{Vars: map[string]*grafanaq.VarState{}, From: from, To: c.to,
		DashboardUID: d.UID, DashboardTitle: d.Title}
	_ = setIntervals(env, 0, "") // no minimum interval: cannot fail
	c.resolveVars(d, env, pick)
	r := &dashRun{env: env, results: preview.Results{}, hasData: map[string]bool{}, queries: map[string][]string{}}
	for _, p := range d.AllPanels() {
		if len(p.Targets) == 0 {
			continue
		}
		pd := &preview.PanelData{}
		r.results[p.Key()] = pd
		for i, penv := range c.panelEnvs(d, p, env) {
			for _, tgt := range p.Targets {
				where := fmt.Sprintf("dashboard %s, panel %q, query %s (%s)", d.UID, p.Title, tgt.RefID, scenario)
				if i > 0 {
					where += fmt.Sprintf(" repeated for %s=%s", p.Repeat, penv.Vars[p.Repeat].Sel.Selected[0].Value)
				}
				if err := setIntervals(penv, p.MaxDataPoints, firstNonEmpty(tgt.Interval, p.Interval)); err != nil {
					c.problem("%s: %v", where, err)
				}
				c.undefinedVars(where, d, tgt.Expr+" "+tgt.RawSQL, penv)
				target := pd
				if i > 0 {
					target = &preview.PanelData{} // only the first repetition is drawn
				}
				data, sent := c.target(where, penv, p, tgt, target)
				if sent != "" {
					r.queries[p.Key()] = append(r.queries[p.Key()], tgt.RefID+": "+sent)
				}
				if data && !tgt.Hide {
					r.hasData[p.Key()] = true
				}
			}
		}
	}
	return r
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// setIntervals sets $__interval as Grafana derives it from the time range
// and the panel's points, at least the scrape interval and the query's
// minimum interval, and $__rate_interval from it.
func setIntervals(env *grafanaq.Env, maxDataPoints int, minInterval string) error {
	floor := scrapeInterval
	var err error
	if minInterval != "" {
		var iv time.Duration
		if iv, err = grafanaq.ParseInterval(env.Interpolate(minInterval, grafanaq.FlavorGlob)); err == nil {
			floor = max(floor, iv)
		} else {
			err = fmt.Errorf("minimum interval: %w", err)
		}
	}
	env.Interval = grafanaq.AutoInterval(env.To.Sub(env.From), maxDataPoints, floor)
	env.RateInterval = max(grafanaq.RateInterval(env.Interval, scrapeInterval), minRateInterval)
	return err
}

// panelEnvs is the environment of each copy of a panel: one, or one per
// value of the variable a repeated panel repeats for (at most three),
// with that single value.
func (c *dashChecker) panelEnvs(d *grafanaq.Dashboard, p *grafanaq.Panel, env *grafanaq.Env) []*grafanaq.Env {
	if p.Repeat == "" {
		return []*grafanaq.Env{env.Clone()}
	}
	st, ok := env.Vars[p.Repeat]
	if !ok {
		c.problem("dashboard %s, panel %q repeats for $%s, which is not a variable", d.UID, p.Title, p.Repeat)
		return []*grafanaq.Env{env.Clone()}
	}
	vals := st.Sel.Selected
	if st.Sel.All {
		vals = st.Sel.Options
	}
	var out []*grafanaq.Env
	for _, o := range vals[:min(len(vals), 3)] {
		e := env.Clone()
		e.Vars[p.Repeat].Sel = grafanaq.Selection{Options: st.Sel.Options, Selected: []grafanaq.Option{o}}
		out = append(out, e)
	}
	if len(out) == 0 {
		return []*grafanaq.Env{env.Clone()}
	}
	return out
}

// undefinedVars reports $names in a query that are neither variables of
// the dashboard nor Grafana built-ins: Grafana would leave them in.
func (c *dashChecker) undefinedVars(where string, d *grafanaq.Dashboard, text string, env *grafanaq.Env) {
	for _, n := range grafanaq.Names(text) {
		if _, ok := env.Vars[n]; !ok && d.Variable(n) == nil && !isDigits(n) {
			c.problem("%s: refers to $%s, which is not a variable of the dashboard", where, n)
		}
	}
}

func isDigits(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// resolveVars gives every variable its options, in dashboard order (a
// variable's query may use the ones before it), and selects values.
func (c *dashChecker) resolveVars(d *grafanaq.Dashboard, env *grafanaq.Env, pick bool) {
	for _, v := range d.Templating.List {
		if v.Type == "adhoc" {
			continue
		}
		opts, err := c.varOptions(env, v)
		if err != nil {
			c.problem("dashboard %s, variable $%s: %v", d.UID, v.Name, err)
		} else if len(opts) == 0 && v.NeedsQuery() {
			c.problem("dashboard %s, variable $%s: its query %q returned no values", d.UID, v.Name, v.QueryText())
		}
		sel := grafanaq.Choose(v, opts)
		if pick && len(opts) > 0 && v.Type != "datasource" && v.Type != "constant" {
			sel = grafanaq.Pick(v, opts)
		}
		env.Vars[v.Name] = grafanaq.State(v, sel)
	}
}

// varOptions computes a variable's options, running its query on the
// data source it names.
func (c *dashChecker) varOptions(env *grafanaq.Env, v *grafanaq.Variable) ([]grafanaq.Option, error) {
	if opts, ok := grafanaq.StaticOptions(v); ok {
		return opts, nil
	}
	switch v.Type {
	case "datasource":
		var items []grafanaq.Option
		switch grafanaq.KindOfType(v.QueryText()) {
		case grafanaq.KindPrometheus:
			items = []grafanaq.Option{{Text: promUID, Value: promUID}}
		case grafanaq.KindPostgres:
			items = []grafanaq.Option{{Text: postgresUID, Value: postgresUID}}
		default:
			return nil, fmt.Errorf("no data source of type %q is provisioned", v.QueryText())
		}
		return grafanaq.VariableOptions(v, items)
	case "query":
	default:
		return nil, fmt.Errorf("variable type %q is not supported by this test", v.Type)
	}
	kind, err := c.datasource(env, v.Datasource, grafanaq.KindUnknown)
	if err != nil {
		return nil, err
	}
	var items []grafanaq.Option
	switch kind {
	case grafanaq.KindPrometheus:
		items, err = c.promVarItems(env, v)
	case grafanaq.KindPostgres:
		items, err = c.sqlVarItems(env, v)
	default:
		return nil, fmt.Errorf("query variable on data source %+v, which is neither Prometheus nor PostgreSQL", v.Datasource)
	}
	if err != nil {
		return nil, err
	}
	return grafanaq.VariableOptions(v, items)
}

func (c *dashChecker) promVarItems(env *grafanaq.Env, v *grafanaq.Variable) ([]grafanaq.Option, error) {
	raw := env.Interpolate(v.QueryText(), grafanaq.FlavorPrometheus)
	q, err := grafanaq.ParsePromVarQuery(raw)
	if err != nil {
		return nil, err
	}
	where := "variable $" + v.Name
	var texts []string
	switch q.Func {
	case "label_values":
		if q.Match != "" {
			c.exprs = append(c.exprs, usedExpr{where, q.Match})
		}
		texts, err = c.prom.labelValues(q.Label, q.Match, env.From, env.To)
	case "label_names":
		if q.Match != "" {
			c.exprs = append(c.exprs, usedExpr{where, q.Match})
		}
		texts, err = c.prom.labelNames(q.Match, env.From, env.To)
	case "metrics":
		texts, err = c.prom.labelValues("__name__", "", env.From, env.To)
		if err == nil {
			re, rerr := grafanaq.JSRegexp("/" + q.Expr + "/")
			if rerr != nil {
				return nil, rerr
			}
			texts = slices.DeleteFunc(texts, func(s string) bool { return !re.MatchString(s) })
		}
	case "query_result":
		c.exprs = append(c.exprs, usedExpr{where, q.Expr})
		var r promResult
		r, _, err = c.prom.query(q.Expr, env.To)
		for _, s := range r.Series {
			for _, pt := range s.Values {
				texts = append(texts, grafanaq.QueryResultText(s.Metric, pt.S, pt.T))
			}
		}
	case "series":
		c.exprs = append(c.exprs, usedExpr{where, q.Match})
		var ss []map[string]string
		ss, err = c.prom.series(q.Match, env.From, env.To)
		for _, s := range ss {
			texts = append(texts, grafanaq.SeriesText(s))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s(...) as %q: %w", q.Func, raw, err)
	}
	items := make([]grafanaq.Option, len(texts))
	for i, s := range texts {
		items[i] = grafanaq.Option{Text: s, Value: s}
	}
	return items, nil
}

// sqlVarItems runs a SQL variable query: columns __text and __value give
// options, otherwise every cell is one.
func (c *dashChecker) sqlVarItems(env *grafanaq.Env, v *grafanaq.Variable) ([]grafanaq.Option, error) {
	sql, err := env.SQLQuery(v.QueryText())
	if err != nil {
		return nil, err
	}
	cols, rows, err := c.runSQL(sql)
	if err != nil {
		return nil, fmt.Errorf("%w\n  SQL: %s", err, sql)
	}
	ti, vi := slices.Index(cols, "__text"), slices.Index(cols, "__value")
	var items []grafanaq.Option
	for _, row := range rows {
		if ti >= 0 && vi >= 0 {
			items = append(items, grafanaq.Option{Text: sqlText(row[ti]), Value: sqlText(row[vi])})
			continue
		}
		for _, cell := range row {
			items = append(items, grafanaq.Option{Text: sqlText(cell), Value: sqlText(cell)})
		}
	}
	return items, nil
}

// datasource resolves a data source reference (a variable included) to
// the family of one of the provisioned data sources; guess is used when
// the reference leaves the choice to the target or to Grafana's default.
func (c *dashChecker) datasource(env *grafanaq.Env, ref *grafanaq.DatasourceRef, guess grafanaq.Kind) (grafanaq.Kind, error) {
	if ref == nil || ref.UID == "" && ref.Type == "" {
		return guess, nil
	}
	uid := env.Interpolate(ref.UID, grafanaq.FlavorGlob)
	declared := grafanaq.KindOfType(ref.Type)
	var kind grafanaq.Kind
	switch uid {
	case promUID:
		kind = grafanaq.KindPrometheus
	case postgresUID:
		kind = grafanaq.KindPostgres
	case "-- Mixed --":
		return guess, nil
	case "__expr__", "-- Dashboard --", "grafana":
		return ref.Kind(), nil
	case "":
		if declared == grafanaq.KindPrometheus || declared == grafanaq.KindPostgres {
			return declared, nil
		}
		return guess, nil
	default:
		return grafanaq.KindUnknown, fmt.Errorf("data source uid %q (from %q) is not provisioned; use %s or %s", uid, ref.UID, promUID, postgresUID)
	}
	if ref.Type != "" && declared != kind {
		return kind, fmt.Errorf("data source uid %s is declared with type %q", uid, ref.Type)
	}
	return kind, nil
}

// target runs one query of a panel and adds what it returned to pd. It
// reports whether the query returned data, and the query as sent.
func (c *dashChecker) target(where string, env *grafanaq.Env, p *grafanaq.Panel, tgt *grafanaq.Target, pd *preview.PanelData) (bool, string) {
	kind, err := c.datasource(env, p.TargetDatasource(tgt), p.TargetKind(tgt))
	if err != nil {
		c.problem("%s: %v", where, err)
		return false, ""
	}
	if kind == grafanaq.KindUnknown || kind == grafanaq.KindMixed {
		kind = p.TargetKind(tgt)
	}
	switch kind {
	case grafanaq.KindPrometheus:
		if strings.TrimSpace(tgt.Expr) == "" {
			c.problem("%s: Prometheus query without an expression", where)
			return false, ""
		}
		return c.promTarget(where, env, tgt, pd)
	case grafanaq.KindPostgres:
		if strings.TrimSpace(tgt.RawSQL) == "" {
			c.problem("%s: PostgreSQL query without rawSql (builder queries cannot be run by this test)", where)
			return false, ""
		}
		return c.sqlTarget(where, env, tgt, pd)
	case grafanaq.KindExpression:
		c.note("%s: server-side expression, not run", where)
		return false, ""
	}
	c.problem("%s: cannot tell the data source of this query", where)
	return false, ""
}

// promTarget runs a Prometheus query both as an instant query and as a
// range query; either failing is a problem. Data is what Grafana would
// draw: the instant result for an instant-only query, else the range.
func (c *dashChecker) promTarget(where string, env *grafanaq.Env, tgt *grafanaq.Target, pd *preview.PanelData) (bool, string) {
	expr := env.PromQuery(tgt.Expr)
	c.exprs = append(c.exprs, usedExpr{where, expr})
	c.promQueries += 2
	inst, w1, err1 := c.prom.query(expr, env.To)
	rng, w2, err2 := c.prom.queryRange(expr, env.From, env.To, env.Interval)
	for _, w := range append(w1, w2...) {
		c.note("%s: Prometheus warns: %s", where, w)
	}
	for _, e := range []struct {
		kind string
		err  error
	}{{"instant", err1}, {"range", err2}} {
		if e.err != nil {
			c.problem("%s: %s query failed: %v\n  PromQL: %s", where, e.kind, e.err, expr)
			pd.Errors = append(pd.Errors, e.err.Error())
		}
	}
	if err1 != nil || err2 != nil {
		return false, expr
	}
	res := rng
	if tgt.IsInstant() && !tgt.IsRange() {
		res = inst
	}
	if tgt.Format == "table" && res.Type == "vector" {
		pd.Tables = append(pd.Tables, vectorTable(res))
	} else {
		for _, s := range res.Series {
			ps := preview.Series{Name: grafanaq.Legend(env.Interpolate(tgt.LegendFormat, grafanaq.FlavorGlob), s.Metric)}
			for _, pt := range s.Values {
				ps.Points = append(ps.Points, preview.Point{T: time.UnixMilli(int64(pt.T * 1000)), V: pt.V})
			}
			pd.Series = append(pd.Series, ps)
		}
	}
	return res.Samples() > 0, fmt.Sprintf("%s\n     (instant query at %s: %d series; range query %s to %s step %v: %d series, %d samples)",
		expr, env.To.UTC().Format(time.TimeOnly), len(inst.Series), env.From.UTC().Format(time.TimeOnly),
		env.To.UTC().Format(time.TimeOnly), env.Interval, len(rng.Series), rng.Samples())
}

// vectorTable is an instant result in table format: one column per label
// and a Value column.
func vectorTable(r promResult) preview.Table {
	var labels []string
	for _, s := range r.Series {
		for k := range s.Metric {
			if !slices.Contains(labels, k) {
				labels = append(labels, k)
			}
		}
	}
	sort.Strings(labels)
	t := preview.Table{Columns: append(slices.Clone(labels), "Value")}
	for _, s := range r.Series {
		row := make([]string, 0, len(labels)+1)
		for _, l := range labels {
			row = append(row, s.Metric[l])
		}
		if len(s.Values) > 0 {
			row = append(row, s.Values[0].S)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// sqlTarget expands and runs a PostgreSQL query in a read-only
// transaction. A time_series query must have a time column, numeric
// values, and (when a text column splits it into series) rows in time
// order, or Grafana refuses it.
func (c *dashChecker) sqlTarget(where string, env *grafanaq.Env, tgt *grafanaq.Target, pd *preview.PanelData) (bool, string) {
	sql, err := env.SQLQuery(tgt.RawSQL)
	if err != nil {
		c.problem("%s: %v\n  SQL: %s", where, err, tgt.RawSQL)
		pd.Errors = append(pd.Errors, err.Error())
		return false, ""
	}
	cols, rows, err := c.runSQL(sql)
	if err != nil {
		c.problem("%s: %v\n  SQL: %s", where, err, sql)
		pd.Errors = append(pd.Errors, err.Error())
		return false, sql
	}
	if tgt.Format == "time_series" {
		series, err := sqlSeries(cols, rows)
		if err != nil {
			c.problem("%s: format time_series: %v\n  SQL: %s", where, err, sql)
			pd.Errors = append(pd.Errors, err.Error())
			return false, sql
		}
		pd.Series = append(pd.Series, series...)
		return len(rows) > 0, sql
	}
	t := preview.Table{Columns: cols}
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = sqlText(v)
		}
		t.Rows = append(t.Rows, cells)
	}
	pd.Tables = append(pd.Tables, t)
	return len(rows) > 0, sql
}

// runSQL runs a query in a read-only transaction, so that no dashboard
// query can change the database.
func (c *dashChecker) runSQL(sql string) ([]string, [][]any, error) {
	c.sqlQueries++
	ctx := context.Background()
	tx, err := c.pg.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, sql)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var cols []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	var out [][]any
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, nil, err
		}
		out = append(out, vals)
	}
	return cols, out, rows.Err()
}

// sqlSeries converts a time_series result as Grafana does: the column
// named time is the timestamp; a text column named metric names the
// series; other text columns are labels; numeric columns are values.
func sqlSeries(cols []string, rows [][]any) ([]preview.Series, error) {
	ti := slices.IndexFunc(cols, func(c string) bool { return c == "time" || c == "time_sec" })
	if ti < 0 {
		return nil, fmt.Errorf("no column named time among %v", cols)
	}
	mi := slices.Index(cols, "metric")
	var valueCols, labelCols []int
	for i := range cols {
		if i == ti || i == mi || len(rows) == 0 {
			continue
		}
		if _, ok := sqlFloat(rows[0][i]); ok || rows[0][i] == nil {
			valueCols = append(valueCols, i)
		} else {
			labelCols = append(labelCols, i)
		}
	}
	if len(rows) > 0 && len(valueCols) == 0 {
		return nil, fmt.Errorf("no numeric value column among %v", cols)
	}
	long := mi >= 0 || len(labelCols) > 0
	byName := map[string]*preview.Series{}
	var order []string
	var last time.Time
	for r, row := range rows {
		ts, ok := sqlTime(row[ti])
		if !ok {
			return nil, fmt.Errorf("row %d: time %v (%T) is neither a timestamp nor a number", r+1, row[ti], row[ti])
		}
		if long && ts.Before(last) {
			return nil, fmt.Errorf("rows are not sorted by time (row %d at %v after %v); add ORDER BY", r+1, ts, last)
		}
		last = ts
		prefix := ""
		if mi >= 0 {
			prefix = sqlText(row[mi])
		}
		for _, li := range labelCols {
			prefix = strings.TrimSpace(prefix + " " + cols[li] + "=" + sqlText(row[li]))
		}
		for _, vi := range valueCols {
			v, ok := sqlFloat(row[vi])
			if !ok && row[vi] != nil {
				return nil, fmt.Errorf("row %d: column %s value %v is not a number", r+1, cols[vi], row[vi])
			}
			if !ok {
				v = math.NaN()
			}
			name := cols[vi]
			if prefix != "" {
				name = prefix
				if len(valueCols) > 1 {
					name += " " + cols[vi]
				}
			}
			s, seen := byName[name]
			if !seen {
				s = &preview.Series{Name: name}
				byName[name] = s
				order = append(order, name)
			}
			s.Points = append(s.Points, preview.Point{T: ts, V: v})
		}
	}
	var out []preview.Series
	for _, n := range order {
		out = append(out, *byName[n])
	}
	return out, nil
}

func sqlTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case pgtype.Timestamp:
		return x.Time, x.Valid
	case pgtype.Timestamptz:
		return x.Time, x.Valid
	}
	if f, ok := sqlFloat(v); ok {
		if f > 1e11 {
			return time.UnixMilli(int64(f)), true
		}
		return time.Unix(0, int64(f*1e9)), true
	}
	return time.Time{}, false
}

func sqlFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case pgtype.Numeric:
		f, err := x.Float64Value()
		return f.Float64, err == nil && f.Valid
	}
	return 0, false
}

func sqlText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case []byte:
		return string(x)
	case pgtype.Numeric:
		if f, ok := sqlFloat(x); ok {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// checkRules runs every rule's expression as an instant and a range
// query, and checks that Prometheus loaded every rule and evaluates it
// without error.
func (c *dashChecker) checkRules(rules []ruleDef) {
	for _, r := range rules {
		name := r.record + r.alert
		where := fmt.Sprintf("rule %s in %s (group %s)", name, r.file, r.group)
		c.exprs = append(c.exprs, usedExpr{where, r.expr})
		c.promQueries += 2
		if _, _, err := c.prom.query(r.expr, c.to); err != nil {
			c.problem("%s: instant query failed: %v\n  PromQL: %s", where, err, r.expr)
		}
		if _, _, err := c.prom.queryRange(r.expr, c.from, c.to, scrapeInterval); err != nil {
			c.problem("%s: range query failed: %v\n  PromQL: %s", where, err, r.expr)
		}
	}
	loaded := 0
	for group, rs := range c.prom.rules(c.t) {
		for _, r := range rs {
			loaded++
			if r.Health != "ok" || r.LastError != "" {
				c.problem("rule %s (%s) is %s in Prometheus: %s", r.Name, group, r.Health, r.LastError)
			}
		}
	}
	if loaded != len(rules) {
		c.problem("Prometheus loaded %d rules; the rule files define %d", loaded, len(rules))
	}
}

var metricAlternationRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\|[a-zA-Z_:][a-zA-Z0-9_:]*)*$`)

// checkMetricNames checks that every metric a dashboard or rule reads is
// exported by steward-server (or derived from one, for histogram series),
// recorded by a rule file, or made by Prometheus itself.
func (c *dashChecker) checkMetricNames(exported, recorded map[string]bool) {
	builtin := map[string]bool{"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true,
		"scrape_samples_post_metric_relabeling": true, "scrape_series_added": true, "ALERTS": true, "ALERTS_FOR_STATE": true}
	known := func(n string) bool {
		if exported[n] || recorded[n] || builtin[n] {
			return true
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(n, suf); ok && exported[base] {
				return true
			}
		}
		return false
	}
	unknown := map[string][]string{}
	for _, u := range c.exprs {
		names, regexes, err := grafanaq.MetricNames(u.expr)
		if err != nil {
			c.problem("%s: %v", u.where, err)
			continue
		}
		for _, re := range regexes {
			// A plain alternation of names is a list of names.
			if metricAlternationRE.MatchString(re) {
				names = append(names, strings.Split(re, "|")...)
			} else {
				c.note("%s: selects metrics by a regex %q, not checked", u.where, re)
			}
		}
		for _, n := range names {
			if !known(n) && !slices.Contains(unknown[n], u.where) {
				unknown[n] = append(unknown[n], u.where)
			}
		}
	}
	names := make([]string, 0, len(unknown))
	for n := range unknown {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ws := unknown[n]
		more := ""
		if len(ws) > 3 {
			more = fmt.Sprintf(" and %d more", len(ws)-3)
			ws = ws[:3]
		}
		c.problem("metric %s is neither exported by steward-server nor recorded by a rule file; used by %s%s",
			n, strings.Join(ws, "; "), more)
	}
}

// checkCore checks that every core panel exists and showed data with the
// dashboards' saved variable values.
func (c *dashChecker) checkCore(set *dashSet, runs map[string]*dashRun) {
	byUID := map[string]*grafanaq.Dashboard{}
	for _, d := range set.dashboards {
		byUID[d.UID] = d
	}
	uids := make([]string, 0, len(set.core))
	for uid := range set.core {
		uids = append(uids, uid)
	}
	sort.Strings(uids)
	for _, uid := range uids {
		d := byUID[uid]
		if d == nil {
			c.problem("core panels are listed for dashboard %q, which is not among the dashboards", uid)
			continue
		}
		for _, title := range set.core[uid] {
			i := slices.IndexFunc(d.AllPanels(), func(p *grafanaq.Panel) bool { return p.Title == title })
			if i < 0 {
				c.problem("dashboard %s has no panel titled %q (a core panel)", uid, title)
				continue
			}
			p := d.AllPanels()[i]
			if !runs[uid].hasData[p.Key()] {
				c.problem("dashboard %s, core panel %q returned no data; its queries as sent:\n  %s",
					uid, title, strings.Join(runs[uid].queries[p.Key()], "\n  "))
			}
		}
	}
}
