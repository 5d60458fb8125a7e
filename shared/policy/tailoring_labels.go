package policy

import (
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// LabelTailoring is a tailoring the server holds for a group of hosts:
// the parameter values, by policy id and parameter name, that every host
// whose labels include Selector evaluates with. An empty Selector selects
// every host. It travels in the policy set; agents pick the ones that
// select them (EffectiveValues) and apply them with ApplyValues.
type LabelTailoring struct {
	Name     string                       `json:"name"`
	Selector map[string]string            `json:"selector"`
	Values   map[string]map[string]string `json:"values"`
}

// tailoringName is what a server-side tailoring may be called.
var tailoringName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// MaxTailoringName bounds a server-side tailoring's name.
const MaxTailoringName = 64

// maxTailoredValue bounds one value of a server-side tailoring.
const maxTailoredValue = 1024

// Selects reports whether a host with labels is one t applies to: every
// key of the selector is among the labels with the same value.
func (t LabelTailoring) Selects(labels map[string]string) bool {
	for k, v := range t.Selector {
		if have, ok := labels[k]; !ok || have != v {
			return false
		}
	}
	return true
}

// Check validates t against the policy set it will be applied to, with
// the same rules as a tailoring file: a well-formed name, at least one
// value, every policy id in the set, every parameter declared by its
// policy, and every value usable by each value test that references it.
// Problems come back together as a *ValidationError naming t.
func (t LabelTailoring) Check(policies []Policy) error {
	var problems []Problem
	add := func(policy, field, format string, args ...any) {
		problems = append(problems, Problem{File: "tailoring " + t.Name, Policy: policy, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if len(t.Name) > MaxTailoringName || !tailoringName.MatchString(t.Name) {
		add("", "name", "%q must match %s (at most %d characters)", t.Name, tailoringName, MaxTailoringName)
	}
	if len(t.Values) == 0 {
		add("", "values", "sets no parameter: want values for at least one policy")
	}
	byID := make(map[string]Policy, len(policies))
	for _, p := range policies {
		byID[p.ID] = p
	}
	for _, id := range sortedKeys(t.Values) {
		p, ok := byID[id]
		if !ok {
			add("", "values."+id, "no policy in the set has id %s", id)
			continue
		}
		if len(t.Values[id]) == 0 {
			add(id, "values."+id, "sets no parameter")
		}
		uses := paramUses(p)
		for _, name := range sortedKeys(t.Values[id]) {
			v := t.Values[id][name]
			if len(v) > maxTailoredValue || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
				add(id, "values."+id+"."+name, "value must be valid UTF-8 without NUL bytes, at most %d bytes", maxTailoredValue)
				continue
			}
			if _, ok := p.Parameters[name]; !ok {
				add(id, "values."+id+"."+name, "policy %s declares no parameter %s", id, name)
				continue
			}
			for _, u := range uses {
				if u.name != name {
					continue
				}
				if err := checkValueOperand(u.key, v); err != nil {
					add(id, u.field, "parameter %s = %q: %v", name, v, err)
				}
			}
		}
	}
	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

// SortTailorings puts ts in the order they apply: by name, so that a
// later name overrides an earlier one for the same parameter.
func SortTailorings(ts []LabelTailoring) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
}

// EffectiveValues merges the tailorings that select a host with labels,
// in the order given (later ones win per parameter), into the values
// each policy is evaluated with. It is nil when none sets anything.
func EffectiveValues(ts []LabelTailoring, labels map[string]string) map[string]map[string]string {
	var out map[string]map[string]string
	for _, t := range ts {
		if !t.Selects(labels) {
			continue
		}
		for id, vals := range t.Values {
			if len(vals) == 0 {
				continue
			}
			if out == nil {
				out = map[string]map[string]string{}
			}
			if out[id] == nil {
				out[id] = map[string]string{}
			}
			maps.Copy(out[id], vals)
		}
	}
	return out
}

// ApplyValues returns policies with each one's Values set from values
// (by policy id), leaving the input as it is. It is lenient where
// Tailoring.Apply is strict, because the set may have changed since a
// tailoring was checked: a policy id not in the set and a parameter its
// policy does not declare are ignored, and a policy for which a value is
// unusable keeps its defaults. Each ignored entry is reported in skipped,
// one sentence each.
func ApplyValues(policies []Policy, values map[string]map[string]string) (out []Policy, skipped []string) {
	out = make([]Policy, len(policies))
	copy(out, policies)
	seen := make(map[string]bool, len(values))
	for i, p := range out {
		vals, ok := values[p.ID]
		if !ok {
			continue
		}
		seen[p.ID] = true
		t := Tailoring{Policies: map[string]PolicyTailoring{p.ID: {Parameters: map[string]string{}}}}
		for _, name := range sortedKeys(vals) {
			if _, ok := p.Parameters[name]; !ok {
				skipped = append(skipped, fmt.Sprintf("policy %s declares no parameter %s", p.ID, name))
				continue
			}
			t.Policies[p.ID].Parameters[name] = vals[name]
		}
		if len(t.Policies[p.ID].Parameters) == 0 {
			continue
		}
		tailored, err := t.Apply([]Policy{p})
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("policy %s keeps its defaults: %v", p.ID, err))
			continue
		}
		out[i] = tailored[0]
	}
	for _, id := range sortedKeys(values) {
		if !seen[id] {
			skipped = append(skipped, fmt.Sprintf("no policy in the set has id %s", id))
		}
	}
	return out, skipped
}

// ExpandParameters turns a tailoring's values for every policy that
// declares a parameter (a tailoring file's global parameters) into values
// per policy, for the policies of the set that declare each name, and
// adds values over them: a policy's own value wins, as in a tailoring
// file. A name no policy declares is a problem; the result is then nil.
func ExpandParameters(global map[string]string, values map[string]map[string]string, policies []Policy) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string, len(values))
	var problems []Problem
	for _, name := range sortedKeys(global) {
		declared := false
		for _, p := range policies {
			if _, ok := p.Parameters[name]; !ok {
				continue
			}
			declared = true
			if out[p.ID] == nil {
				out[p.ID] = map[string]string{}
			}
			out[p.ID][name] = global[name]
		}
		if !declared {
			problems = append(problems, Problem{Field: "parameters." + name, Message: "no policy in the set declares parameter " + name})
		}
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	for id, vals := range values {
		if out[id] == nil {
			out[id] = map[string]string{}
		}
		maps.Copy(out[id], vals)
	}
	return out, nil
}
