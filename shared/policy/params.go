package policy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Parameter is one variable a policy declares. Its value is the default
// unless a tailoring overrides it.
type Parameter struct {
	Default     string `json:"default" yaml:"default"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
}

// paramName is what a parameter may be called: what "${name}" can name.
var paramName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// referenceKey is what a references catalogue may be called.
var referenceKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// maxParamName bounds a parameter or catalogue name.
const maxParamName = 64

// parameters decodes a policy's parameters: mapping and sets ps.params to
// the declared defaults. It returns the declarations and each name's key
// node (for problems found later).
func (ps *parser) parameters(n *yaml.Node) (map[string]Parameter, map[string]*yaml.Node) {
	n = ps.deref(n)
	if n.Kind != yaml.MappingNode {
		ps.add(n, "parameters", "must be a mapping of parameter names to {default, description}, not %s", kindName(n))
		return nil, nil
	}
	out := map[string]Parameter{}
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := ps.deref(n.Content[i]), ps.deref(n.Content[i+1])
		field := "parameters." + k.Value
		switch {
		case k.Kind != yaml.ScalarNode:
			ps.add(k, "parameters", "keys must be plain names")
			continue
		case len(k.Value) > maxParamName || !paramName.MatchString(k.Value):
			ps.add(k, field, "%q must match %s (at most %d characters)", k.Value, paramName, maxParamName)
			continue
		case keys[k.Value] != nil:
			ps.add(k, field, "given twice (first at line %d)", keys[k.Value].Line)
			continue
		}
		keys[k.Value] = k
		var p Parameter
		if v.Kind == yaml.ScalarNode {
			// The shorthand "name: value" gives the default alone.
			p.Default, _ = ps.str(v, field)
		} else {
			fields := ps.fields(v, field, []string{"default", "description"})
			if fields == nil {
				continue
			}
			if d := fields["default"]; d != nil {
				p.Default, _ = ps.str(d, field+".default")
			} else {
				ps.add(v, field+".default", "required")
			}
			if d := fields["description"]; d != nil {
				p.Description, _ = ps.str(d, field+".description")
			}
		}
		out[k.Value] = p
	}
	if len(n.Content) == 0 {
		ps.add(n, "parameters", "declares no parameter; leave the key out")
	}
	ps.params = make(map[string]string, len(out))
	for name, p := range out {
		ps.params[name] = p.Default
	}
	return out, keys
}

// unusedParameters reports each declared parameter that no value test of
// the policy's check or applies_if references.
func (ps *parser) unusedParameters(p Policy, keys map[string]*yaml.Node) {
	used := map[string]bool{}
	for _, u := range paramUses(p) {
		used[u.name] = true
	}
	names := make([]string, 0, len(keys))
	for name := range keys {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !used[name] {
			ps.add(keys[name], "parameters."+name, "declared but no value test references ${%s}", name)
		}
	}
}

// references decodes a policy's references: mapping. Each catalogue key
// is a lower-case name; its value one id or a list of ids.
func (ps *parser) references(n *yaml.Node) map[string][]string {
	n = ps.deref(n)
	if n.Kind != yaml.MappingNode {
		ps.add(n, "references", "must be a mapping of catalogue names (cis, ssg, ...) to ids, not %s", kindName(n))
		return nil
	}
	out := map[string][]string{}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := ps.deref(n.Content[i]), ps.deref(n.Content[i+1])
		field := "references." + k.Value
		switch {
		case k.Kind != yaml.ScalarNode:
			ps.add(k, "references", "keys must be plain names")
			continue
		case len(k.Value) > maxParamName || !referenceKey.MatchString(k.Value):
			ps.add(k, field, "%q must match %s (a catalogue such as cis, ssg, stig)", k.Value, referenceKey)
			continue
		case lines[k.Value] != 0:
			ps.add(k, field, "given twice (first at line %d)", lines[k.Value])
			continue
		}
		lines[k.Value] = k.Line
		var ids []string
		var nodes []*yaml.Node
		switch v.Kind {
		case yaml.ScalarNode:
			s, ok := ps.str(v, field)
			if !ok {
				continue
			}
			ids, nodes = []string{s}, []*yaml.Node{v}
		case yaml.SequenceNode:
			list, ok := ps.strs(v, field)
			if !ok {
				continue
			}
			if len(list) == 0 {
				ps.add(v, field, "list is empty")
				continue
			}
			ids = list
			for _, item := range v.Content {
				nodes = append(nodes, ps.deref(item))
			}
		default:
			ps.add(v, field, "must be an id or a list of ids, not %s", kindName(v))
			continue
		}
		seen := map[string]bool{}
		good := true
		for j, id := range ids {
			f := field
			if v.Kind == yaml.SequenceNode {
				f = fmt.Sprintf("%s[%d]", field, j)
			}
			switch {
			case id == "":
				ps.add(nodes[j], f, "empty id")
				good = false
			case strings.IndexFunc(id, unicode.IsSpace) >= 0:
				ps.add(nodes[j], f, "id %q contains white space", id)
				good = false
			case seen[id]:
				ps.add(nodes[j], f, "id %q listed twice", id)
				good = false
			}
			seen[id] = true
		}
		if good {
			out[k.Value] = ids
		}
	}
	if len(n.Content) == 0 {
		ps.add(n, "references", "names no catalogue; leave the key out")
	}
	return out
}

// paramUse is one value test field that references a parameter.
type paramUse struct {
	name  string // the parameter
	field string // the field's path: "check.all[1].sysctl.min"
	key   string // the ValueTest key, for checkValueOperand
}

var valueTestType = reflect.TypeOf(ValueTest{})

// paramUses lists every parameter reference in p's value tests, in tree
// order. It walks the check trees by reflection so that every leaf that
// holds a ValueTest (directly, by pointer, in a list or map) is seen
// without the leaf having to register it.
func paramUses(p Policy) []paramUse {
	var out []paramUse
	if p.AppliesIf != nil {
		walkValueTests(reflect.ValueOf(*p.AppliesIf), "applies_if", &out)
	}
	walkValueTests(reflect.ValueOf(p.Check), "check", &out)
	return out
}

func walkValueTests(v reflect.Value, path string, out *[]paramUse) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkValueTests(v.Elem(), path, out)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walkValueTests(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			walkValueTests(v.MapIndex(k), fmt.Sprintf("%s.%v", path, k), out)
		}
	case reflect.Struct:
		if v.Type() == valueTestType {
			valueTestUses(v, path, out)
			return
		}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := f.Name
			if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag != "" && tag != "-" {
				name = tag
			}
			sub := path + "." + name
			if f.Anonymous {
				sub = path // an embedded ValueTest's keys sit on the leaf itself
			}
			walkValueTests(v.Field(i), sub, out)
		}
	}
}

// valueTestUses records the references among one ValueTest's fields.
func valueTestUses(v reflect.Value, path string, out *[]paramUse) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		f := v.Field(i)
		var texts []string
		switch f.Kind() {
		case reflect.String:
			texts = []string{f.String()}
		case reflect.Slice:
			for j := 0; j < f.Len(); j++ {
				if f.Index(j).Kind() == reflect.String {
					texts = append(texts, f.Index(j).String())
				}
			}
		}
		for _, s := range texts {
			if m := paramRef.FindStringSubmatch(s); m != nil {
				*out = append(*out, paramUse{name: m[1], field: path + "." + key, key: key})
			}
		}
	}
}

// ParameterValues returns the values p's parameters take when p is
// evaluated: each default, overridden by p.Values (set by a tailoring).
// It is nil for a policy without parameters.
func (p Policy) ParameterValues() map[string]string {
	if len(p.Parameters) == 0 {
		return nil
	}
	out := make(map[string]string, len(p.Parameters))
	for name, par := range p.Parameters {
		out[name] = par.Default
		if v, ok := p.Values[name]; ok {
			out[name] = v
		}
	}
	return out
}

// parameterContext returns ctx carrying p's parameter values for its
// value tests, and those values for Result.Parameters. Evaluate calls it
// before evaluating the policy's trees.
func parameterContext(ctx context.Context, p Policy) (context.Context, map[string]string) {
	values := p.ParameterValues()
	return withParams(ctx, values), values
}

// Tailoring adjusts a policy set for one site: parameter values for every
// policy that declares them, per-policy values, and disabled policies.
type Tailoring struct {
	// File is where the tailoring came from, for messages.
	File string
	// Parameters apply to every policy that declares the name.
	Parameters map[string]string
	// Policies hold per-policy values and switches, by policy id.
	Policies map[string]PolicyTailoring

	// lines are the line of each key, for Apply's messages:
	// "parameters.NAME", "policies.ID", "policies.ID.parameters.NAME".
	lines map[string]int
}

// PolicyTailoring is one policy's part of a tailoring.
type PolicyTailoring struct {
	// Parameters override both the defaults and the tailoring's global
	// values for this policy.
	Parameters map[string]string
	// Disabled removes the policy from the evaluated set.
	Disabled bool
}

// LoadTailoring reads and parses a tailoring file.
func LoadTailoring(path string) (Tailoring, error) {
	f, err := os.Open(path)
	if err != nil {
		return Tailoring{}, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileSize+1)); err != nil {
		return Tailoring{}, fmt.Errorf("%s: %w", path, err)
	}
	// ParseTailoring refuses more than MaxFileSize bytes.
	return ParseTailoring(path, buf.Bytes())
}

// ParseTailoring decodes and validates a tailoring file (YAML or JSON):
//
//	tailoring:
//	  parameters: {max_days: "180"}
//	  policies:
//	    some-policy-id: {parameters: {max_days: "90"}, disabled: false}
//
// Problems come back as a *ValidationError with file and line. Whether
// the names exist is checked against a policy set by Apply.
func ParseTailoring(filename string, data []byte) (Tailoring, error) {
	ps := &parser{file: filename, policy: ""}
	t := Tailoring{File: filename, lines: map[string]int{}}
	if len(data) > MaxFileSize {
		ps.add(nil, "", "file is larger than %d bytes", MaxFileSize)
		return Tailoring{}, &ValidationError{Problems: ps.problems}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	top := ps.document(data)
	if top == nil {
		for i, p := range ps.problems {
			// document speaks of policy files.
			ps.problems[i].Message = strings.Replace(p.Message, "want a policies: list", "want a tailoring: mapping", 1)
		}
		return Tailoring{}, &ValidationError{Problems: ps.problems}
	}
	fields := ps.fields(top, "", []string{"tailoring"})
	if fields != nil && fields["tailoring"] == nil {
		ps.add(top, "", "missing tailoring: mapping")
	}
	if fields != nil && fields["tailoring"] != nil {
		tf := ps.fields(fields["tailoring"], "tailoring", []string{"parameters", "policies"})
		if tf != nil {
			if v := tf["parameters"]; v != nil {
				t.Parameters = ps.tailoredValues(v, "tailoring.parameters", "parameters", t.lines)
			}
			if v := tf["policies"]; v != nil {
				t.Policies = ps.tailoredPolicies(v, t.lines)
			}
		}
	}
	if len(ps.problems) > 0 {
		sort.SliceStable(ps.problems, func(i, j int) bool { return sortLine(ps.problems[i]) < sortLine(ps.problems[j]) })
		return Tailoring{}, &ValidationError{Problems: ps.problems}
	}
	return t, nil
}

// tailoredValues decodes a mapping of parameter names to values. lineKey
// prefixes the names in lines.
func (ps *parser) tailoredValues(n *yaml.Node, field, lineKey string, lines map[string]int) map[string]string {
	n = ps.deref(n)
	if n.Kind != yaml.MappingNode {
		ps.add(n, field, "must be a mapping of parameter names to values, not %s", kindName(n))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := ps.deref(n.Content[i]), n.Content[i+1]
		f := field + "." + k.Value
		switch {
		case k.Kind != yaml.ScalarNode:
			ps.add(k, field, "keys must be plain names")
			continue
		case !paramName.MatchString(k.Value):
			ps.add(k, f, "%q is not a parameter name (want %s)", k.Value, paramName)
			continue
		case lines[lineKey+"."+k.Value] != 0:
			ps.add(k, f, "given twice (first at line %d)", lines[lineKey+"."+k.Value])
			continue
		}
		lines[lineKey+"."+k.Value] = k.Line
		if s, ok := ps.str(v, f); ok {
			out[k.Value] = s
		}
	}
	return out
}

// tailoredPolicies decodes the policies: mapping of a tailoring.
func (ps *parser) tailoredPolicies(n *yaml.Node, lines map[string]int) map[string]PolicyTailoring {
	n = ps.deref(n)
	if n.Kind != yaml.MappingNode {
		ps.add(n, "tailoring.policies", "must be a mapping of policy ids to {parameters, disabled}, not %s", kindName(n))
		return nil
	}
	out := map[string]PolicyTailoring{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := ps.deref(n.Content[i]), n.Content[i+1]
		f := "tailoring.policies." + k.Value
		switch {
		case k.Kind != yaml.ScalarNode:
			ps.add(k, "tailoring.policies", "keys must be policy ids")
			continue
		case !idPattern.MatchString(k.Value) || len(k.Value) > maxIDLength:
			ps.add(k, f, "%q is not a policy id (want %s)", k.Value, idPattern)
			continue
		case lines["policies."+k.Value] != 0:
			ps.add(k, f, "given twice (first at line %d)", lines["policies."+k.Value])
			continue
		}
		lines["policies."+k.Value] = k.Line
		fields := ps.fields(v, f, []string{"parameters", "disabled"})
		if fields == nil {
			continue
		}
		var pt PolicyTailoring
		if p := fields["parameters"]; p != nil {
			pt.Parameters = ps.tailoredValues(p, f+".parameters", "policies."+k.Value+".parameters", lines)
		}
		if d := fields["disabled"]; d != nil {
			if b := ps.boolean(d, f+".disabled"); b != nil {
				pt.Disabled = *b
			}
		}
		if fields["parameters"] == nil && fields["disabled"] == nil {
			ps.add(ps.deref(v), f, "sets nothing: want parameters or disabled")
		}
		out[k.Value] = pt
	}
	return out
}

// Apply checks t against a policy set and returns the set tailored: each
// policy's Values set (its own tailoring over the global one) and
// disabled policies left out. The input is not modified. It refuses, with
// every problem at once, a tailoring that names a parameter no policy in
// the set declares, a policy id not in the set, a parameter the named
// policy does not declare, or a value that a value test cannot use (a
// "min" that is not a whole number), naming the policy and field.
func (t Tailoring) Apply(policies []Policy) ([]Policy, error) {
	var problems []Problem
	add := func(key, policy, field, format string, args ...any) {
		problems = append(problems, Problem{File: t.File, Line: t.lines[key], Policy: policy, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	declared := map[string]bool{}
	byID := map[string]Policy{}
	for _, p := range policies {
		byID[p.ID] = p
		for name := range p.Parameters {
			declared[name] = true
		}
	}
	for _, name := range sortedKeys(t.Parameters) {
		if !declared[name] {
			add("parameters."+name, "", "tailoring.parameters."+name, "no loaded policy declares parameter %s", name)
		}
	}
	for _, id := range sortedKeys(t.Policies) {
		p, ok := byID[id]
		if !ok {
			add("policies."+id, "", "tailoring.policies."+id, "no loaded policy has id %s", id)
			continue
		}
		for _, name := range sortedKeys(t.Policies[id].Parameters) {
			if _, ok := p.Parameters[name]; !ok {
				add("policies."+id+".parameters."+name, id, "tailoring.policies."+id+".parameters."+name,
					"policy %s declares no parameter %s", id, name)
			}
		}
	}
	out := make([]Policy, 0, len(policies))
	for _, p := range policies {
		pt := t.Policies[p.ID]
		if pt.Disabled {
			continue
		}
		var values map[string]string
		for name := range p.Parameters {
			key := ""
			v, ok := pt.Parameters[name]
			if ok {
				key = "policies." + p.ID + ".parameters." + name
			} else if v, ok = t.Parameters[name]; ok {
				key = "parameters." + name
			}
			if !ok {
				continue
			}
			if values == nil {
				values = map[string]string{}
			}
			values[name] = v
			for _, u := range paramUses(p) {
				if u.name != name {
					continue
				}
				if err := checkValueOperand(u.key, v); err != nil {
					add(key, p.ID, u.field, "parameter %s = %q: %v", name, v, err)
				}
			}
		}
		p.Values = values
		out = append(out, p)
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return nil, &ValidationError{Problems: problems}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
