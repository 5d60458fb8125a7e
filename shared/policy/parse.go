package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds a policy file; anything larger is refused unread.
const MaxFileSize = 4 << 20

// maxNodes bounds how many YAML nodes one file may expand to. Aliases can
// make a small file describe an exponentially large tree; the walker
// counts every node it visits and stops here.
const maxNodes = 200_000

// maxProblems bounds the problems reported for one file: past it the
// rest of the file is not walked.
const maxProblems = 100

const tooManyProblems = "too many problems; stopped checking this file"

// maxDepth bounds nesting of all/any/none.
const maxDepth = 32

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// maxIDLength keeps ids usable as URL segments and label values.
const maxIDLength = 128

var severities = []string{SeverityInfo, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// Platforms a policy may name.
var platformNames = []string{"linux", "windows", "darwin"}

// FormatPlatforms is how a policy's platforms are printed everywhere (the
// CLI's tables, steward-agent check, evidence): the names as policies
// write them, joined by ", ", and "all" for a policy that names none,
// which runs on every platform.
func FormatPlatforms(platforms []string) string {
	if len(platforms) == 0 {
		return "all"
	}
	return strings.Join(platforms, ", ")
}

// Parse decodes and validates one policy file, YAML or JSON (told apart by
// content: JSON starts with "{"). It checks everything and is
// all-or-nothing: on any problem it returns nil and a *ValidationError
// listing every problem found, each with the file, line, policy id and
// field path.
func Parse(filename string, data []byte) ([]Policy, error) {
	ps, _, problems := parseFile(filename, data)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return ps, nil
}

// Validate checks policies that arrived already decoded (a policy set
// from the server) by the same rules as Parse; source names them in
// problems, which carry no line numbers. Unlike a file, a set may be
// empty: the server sends an empty set when every policy was deleted.
func Validate(source string, ps []Policy) error {
	if len(ps) == 0 {
		return nil
	}
	data, err := json.Marshal(struct {
		Policies []Policy `json:"policies"`
	}{ps})
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	return ValidateJSON(source, data)
}

// ValidateJSON checks a policy set as it travelled, a JSON document
// {"policies": [...]}, by the same rules as Parse. Unlike Validate, which
// sees only what decoding kept, it also refuses keys this version does
// not know. Problems carry no line numbers: the lines of a machine-made
// document would mislead.
func ValidateJSON(source string, data []byte) error {
	_, _, problems := parseFile(source, data)
	if len(problems) == 0 {
		return nil
	}
	for i := range problems {
		problems[i].Line = 0
	}
	return &ValidationError{Problems: problems}
}

// parser walks the YAML node tree by hand rather than decoding into
// structs: that is how unknown keys, duplicate keys and wrong types are
// all reported, each with its line, instead of stopping at the first.
type parser struct {
	file     string
	policy   string // label of the policy being walked
	problems []Problem
	nodes    int
	stop     bool // give up: too many nodes or problems
	// params are the parameters the policy being walked declares, with
	// their defaults: what a "${name}" reference may name.
	params map[string]string
}

func (ps *parser) add(n *yaml.Node, field, format string, args ...any) {
	if len(ps.problems) >= maxProblems {
		if !ps.stop || ps.problems[len(ps.problems)-1].Message != tooManyProblems {
			ps.problems = append(ps.problems, Problem{File: ps.file, Message: tooManyProblems})
		}
		ps.stop = true
		return
	}
	p := Problem{File: ps.file, Policy: ps.policy, Field: field, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line = n.Line
	}
	ps.problems = append(ps.problems, p)
}

// parseFile returns the policies, the line of each one's id, and the
// problems.
func parseFile(filename string, data []byte) ([]Policy, []int, []Problem) {
	ps := &parser{file: filename}
	if len(data) > MaxFileSize {
		ps.add(nil, "", "file is larger than %d bytes", MaxFileSize)
		return nil, nil, ps.problems
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	top := ps.document(data)
	if top == nil {
		return nil, nil, ps.problems
	}
	policies, lines := ps.top(top)
	if len(ps.problems) > 0 {
		sort.SliceStable(ps.problems, func(i, j int) bool { return sortLine(ps.problems[i]) < sortLine(ps.problems[j]) })
		return nil, nil, ps.problems
	}
	return policies, lines, nil
}

// sortLine orders problems by line, the note that checking stopped last.
func sortLine(p Problem) int {
	if p.Message == tooManyProblems {
		return math.MaxInt
	}
	return p.Line
}

// document parses data into its top node. JSON is checked by
// encoding/json first so that its errors read like JSON errors; YAML then
// parses it too (JSON is YAML), which gives JSON input line numbers.
func (ps *parser) document(data []byte) *yaml.Node {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		ps.add(nil, "", "file is empty; want a policies: list")
		return nil
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		var v any
		if err := json.Unmarshal(trimmed, &v); err != nil {
			line := 0
			var se *json.SyntaxError
			if errors.As(err, &se) {
				line = 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
			}
			ps.problems = append(ps.problems, Problem{File: ps.file, Line: line, Message: "invalid JSON: " + err.Error()})
			return nil
		}
		// Valid JSON has no raw tabs inside strings, and YAML does not
		// allow tabs where JSON pretty-printers put them.
		data = bytes.ReplaceAll(data, []byte("\t"), []byte(" "))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // only comments
			ps.add(nil, "", "file is empty; want a policies: list")
		} else {
			ps.yamlError(err, data)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			ps.yamlError(err, data)
		} else {
			ps.add(&extra, "", "more than one YAML document; put every policy under one policies: list")
		}
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		ps.add(nil, "", "file is empty; want a policies: list")
		return nil
	}
	return doc.Content[0]
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns "yaml: line 3: message" into a problem on line 3 of
// data. For many syntax errors the YAML parser names the line where the
// enclosing block starts (a list item's first line for a key indented one
// space too few further down), so the line is then moved to the real
// place: the first line whose inclusion makes the document fail with the
// same message.
func (ps *parser) yamlError(err error, data []byte) {
	msg := err.Error()
	p := Problem{File: ps.file, Message: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Message = "invalid YAML: " + m[2]
		p.Line = failingLine(data, p.Line, m[2])
	}
	ps.problems = append(ps.problems, p)
}

// failingLine returns the smallest n >= from such that the first n lines
// of data fail to parse with message msg, found by bisection (a document
// cut before its error parses, or fails otherwise; cut after it, it fails
// the same way). from when no such n is found.
func failingLine(data []byte, from int, msg string) int {
	starts := []int{0} // byte offset of each line
	for i, b := range data {
		if b == '\n' && i+1 < len(data) {
			starts = append(starts, i+1)
		}
	}
	total := len(starts)
	fails := func(n int) bool {
		end := len(data)
		if n < total {
			end = starts[n]
		}
		var doc yaml.Node
		err := yaml.NewDecoder(bytes.NewReader(data[:end])).Decode(&doc)
		if err == nil {
			return false
		}
		m := yamlLine.FindStringSubmatch(err.Error())
		return m != nil && m[2] == msg
	}
	if from < 1 || from > total {
		return from
	}
	lo, hi := from, total // fails(hi) is assumed: the whole document fails so
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if !fails(lo) {
		return from
	}
	return lo
}

func (ps *parser) top(n *yaml.Node) ([]Policy, []int) {
	fields := ps.fields(n, "", []string{"policies"})
	if fields == nil {
		return nil, nil
	}
	list := fields["policies"]
	if list == nil {
		ps.add(n, "", "missing policies: list")
		return nil, nil
	}
	list = ps.deref(list)
	if list.Kind != yaml.SequenceNode {
		ps.add(list, "policies", "must be a list of policies")
		return nil, nil
	}
	if len(list.Content) == 0 {
		ps.add(list, "policies", "list is empty")
		return nil, nil
	}
	var policies []Policy
	var lines []int
	seen := map[string]int{}
	for i, item := range list.Content {
		p, line := ps.policyNode(ps.deref(item), i)
		if p.ID != "" {
			if first, dup := seen[p.ID]; dup {
				ps.policy = p.ID
				ps.problems = append(ps.problems, Problem{File: ps.file, Line: line, Policy: p.ID, Field: "id",
					Message: fmt.Sprintf("duplicate id (first defined at line %d)", first)})
			} else {
				seen[p.ID] = line
			}
		}
		policies = append(policies, p)
		lines = append(lines, line)
		if ps.stop {
			break
		}
	}
	return policies, lines
}

// policyNode decodes one policy. The label used in problems is the id when
// it is usable, else the policy's position.
func (ps *parser) policyNode(n *yaml.Node, index int) (Policy, int) {
	var p Policy
	ps.policy = fmt.Sprintf("#%d", index+1)
	if id := peekID(n); idPattern.MatchString(id) && len(id) <= maxIDLength {
		ps.policy = id // so that problems found before the id is read name it
	}
	ps.params = nil // a previous policy's parameters are not this one's
	fields := ps.fields(n, "", []string{"id", "title", "description", "severity", "platforms",
		"tags", "rationale", "remediation", "fix", "parameters", "references", "applies_if", "check"})
	if fields == nil {
		return p, n.Line
	}
	line := n.Line
	if v := fields["id"]; v != nil {
		line = v.Line
		if id, ok := ps.str(v, "id"); ok {
			switch {
			case len(id) > maxIDLength:
				ps.add(v, "id", "longer than %d characters", maxIDLength)
			case !idPattern.MatchString(id):
				ps.add(v, "id", "%q must match %s (lower-case letters, digits and hyphens)", id, idPattern)
			default:
				p.ID = id
				ps.policy = id
			}
		}
	} else {
		ps.add(n, "id", "required")
	}
	p.Title = ps.required(n, fields, "title")
	if sev := ps.required(n, fields, "severity"); sev != "" {
		if !contains(severities, sev) {
			ps.add(fields["severity"], "severity", "%q is not one of %s", sev, strings.Join(severities, ", "))
		}
		p.Severity = sev
	}
	p.Description = ps.optional(fields, "description")
	p.Rationale = ps.optional(fields, "rationale")
	p.Remediation = ps.optional(fields, "remediation")
	if fixNode := fields["fix"]; fixNode != nil {
		p.Fix = ps.fix(fixNode)
	}
	if v := fields["platforms"]; v != nil {
		p.Platforms, _ = ps.strs(v, "platforms")
		seen := map[string]bool{}
		for i, pl := range p.Platforms {
			if !contains(platformNames, pl) {
				ps.add(ps.deref(v).Content[i], fmt.Sprintf("platforms[%d]", i), "%q is not one of %s", pl, strings.Join(platformNames, ", "))
			} else if seen[pl] {
				ps.add(ps.deref(v).Content[i], fmt.Sprintf("platforms[%d]", i), "%q listed twice", pl)
			}
			seen[pl] = true
		}
	}
	if v := fields["tags"]; v != nil {
		p.Tags, _ = ps.strs(v, "tags")
		for i, tag := range p.Tags {
			if strings.TrimSpace(tag) == "" {
				ps.add(ps.deref(v).Content[i], fmt.Sprintf("tags[%d]", i), "empty tag")
			}
		}
	}
	if v := fields["references"]; v != nil {
		p.References = ps.references(v)
	}
	// Parameters first: the value tests in the trees check their
	// "${name}" references against the declared defaults.
	var paramKeys map[string]*yaml.Node
	if v := fields["parameters"]; v != nil {
		p.Parameters, paramKeys = ps.parameters(v)
	}
	if v := fields["applies_if"]; v != nil {
		c := ps.check(v, "applies_if", 0, p.Platforms)
		p.AppliesIf = &c
	}
	if v := fields["check"]; v != nil {
		p.Check = ps.check(v, "check", 0, p.Platforms)
	} else {
		ps.add(n, "check", "required")
	}
	if len(paramKeys) > 0 && !ps.stop {
		ps.unusedParameters(p, paramKeys)
	}
	ps.params = nil
	return p, line
}

// peekID returns the id key's text without reporting anything.
func peekID(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "id" && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}

func (ps *parser) required(parent *yaml.Node, fields map[string]*yaml.Node, key string) string {
	v := fields[key]
	if v == nil {
		ps.add(parent, key, "required")
		return ""
	}
	s, ok := ps.str(v, key)
	if ok && strings.TrimSpace(s) == "" {
		ps.add(v, key, "must not be empty")
	}
	return s
}

func (ps *parser) optional(fields map[string]*yaml.Node, key string) string {
	if v := fields[key]; v != nil {
		s, _ := ps.str(v, key)
		return s
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
