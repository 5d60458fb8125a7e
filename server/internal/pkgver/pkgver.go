// Package pkgver compares package versions in the ordering of the package
// manager that reported them, and evaluates version constraints such as
// ">=3.0.0 <3.0.14" against them.
//
// dpkg packages follow Debian's ordering (epoch:upstream-revision, "~"
// before anything, even the end of a part); rpm and pacman packages follow
// rpm's (epoch:version-release, segment by segment, "~" before and "^"
// after the end of a version); every other source a semver-like ordering
// (numeric dot-separated parts, a "-pre-release" before its release,
// "+build" ignored).
package pkgver

import (
	"fmt"
	"strings"
)

// Ordering names one of the three orderings.
type Ordering int

const (
	Generic Ordering = iota
	Dpkg
	RPM
)

// For returns the ordering of a package source ("dpkg", "rpm", ...).
func For(source string) Ordering {
	switch source {
	case "dpkg", "deb":
		return Dpkg
	case "rpm", "pacman":
		return RPM
	}
	return Generic
}

// Compare returns -1, 0 or +1 as a is older than, equal to or newer than
// b in the ordering of source.
func Compare(source, a, b string) int {
	switch For(source) {
	case Dpkg:
		return CompareDpkg(a, b)
	case RPM:
		return CompareRPM(a, b)
	}
	return CompareGeneric(a, b)
}

// Op is a comparison operator of a constraint.
type Op string

const (
	OpLT Op = "<"
	OpLE Op = "<="
	OpEQ Op = "="
	OpGE Op = ">="
	OpGT Op = ">"
	OpNE Op = "!="
)

// Term is one comparison: the version compared with Op against Version.
type Term struct {
	Op      Op
	Version string
}

func (t Term) String() string { return string(t.Op) + t.Version }

// Constraint is a conjunction of terms; the empty constraint matches every
// version.
type Constraint []Term

func (c Constraint) String() string {
	parts := make([]string, len(c))
	for i, t := range c {
		parts[i] = t.String()
	}
	return strings.Join(parts, " ")
}

// Matches reports whether version, in the ordering of source, satisfies
// every term.
func (c Constraint) Matches(source, version string) bool {
	for _, t := range c {
		r := Compare(source, version, t.Version)
		var ok bool
		switch t.Op {
		case OpLT:
			ok = r < 0
		case OpLE:
			ok = r <= 0
		case OpEQ:
			ok = r == 0
		case OpGE:
			ok = r >= 0
		case OpGT:
			ok = r > 0
		case OpNE:
			ok = r != 0
		}
		if !ok {
			return false
		}
	}
	return true
}

// Parse reads a constraint: terms separated by commas and/or spaces, each
// an optional operator (<, <=, =, ==, >=, >, !=; none means =) and a
// version, with or without a space between them. "" is the empty
// constraint.
func Parse(s string) (Constraint, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	var c Constraint
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		op, rest := splitOp(f)
		if rest == "" {
			if op == "" || i+1 == len(fields) {
				return nil, fmt.Errorf("version constraint %q: operator %q has no version", s, f)
			}
			i++
			rest = fields[i]
			if o, _ := splitOp(rest); o != "" {
				return nil, fmt.Errorf("version constraint %q: operator %q has no version", s, f)
			}
		}
		if op == "" {
			op = OpEQ
		}
		if strings.ContainsAny(rest, "<>=!") {
			return nil, fmt.Errorf("version constraint %q: bad term %q", s, f)
		}
		c = append(c, Term{Op: op, Version: rest})
	}
	return c, nil
}

func splitOp(f string) (Op, string) {
	for _, op := range []string{"<=", ">=", "!=", "==", "<", ">", "="} {
		if v, ok := strings.CutPrefix(f, op); ok {
			if op == "==" {
				op = "="
			}
			return Op(op), v
		}
	}
	return "", f
}

// isDigit and isAlpha are ASCII-only, as both package managers are.
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// compareDigits compares two runs of decimal digits by value, whatever
// their length.
func compareDigits(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// digitRun splits off the leading run of digits of s.
func digitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// splitEpoch splits "epoch:rest"; an epoch that is not all digits is
// no epoch (the colon stays part of the version).
func splitEpoch(v string) (epoch, rest string) {
	if i := strings.IndexByte(v, ':'); i > 0 {
		if run, tail := digitRun(v[:i]); tail == "" && run != "" {
			return run, v[i+1:]
		}
	}
	return "0", v
}
