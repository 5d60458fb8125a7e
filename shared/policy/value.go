package policy

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ValueTest is how config-aware leaves (sysctl, sshd, login_defs, setting,
// ...) judge one setting's effective value. Every field holds text so that
// a policy parameter ("${max_days}") can stand in any of them; the
// reference is resolved when the policy is evaluated. All the fields given
// must hold.
type ValueTest struct {
	// Set: true requires the setting to be present, false requires it to
	// be absent. Without Set, an absent setting fails every other test.
	Set        *bool    `json:"set,omitempty" yaml:"set,omitempty"`
	Equals     string   `json:"equals,omitempty" yaml:"equals,omitempty"`
	NotEquals  string   `json:"not_equals,omitempty" yaml:"not_equals,omitempty"`
	OneOf      []string `json:"one_of,omitempty" yaml:"one_of,omitempty"`
	Matches    string   `json:"matches,omitempty" yaml:"matches,omitempty"`
	NotMatches string   `json:"not_matches,omitempty" yaml:"not_matches,omitempty"`
	// Min and Max compare the value as a decimal integer, inclusive.
	Min string `json:"min,omitempty" yaml:"min,omitempty"`
	Max string `json:"max,omitempty" yaml:"max,omitempty"`
	// BitsSet and BitsClear read both the value and the operand as octal
	// (a umask "027"): every bit of BitsSet must be set in the value, every
	// bit of BitsClear clear.
	BitsSet   string `json:"bits_set,omitempty" yaml:"bits_set,omitempty"`
	BitsClear string `json:"bits_clear,omitempty" yaml:"bits_clear,omitempty"`
}

// valueTestKeys are the YAML keys of a ValueTest, for leaves to add to
// their own keys.
var valueTestKeys = []string{"set", "equals", "not_equals", "one_of", "matches", "not_matches", "min", "max", "bits_set", "bits_clear"}

// Empty reports whether no test is given.
func (v ValueTest) Empty() bool {
	return v.Set == nil && v.Equals == "" && v.NotEquals == "" && v.OneOf == nil && v.Matches == "" &&
		v.NotMatches == "" && v.Min == "" && v.Max == "" && v.BitsSet == "" && v.BitsClear == ""
}

// paramRef is a parameter reference: the whole field is ${name}.
var paramRef = regexp.MustCompile(`^\$\{([a-z][a-z0-9_]*)\}$`)

// valueTest decodes the ValueTest keys among fields (those in
// valueTestKeys) at field path p. A field may be a parameter reference,
// which must name one of the policy's declared parameters; it is checked
// with the parameter's default in its place.
func (ps *parser) valueTest(fields map[string]*yaml.Node, p string) ValueTest {
	var v ValueTest
	v.Set = ps.optBool(fields, "set", p)
	text := func(key string) string {
		n := fields[key]
		if n == nil {
			return ""
		}
		s, ok := ps.str(n, join(p, key))
		if !ok {
			return ""
		}
		check := s
		if m := paramRef.FindStringSubmatch(s); m != nil {
			def, declared := ps.params[m[1]]
			if !declared {
				ps.add(ps.deref(n), join(p, key), "%s names no parameter this policy declares", s)
				return s
			}
			check = def
		}
		if err := checkValueOperand(key, check); err != nil {
			ps.add(ps.deref(n), join(p, key), "%v", err)
		}
		return s
	}
	v.Equals = text("equals")
	v.NotEquals = text("not_equals")
	v.Matches = text("matches")
	v.NotMatches = text("not_matches")
	v.Min = text("min")
	v.Max = text("max")
	v.BitsSet = text("bits_set")
	v.BitsClear = text("bits_clear")
	if n := fields["one_of"]; n != nil {
		v.OneOf, _ = ps.strs(n, join(p, "one_of"))
		if v.OneOf != nil && len(v.OneOf) == 0 {
			ps.add(ps.deref(n), join(p, "one_of"), "must list at least one value")
		}
	}
	if v.Set != nil && !*v.Set {
		for _, k := range valueTestKeys[1:] {
			if fields[k] != nil {
				ps.add(ps.deref(fields["set"]), join(p, "set"), "set: false cannot be combined with %s", k)
				break
			}
		}
	}
	return v
}

// checkValueOperand validates one operand of a ValueTest.
func checkValueOperand(key, s string) error {
	switch key {
	case "matches", "not_matches":
		if s == "" {
			return fmt.Errorf("empty regular expression")
		}
		if _, err := regexp.Compile(s); err != nil {
			return fmt.Errorf("invalid regular expression: %v", err)
		}
	case "min", "max":
		if _, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
	case "bits_set", "bits_clear":
		if _, err := ParseMode(s); err != nil {
			return err
		}
	}
	return nil
}

// paramsKey carries the parameter values of the policy being evaluated.
type paramsKey struct{}

// withParams returns ctx carrying values, the policy's parameters after
// tailoring, for ValueTest references.
func withParams(ctx context.Context, values map[string]string) context.Context {
	if len(values) == 0 {
		return ctx
	}
	return context.WithValue(ctx, paramsKey{}, values)
}

// resolve replaces a parameter reference with its value from ctx.
func resolve(ctx context.Context, s string) (string, error) {
	m := paramRef.FindStringSubmatch(s)
	if m == nil {
		return s, nil
	}
	values, _ := ctx.Value(paramsKey{}).(map[string]string)
	v, ok := values[m[1]]
	if !ok {
		return "", fmt.Errorf("parameter %s has no value", m[1])
	}
	return v, nil
}

// Test judges got, the setting's effective value (nil when it is not set
// anywhere). It returns whether the value passed and a detail for
// evidence that names the value and what was wanted. An error means an
// operand could not be used (a parameter with a bad value).
func (v ValueTest) Test(ctx context.Context, got *string) (bool, string, error) {
	if got == nil {
		if v.Set != nil && !*v.Set {
			return true, "not set", nil
		}
		w := v.wants(ctx)
		if len(w) == 0 {
			return false, "not set (want it set)", nil
		}
		return false, "not set (want " + strings.Join(w, ", ") + ")", nil
	}
	val := *got
	if v.Set != nil && !*v.Set {
		return false, fmt.Sprintf("set to %q (want it unset)", val), nil
	}
	var failed []string
	str := func(field, want string, ok func(w string) (bool, error)) error {
		if field == "" {
			return nil
		}
		w, err := resolve(ctx, field)
		if err != nil {
			return err
		}
		good, err := ok(w)
		if err != nil {
			return err
		}
		if !good {
			failed = append(failed, fmt.Sprintf(want, w))
		}
		return nil
	}
	num := func(s string) (int64, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number", s)
		}
		return n, nil
	}
	bits := func(s string) (uint32, error) { return ParseMode(strings.TrimSpace(s)) }
	steps := []error{
		str(v.Equals, "= %q", func(w string) (bool, error) { return val == w, nil }),
		str(v.NotEquals, "!= %q", func(w string) (bool, error) { return val != w, nil }),
		str(v.Matches, "matching %q", func(w string) (bool, error) {
			re, err := regexp.Compile(w)
			if err != nil {
				return false, fmt.Errorf("invalid regular expression %q: %v", w, err)
			}
			return re.MatchString(val), nil
		}),
		str(v.NotMatches, "not matching %q", func(w string) (bool, error) {
			re, err := regexp.Compile(w)
			if err != nil {
				return false, fmt.Errorf("invalid regular expression %q: %v", w, err)
			}
			return !re.MatchString(val), nil
		}),
		str(v.Min, ">= %s", func(w string) (bool, error) {
			lo, err := num(w)
			if err != nil {
				return false, err
			}
			n, err := num(val)
			return err == nil && n >= lo, nil
		}),
		str(v.Max, "<= %s", func(w string) (bool, error) {
			hi, err := num(w)
			if err != nil {
				return false, err
			}
			n, err := num(val)
			return err == nil && n <= hi, nil
		}),
		str(v.BitsSet, "bits %s set", func(w string) (bool, error) {
			b, err := bits(w)
			if err != nil {
				return false, err
			}
			n, err := bits(val)
			return err == nil && n&b == b, nil
		}),
		str(v.BitsClear, "bits %s clear", func(w string) (bool, error) {
			b, err := bits(w)
			if err != nil {
				return false, err
			}
			n, err := bits(val)
			return err == nil && n&b == 0, nil
		}),
	}
	for _, err := range steps {
		if err != nil {
			return false, "", err
		}
	}
	if v.OneOf != nil {
		list := make([]string, 0, len(v.OneOf))
		for _, o := range v.OneOf {
			w, err := resolve(ctx, o)
			if err != nil {
				return false, "", err
			}
			list = append(list, w)
		}
		if !slices.Contains(list, val) {
			failed = append(failed, fmt.Sprintf("one of %q", list))
		}
	}
	if len(failed) > 0 {
		return false, fmt.Sprintf("%q (want %s)", val, strings.Join(failed, ", ")), nil
	}
	return true, fmt.Sprintf("%q", val), nil
}

// wants describes the tests for an absent value's evidence.
func (v ValueTest) wants(ctx context.Context) []string {
	var out []string
	add := func(format, field string) {
		if field == "" {
			return
		}
		if w, err := resolve(ctx, field); err == nil {
			field = w
		}
		out = append(out, fmt.Sprintf(format, field))
	}
	add("= %q", v.Equals)
	add("!= %q", v.NotEquals)
	add("matching %q", v.Matches)
	add("not matching %q", v.NotMatches)
	add(">= %s", v.Min)
	add("<= %s", v.Max)
	add("bits %s set", v.BitsSet)
	add("bits %s clear", v.BitsClear)
	if v.OneOf != nil {
		out = append(out, fmt.Sprintf("one of %q", v.OneOf))
	}
	return out
}
