package grafanaq

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// NeedsQuery reports whether a variable's options come from a data source
// (query variables and datasource variables).
func (v *Variable) NeedsQuery() bool { return v.Type == "query" || v.Type == "datasource" }

var customSplitRE = regexp.MustCompile(`(?:\\,|[^,])+`)
var customPairRE = regexp.MustCompile(`^\s*(.+)\s:\s(.+)$`)

// StaticOptions returns the options of a variable that needs no data
// source: a custom variable's comma-separated list (an escaped "\," is a
// comma; "text : value" gives an option a display text), a constant's or
// textbox's value, an interval variable's intervals. Other types return
// ok false.
func StaticOptions(v *Variable) (opts []Option, ok bool) {
	q := v.QueryText()
	switch v.Type {
	case "custom":
		for _, item := range customSplitRE.FindAllString(q, -1) {
			item = strings.ReplaceAll(item, `\,`, ",")
			if m := customPairRE.FindStringSubmatch(item); m != nil {
				opts = append(opts, Option{Text: strings.TrimSpace(m[1]), Value: strings.TrimSpace(m[2])})
				continue
			}
			item = strings.TrimSpace(item)
			opts = append(opts, Option{Text: item, Value: item})
		}
		if len(opts) == 0 {
			opts = optionsOf(v)
		}
		return opts, true
	case "interval":
		for _, item := range strings.Split(q, ",") {
			if item = strings.TrimSpace(item); item != "" {
				opts = append(opts, Option{Text: item, Value: item})
			}
		}
		return opts, true
	case "constant":
		return []Option{{Text: q, Value: q}}, true
	case "textbox":
		val := v.Current.Value.First()
		if len(v.Current.Value.Values) == 0 {
			val = q
		}
		return []Option{{Text: val, Value: val}}, true
	}
	return nil, false
}

// optionsOf is the options saved in the dashboard, "All" left out.
func optionsOf(v *Variable) []Option {
	var out []Option
	for _, o := range v.Options {
		if o.Value.First() == AllValue {
			continue
		}
		out = append(out, Option{Text: o.Text.First(), Value: o.Value.First()})
	}
	return out
}

// Choose selects what Grafana would show for a variable given the options
// it now has: its saved current value when every value of it is still
// offered (or when it is "All" and the variable includes All), otherwise
// the first option (All first when the variable includes it, as Grafana
// lists it first).
func Choose(v *Variable, opts []Option) Selection {
	sel := Selection{Options: opts, List: v.Multi}
	cur := v.Current.Value.Values
	if slices.Contains(cur, AllValue) && v.IncludeAll {
		sel.All = true
		return sel
	}
	if len(cur) > 0 {
		var picked []Option
		for _, c := range cur {
			i := slices.IndexFunc(opts, func(o Option) bool { return o.Value == c })
			if i < 0 {
				picked = nil
				break
			}
			picked = append(picked, opts[i])
		}
		if picked != nil {
			sel.Selected = picked
			if len(picked) > 1 {
				sel.List = true
			}
			return sel
		}
	}
	if v.IncludeAll {
		sel.All = true
		return sel
	}
	if len(opts) > 0 {
		sel.Selected = opts[:1]
	}
	return sel
}

// Pick is a selection of particular values rather than the default one:
// the first option for a single-value variable, the first two for a
// multi-value one (to exercise the joining of several values).
func Pick(v *Variable, opts []Option) Selection {
	sel := Selection{Options: opts, List: v.Multi}
	n := 1
	if v.Multi {
		n = 2
	}
	sel.Selected = opts[:min(n, len(opts))]
	return sel
}

// State builds the interpolation state of a variable with a selection.
func State(v *Variable, sel Selection) *VarState {
	return &VarState{Name: v.Name, Multi: v.Multi, IncludeAll: v.IncludeAll, AllValue: v.AllValue, Sel: sel}
}

// VariableOptions turns what a variable query returned into the
// variable's options as Grafana does: each item's text filtered and
// rewritten by the variable's regex (the first capture group, or the
// groups named text and value), duplicates dropped by value, then sorted
// by the variable's sort setting.
func VariableOptions(v *Variable, items []Option) ([]Option, error) {
	var re *regexp.Regexp
	if v.Regex != "" {
		var err error
		if re, err = JSRegexp(v.Regex); err != nil {
			return nil, fmt.Errorf("variable %s: regex %q: %w", v.Name, v.Regex, err)
		}
	}
	var out []Option
	seen := map[string]bool{}
	for _, it := range items {
		text, val := it.Text, it.Value
		if text == "" {
			text = val
		}
		if val == "" {
			val = text
		}
		if re != nil {
			m := re.FindStringSubmatch(val)
			if m == nil {
				continue
			}
			ti, vi := re.SubexpIndex("text"), re.SubexpIndex("value")
			switch {
			case ti >= 0 || vi >= 0:
				if vi >= 0 && m[vi] != "" {
					val = m[vi]
				} else if ti >= 0 {
					val = m[ti]
				}
				if ti >= 0 && m[ti] != "" {
					text = m[ti]
				} else {
					text = val
				}
			case len(m) > 1:
				val, text = m[1], m[1]
			}
		}
		if seen[val] {
			continue
		}
		seen[val] = true
		out = append(out, Option{Text: text, Value: val})
	}
	sortOptions(out, v.Sort)
	return out, nil
}

// JSRegexp compiles a regex written for Grafana: "/pattern/flags" (flags
// i, m and s are honoured, g ignored) or a bare pattern, which must match
// a whole value.
func JSRegexp(s string) (*regexp.Regexp, error) {
	if strings.HasPrefix(s, "/") {
		end := strings.LastIndex(s, "/")
		if end <= 0 {
			return nil, fmt.Errorf("unterminated /regex/")
		}
		pat, flags := s[1:end], s[end+1:]
		prefix := ""
		for _, f := range flags {
			switch f {
			case 'i', 'm', 's':
				prefix += string(f)
			case 'g', 'u', 'y':
			default:
				return nil, fmt.Errorf("unknown regex flag %q", f)
			}
		}
		if prefix != "" {
			pat = "(?" + prefix + ")" + pat
		}
		return regexp.Compile(pat)
	}
	return regexp.Compile("^" + s + "$")
}

var firstNumberRE = regexp.MustCompile(`-?\d+(?:\.\d+)?`)

// sortOptions applies Grafana's variable sort: 1/2 alphabetical, 3/4
// numerical (by the first number in the text), 5/6 alphabetical ignoring
// case, 7/8 natural; odd ascending, even descending; 0 keeps the order.
func sortOptions(opts []Option, mode int) {
	if mode == 0 {
		return
	}
	num := func(s string) float64 {
		f, err := strconv.ParseFloat(firstNumberRE.FindString(s), 64)
		if err != nil {
			return -1
		}
		return f
	}
	var less func(a, b Option) int
	switch mode {
	case 1, 2:
		less = func(a, b Option) int { return cmp.Compare(a.Text, b.Text) }
	case 3, 4:
		less = func(a, b Option) int { return cmp.Compare(num(a.Text), num(b.Text)) }
	case 5, 6:
		less = func(a, b Option) int { return cmp.Compare(strings.ToLower(a.Text), strings.ToLower(b.Text)) }
	default:
		less = func(a, b Option) int { return naturalCompare(a.Text, b.Text) }
	}
	slices.SortStableFunc(opts, less)
	if mode%2 == 0 {
		slices.Reverse(opts)
	}
}

// naturalCompare orders strings with digit runs compared as numbers.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, _ := strconv.ParseUint(a[:da], 10, 64)
			nb, _ := strconv.ParseUint(b[:db], 10, 64)
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digitRun(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// PromVarQuery is a Prometheus variable query, parsed.
type PromVarQuery struct {
	// Func is label_values, label_names, metrics, query_result, or
	// series for a bare selector (Grafana lists the matching series).
	Func string
	// Match is the series selector of label_values(selector, label),
	// label_names(selector) and series.
	Match string
	// Label is label_values' label.
	Label string
	// Expr is query_result's expression or metrics' regex.
	Expr string
}

var (
	labelNamesRE  = regexp.MustCompile(`^label_names\(\s*(.*?)\s*\)\s*$`)
	labelValuesRE = regexp.MustCompile(`^label_values\((?:(.+),\s*)?([a-zA-Z_$][a-zA-Z0-9_]*)\)\s*$`)
	metricsRE     = regexp.MustCompile(`^metrics\((.+)\)\s*$`)
	queryResultRE = regexp.MustCompile(`^query_result\((.+)\)\s*$`)
)

// ParsePromVarQuery parses a Prometheus variable query (already
// interpolated).
func ParsePromVarQuery(q string) (PromVarQuery, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return PromVarQuery{}, fmt.Errorf("empty variable query")
	}
	if m := labelNamesRE.FindStringSubmatch(q); m != nil {
		return PromVarQuery{Func: "label_names", Match: m[1]}, nil
	}
	if m := labelValuesRE.FindStringSubmatch(q); m != nil {
		return PromVarQuery{Func: "label_values", Match: strings.TrimSpace(m[1]), Label: m[2]}, nil
	}
	if m := metricsRE.FindStringSubmatch(q); m != nil {
		return PromVarQuery{Func: "metrics", Expr: m[1]}, nil
	}
	if m := queryResultRE.FindStringSubmatch(q); m != nil {
		return PromVarQuery{Func: "query_result", Expr: m[1]}, nil
	}
	for _, f := range []string{"label_values", "label_names", "metrics", "query_result"} {
		if strings.HasPrefix(q, f+"(") {
			return PromVarQuery{}, fmt.Errorf("malformed %s(...) variable query %q", f, q)
		}
	}
	return PromVarQuery{Func: "series", Match: q}, nil
}

// QueryResultText is how query_result(...) shows one sample to the
// variable's regex: name{label="value",...} value timestamp-in-ms, labels
// in name order.
func QueryResultText(labels map[string]string, value string, ts float64) string {
	name := labels["__name__"]
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + `="` + labels[k] + `"`
	}
	return fmt.Sprintf("%s{%s} %s %s", name, strings.Join(parts, ","), value,
		strconv.FormatFloat(ts*1000, 'f', -1, 64))
}

// SeriesText is how a bare selector query shows one series: like
// QueryResultText without value and time.
func SeriesText(labels map[string]string) string {
	s := QueryResultText(labels, "", 0)
	return s[:strings.Index(s, "}")+1]
}
