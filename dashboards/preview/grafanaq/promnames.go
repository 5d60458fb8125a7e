package grafanaq

import (
	"fmt"
	"slices"
	"strings"
)

// promKeywords are PromQL words that are never metric names where they
// stand: binary operators, modifiers and the special floats.
var promKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "atan2": true,
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "offset": true, "bool": true,
	"inf": true, "nan": true,
}

// labelListKeywords are followed by a parenthesised list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true,
}

// MetricNames lists the metric names a PromQL expression selects, in
// order of first appearance: bare selectors (up, foo{a="b"}) and
// {__name__="foo"} matchers. Function and aggregation names, keywords,
// label names (in matchers and in by/without/on/ignoring/group_left/
// group_right lists), strings, numbers and durations are not metric
// names. A regex __name__ matcher cannot be resolved to names and is
// returned in regexes. err reports text the lexer cannot read (an
// unterminated string, unbalanced braces); Prometheus itself is the
// judge of full syntax.
func MetricNames(expr string) (names, regexes []string, err error) {
	l := &promLexer{s: expr}
	toks, err := l.all()
	if err != nil {
		return nil, nil, err
	}
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == tokIdent && labelListKeywords[strings.ToLower(t.text)]:
			// by (a, b): skip the list.
			if i+1 < len(toks) && toks[i+1].text == "(" {
				j := i + 1
				for j < len(toks) && toks[j].text != ")" {
					j++
				}
				i = j
			}
		case t.kind == tokIdent && promKeywords[strings.ToLower(t.text)]:
		case t.kind == tokIdent && i+1 < len(toks) && toks[i+1].text == "(":
			// A function or aggregation call.
		case t.kind == tokIdent && i+1 < len(toks) && toks[i+1].kind == tokIdent &&
			(strings.EqualFold(toks[i+1].text, "by") || strings.EqualFold(toks[i+1].text, "without")):
			// An aggregation with its grouping first: sum by (a) (x).
		case t.kind == tokIdent && i > 0 && toks[i-1].text == "@":
			// @ start() / @ end() are calls; anything else after @ is
			// not a selector either.
		case t.kind == tokIdent:
			add(t.text)
		case t.text == "{":
			// Label matchers: collect __name__ matchers, skip the rest.
			j := i + 1
			for j < len(toks) && toks[j].text != "}" {
				if toks[j].kind == tokIdent && toks[j].text == "__name__" && j+2 < len(toks) && toks[j+2].kind == tokString {
					switch toks[j+1].text {
					case "=":
						add(toks[j+2].value)
					case "=~":
						regexes = append(regexes, toks[j+2].value)
					}
				}
				j++
			}
			if j == len(toks) {
				return nil, nil, fmt.Errorf("unclosed { in %q", expr)
			}
			i = j
		}
	}
	return names, regexes, nil
}

type tokKind int

const (
	tokIdent tokKind = iota
	tokString
	tokNumber
	tokPunct
)

type promToken struct {
	kind  tokKind
	text  string
	value string // a string's unquoted content
}

type promLexer struct {
	s string
	i int
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// all splits the expression into tokens, dropping spaces and comments.
func (l *promLexer) all() ([]promToken, error) {
	var out []promToken
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.i++
		case c == '#':
			for l.i < len(l.s) && l.s[l.i] != '\n' {
				l.i++
			}
		case c == '"' || c == '\'' || c == '`':
			t, err := l.str(c)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		case c >= '0' && c <= '9' || c == '.' && l.i+1 < len(l.s) && l.s[l.i+1] >= '0' && l.s[l.i+1] <= '9':
			// Numbers, hex, exponents and durations (5m, 1h30m, 1e3)
			// are one token of letters and digits.
			start := l.i
			for l.i < len(l.s) && (isIdentChar(l.s[l.i]) || l.s[l.i] == '.' ||
				(l.s[l.i] == '+' || l.s[l.i] == '-') && (l.s[l.i-1] == 'e' || l.s[l.i-1] == 'E')) {
				l.i++
			}
			out = append(out, promToken{kind: tokNumber, text: l.s[start:l.i]})
		case isIdentStart(c):
			start := l.i
			for l.i < len(l.s) && isIdentChar(l.s[l.i]) {
				l.i++
			}
			out = append(out, promToken{kind: tokIdent, text: l.s[start:l.i]})
		default:
			// Two-character operators matter for matchers (=~, !=, !~).
			if l.i+1 < len(l.s) {
				two := l.s[l.i : l.i+2]
				switch two {
				case "=~", "!=", "!~", "==", ">=", "<=":
					out = append(out, promToken{kind: tokPunct, text: two})
					l.i += 2
					continue
				}
			}
			out = append(out, promToken{kind: tokPunct, text: string(c)})
			l.i++
		}
	}
	return out, nil
}

// str reads a quoted string starting at l.i; backquoted strings have no
// escapes.
func (l *promLexer) str(q byte) (promToken, error) {
	start := l.i
	l.i++
	var b strings.Builder
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case c == q:
			l.i++
			return promToken{kind: tokString, text: l.s[start:l.i], value: b.String()}, nil
		case c == '\\' && q != '`' && l.i+1 < len(l.s):
			b.WriteByte(l.s[l.i+1])
			l.i += 2
		default:
			b.WriteByte(c)
			l.i++
		}
	}
	return promToken{}, fmt.Errorf("unterminated string at offset %d in %q", start, l.s)
}
