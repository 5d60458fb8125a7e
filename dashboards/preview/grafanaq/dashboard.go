package grafanaq

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Dashboard is the part of a Grafana dashboard JSON model this package
// reads. Unknown keys are ignored.
type Dashboard struct {
	UID        string   `json:"uid"`
	Title      string   `json:"title"`
	Panels     []*Panel `json:"panels"`
	Templating struct {
		List []*Variable `json:"list"`
	} `json:"templating"`
	Time struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
}

// Panel is one panel, or a row (Type "row") whose Panels are set when the
// row is collapsed.
type Panel struct {
	ID            int            `json:"id"`
	Type          string         `json:"type"`
	Title         string         `json:"title"`
	Description   string         `json:"description"`
	GridPos       GridPos        `json:"gridPos"`
	Datasource    *DatasourceRef `json:"datasource"`
	Targets       []*Target      `json:"targets"`
	Panels        []*Panel       `json:"panels"`
	Collapsed     bool           `json:"collapsed"`
	Repeat        string         `json:"repeat"`
	Interval      string         `json:"interval"`
	MaxDataPoints int            `json:"maxDataPoints"`
	FieldConfig   FieldConfig    `json:"fieldConfig"`
	Options       PanelOptions   `json:"options"`
}

// GridPos is a panel's place on Grafana's 24-column grid; a height unit
// is 30 pixels plus an 8-pixel gap in Grafana.
type GridPos struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

// FieldConfig holds the field defaults a preview needs to show a number
// the way Grafana would.
type FieldConfig struct {
	Defaults struct {
		Unit     string   `json:"unit"`
		Decimals *int     `json:"decimals"`
		Min      *float64 `json:"min"`
		Max      *float64 `json:"max"`
	} `json:"defaults"`
}

// PanelOptions holds the panel options a preview reads: how a stat
// reduces a series, and a text panel's content.
type PanelOptions struct {
	ReduceOptions struct {
		Calcs  []string `json:"calcs"`
		Values bool     `json:"values"`
	} `json:"reduceOptions"`
	Content string `json:"content"`
	Mode    string `json:"mode"`
}

// Target is one query of a panel: Expr for Prometheus, RawSQL for
// PostgreSQL.
type Target struct {
	RefID        string         `json:"refId"`
	Datasource   *DatasourceRef `json:"datasource"`
	Hide         bool           `json:"hide"`
	Expr         string         `json:"expr"`
	Instant      bool           `json:"instant"`
	Range        *bool          `json:"range"`
	Format       string         `json:"format"`
	LegendFormat string         `json:"legendFormat"`
	Interval     string         `json:"interval"`
	RawSQL       string         `json:"rawSql"`
	EditorMode   string         `json:"editorMode"`
}

// IsRange reports whether Grafana runs the target as a range query: when
// "range" is true, or when it is unset and the query is not instant.
func (t *Target) IsRange() bool {
	if t.Range != nil {
		return *t.Range
	}
	return !t.Instant
}

// IsInstant reports whether Grafana runs the target as an instant query.
func (t *Target) IsInstant() bool { return t.Instant }

// DatasourceRef names a data source: {"type": ..., "uid": ...} in current
// dashboards, a plain name in old ones (kept in UID), or a variable
// reference such as "${datasource}".
type DatasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// UnmarshalJSON accepts the object form, a string, and null.
func (r *DatasourceRef) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*r = DatasourceRef{UID: s}
		return nil
	}
	type plain DatasourceRef
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = DatasourceRef(p)
	return nil
}

// Kind is the data source family a query is written for.
type Kind string

// The data source families.
const (
	KindUnknown    Kind = ""
	KindPrometheus Kind = "prometheus"
	KindPostgres   Kind = "postgres"
	KindMixed      Kind = "mixed"
	KindExpression Kind = "expression"
	KindGrafana    Kind = "grafana"
)

// KindOfType maps a data source plugin id to its family.
func KindOfType(typ string) Kind {
	switch typ {
	case "prometheus":
		return KindPrometheus
	case "grafana-postgresql-datasource", "postgres":
		return KindPostgres
	case "datasource", "grafana":
		return KindGrafana
	case "__expr__":
		return KindExpression
	}
	return KindUnknown
}

// Kind tells the family from the plugin type, or from well-known uids.
func (r *DatasourceRef) Kind() Kind {
	if r == nil {
		return KindUnknown
	}
	if r.UID == "-- Mixed --" || r.Type == "mixed" {
		return KindMixed
	}
	if r.UID == "__expr__" {
		return KindExpression
	}
	return KindOfType(r.Type)
}

// Variable is a templating variable.
type Variable struct {
	Name        string          `json:"name"`
	Label       string          `json:"label"`
	Type        string          `json:"type"`
	Datasource  *DatasourceRef  `json:"datasource"`
	Query       json.RawMessage `json:"query"`
	Definition  string          `json:"definition"`
	Regex       string          `json:"regex"`
	Multi       bool            `json:"multi"`
	IncludeAll  bool            `json:"includeAll"`
	AllValue    string          `json:"allValue"`
	Current     Current         `json:"current"`
	Options     []SavedOption   `json:"options"`
	Sort        int             `json:"sort"`
	Hide        int             `json:"hide"`
	Refresh     int             `json:"refresh"`
	Auto        bool            `json:"auto"`
	AutoCount   int             `json:"auto_count"`
	AutoMin     string          `json:"auto_min"`
	Description string          `json:"description"`
}

// QueryText is the variable's query as text: the string form of "query",
// the "query" member of its object form (current Prometheus and SQL
// variable editors), or else "definition".
func (v *Variable) QueryText() string {
	q := bytes.TrimSpace(v.Query)
	if len(q) > 0 && q[0] == '"' {
		var s string
		if json.Unmarshal(q, &s) == nil {
			return s
		}
	}
	if len(q) > 0 && q[0] == '{' {
		var o struct {
			Query   string `json:"query"`
			RawSQL  string `json:"rawSql"`
			QryType int    `json:"qryType"`
		}
		if json.Unmarshal(q, &o) == nil {
			if o.Query != "" {
				return o.Query
			}
			if o.RawSQL != "" {
				return o.RawSQL
			}
		}
	}
	return v.Definition
}

// Current is a variable's current selection. Value and Text are a string
// or a list of strings in the JSON; both forms decode into StringList.
type Current struct {
	Text  StringList `json:"text"`
	Value StringList `json:"value"`
}

// SavedOption is one option a variable offered when the dashboard was
// saved.
type SavedOption struct {
	Text     StringList `json:"text"`
	Value    StringList `json:"value"`
	Selected bool       `json:"selected"`
}

// AllValue is the value Grafana stores for the "All" option.
const AllValue = "$__all"

// StringList is a JSON string or list of strings; IsList says which.
type StringList struct {
	Values []string
	IsList bool
}

// UnmarshalJSON accepts a string, a list of strings, a number, a boolean
// or null.
func (s *StringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = StringList{}
	case b[0] == '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		out := StringList{IsList: true, Values: []string{}}
		for _, r := range raw {
			out.Values = append(out.Values, scalarString(r))
		}
		*s = out
	default:
		*s = StringList{Values: []string{scalarString(b)}}
	}
	return nil
}

// MarshalJSON writes the form that was read.
func (s StringList) MarshalJSON() ([]byte, error) {
	if s.IsList {
		if s.Values == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(s.Values)
	}
	if len(s.Values) == 0 {
		return []byte(`""`), nil
	}
	return json.Marshal(s.Values[0])
}

// First is the first value, or "".
func (s StringList) First() string {
	if len(s.Values) == 0 {
		return ""
	}
	return s.Values[0]
}

func scalarString(b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	return string(b)
}

// Parse decodes a dashboard. It accepts a bare dashboard and the
// {"dashboard": {...}} envelope of Grafana's HTTP API.
func Parse(b []byte) (*Dashboard, error) {
	var env struct {
		Dashboard json.RawMessage `json:"dashboard"`
	}
	if err := json.Unmarshal(b, &env); err == nil && len(env.Dashboard) > 0 && env.Dashboard[0] == '{' {
		b = env.Dashboard
	}
	d := &Dashboard{}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, err
	}
	return d, nil
}

// Load reads and parses a dashboard file.
func Load(path string) (*Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// AllPanels lists every panel that is not a row, those in collapsed rows
// included, in the dashboard's order.
func (d *Dashboard) AllPanels() []*Panel {
	var out []*Panel
	for _, p := range d.Panels {
		if p.Type == "row" {
			out = append(out, p.Panels...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// Variable returns the variable called name, or nil.
func (d *Dashboard) Variable(name string) *Variable {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Key identifies a panel within its dashboard: its id, or its title when
// it has none.
func (p *Panel) Key() string {
	if p.ID != 0 {
		return strconv.Itoa(p.ID)
	}
	return "title:" + p.Title
}

// TargetDatasource is the data source a target runs on: its own, else its
// panel's (a "mixed" panel leaves the choice to each target).
func (p *Panel) TargetDatasource(t *Target) *DatasourceRef {
	if t.Datasource != nil && (t.Datasource.UID != "" || t.Datasource.Type != "") {
		return t.Datasource
	}
	return p.Datasource
}

// TargetKind guesses a target's family when its data source does not say
// (no type, or a variable): Expr means Prometheus, RawSQL PostgreSQL.
func (p *Panel) TargetKind(t *Target) Kind {
	k := p.TargetDatasource(t).Kind()
	if k != KindUnknown && k != KindMixed {
		return k
	}
	switch {
	case strings.TrimSpace(t.Expr) != "":
		return KindPrometheus
	case strings.TrimSpace(t.RawSQL) != "":
		return KindPostgres
	}
	return KindUnknown
}
