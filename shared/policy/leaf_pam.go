package policy

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// PAMCheck is the pam leaf: lines of one type in a service's effective
// PAM stack, as Linux-PAM assembles it from /etc/pam.d.
type PAMCheck struct {
	// Service is a file name in /etc/pam.d, or "*" for every file there.
	Service string `json:"service" yaml:"service"`
	Type    string `json:"type" yaml:"type"`     // auth | account | password | session
	Module  string `json:"module" yaml:"module"` // base name, ".so" optional
	// Present: false requires no such line (default true).
	Present *bool `json:"present,omitempty" yaml:"present,omitempty"`
	// Control: every matching line's control is one of these.
	Control     []string `json:"control,omitempty" yaml:"control,omitempty"`
	WithArgs    []string `json:"with_args,omitempty" yaml:"with_args,omitempty"`
	WithoutArgs []string `json:"without_args,omitempty" yaml:"without_args,omitempty"`
	// Arg names an argument (remember of remember=5) whose value the
	// ValueTest keys judge.
	Arg string `json:"arg,omitempty" yaml:"arg,omitempty"`
	// Before: the module's first line comes before this module's first
	// line in the stack of the same type.
	Before    string `json:"before,omitempty" yaml:"before,omitempty"`
	ValueTest `yaml:",inline"`
}

const (
	pamDir = "/etc/pam.d"
	// pamMaxDepth mirrors Linux-PAM's limit on nested includes.
	pamMaxDepth = 16
)

var (
	pamTypes     = []string{"auth", "account", "password", "session"}
	pamServiceRE = regexp.MustCompile(`^[A-Za-z0-9_.+@-]+$`)
)

func (ps *parser) pAMCheck(n *yaml.Node, p string) *PAMCheck {
	keys := []string{"service", "type", "module", "present", "control", "with_args", "without_args", "arg", "before"}
	fields := ps.fields(n, p, append(keys, valueTestKeys...))
	if fields == nil {
		return nil
	}
	c := &PAMCheck{
		Service: ps.requiredIn(n, fields, "service", p),
		Type:    ps.requiredIn(n, fields, "type", p),
		Module:  ps.requiredIn(n, fields, "module", p),
	}
	if c.Service != "" && c.Service != "*" && !pamServiceRE.MatchString(c.Service) {
		ps.add(ps.deref(fields["service"]), p+".service", "%q is not a file name in %s (or \"*\" for every service)", c.Service, pamDir)
	}
	if c.Type != "" && !contains(pamTypes, c.Type) {
		ps.add(ps.deref(fields["type"]), p+".type", "%q is not one of %s", c.Type, strings.Join(pamTypes, ", "))
	}
	module := func(key, s string) {
		if s != "" && (strings.ContainsAny(s, " \t") || strings.HasSuffix(s, "/")) {
			ps.add(ps.deref(fields[key]), join(p, key), "%q is not a module name like pam_unix.so", s)
		}
	}
	module("module", c.Module)
	c.Present = ps.optBool(fields, "present", p)
	list := func(key string) []string {
		v := fields[key]
		if v == nil {
			return nil
		}
		l, _ := ps.strs(v, join(p, key))
		if l != nil && len(l) == 0 {
			ps.add(ps.deref(v), join(p, key), "must list at least one value")
		}
		for i, s := range l {
			if strings.TrimSpace(s) == "" {
				ps.add(ps.deref(v), fmt.Sprintf("%s[%d]", join(p, key), i), "must not be empty")
			}
		}
		return l
	}
	c.Control = list("control")
	c.WithArgs = list("with_args")
	c.WithoutArgs = list("without_args")
	c.Arg = ps.nonEmpty(fields, "arg", p)
	if strings.Contains(c.Arg, "=") {
		ps.add(ps.deref(fields["arg"]), p+".arg", "%q: give the argument's name only (remember, not remember=5)", c.Arg)
	}
	c.Before = ps.nonEmpty(fields, "before", p)
	module("before", c.Before)
	c.ValueTest = ps.valueTest(fields, p)
	switch {
	case c.Arg != "" && c.ValueTest.Empty():
		ps.add(ps.deref(fields["arg"]), p+".arg", "needs at least one of %s to judge the argument's value", strings.Join(valueTestKeys, ", "))
	case c.Arg == "" && !c.ValueTest.Empty():
		ps.add(ps.deref(n), p+".arg", "required with %s (which argument's value to judge)", strings.Join(valueTestKeys, ", "))
	}
	if c.Present != nil && !*c.Present {
		var others []string
		for _, k := range append([]string{"control", "with_args", "without_args", "arg", "before"}, valueTestKeys...) {
			if fields[k] != nil {
				others = append(others, k)
			}
		}
		if len(others) > 0 {
			ps.add(ps.deref(fields["present"]), p+".present", "present: false cannot be combined with %s", strings.Join(others, ", "))
		}
	}
	return c
}

// pamLine is one rule of an effective stack.
type pamLine struct {
	typ, control, module string // module: base name without ".so"
	args                 []string
	file                 string
	line                 int
	via                  string // "" in the service file itself, else "@include", "include", "substack"
	ignoreMissing        bool   // "-type"
}

// pamText renders l as written, normalised: "requisite pam_pwquality.so retry=3".
func (l pamLine) text() string {
	s := l.control + " " + l.module + ".so"
	if len(l.args) > 0 {
		s += " " + strings.Join(l.args, " ")
	}
	return s
}

func (l pamLine) describe(service string) string {
	d := fmt.Sprintf("%s %s: %s (line %d of %s", service, l.typ, l.text(), l.line, l.file)
	if l.via != "" {
		d += ", via " + l.via
	}
	return d + ")"
}

// pamModuleName normalises a module path to its base name without ".so".
func pamModuleName(s string) string {
	return strings.TrimSuffix(path.Base(s), ".so")
}

// pamNormControl collapses whitespace in a control ("[success=1
// default=ignore]" and "[ success=1  default=ignore ]" are the same).
func pamNormControl(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return "[" + strings.Join(strings.Fields(s[1:len(s)-1]), " ") + "]"
	}
	return strings.ToLower(s)
}

// pamLogicalLines splits a PAM configuration file as Linux-PAM's line
// assembly does: '#' starts a comment running to the end of the line, a
// backslash before the newline joins the next line, blank results are
// dropped. Each logical line carries the number of its first physical
// line.
func pamLogicalLines(data []byte) (lines []string, numbers []int) {
	phys := strings.Split(string(data), "\n")
	var cur strings.Builder
	start := 0
	for i, l := range phys {
		l = strings.TrimRight(l, "\r")
		if cur.Len() == 0 {
			start = i + 1
		}
		if k := strings.IndexByte(l, '#'); k >= 0 {
			l = l[:k]
		}
		if strings.HasSuffix(l, `\`) {
			cur.WriteString(strings.TrimSuffix(l, `\`))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(l)
		if s := strings.TrimSpace(cur.String()); s != "" {
			lines = append(lines, s)
			numbers = append(numbers, start)
		}
		cur.Reset()
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		lines = append(lines, s)
		numbers = append(numbers, start)
	}
	return lines, numbers
}

// pamTokens splits a logical line: words separated by blanks, except that
// a word starting with '[' runs to the matching ']' (a bracketed control
// or argument may hold blanks; "\]" inside is a literal bracket).
func pamTokens(s string) []string {
	var out []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out
		}
		if s[0] == '[' {
			end := -1
			for i := 1; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) && s[i+1] == ']' {
					i++
					continue
				}
				if s[i] == ']' {
					end = i
					break
				}
			}
			if end < 0 { // unterminated: the rest of the line
				out = append(out, s)
				return out
			}
			out = append(out, s[:end+1])
			s = s[end+1:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			return append(out, s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
}

// pamStack assembles service files into rules, following includes in
// place.
type pamStack struct {
	ctx      context.Context
	env      Env
	lines    []pamLine
	problems []string
}

// pamIncludePath resolves an include target: absolute as written, else a
// file of /etc/pam.d.
func pamIncludePath(name string) string {
	if strings.HasPrefix(name, "/") {
		return path.Clean(name)
	}
	return path.Join(pamDir, name)
}

// load appends the rules of file, keeping only type onlyType when it is
// not "" (an "include"/"substack" control includes one type's rules).
// chain holds the files being read, for loop detection.
func (st *pamStack) load(file, onlyType, via string, chain []string) error {
	for _, f := range chain {
		if f == file {
			return fmt.Errorf("PAM include loop: %s -> %s", strings.Join(chain, " -> "), file)
		}
	}
	if len(chain) > pamMaxDepth {
		return fmt.Errorf("PAM includes nested more than %d deep at %s", pamMaxDepth, file)
	}
	data, found, err := readAccountFile(st.ctx, st.env, file)
	if err != nil {
		return err
	}
	if !found {
		if len(chain) > 0 {
			st.problems = append(st.problems, fmt.Sprintf("%s includes %s, which does not exist", chain[len(chain)-1], file))
		}
		return nil
	}
	chain = append(chain, file)
	lines, numbers := pamLogicalLines(data)
	for i, l := range lines {
		tok := pamTokens(l)
		where := fmt.Sprintf("%s:%d", file, numbers[i])
		if tok[0] == "@include" {
			if len(tok) < 2 {
				st.problems = append(st.problems, where+": @include without a file")
				continue
			}
			v := "@include"
			if via != "" {
				v = via
			}
			if err := st.load(pamIncludePath(tok[1]), onlyType, v, chain); err != nil {
				return err
			}
			continue
		}
		if len(tok) < 3 {
			st.problems = append(st.problems, where+": malformed line skipped")
			continue
		}
		typ := strings.ToLower(tok[0])
		ignore := strings.HasPrefix(typ, "-")
		typ = strings.TrimPrefix(typ, "-")
		if !contains(pamTypes, typ) {
			st.problems = append(st.problems, fmt.Sprintf("%s: unknown type %q skipped", where, tok[0]))
			continue
		}
		if onlyType != "" && typ != onlyType {
			continue
		}
		control := pamNormControl(tok[1])
		if control == "include" || control == "substack" {
			v := control
			if via != "" {
				v = via
			}
			if err := st.load(pamIncludePath(tok[2]), typ, v, chain); err != nil {
				return err
			}
			continue
		}
		st.lines = append(st.lines, pamLine{typ: typ, control: control, module: pamModuleName(tok[2]), args: tok[3:],
			file: file, line: numbers[i], via: via, ignoreMissing: ignore})
	}
	return nil
}

// pamArgName is an argument's name: the text before '='.
func pamArgName(a string) string {
	name, _, _ := strings.Cut(a, "=")
	return name
}

// pamHasArg: want without '=' matches the argument by name (remember
// matches remember=5); with '=' it must match exactly.
func pamHasArg(args []string, want string) bool {
	for _, a := range args {
		if a == want || (!strings.Contains(want, "=") && pamArgName(a) == want) {
			return true
		}
	}
	return false
}

func pAMLeaf(ctx context.Context, env Env, c *PAMCheck) (bool, string, error) {
	services := []string{c.Service}
	if c.Service == "*" {
		paths, err := env.Glob(ctx, pamDir+"/*")
		if err != nil {
			return false, "", fmt.Errorf("glob %s/*: %w", pamDir, err)
		}
		services = services[:0]
		for _, p := range paths {
			services = append(services, path.Base(p))
		}
		if len(services) == 0 {
			return false, "no service file in " + pamDir, nil
		}
	}
	var failed, passed []string
	for _, svc := range services {
		ok, detail, err := pamService(ctx, env, c, svc)
		if err != nil {
			return false, "", err
		}
		if ok {
			passed = append(passed, detail)
		} else {
			failed = append(failed, detail)
		}
	}
	if len(failed) > 0 {
		return false, strings.Join(failed, "; "), nil
	}
	if len(passed) > 3 {
		return true, fmt.Sprintf("%s; and %d more services", strings.Join(passed[:3], "; "), len(passed)-3), nil
	}
	return true, strings.Join(passed, "; "), nil
}

// pamService judges one service's stack.
func pamService(ctx context.Context, env Env, c *PAMCheck, svc string) (bool, string, error) {
	file := path.Join(pamDir, svc)
	if _, err := env.Stat(ctx, file); err != nil {
		if !errors.Is(err, ErrNotFound) {
			return false, "", fmt.Errorf("stat %s: %w", file, err)
		}
		if c.Present != nil && !*c.Present {
			return true, file + " does not exist", nil
		}
		return false, file + " does not exist", nil
	}
	st := &pamStack{ctx: ctx, env: env}
	if err := st.load(file, "", "", nil); err != nil {
		return false, "", err
	}
	var stack []pamLine
	for _, l := range st.lines {
		if l.typ == c.Type {
			stack = append(stack, l)
		}
	}
	module := pamModuleName(c.Module)
	var matching []pamLine
	first := -1
	for i, l := range stack {
		if l.module == module {
			if first < 0 {
				first = i
			}
			matching = append(matching, l)
		}
	}
	note := ""
	if len(st.problems) > 0 {
		note = " (" + strings.Join(st.problems, "; ") + ")"
	}
	if c.Present != nil && !*c.Present {
		if len(matching) == 0 {
			return true, fmt.Sprintf("%s %s: no %s.so line%s", svc, c.Type, module, note), nil
		}
		return false, matching[0].describe(svc) + note, nil
	}
	if len(matching) == 0 {
		return false, fmt.Sprintf("%s %s: no %s.so line%s", svc, c.Type, module, note), nil
	}
	var fails []string
	if c.Control != nil {
		want := make([]string, len(c.Control))
		for i, w := range c.Control {
			want[i] = pamNormControl(w)
		}
		for _, l := range matching {
			if !contains(want, l.control) {
				fails = append(fails, fmt.Sprintf("control %s, want one of %s: %s", l.control, strings.Join(want, ", "), l.describe(svc)))
			}
		}
	}
	for _, l := range matching {
		for _, a := range c.WithArgs {
			if !pamHasArg(l.args, a) {
				fails = append(fails, fmt.Sprintf("missing argument %s: %s", a, l.describe(svc)))
			}
		}
		for _, a := range c.WithoutArgs {
			if pamHasArg(l.args, a) {
				fails = append(fails, fmt.Sprintf("has argument %s: %s", a, l.describe(svc)))
			}
		}
	}
	shown := matching[0]
	if c.Arg != "" {
		var got *string
		for _, l := range matching {
			for _, a := range l.args {
				if pamArgName(a) == c.Arg {
					_, v, _ := strings.Cut(a, "=")
					got, shown = &v, l
					break
				}
			}
			if got != nil {
				break
			}
		}
		ok, d, err := c.ValueTest.Test(ctx, got)
		if err != nil {
			return false, "", err
		}
		if !ok {
			fails = append(fails, fmt.Sprintf("%s %s: %s", c.Arg, d, shown.describe(svc)))
		}
	}
	if c.Before != "" {
		other := pamModuleName(c.Before)
		idx := -1
		for i, l := range stack {
			if l.module == other {
				idx = i
				break
			}
		}
		switch {
		case idx < 0:
			fails = append(fails, fmt.Sprintf("no %s.so line to come before: %s", other, shown.describe(svc)))
		case first > idx:
			fails = append(fails, fmt.Sprintf("%s comes after %s", matching[0].describe(svc), stack[idx].describe(svc)))
		}
	}
	if len(fails) > 0 {
		return false, strings.Join(fails, "; ") + note, nil
	}
	return true, shown.describe(svc) + note, nil
}
