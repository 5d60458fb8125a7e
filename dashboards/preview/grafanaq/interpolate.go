package grafanaq

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Flavor is the way a data source formats variable values it is given
// without an explicit format.
type Flavor int

const (
	// FlavorGlob is Grafana's default when no data source formats the
	// value: several values become {a,b}.
	FlavorGlob Flavor = iota
	// FlavorText is what panel titles use: the values' display texts,
	// several joined by " + ".
	FlavorText
	// FlavorPrometheus is the Prometheus data source: the values of
	// multi-value and include-All variables are regex escaped (for use
	// in =~ matchers), several joined as (a|b); a plain variable's value
	// only has backslashes and single quotes escaped.
	FlavorPrometheus
	// FlavorPostgres is the PostgreSQL data source: the values of
	// multi-value and include-All variables are SQL string literals,
	// several joined by commas (for IN (...)); a plain variable's value
	// has its single quotes doubled and is not quoted.
	FlavorPostgres
)

// Option is one value a variable offers: what is shown and what is
// substituted.
type Option struct {
	Text  string
	Value string
}

// Selection is what a variable is set to for an interpolation.
type Selection struct {
	// Options are all the values the variable offers (without "All"):
	// what "All" stands for when the variable has no custom all value.
	Options []Option
	// Selected are the chosen options; ignored when All is set.
	Selected []Option
	// All is set when the "All" option is chosen.
	All bool
	// List is set when Grafana passes the value as a list (multi-value
	// variables do, even with one value selected).
	List bool
}

// VarState is a variable as interpolation needs it.
type VarState struct {
	Name       string
	Multi      bool
	IncludeAll bool
	// AllValue is the custom value "All" stands for; "" means every
	// option's value.
	AllValue string
	Sel      Selection
}

// Env holds everything interpolation reads: variable values and the
// time range with the intervals derived from it.
type Env struct {
	Vars         map[string]*VarState
	From, To     time.Time
	Interval     time.Duration // $__interval
	RateInterval time.Duration // $__rate_interval
	// DashboardUID and DashboardTitle feed $__dashboard and
	// ${__dashboard.uid}.
	DashboardUID, DashboardTitle string
}

// Clone copies the environment so that a variant (a repeated panel's
// value, another interval) can be set without touching the original.
func (e *Env) Clone() *Env {
	c := *e
	c.Vars = make(map[string]*VarState, len(e.Vars))
	for k, v := range e.Vars {
		vv := *v
		c.Vars[k] = &vv
	}
	return &c
}

// grafanaVarRE is Grafana's template variable syntax: $name, [[name]],
// [[name:format]], ${name}, ${name.field} and ${name:format}.
var grafanaVarRE = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

// Interpolate replaces the variables in s as Grafana does before a query
// goes to a data source of flavor f. Names that are neither a variable
// nor a built-in are left as they are (Grafana leaves them too, and the
// data source then fails on them).
func (e *Env) Interpolate(s string, f Flavor) string {
	return grafanaVarRE.ReplaceAllStringFunc(s, func(m string) string {
		g := grafanaVarRE.FindStringSubmatch(m)
		name, format, field := g[1], "", ""
		switch {
		case g[2] != "":
			name, format = g[2], g[3]
		case g[4] != "":
			name, field, format = g[4], g[5], g[6]
		}
		if out, ok := e.builtin(name, field, format, f); ok {
			return out
		}
		v, ok := e.Vars[name]
		if !ok {
			return m
		}
		return v.format(format, f)
	})
}

// Names lists the variables s refers to (built-ins excluded), in order,
// each once.
func Names(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range grafanaVarRE.FindAllStringSubmatch(s, -1) {
		name := g[1] + g[2] + g[4]
		if strings.HasPrefix(name, "__") || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, name)
	}
	return out
}

// builtin expands Grafana's global variables. They are single plain
// values, so a data source's escaping leaves them unchanged.
func (e *Env) builtin(name, field, format string, f Flavor) (string, bool) {
	rng := e.To.Sub(e.From)
	var v string
	switch name {
	case "__interval":
		v = FormatInterval(e.Interval)
	case "__interval_ms":
		v = strconv.FormatInt(e.Interval.Milliseconds(), 10)
	case "__rate_interval":
		v = FormatInterval(e.RateInterval)
	case "__rate_interval_ms":
		v = strconv.FormatInt(e.RateInterval.Milliseconds(), 10)
	case "__range":
		v = strconv.FormatInt(int64(math.Round(rng.Seconds())), 10) + "s"
	case "__range_s":
		v = strconv.FormatInt(int64(math.Round(rng.Seconds())), 10)
	case "__range_ms":
		v = strconv.FormatInt(rng.Milliseconds(), 10)
	case "__from", "__to":
		t := e.From
		if name == "__to" {
			t = e.To
		}
		return formatDate(t, format), true
	case "__dashboard":
		if field == "uid" {
			v = e.DashboardUID
		} else {
			v = e.DashboardTitle
		}
	default:
		return "", false
	}
	st := &VarState{Name: name, Sel: Selection{Selected: []Option{{Text: v, Value: v}}}}
	return st.format(format, f), true
}

// formatDate is the "date" format of $__from and $__to: milliseconds by
// default and with :date:ms, seconds with :date:seconds, ISO 8601 with
// :date or :date:iso.
func formatDate(t time.Time, format string) string {
	ms := strconv.FormatInt(t.UnixMilli(), 10)
	id, args, _ := strings.Cut(format, ":")
	if id != "date" {
		return ms
	}
	switch args {
	case "ms":
		return ms
	case "seconds":
		return strconv.FormatInt(int64(math.Round(float64(t.UnixMilli())/1000)), 10)
	default:
		return t.UTC().Format("2006-01-02T15:04:05.000Z")
	}
}

// value is a variable's value as Grafana hands it to a formatter: one
// string, or a list.
type value struct {
	list  []string
	texts []string
	multi bool // a list, not a string
	all   bool
}

func (v *VarState) value() value {
	pick := v.Sel.Selected
	if v.Sel.All {
		pick = v.Sel.Options
	}
	out := value{multi: v.Sel.List || v.Sel.All, all: v.Sel.All}
	for _, o := range pick {
		out.list = append(out.list, o.Value)
		t := o.Text
		if t == "" {
			t = o.Value
		}
		out.texts = append(out.texts, t)
	}
	if !out.multi && len(out.list) == 0 {
		out.list, out.texts = []string{""}, []string{""}
	}
	return out
}

// format renders the variable with an explicit format, or else with the
// data source's flavor.
func (v *VarState) format(format string, f Flavor) string {
	id, arg, _ := strings.Cut(format, ":")
	if v.Sel.All && v.AllValue != "" {
		// A custom all value is substituted as it is, unless the format
		// asks for text or percent encoding.
		switch id {
		case "text":
			return "All"
		case "percentencode":
			return percentEncode(v.AllValue)
		}
		return v.AllValue
	}
	val := v.value()
	if id == "" {
		switch f {
		case FlavorPrometheus:
			return v.prometheus(val)
		case FlavorPostgres:
			return v.postgres(val)
		case FlavorText:
			id = "text"
		default:
			id = "glob"
		}
	}
	return v.registry(id, arg, val)
}

// prometheus is the Prometheus data source's formatting.
func (v *VarState) prometheus(val value) string {
	if !v.Multi && !v.IncludeAll {
		if val.multi {
			return strings.Join(val.list, ",")
		}
		return promRegularEscape(val.list[0])
	}
	if !val.multi {
		return promRegexEscape(val.list[0])
	}
	esc := make([]string, len(val.list))
	for i, s := range val.list {
		esc[i] = promRegexEscape(s)
	}
	if len(esc) == 1 {
		return esc[0]
	}
	return "(" + strings.Join(esc, "|") + ")"
}

// postgres is the PostgreSQL (SQL) data source's formatting.
func (v *VarState) postgres(val value) string {
	if !val.multi {
		if v.Multi || v.IncludeAll {
			return QuoteLiteral(val.list[0])
		}
		return strings.ReplaceAll(val.list[0], "'", "''")
	}
	q := make([]string, len(val.list))
	for i, s := range val.list {
		q[i] = QuoteLiteral(s)
	}
	return strings.Join(q, ",")
}

// registry applies one of Grafana's named formats; an unknown name falls
// back to glob, as in Grafana.
func (v *VarState) registry(id, arg string, val value) string {
	one := func(fn func(string) string) string {
		out := make([]string, len(val.list))
		for i, s := range val.list {
			out[i] = fn(s)
		}
		return strings.Join(out, ",")
	}
	switch id {
	case "raw":
		return strings.Join(val.list, ",")
	case "regex":
		if !val.multi {
			return regexEscape(val.list[0])
		}
		esc := make([]string, len(val.list))
		for i, s := range val.list {
			esc[i] = regexEscape(s)
		}
		if len(esc) == 1 {
			return esc[0]
		}
		return "(" + strings.Join(esc, "|") + ")"
	case "pipe":
		return strings.Join(val.list, "|")
	case "csv":
		return strings.Join(val.list, ",")
	case "distributed":
		out := make([]string, len(val.list))
		for i, s := range val.list {
			if i > 0 {
				s = v.Name + "=" + s
			}
			out[i] = s
		}
		return strings.Join(out, ",")
	case "html":
		return htmlEscape(strings.Join(val.list, ", "))
	case "json":
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if val.multi {
			_ = enc.Encode(val.list)
		} else {
			_ = enc.Encode(val.list[0])
		}
		return strings.TrimSuffix(buf.String(), "\n")
	case "percentencode":
		if val.multi {
			return percentEncode("{" + strings.Join(val.list, ",") + "}")
		}
		return percentEncode(val.list[0])
	case "singlequote":
		return one(func(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" })
	case "doublequote":
		return one(func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` })
	case "sqlstring":
		return one(QuoteLiteral)
	case "lucene":
		if !val.multi {
			return luceneEscape(val.list[0])
		}
		if len(val.list) == 0 {
			return "__empty__"
		}
		q := make([]string, len(val.list))
		for i, s := range val.list {
			q[i] = `"` + luceneEscape(s) + `"`
		}
		return "(" + strings.Join(q, " OR ") + ")"
	case "text":
		if val.all {
			return "All"
		}
		return strings.Join(val.texts, " + ")
	case "queryparam":
		q := make([]string, len(val.list))
		for i, s := range val.list {
			q[i] = "var-" + v.Name + "=" + percentEncode(s)
		}
		return strings.Join(q, "&")
	case "date":
		// Only meaningful for $__from and $__to, handled as built-ins.
		return strings.Join(val.list, ",")
	}
	// glob, and the fallback for unknown formats.
	if val.multi && len(val.list) > 1 {
		return "{" + strings.Join(val.list, ",") + "}"
	}
	return strings.Join(val.list, ",")
}

// QuoteLiteral is a PostgreSQL string literal: single quotes around,
// single quotes inside doubled.
func QuoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// promRegularEscape escapes a value for use inside a PromQL string:
// backslashes doubled, single quotes preceded by an (escaped) backslash.
func promRegularEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return strings.ReplaceAll(s, `'`, `\\'`)
}

// promRegexEscape escapes a value for use inside a regex inside a PromQL
// double-quoted string: a backslash becomes four, and each regex
// metacharacter gets an escaped backslash before it.
func promRegexEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\\\`)
		case strings.ContainsRune(`$^*{}[]+?.()|`, r):
			b.WriteString(`\\`)
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// regexEscape is the "regex" format's escaping: a backslash before each
// regex metacharacter and slash.
func regexEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\^$*+?.()|[]{}/`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func luceneEscape(s string) string {
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`!*+-=<>&|()[]{}^~?:\/"`, r) || r == ' ' || r == '\t' || r == '\n' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// percentEncode is RFC 3986 percent encoding: everything but letters,
// digits and -_.~ is encoded, as UTF-8 bytes.
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;").Replace(s)
}
