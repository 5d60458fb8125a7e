package alertconf

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/server/internal/alerting/notify"
)

// entry is one key of a mapping and its value.
type entry struct{ key, val *yaml.Node }

// fields maps the keys of a checked mapping to their entries.
type fields map[string]entry

// val returns the value node of key k, nil when absent.
func (f fields) val(k string) *yaml.Node { return f[k].val }

// deref follows aliases (*name) to the anchored node.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "empty"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "empty"
}

// entries checks that n is a mapping (null counts as an empty one) with
// plain, distinct keys, and returns its entries in order; ok is false,
// after reporting, when n is not a mapping.
func (p *parser) entries(n *yaml.Node, what string) (es []entry, ok bool) {
	n = deref(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping of keys, not %s", what, kindName(n))
		return nil, false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		switch {
		case k.Kind != yaml.ScalarNode:
			p.errorf(k, "%s: keys must be plain names", what)
		case k.Value == "<<":
			p.errorf(k, "%s: YAML merge keys (<<) are not supported; write the keys out", what)
		case seen[k.Value] > 0:
			p.errorf(k, "%s: %s is given twice (first at line %d)", what, k.Value, seen[k.Value])
		default:
			seen[k.Value] = k.Line
			es = append(es, entry{key: k, val: n.Content[i+1]})
		}
	}
	return es, true
}

// fields is entries for a mapping whose keys must all be in known; it
// returns nil when n is not a mapping.
func (p *parser) fields(n *yaml.Node, what string, known []string) fields {
	es, ok := p.entries(n, what)
	if !ok {
		return nil
	}
	f := make(fields, len(es))
	for _, e := range es {
		if !slices.Contains(known, e.key.Value) {
			p.errorf(e.key, "%s: unknown key %s (known: %s)", what, e.key.Value, strings.Join(known, ", "))
			continue
		}
		f[e.key.Value] = e
	}
	return f
}

// str reads a scalar; null reads as "".
func (p *parser) str(n *yaml.Node, what, key string) (string, bool) {
	n = deref(n)
	switch {
	case n == nil || isNull(n):
		return "", true
	case n.Kind != yaml.ScalarNode:
		p.errorf(n, "%s: %s must be a string, not %s", what, key, kindName(n))
		return "", false
	}
	return n.Value, true
}

// strs reads a list of scalars; a single scalar reads as a list of one.
func (p *parser) strs(n *yaml.Node, what, key string) ([]string, bool) {
	n = deref(n)
	switch {
	case n == nil || isNull(n):
		return nil, true
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}, true
	case n.Kind != yaml.SequenceNode:
		p.errorf(n, "%s: %s must be a list of strings, not %s", what, key, kindName(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for _, it := range n.Content {
		it = deref(it)
		if it.Kind != yaml.ScalarNode || isNull(it) {
			p.errorf(it, "%s: %s must be a list of strings; an item is %s", what, key, kindName(it))
			ok = false
			continue
		}
		out = append(out, it.Value)
	}
	return out, ok
}

// items is strs that also returns each item's node, for messages about
// one item; ok is false when n is not a list of strings (reported).
func (p *parser) items(n *yaml.Node, what, key string) (ss []string, nodes []*yaml.Node, ok bool) {
	ss, ok = p.strs(n, what, key)
	n = deref(n)
	switch {
	case !ok || len(ss) == 0:
		return nil, nil, ok
	case n.Kind == yaml.ScalarNode:
		return ss, []*yaml.Node{n}, true
	}
	nodes = make([]*yaml.Node, len(n.Content))
	for i, it := range n.Content {
		nodes[i] = deref(it)
	}
	return ss, nodes, true
}

// duration reads a Go duration ("90s", "10m", "1h30m") of at least
// least; def when n is nil.
func (p *parser) duration(n *yaml.Node, what, key string, least, def time.Duration) time.Duration {
	if n == nil {
		return def
	}
	s, ok := p.str(n, what, key)
	if !ok {
		return def
	}
	n = deref(n)
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		p.errorf(n, "%s: %s %q is not a duration (write it like 90s, 10m or 1h30m)", what, key, s)
		return def
	case d < least:
		p.errorf(n, "%s: %s must be at least %v", what, key, least)
		return def
	}
	return d
}

// positive reads an integer of at least 1; def when n is nil.
func (p *parser) positive(n *yaml.Node, what, key string, def int) int {
	if n == nil {
		return def
	}
	n = deref(n)
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 1 {
		p.errorf(n, "%s: %s must be a whole number of at least 1, not %s", what, key, kindName(n))
		return def
	}
	return v
}

// boolean reads true or false.
func (p *parser) boolean(n *yaml.Node, what, key string) bool {
	n = deref(n)
	if n == nil {
		return false
	}
	var b bool
	// The tag, so that YAML 1.1's yes and on are refused rather than read.
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		p.errorf(n, "%s: %s must be true or false, not %s", what, key, kindName(n))
		return false
	}
	return b
}

// labelNameRE is a valid label name, as in Prometheus.
var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// labelName reports a key that is not a valid label name.
func (p *parser) labelName(k *yaml.Node, what string) bool {
	if !labelNameRE.MatchString(k.Value) {
		p.errorf(k, "%s: label name %q must be letters, digits and _ and not start with a digit", what, k.Value)
		return false
	}
	return true
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	secretType      = reflect.TypeFor[notify.Secret]()
	yamlLinePrefix  = regexp.MustCompile(`^line \d+: `)
)

// decode decodes n into v (settable) as yaml.Node.Decode would, except
// that unknown keys are problems and each field is decoded on its own,
// so that every bad field is reported at its line. path names v in
// messages ("pagerduty.routing_key").
func (p *parser) decode(n *yaml.Node, v reflect.Value, what, path string) {
	n = deref(n)
	t := v.Type()
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && !t.Implements(unmarshalerType) {
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		v, t = v.Elem(), t.Elem()
	}
	if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(unmarshalerType) {
		if t == secretType && n.Kind == yaml.MappingNode {
			before := len(p.problems)
			if p.fields(n, what+": "+path, []string{"file", "env"}); len(p.problems) > before {
				return
			}
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			p.errorf(n, "%s: %s: %s", what, path, decodeMessage(err))
		}
		return
	}
	keys := structKeys(t)
	known := make([]string, 0, len(keys))
	for k := range keys {
		known = append(known, k)
	}
	slices.Sort(known)
	f := p.fields(n, what+": "+path, known)
	for _, k := range known {
		if e, ok := f[k]; ok {
			p.decode(e.val, v.FieldByIndex(keys[k]), what, path+"."+k)
		}
	}
}

// decodeMessage is a decode error without yaml's "line N:" prefixes (the
// problem carries the line).
func decodeMessage(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = yamlLinePrefix.ReplaceAllString(m, "")
		}
		return strings.Join(msgs, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// structKeys maps the YAML keys of struct type t to their fields, by the
// yaml tags as yaml.v3 reads them (inline structs included).
func structKeys(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && sf.Type.Kind() == reflect.Struct {
			for k, idx := range structKeys(sf.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		out[name] = []int{i}
	}
	return out
}
