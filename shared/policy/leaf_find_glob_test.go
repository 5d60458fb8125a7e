package policy

import (
	"path"
	"testing"
)

// words returns every string over alphabet up to max characters long.
func words(alphabet string, max int) []string {
	out := []string{""}
	level := []string{""}
	for range max {
		var next []string
		for _, w := range level {
			for _, c := range alphabet {
				next = append(next, w+string(c))
			}
		}
		out = append(out, next...)
		level = next
	}
	return out
}

// The compiled glob decides every pattern and name as path.Match does:
// all star-and-literal patterns up to five characters against all names
// up to five, and patterns with the other metacharacters, which it hands
// to path.Match.
func TestBaseGlobAgreesWithPathMatch(t *testing.T) {
	patterns := append(words("ab.*", 5), "?", "a?*", "[ab]*", `\*`, `*\`, "[", "*[a-", ".*", "*.journal*", "*lastlog.?*")
	names := append(words("ab.", 5), "/", "a/b", "*", "?", ".journal", "x.journal~", "lastlog.1")
	compared := 0
	for _, p := range patterns {
		g := newBaseGlob(p)
		for _, n := range names {
			want, _ := path.Match(p, n)
			if got := g.match(n); got != want {
				t.Fatalf("pattern %q, name %q: got %t, path.Match says %t", p, n, got, want)
			}
			compared++
		}
	}
	if compared < 100_000 {
		t.Errorf("only %d comparisons", compared)
	}
}
