package policy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The YAML examples in docs/policies.md must stay valid: the first is a
// whole policy file, the others lists of checks.
func TestDocExamples(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "policies.md"))
	if err != nil {
		t.Fatalf("the format reference docs/policies.md is missing: %v", err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	if len(blocks) < 3 {
		t.Fatalf("found %d yaml blocks", len(blocks))
	}
	parsed := 0
	for i, b := range blocks {
		src := b[1]
		if !strings.HasPrefix(src, "policies:") {
			if !strings.HasPrefix(src, "- ") {
				continue // a config file example
			}
			src = "policies:\n  - id: doc\n    title: T\n    severity: info\n    check:\n      any:\n" + indent(src, "        ")
		}
		if _, err := Parse("docs/policies.md block "+string(rune('1'+i)), []byte(src)); err != nil {
			t.Errorf("example %d does not parse:\n%v\n%s", i+1, err, src)
		}
		parsed++
	}
	if parsed < 2 {
		t.Errorf("only %d examples checked", parsed)
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}
