package generate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// These tests read the committed files, as Grafana will, rather than the
// generator's structs: what is checked is what ships.

// dashboardFile is one parsed dashboard JSON file.
type dashboardFile struct {
	name string
	raw  map[string]any
}

func loadDashboards(t *testing.T) []dashboardFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(grafanaDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no dashboards in %s; run `make dashboards`", grafanaDir)
	}
	sort.Strings(paths)
	var out []dashboardFile
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatalf("%s does not parse: %v", p, err)
		}
		out = append(out, dashboardFile{name: filepath.Base(p), raw: raw})
	}
	return out
}

// provisionedUIDs reads the data source uids the provisioning file defines.
func provisionedUIDs(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("../provisioning/datasources/steward.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name string `yaml:"name"`
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("datasources/steward.yml: %v", err)
	}
	if f.APIVersion != 1 {
		t.Errorf("datasources/steward.yml: apiVersion %d, want 1", f.APIVersion)
	}
	uids := map[string]string{}
	for _, ds := range f.Datasources {
		uids[ds.UID] = ds.Type
	}
	return uids
}

// panels returns every panel of a dashboard, rows included, with the
// panels nested in collapsed rows.
func panels(d map[string]any) []map[string]any {
	var out []map[string]any
	for _, p := range list(d["panels"]) {
		pm := obj(p)
		out = append(out, pm)
		for _, nested := range list(pm["panels"]) {
			out = append(out, obj(nested))
		}
	}
	return out
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// TestDashboardStructure checks what Grafana and the admins rely on.
func TestDashboardStructure(t *testing.T) {
	dashboards := loadDashboards(t)
	dsUIDs := provisionedUIDs(t)
	for _, uid := range []string{PrometheusUID, PostgresUID} {
		if _, ok := dsUIDs[uid]; !ok {
			t.Errorf("the provisioning file does not define data source %q", uid)
		}
	}
	uids := map[string]string{}
	var schema any
	for _, df := range dashboards {
		d := df.raw
		uid := str(d["uid"])
		if uid == "" {
			t.Errorf("%s: no uid", df.name)
		}
		if other, dup := uids[uid]; dup {
			t.Errorf("%s and %s share uid %q", other, df.name, uid)
		}
		uids[uid] = df.name
		if df.name != uid+".json" {
			t.Errorf("%s: file name should be its uid, %s.json", df.name, uid)
		}
		if str(d["title"]) == "" || str(d["description"]) == "" {
			t.Errorf("%s: needs a title and a description", df.name)
		}
		sv, ok := d["schemaVersion"].(float64)
		if !ok || sv <= 0 {
			t.Errorf("%s: schemaVersion missing", df.name)
		}
		if schema == nil {
			schema = d["schemaVersion"]
		} else if d["schemaVersion"] != schema {
			t.Errorf("%s: schemaVersion %v, others %v", df.name, d["schemaVersion"], schema)
		}
		if d["id"] != nil {
			t.Errorf("%s: id must be absent for provisioning, got %v", df.name, d["id"])
		}
	}
	for _, df := range dashboards {
		t.Run(df.name, func(t *testing.T) {
			checkPanels(t, df.raw, dsUIDs)
			checkVariables(t, df.raw, dsUIDs)
			checkLinks(t, df.raw, uids)
		})
	}
}

// checkPanels: unique ids and titles, descriptions, data sources and a
// grid that holds together.
func checkPanels(t *testing.T, d map[string]any, dsUIDs map[string]string) {
	ids := map[float64]bool{}
	titles := map[string]bool{}
	var boxes []box
	for _, p := range panels(d) {
		title := str(p["title"])
		id, ok := p["id"].(float64)
		if !ok {
			t.Errorf("panel %q has no id", title)
		} else if ids[id] {
			t.Errorf("panel id %v used twice (%q)", id, title)
		}
		ids[id] = true
		gp := obj(p["gridPos"])
		b := box{x: num(gp["x"]), y: num(gp["y"]), w: num(gp["w"]), h: num(gp["h"]), title: title}
		if b.w < 1 || b.h < 1 || b.x < 0 || b.x+b.w > 24 {
			t.Errorf("panel %q: grid position %+v outside the 24 columns", title, gp)
		}
		for _, o := range boxes {
			if b.overlaps(o) {
				t.Errorf("panels %q and %q overlap", title, o.title)
			}
		}
		boxes = append(boxes, b)
		if p["type"] == "row" {
			continue
		}
		if title == "" {
			t.Errorf("panel %v has no title", id)
		}
		if titles[title] {
			t.Errorf("two panels are titled %q", title)
		}
		titles[title] = true
		if strings.TrimSpace(str(p["description"])) == "" {
			t.Errorf("panel %q has no description", title)
		}
		ds := str(obj(p["datasource"])["uid"])
		if _, ok := dsUIDs[ds]; !ok {
			t.Errorf("panel %q: data source uid %q is not provisioned", title, ds)
		}
		targets := list(p["targets"])
		if len(targets) == 0 {
			t.Errorf("panel %q has no query", title)
		}
		for _, tg := range targets {
			tm := obj(tg)
			tds := str(obj(tm["datasource"])["uid"])
			if _, ok := dsUIDs[tds]; !ok {
				t.Errorf("panel %q target %v: data source uid %q is not provisioned", title, tm["refId"], tds)
			}
			if tds != ds {
				t.Errorf("panel %q target %v: data source %q, the panel's is %q", title, tm["refId"], tds, ds)
			}
			if tds == PostgresUID && strings.TrimSpace(str(tm["rawSql"])) == "" {
				t.Errorf("panel %q: SQL target without rawSql", title)
			}
			if tds == PrometheusUID && strings.TrimSpace(str(tm["expr"])) == "" {
				t.Errorf("panel %q: Prometheus target without expr", title)
			}
		}
	}
	for _, a := range list(obj(d["annotations"])["list"]) {
		am := obj(a)
		if uid := str(obj(am["datasource"])["uid"]); dsUIDs[uid] == "" {
			t.Errorf("annotation %q: data source uid %q is not provisioned", am["name"], uid)
		}
	}
}

type box struct {
	x, y, w, h float64
	title      string
}

func (a box) overlaps(b box) bool {
	return a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+b.h && b.y < a.y+a.h
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// varRef finds Grafana variable references: $name, ${name} and
// ${name:format} or ${name.field}, and the old [[name]].
var varRef = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)([:.][^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)(?::[^\]]*)?\]\]`)

// isBuiltin tells Grafana's own variables ($__interval, $__timeFilter,
// ${__data.fields...}, ...) from the dashboard's: they all start with __.
func isBuiltin(name string) bool { return strings.HasPrefix(name, "__") }

// checkVariables: variables query provisioned data sources, every
// reference names a defined variable, and SQL takes user values only
// through ${name:sqlstring}.
func checkVariables(t *testing.T, d map[string]any, dsUIDs map[string]string) {
	defined := map[string]bool{}
	for _, v := range list(obj(d["templating"])["list"]) {
		vm := obj(v)
		name := str(vm["name"])
		if defined[name] {
			t.Errorf("variable %q defined twice", name)
		}
		defined[name] = true
		if str(vm["description"]) == "" {
			t.Errorf("variable %q has no description", name)
		}
		if vm["type"] == "query" {
			if uid := str(obj(vm["datasource"])["uid"]); dsUIDs[uid] == "" {
				t.Errorf("variable %q: data source uid %q is not provisioned", name, uid)
			}
		}
	}
	// Every string of the dashboard: queries, titles, descriptions,
	// links, variable queries, annotations.
	walkStrings(d, "", func(path, s string) {
		for _, m := range varRef.FindAllStringSubmatch(s, -1) {
			name := m[1] + m[3] + m[4]
			if !isBuiltin(name) && !defined[name] {
				t.Errorf("%s uses $%s, which this dashboard does not define: %.80q", path, name, s)
			}
		}
	})
	for _, p := range panels(d) {
		for _, tg := range list(p["targets"]) {
			checkSQLVars(t, str(p["title"]), str(obj(tg)["rawSql"]))
			checkRanges(t, str(p["title"]), str(obj(tg)["expr"]))
		}
	}
	for _, v := range list(obj(d["templating"])["list"]) {
		vm := obj(v)
		if str(obj(vm["datasource"])["uid"]) == PostgresUID {
			checkSQLVars(t, "variable "+str(vm["name"]), str(vm["query"]))
		}
	}
}

// checkSQLVars refuses a variable interpolated into SQL without the
// sqlstring format: a raw value from a text box or a URL would be SQL.
func checkSQLVars(t *testing.T, where, sql string) {
	for _, m := range varRef.FindAllStringSubmatch(sql, -1) {
		name := m[1] + m[3] + m[4]
		if isBuiltin(name) {
			continue
		}
		if m[1] == "" || m[2] != ":sqlstring" {
			t.Errorf("%s: SQL interpolates %q; write ${%s:sqlstring}", where, m[0], name)
		}
	}
}

// rangeSel finds the range of a range vector selector or subquery.
var rangeSel = regexp.MustCompile(`\[([^\]]*)\]`)

// checkRanges wants rates over $__rate_interval (or the whole range), so
// that panels stay right whatever the zoom and the scrape interval.
func checkRanges(t *testing.T, where, expr string) {
	for _, m := range rangeSel.FindAllStringSubmatch(expr, -1) {
		if m[1] != "$__rate_interval" && m[1] != "$__range" {
			t.Errorf("%s: range [%s] in %q; use [$__rate_interval]", where, m[1], expr)
		}
	}
}

// walkStrings calls f on every string in v with its JSON path.
func walkStrings(v any, path string, f func(path, s string)) {
	switch x := v.(type) {
	case string:
		f(path, x)
	case []any:
		for i, e := range x {
			walkStrings(e, fmt.Sprintf("%s[%d]", path, i), f)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walkStrings(x[k], path+"."+k, f)
		}
	}
}

// dashboardURL is a link to a dashboard by uid.
var dashboardURL = regexp.MustCompile(`^/d/([A-Za-z0-9_-]+)(?:[/?]|$)`)

// checkLinks: dashboard links, panel links and table cell links all go
// to dashboards that exist.
func checkLinks(t *testing.T, d map[string]any, uids map[string]string) {
	check := func(where string, l map[string]any) {
		url := str(l["url"])
		if str(l["type"]) == "dashboards" {
			t.Errorf("%s: link by tags %v; link a dashboard by uid", where, l["tags"])
			return
		}
		m := dashboardURL.FindStringSubmatch(url)
		if m == nil {
			t.Errorf("%s: link %q is not a dashboard link (/d/UID...)", where, url)
			return
		}
		if _, ok := uids[m[1]]; !ok {
			t.Errorf("%s: link %q goes to dashboard %q, which does not exist", where, url, m[1])
		}
		if str(l["title"]) == "" {
			t.Errorf("%s: link %q has no title", where, url)
		}
	}
	if len(list(d["links"])) == 0 {
		t.Error("the dashboard has no links to the others")
	}
	for _, l := range list(d["links"]) {
		check("dashboard link", obj(l))
	}
	for _, p := range panels(d) {
		title := str(p["title"])
		for _, l := range list(p["links"]) {
			check("panel "+title, obj(l))
		}
		fc := obj(p["fieldConfig"])
		for _, l := range list(obj(fc["defaults"])["links"]) {
			check("panel "+title+" field link", obj(l))
		}
		for _, o := range list(fc["overrides"]) {
			for _, prop := range list(obj(o)["properties"]) {
				pm := obj(prop)
				if pm["id"] == "links" {
					for _, l := range list(pm["value"]) {
						check("panel "+title+" cell link", obj(l))
					}
				}
			}
		}
	}
}

// TestHostTablesLinkToHost: a table that lists hosts (a hostname and a
// host_id column) links its host names to the host dashboard.
func TestHostTablesLinkToHost(t *testing.T) {
	for _, df := range loadDashboards(t) {
		for _, p := range panels(df.raw) {
			if p["type"] != "table" {
				continue
			}
			sqlText := ""
			for _, tg := range list(p["targets"]) {
				sqlText += str(obj(tg)["rawSql"])
			}
			if !strings.Contains(sqlText, "AS host_id") || !strings.Contains(sqlText, "hostname") {
				continue
			}
			linked := false
			for _, o := range list(obj(p["fieldConfig"])["overrides"]) {
				om := obj(o)
				if str(obj(om["matcher"])["options"]) != "hostname" {
					continue
				}
				for _, prop := range list(om["properties"]) {
					for _, l := range list(obj(prop)["value"]) {
						if strings.HasPrefix(str(obj(l)["url"]), "/d/"+UIDHost+"?var-host=${__data.fields.host_id}") {
							linked = true
						}
					}
				}
			}
			if !linked {
				t.Errorf("%s: table %q lists hosts but does not link them to the host dashboard", df.name, p["title"])
			}
		}
	}
}

// knownMetrics returns the series steward-server can export: the names
// in the server's Go code (metric definitions and collectors), each
// also with the histogram suffixes, and the standard collectors' names
// the dashboards use.
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	literal := regexp.MustCompile(`"(steward_[a-z0-9_]+)"`)
	err := filepath.WalkDir("../../server", func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllStringSubmatch(string(data), -1) {
			known[m[1]] = true
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				known[m[1]+suffix] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, std := range []string{"up", "process_cpu_seconds_total", "process_resident_memory_bytes",
		"process_open_fds", "process_max_fds", "go_goroutines", "go_memstats_heap_inuse_bytes"} {
		known[std] = true
	}
	return known
}

// metricName finds names of series in PromQL: identifiers followed by a
// selector, a range or the end of an argument. Label names inside braces
// and function names (followed by "(") are not matched.
var metricName = regexp.MustCompile(`(?:^|[^A-Za-z0-9_:"])([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{|\[|\)|$|\s+(?:or|and|unless|[-+*/<>=!]))`)

// grouping matches the label lists of by, without, on, ignoring and
// group_left/right, which are not series.
var grouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)

// promNames returns the series names in expr, ignoring keywords.
func promNames(expr string) []string {
	stripped := regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(expr, "{}")
	stripped = grouping.ReplaceAllString(stripped, " ")
	stripped = regexp.MustCompile(`"[^"]*"`).ReplaceAllString(stripped, `""`)
	var out []string
	for _, m := range metricName.FindAllStringSubmatch(stripped, -1) {
		name := m[1]
		switch name {
		case "by", "without", "on", "ignoring", "group_left", "group_right", "or", "and", "unless", "offset", "bool":
			continue
		}
		out = append(out, name)
	}
	return out
}

// TestDashboardMetricsExist: every series a panel or a variable queries is
// one the server exports or a recording rule, so a renamed metric breaks
// this test and not a dashboard.
func TestDashboardMetricsExist(t *testing.T) {
	known := knownMetrics(t)
	for _, r := range loadRules(t).recording {
		known[r] = true
	}
	var missing []string
	for _, df := range loadDashboards(t) {
		check := func(where, expr string) {
			names := promNames(expr)
			if strings.TrimSpace(expr) != "" && len(names) == 0 && !strings.Contains(expr, "__name__") {
				t.Errorf("%s %s: no series found in %q (the test's parser needs a look)", df.name, where, expr)
			}
			for _, n := range names {
				if !known[n] {
					missing = append(missing, fmt.Sprintf("%s %s: %s", df.name, where, n))
				}
			}
		}
		for _, p := range panels(df.raw) {
			for _, tg := range list(p["targets"]) {
				check("panel "+str(p["title"]), str(obj(tg)["expr"]))
			}
		}
		for _, v := range list(obj(df.raw["templating"])["list"]) {
			vm := obj(v)
			if q := str(vm["query"]); strings.HasPrefix(q, "label_values(") {
				sel := strings.TrimSuffix(strings.TrimPrefix(q, "label_values("), ")")
				sel = sel[:strings.LastIndex(sel, ",")]
				check("variable "+str(vm["name"]), sel)
				for _, alt := range regexp.MustCompile(`__name__=~"([^"]*)"`).FindAllStringSubmatch(sel, -1) {
					for _, n := range strings.Split(alt[1], "|") {
						if !known[n] {
							missing = append(missing, fmt.Sprintf("%s variable %s: %s", df.name, vm["name"], n))
						}
					}
				}
			}
		}
	}
	slices.Sort(missing)
	for _, m := range slices.Compact(missing) {
		t.Errorf("unknown series %s", m)
	}
}

// TestPromNames pins the series-name parser the metric checks rely on.
func TestPromNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum(steward:hosts:max{os=~"$os", online="true"}) or vector(0)`:                                      {"steward:hosts:max"},
		`60 * sum by (kind) (rate(steward_inventory_changes_total[$__rate_interval]))`:                       {"steward_inventory_changes_total"},
		`histogram_quantile(0.99, sum by (le, event) (rate(steward_notification_delay_seconds_bucket[5m])))`: {"steward_notification_delay_seconds_bucket"},
		`min(steward_tls_certificate_expiry_timestamp_seconds{job="x"}) - time()`:                            {"steward_tls_certificate_expiry_timestamp_seconds"},
		`steward:compliance_ratio:fleet`:                                                                     {"steward:compliance_ratio:fleet"},
		`a_total > 0 unless on (job) b_total > 0`:                                                            {"a_total", "b_total"},
	} {
		if got := promNames(expr); !slices.Equal(got, want) {
			t.Errorf("promNames(%q) = %q, want %q", expr, got, want)
		}
	}
}
