package policy

import (
	"path"
	"strings"
)

// baseGlob is a find glob on base names, compiled once per scan. A
// pattern of literal text and "*" only (the usual "*.log*", ".*") is
// matched by finding its literal pieces in order, which is what
// path.Match decides for it without path.Match's retrying at every
// offset; a pattern with "?", "[" or "\" is left to path.Match.
type baseGlob struct {
	pattern string
	// pieces is pattern split at each "*" when it has no other
	// metacharacter; nil otherwise.
	pieces []string
}

func newBaseGlob(pattern string) baseGlob {
	g := baseGlob{pattern: pattern}
	if !strings.ContainsAny(pattern, `?[\`) {
		g.pieces = strings.Split(pattern, "*")
	}
	return g
}

// match reports whether name matches, exactly as path.Match(pattern,
// name) would (a malformed pattern matches nothing).
func (g *baseGlob) match(name string) bool {
	if g.pieces == nil || strings.IndexByte(name, '/') >= 0 {
		// "*" never matches a "/": only a root's base name, "/", has one.
		ok, _ := path.Match(g.pattern, name)
		return ok
	}
	p := g.pieces
	if len(p) == 1 {
		return name == p[0]
	}
	first, last := p[0], p[len(p)-1]
	if len(name) < len(first)+len(last) || !strings.HasPrefix(name, first) || !strings.HasSuffix(name, last) {
		return false
	}
	// The leftmost place for each middle piece leaves the most room for
	// the rest, so if any placement matches, this one does.
	rest := name[len(first) : len(name)-len(last)]
	for _, piece := range p[1 : len(p)-1] {
		i := strings.Index(rest, piece)
		if i < 0 {
			return false
		}
		rest = rest[i+len(piece):]
	}
	return true
}
