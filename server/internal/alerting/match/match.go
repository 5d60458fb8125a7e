// Package match holds label matchers: the conditions routes, silences and
// maintenance windows use to pick alerts by their labels.
package match

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Op is how a Matcher compares a label's value.
type Op string

// Matcher operators, written as in Prometheus: equal, not equal, regular
// expression match and no match.
const (
	Equal    Op = "="
	NotEqual Op = "!="
	Regexp   Op = "=~"
	NotRegex Op = "!~"
)

// Matcher tests one label. A label an alert does not have reads as "", so
// `team!=db` matches an alert without a team label. Regular expressions
// are anchored at both ends, as in Prometheus and Alertmanager.
type Matcher struct {
	Name  string `json:"name"`
	Op    Op     `json:"op"`
	Value string `json:"value"`
	re    *regexp.Regexp
}

// New builds a matcher and checks it: a label name, a known operator and,
// for the regular expression operators, a valid expression.
func New(name string, op Op, value string) (Matcher, error) {
	m := Matcher{Name: name, Op: op, Value: value}
	if err := m.compile(); err != nil {
		return Matcher{}, err
	}
	return m, nil
}

var nameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func (m *Matcher) compile() error {
	if !nameRE.MatchString(m.Name) {
		return fmt.Errorf("matcher %q: label name must be letters, digits and _ and not start with a digit", m.String())
	}
	switch m.Op {
	case Equal, NotEqual:
		m.re = nil
	case Regexp, NotRegex:
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		if err != nil {
			return fmt.Errorf("matcher %q: %w", m.String(), err)
		}
		m.re = re
	default:
		return fmt.Errorf("matcher %q: operator must be =, !=, =~ or !~", m.String())
	}
	return nil
}

// Parse reads `name=value`, `name!=value`, `name=~regexp` or
// `name!~regexp`. The value may be double-quoted (Go syntax) to hold any
// text.
func Parse(s string) (Matcher, error) {
	i := strings.IndexAny(s, "=!")
	if i <= 0 {
		return Matcher{}, fmt.Errorf("matcher %q: want name=value, name!=value, name=~regexp or name!~regexp", s)
	}
	name, rest := strings.TrimSpace(s[:i]), s[i:]
	var op Op
	for _, o := range []Op{Regexp, NotRegex, NotEqual, Equal} {
		if strings.HasPrefix(rest, string(o)) {
			op = o
			break
		}
	}
	if op == "" {
		return Matcher{}, fmt.Errorf("matcher %q: want name=value, name!=value, name=~regexp or name!~regexp", s)
	}
	value := strings.TrimSpace(rest[len(op):])
	if strings.HasPrefix(value, `"`) {
		uq, err := unquote(value)
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: %w", s, err)
		}
		value = uq
	}
	return New(name, op, value)
}

func unquote(s string) (string, error) {
	var v string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return "", errors.New("quoted value is not a valid string")
	}
	return v, nil
}

// Matches reports whether labels satisfy m.
func (m Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case Equal:
		return v == m.Value
	case NotEqual:
		return v != m.Value
	case Regexp:
		return m.regexp().MatchString(v)
	case NotRegex:
		return !m.regexp().MatchString(v)
	}
	return false
}

// regexp returns the compiled expression, compiling it for a Matcher that
// was decoded from JSON rather than built by New or Parse.
func (m Matcher) regexp() *regexp.Regexp {
	if m.re != nil {
		return m.re
	}
	re, err := regexp.Compile("^(?:" + m.Value + ")$")
	if err != nil {
		return regexp.MustCompile(`^\b$`) // matches nothing: an invalid stored matcher never silences
	}
	return re
}

// String writes m back in the syntax Parse reads.
func (m Matcher) String() string {
	v := m.Value
	if v == "" || strings.ContainsAny(v, " \t\"\\,{}") {
		raw, _ := json.Marshal(v)
		v = string(raw)
	}
	return m.Name + string(m.Op) + v
}

// UnmarshalJSON decodes and checks a matcher.
func (m *Matcher) UnmarshalJSON(b []byte) error {
	type plain Matcher
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*m = Matcher(p)
	return m.compile()
}

// All reports whether every matcher matches labels; an empty list matches
// everything.
func All(ms []Matcher, labels map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(labels) {
			return false
		}
	}
	return true
}

// ParseAll parses each string with Parse.
func ParseAll(ss []string) ([]Matcher, error) {
	out := make([]Matcher, 0, len(ss))
	var errs []error
	for _, s := range ss {
		m, err := Parse(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, m)
	}
	return out, errors.Join(errs...)
}
