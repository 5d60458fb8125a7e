package store

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/steward-project/steward/server/internal/pkgver"
)

// NameMatch is how SoftwareQuery.Name selects package names. Prefix and
// glob matches ignore the case of ASCII letters.
type NameMatch string

const (
	// MatchAuto (the zero value) is MatchGlob when the name holds a "*",
	// MatchPrefix otherwise.
	MatchAuto NameMatch = ""
	// MatchPrefix selects names that start with Name.
	MatchPrefix NameMatch = "prefix"
	// MatchGlob selects names matching Name whole, where "*" stands for
	// any run of characters: "*ssl*" selects names containing "ssl".
	MatchGlob NameMatch = "glob"
	// MatchExact selects the names equal to Name, case included.
	MatchExact NameMatch = "exact"
)

// ParseNameMatch reads a match name; "" is MatchAuto.
func ParseNameMatch(s string) (NameMatch, error) {
	switch m := NameMatch(s); m {
	case MatchAuto, MatchPrefix, MatchGlob, MatchExact:
		return m, nil
	}
	return "", fmt.Errorf("unknown match %q: want prefix, glob or exact", s)
}

// SoftwareVersion is how many live hosts have one version of a package
// from one source (all architectures together).
type SoftwareVersion struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Source  string `json:"source"`
	Hosts   int64  `json:"hosts"`
}

// Effective resolves MatchAuto.
func (q SoftwareQuery) Effective() NameMatch {
	if q.Match == MatchAuto {
		if strings.Contains(q.Name, "*") {
			return MatchGlob
		}
		return MatchPrefix
	}
	return q.Match
}

// LowerASCII lower-cases ASCII letters only, as SQLite's lower() and
// PostgreSQL's lower() under the "C" collation do.
func LowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// NamePrefix is the lower-cased literal start every matching name has
// (lower-cased) for prefix and glob matches: the part of a glob before
// its first "*". Stores narrow their index range with it.
func (q SoftwareQuery) NamePrefix() string {
	p := LowerASCII(q.Name)
	if q.Effective() == MatchGlob {
		p, _, _ = strings.Cut(p, "*")
	}
	return p
}

// LikePattern is the SQL LIKE pattern (escape character "\") of a prefix
// or glob match, on lower-cased names.
func (q SoftwareQuery) LikePattern() string {
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(LowerASCII(q.Name))
	if q.Effective() == MatchGlob {
		return strings.ReplaceAll(esc, "*", "%")
	}
	return esc + "%"
}

// MatchesName reports whether a package name matches; stores check every
// catalog row their index returned with it.
func (q SoftwareQuery) MatchesName(name string) bool {
	switch q.Effective() {
	case MatchExact:
		return name == q.Name
	case MatchPrefix:
		return strings.HasPrefix(LowerASCII(name), LowerASCII(q.Name))
	}
	return globMatch(LowerASCII(q.Name), LowerASCII(name))
}

// globMatch matches s whole against a pattern where "*" is any run.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	first, last := parts[0], parts[len(parts)-1]
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}

// Catalog keeps the candidate catalog rows (SoftwareID, Name, Version,
// Arch, Source) that match q's name and version from AfterSoftwareID on,
// ordered by id.
func (q SoftwareQuery) Catalog(rows []SoftwareHit) []SoftwareHit {
	out := rows[:0:0]
	for _, r := range rows {
		if r.SoftwareID >= q.AfterSoftwareID && q.MatchesName(r.Name) && q.Version.Matches(r.Source, r.Version) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b SoftwareHit) int { return cmp.Compare(a.SoftwareID, b.SoftwareID) })
	return out
}

// GroupVersions sums the live host counts of catalog rows per (name,
// version, source), leaves out those with no host, and orders them by
// name, source and version in the source's ordering (oldest first).
func GroupVersions(catalog []SoftwareHit, hosts map[int64]int64) []SoftwareVersion {
	type key struct{ name, version, source string }
	sums := map[key]int64{}
	for _, c := range catalog {
		sums[key{c.Name, c.Version, c.Source}] += hosts[c.SoftwareID]
	}
	out := []SoftwareVersion{}
	for k, n := range sums {
		if n > 0 {
			out = append(out, SoftwareVersion{Name: k.name, Version: k.version, Source: k.source, Hosts: n})
		}
	}
	slices.SortFunc(out, func(a, b SoftwareVersion) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Source, b.Source),
			pkgver.Compare(a.Source, a.Version, b.Version), cmp.Compare(a.Version, b.Version))
	})
	return out
}

// NameRange is the range [lo, hi) of lower-cased names holding every name
// that starts with NamePrefix and no other; ok is false when there is no
// literal start to narrow by. hi is lo with its last character
// incremented (byte order is code point order in UTF-8); hi is "" when
// there is no upper bound.
func (q SoftwareQuery) NameRange() (lo, hi string, ok bool) {
	lo = q.NamePrefix()
	if lo == "" {
		return "", "", false
	}
	r, size := utf8.DecodeLastRuneInString(lo)
	switch {
	case r == utf8.RuneError && size <= 1, r == utf8.MaxRune:
		return lo, "", true
	case r+1 == 0xD800:
		r = 0xDFFF // the next scalar value after the surrogates
	}
	return lo, lo[:len(lo)-size] + string(r+1), true
}
