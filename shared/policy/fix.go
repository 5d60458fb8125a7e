package policy

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFixBytes bounds each of a fix's texts.
const MaxFixBytes = 16 << 10

// Fix formats, as the remediation API and stewardctl name them.
const (
	FixShell   = "sh"
	FixAnsible = "ansible"
)

// Fix is a policy's remediation as data: texts an administrator reviews
// and runs to bring a failing host into line. Steward never runs them.
// At least one is set.
type Fix struct {
	// Sh is a POSIX shell snippet.
	Sh string `json:"sh,omitempty" yaml:"sh,omitempty"`
	// Ansible is Ansible tasks in YAML: a list of one or more mappings.
	Ansible string `json:"ansible,omitempty" yaml:"ansible,omitempty"`
}

// Text returns the fix in format (FixShell or FixAnsible); "" when the
// policy has none in that format.
func (f *Fix) Text(format string) string {
	if f == nil {
		return ""
	}
	switch format {
	case FixShell:
		return f.Sh
	case FixAnsible:
		return f.Ansible
	}
	return ""
}

// fix decodes and checks a policy's fix: a mapping of sh and ansible,
// at least one, each non-empty text of at most MaxFixBytes; the ansible
// text must be YAML holding a list of one or more mappings (tasks).
func (ps *parser) fix(n *yaml.Node) *Fix {
	fields := ps.fields(n, "fix", []string{FixShell, FixAnsible})
	if fields == nil {
		return nil
	}
	var f Fix
	text := func(key string) (string, *yaml.Node) {
		v := fields[key]
		if v == nil {
			return "", nil
		}
		s, ok := ps.str(v, "fix."+key)
		if !ok {
			return "", nil
		}
		switch {
		case strings.TrimSpace(s) == "":
			ps.add(v, "fix."+key, "must not be empty")
			return "", nil
		case len(s) > MaxFixBytes:
			ps.add(v, "fix."+key, "longer than %d bytes", MaxFixBytes)
			return "", nil
		case strings.ContainsRune(s, 0):
			ps.add(v, "fix."+key, "contains a NUL byte")
			return "", nil
		}
		return s, ps.deref(v)
	}
	f.Sh, _ = text(FixShell)
	var node *yaml.Node
	f.Ansible, node = text(FixAnsible)
	if node != nil {
		if msg := checkAnsible(f.Ansible); msg != "" {
			ps.add(node, "fix.ansible", "%s", msg)
			f.Ansible = ""
		}
	}
	if len(fields) == 0 {
		ps.add(n, "fix", "give sh, ansible or both")
	}
	if f.Sh == "" && f.Ansible == "" {
		return nil
	}
	return &f
}

// checkAnsible returns what is wrong with an ansible fix's text, "" when
// it is a YAML list of one or more mappings.
func checkAnsible(s string) string {
	dec := yaml.NewDecoder(bytes.NewReader([]byte(s)))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return "empty; want a list of one or more tasks"
	} else if err != nil {
		return "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return "holds more than one YAML document; want one list of tasks"
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return "empty; want a list of one or more tasks"
	}
	list := doc.Content[0]
	if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
		return "must be a YAML list of one or more tasks (mappings), not " + kindName(list)
	}
	for i, task := range list.Content {
		if task.Kind != yaml.MappingNode || len(task.Content) == 0 {
			return "task " + strconv.Itoa(i+1) + " must be a mapping, not " + kindName(task)
		}
	}
	return ""
}
