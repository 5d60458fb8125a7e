package alertconf

import (
	"fmt"
	"regexp"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/server/internal/alerting/match"
)

var routeKeys = []string{"match", "match_re", "matchers", "receivers", "continue"}

func (p *parser) routes(n *yaml.Node, receivers []Receiver) []Route {
	items := p.list(n, "routes")
	var out []Route
	for i, item := range items {
		what := fmt.Sprintf("routes[%d]", i)
		f := p.fields(item, what, routeKeys)
		if f == nil {
			continue
		}
		r := Route{Line: item.Line}
		if v := f.val("match"); v != nil {
			r.Match = p.routeMatch(v, what)
		}
		if v := f.val("match_re"); v != nil {
			r.MatchRE, r.matchRE = p.routeMatchRE(v, what)
		}
		ms, nodes, _ := p.items(f.val("matchers"), what, "matchers")
		for j, s := range ms {
			m, err := match.Parse(s)
			if err != nil {
				p.errorf(nodes[j], "%s: %v", what, err)
				continue
			}
			r.Matchers = append(r.Matchers, m)
		}
		names, nodes, ok := p.items(f.val("receivers"), what, "receivers")
		if ok && len(names) == 0 {
			p.errorf(item, "%s: receivers is required: the receivers the route sends to", what)
		}
		for j, name := range names {
			if _, ok := (Config{Receivers: receivers}).Receiver(name); !ok {
				p.errorf(nodes[j], "%s: no receiver is called %q", what, name)
				continue
			}
			if !slices.Contains(r.Receivers, name) {
				r.Receivers = append(r.Receivers, name)
			}
		}
		if v := f.val("continue"); v != nil {
			r.Continue = p.boolean(v, what, "continue")
		}
		out = append(out, r)
	}
	return out
}

// routeMatch reads match: {label: value} or {label: [values]}.
func (p *parser) routeMatch(n *yaml.Node, what string) map[string][]string {
	what += ": match"
	es, ok := p.entries(n, what)
	if !ok {
		return nil
	}
	out := make(map[string][]string, len(es))
	for _, e := range es {
		if !p.labelName(e.key, what) {
			continue
		}
		vals, ok := p.strs(e.val, what, e.key.Value)
		if ok && len(vals) == 0 {
			p.errorf(deref(e.val), "%s: %s needs at least one value", what, e.key.Value)
		}
		out[e.key.Value] = vals
	}
	return out
}

// routeMatchRE reads match_re: {label: regexp}, compiling each anchored.
func (p *parser) routeMatchRE(n *yaml.Node, what string) (map[string]string, map[string]*regexp.Regexp) {
	what += ": match_re"
	es, ok := p.entries(n, what)
	if !ok {
		return nil, nil
	}
	src := make(map[string]string, len(es))
	res := make(map[string]*regexp.Regexp, len(es))
	for _, e := range es {
		if !p.labelName(e.key, what) {
			continue
		}
		s, ok := p.str(e.val, what, e.key.Value)
		if !ok {
			continue
		}
		re, err := anchored(s)
		if err != nil {
			p.errorf(deref(e.val), "%s: %s: invalid regular expression: %v", what, e.key.Value, err)
			continue
		}
		src[e.key.Value], res[e.key.Value] = s, re
	}
	return src, res
}

func anchored(s string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + s + ")$")
}

// Matches reports whether labels satisfy every condition of r. A label
// an alert does not have reads as "".
func (r Route) Matches(labels map[string]string) bool {
	for name, vals := range r.Match {
		if !slices.Contains(vals, labels[name]) {
			return false
		}
	}
	for name, src := range r.MatchRE {
		re := r.matchRE[name]
		if re == nil { // a Route built in code rather than parsed
			var err error
			if re, err = anchored(src); err != nil {
				return false
			}
		}
		if !re.MatchString(labels[name]) {
			return false
		}
	}
	return match.All(r.Matchers, labels)
}

// Route returns the receivers for an alert with labels: the receivers of
// the first matching route, and of the routes after it as long as each
// matching route says continue. Each receiver is listed once, in order of
// first appearance; none when no route matches.
func (c Config) Route(labels map[string]string) []string {
	var out []string
	for _, r := range c.Routes {
		if !r.Matches(labels) {
			continue
		}
		for _, name := range r.Receivers {
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
		if !r.Continue {
			break
		}
	}
	return out
}
