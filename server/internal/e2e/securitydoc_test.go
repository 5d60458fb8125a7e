package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSecurityDocNamesRealTests: every test docs/security.md cites as the
// backing of a guarantee exists, so a renamed or deleted test cannot
// leave a guarantee with nothing behind it.
func TestSecurityDocNamesRealTests(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	funcRE := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Za-z0-9_]+)\(`)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range funcRE.FindAllSubmatch(b, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cited := regexp.MustCompile(`\b((?:Test|Fuzz)[A-Z][A-Za-z0-9_]+)\b`).FindAllString(string(doc), -1)
	if len(cited) < 50 {
		t.Fatalf("docs/security.md cites %d tests; the guarantees list lost its tests?", len(cited))
	}
	for _, name := range cited {
		if !defined[name] {
			t.Errorf("docs/security.md cites %s, which no test file defines", name)
		}
	}
}
