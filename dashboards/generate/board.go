package generate

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/steward-project/steward/shared/policy"
)

// Dashboard uids: stable, so links and bookmarks survive regeneration.
const (
	UIDFleet          = "steward-fleet"
	UIDCompliance     = "steward-compliance"
	UIDInventory      = "steward-inventory"
	UIDHost           = "steward-host"
	UIDAlerts         = "steward-alerts"
	UIDServer         = "steward-server"
	UIDFleetProm      = "steward-fleet-prom"
	UIDComplianceProm = "steward-compliance-prom"
)

// board accumulates one dashboard: its SDK builder, the ids it has
// handed out, and the titles of its core panels.
type board struct {
	uid  string
	b    *dashboard.DashboardBuilder
	id   uint32
	core []string
	errs []error
}

// newBoard starts a dashboard tagged "steward" that opens on the last
// span of time given by from ("now-24h") and refreshes every refresh.
func newBoard(uid, title, desc, from, refresh string) *board {
	b := dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(desc).
		Tags([]string{"steward"}).
		Readonly().
		Timezone("browser").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Time(from, "now").
		Refresh(refresh)
	return &board{uid: uid, b: b}
}

// row starts a new row of panels under a heading.
func (d *board) row(title string) {
	d.id++
	d.b.WithRow(dashboard.NewRowBuilder(title).Id(d.id))
}

// add appends a panel.
func (d *board) add(p cog.Builder[dashboard.Panel]) {
	d.place(p)
}

// addCore appends a panel that must show data on a running Steward with
// agents reporting (see CorePanels).
func (d *board) addCore(p cog.Builder[dashboard.Panel]) {
	if title := d.place(p); title != "" {
		d.core = append(d.core, title)
	}
}

// place builds the panel, gives it the next id and appends it; it
// returns the panel's title.
func (d *board) place(p cog.Builder[dashboard.Panel]) string {
	panel, err := p.Build()
	if err != nil {
		d.errs = append(d.errs, err)
		return ""
	}
	d.id++
	id := d.id
	panel.Id = &id
	d.b.WithPanel(built(panel))
	if panel.Title == nil {
		return ""
	}
	return *panel.Title
}

// built is a panel that is already built.
type built dashboard.Panel

func (p built) Build() (dashboard.Panel, error) { return dashboard.Panel(p), nil }

// variable adds a template variable.
func (d *board) variable(v cog.Builder[dashboard.VariableModel]) {
	d.b.WithVariable(v)
}

// links adds the navigation bar: one link per dashboard of the set,
// keeping the time range and shared variables.
func (d *board) links(set []navLink) {
	for _, l := range set {
		if l.uid == d.uid {
			continue
		}
		d.b.Link(dashboard.NewDashboardLinkBuilder(l.title).
			Type(dashboard.DashboardLinkTypeLink).
			Url("/d/" + l.uid).
			Icon("dashboard").
			Tooltip(l.tooltip).
			KeepTime(true).
			IncludeVars(true))
	}
}

// build returns the finished dashboard.
func (d *board) build() (dashboard.Dashboard, error) {
	if len(d.errs) > 0 {
		return dashboard.Dashboard{}, fmt.Errorf("dashboard %s: %v", d.uid, d.errs)
	}
	dash, err := d.b.Build()
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("dashboard %s: %w", d.uid, err)
	}
	// The SDK places links and annotation toggles in the controls menu of
	// the newest Grafana; without a placement they stay in the bar above
	// the panels (and links in the panel header menu), where every
	// Grafana shows them.
	for i := range dash.Links {
		dash.Links[i].Placement = nil
	}
	for i := range dash.Annotations.List {
		dash.Annotations.List[i].Placement = nil
	}
	for _, p := range dash.Panels {
		if p.Panel != nil {
			for i := range p.Panel.Links {
				p.Panel.Links[i].Placement = nil
			}
		}
	}
	return dash, nil
}

// navLink is one entry of a navigation bar.
type navLink struct {
	uid, title, tooltip string
}

// fullNav links the dashboards that use PostgreSQL and Prometheus.
var fullNav = []navLink{
	{UIDFleet, "Fleet", "Hosts online, operating systems, agent versions, enrollments, changes"},
	{UIDCompliance, "Compliance", "Compliance per policy, failing hosts with evidence, exemptions"},
	{UIDInventory, "Inventory", "Hosts, software search, changes, duplicate hosts"},
	{UIDHost, "Host", "One host: identity, policy results, alerts, changes, software"},
	{UIDAlerts, "Alerts", "Open alerts, transitions, notification delivery"},
	{UIDServer, "Server health", "Ingest, database, agents' health, process, TLS"},
}

// promNav links the dashboards that need Prometheus only.
var promNav = []navLink{
	{UIDFleetProm, "Fleet (Prometheus)", "Fleet overview from Prometheus series only"},
	{UIDComplianceProm, "Compliance (Prometheus)", "Compliance from Prometheus series only"},
	{UIDServer, "Server health", "Ingest, database, agents' health, process, TLS"},
}

// Template variables. A variable used in SQL has no custom "all" value:
// Grafana then expands "All" to every option, which ${name:sqlstring}
// quotes for SQL and $name escapes as a regular expression for PromQL.
// A variable used in PromQL only may match everything with ".*".

// promVar lists the values of labelName on the series of selector; "All"
// stands for allValue, or for every value listed when allValue is empty.
func promVar(name, label, desc, selector, labelName, allValue string) cog.Builder[dashboard.VariableModel] {
	q := fmt.Sprintf("label_values(%s, %s)", selector, labelName)
	b := dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Description(desc).
		Datasource(dsRef(PrometheusUID)).
		Query(dashboard.StringOrMap{String: &q}).
		Definition(q).
		Multi(true).
		IncludeAll(true).
		Current(allOption()).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc)
	if allValue != "" {
		b.AllValue(allValue)
	}
	return b
}

// sqlVar lists the values the first column of sql returns, in its order
// (a __text and a __value column name and value apart).
func sqlVar(name, label, desc, sql string, multi bool) cog.Builder[dashboard.VariableModel] {
	b := dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Description(desc).
		Datasource(dsRef(PostgresUID)).
		Query(dashboard.StringOrMap{String: &sql}).
		Definition(sql).
		Refresh(dashboard.VariableRefreshOnDashboardLoad).
		Sort(dashboard.VariableSortDisabled)
	if multi {
		b.Multi(true).IncludeAll(true).Current(allOption())
	}
	return b
}

// osVarSQL is the OS variable of the dashboards that filter hosts in SQL;
// hosts that have not reported an OS yet are "unknown", as in the
// steward_hosts series.
func osVarSQL() cog.Builder[dashboard.VariableModel] {
	return sqlVar("os", "OS", "Operating systems of the hosts to show; unknown is a host that has not reported one yet.",
		`SELECT DISTINCT COALESCE(NULLIF(os, ''), 'unknown') FROM hosts ORDER BY 1`, true)
}

// labelVar picks host labels (key=value); "(any)" shows every host,
// labelled or not. Several labels show hosts carrying any of them.
func labelVar() cog.Builder[dashboard.VariableModel] {
	sql := `SELECT v FROM (SELECT 0 AS o, '(any)' AS v UNION ALL SELECT DISTINCT 1, key || '=' || value FROM host_labels) s ORDER BY o, v`
	anyLabel := "(any)"
	return dashboard.NewQueryVariableBuilder("label").
		Label("Host label").
		Description("Show only hosts carrying one of these labels (key=value, set with PUT /api/v1/hosts/{id}/labels); (any) shows every host.").
		Datasource(dsRef(PostgresUID)).
		Query(dashboard.StringOrMap{String: &sql}).
		Definition(sql).
		Multi(true).
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{ArrayOfString: []string{anyLabel}},
			Value: dashboard.StringOrArrayOfString{ArrayOfString: []string{anyLabel}},
		}).
		Refresh(dashboard.VariableRefreshOnDashboardLoad).
		Sort(dashboard.VariableSortDisabled)
}

// severityVar picks policy or alert severities, highest first.
func severityVar(usedInSQL bool) cog.Builder[dashboard.VariableModel] {
	values := strings.Join([]string{policy.SeverityCritical, policy.SeverityHigh, policy.SeverityMedium,
		policy.SeverityLow, policy.SeverityInfo}, ",")
	b := dashboard.NewCustomVariableBuilder("severity").
		Label("Severity").
		Description("Severities to show: critical, high, medium, low, info.").
		Values(dashboard.StringOrMap{String: &values}).
		Multi(true).
		IncludeAll(true).
		Current(allOption())
	if !usedInSQL {
		b.AllValue(".*")
	}
	return b
}

// onlineWindowVar is how recent a connected host's last message must be
// for the SQL panels to call it online: three heartbeat intervals, as the
// server counts it (90 s with the default 30 s heartbeat).
func onlineWindowVar() cog.Builder[dashboard.VariableModel] {
	values := "90 seconds,3 minutes,5 minutes,15 minutes"
	current := "90 seconds"
	return dashboard.NewCustomVariableBuilder("online_window").
		Label("Online window").
		Description("A connected host counts as online when it spoke within this window: three times agent.heartbeat_interval on the server (90 seconds by default).").
		Values(dashboard.StringOrMap{String: &values}).
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: &current},
			Value: dashboard.StringOrArrayOfString{String: &current},
		})
}

// textVar is a free-text box; its value reaches SQL only through
// ${name:sqlstring}, quoted and escaped.
func textVar(name, label, desc, value string) cog.Builder[dashboard.VariableModel] {
	return dashboard.NewTextBoxVariableBuilder(name).
		Label(label).
		Description(desc).
		DefaultValue(dashboard.StringOrMap{String: &value}).
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: &value},
			Value: dashboard.StringOrArrayOfString{String: &value},
		})
}

// allOption selects "All".
func allOption() dashboard.VariableOption {
	return dashboard.VariableOption{
		Text:  dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
		Value: dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
	}
}
