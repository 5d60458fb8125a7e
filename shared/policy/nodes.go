package policy

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// deref follows aliases (*name) to the anchored node and counts the visit
// against the file's node budget.
func (ps *parser) deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	ps.nodes++
	if ps.nodes > maxNodes && !ps.stop {
		ps.stop = true
		ps.add(n, "", "file expands to more than %d YAML nodes (aliases?)", maxNodes)
	}
	return n
}

// fields checks that n is a mapping whose keys are all in known, each at
// most once, and returns the value node of every key present. It returns
// nil (after reporting) when n is not a mapping.
func (ps *parser) fields(n *yaml.Node, path string, known []string) map[string]*yaml.Node {
	n = ps.deref(n)
	if n.Kind != yaml.MappingNode {
		what := "the file"
		if path != "" {
			what = path
		}
		ps.add(n, path, "%s must be a mapping with keys %s, not %s", what, strings.Join(known, ", "), kindName(n))
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := ps.deref(n.Content[i]), n.Content[i+1]
		field := join(path, k.Value)
		switch {
		case k.Kind != yaml.ScalarNode:
			ps.add(k, path, "keys must be plain names")
		case k.Value == "<<":
			ps.add(k, path, "YAML merge keys (<<) are not supported; write the fields out")
		case !contains(known, k.Value):
			ps.add(k, field, "unknown field (known: %s)", strings.Join(known, ", "))
		case out[k.Value] != nil:
			ps.add(k, field, "given twice (first at line %d)", out[k.Value].Line)
		default:
			out[k.Value] = v
		}
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return scalarName(n)
	}
	return "empty"
}

func scalarName(n *yaml.Node) string {
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!bool":
		return "a boolean"
	case "!!int":
		return "a number"
	case "!!float":
		return "a number"
	}
	return fmt.Sprintf("%q", n.Value)
}

// str accepts any scalar except null and booleans: numbers keep their text,
// which is what a version "5.0" or a mode 0644 must keep.
func (ps *parser) str(n *yaml.Node, field string) (string, bool) {
	n = ps.deref(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" || n.ShortTag() == "!!bool" {
		ps.add(n, field, "must be a string, not %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

// boolean accepts only true and false (YAML 1.2: "yes" is a string).
func (ps *parser) boolean(n *yaml.Node, field string) *bool {
	n = ps.deref(n)
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		ps.add(n, field, "must be true or false, not %s", kindName(n))
		return nil
	}
	return &b
}

func (ps *parser) integer(n *yaml.Node, field string) (int, bool) {
	n = ps.deref(n)
	var i int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		ps.add(n, field, "must be a whole number, not %s", kindName(n))
		return 0, false
	}
	return i, true
}

// strs decodes a list of strings; a single string is not silently taken
// as a one-element list, because that hides mistakes in argv.
// ok is false when n or any item had the wrong type (already reported).
func (ps *parser) strs(n *yaml.Node, field string) (list []string, ok bool) {
	n = ps.deref(n)
	if n.Kind != yaml.SequenceNode {
		ps.add(n, field, "must be a list of strings, not %s", kindName(n))
		return nil, false
	}
	ok = true
	list = make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		s, good := ps.str(item, fmt.Sprintf("%s[%d]", field, i))
		ok = ok && good
		list = append(list, s)
	}
	return list, ok
}
