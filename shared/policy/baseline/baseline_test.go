package baseline_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policy/baseline"
)

// Thresholds the pack is held to.
const (
	minPolicies            = 30
	minPoliciesPerPlatform = 6
)

// loadFiles loads the pack's YAML files by name.
func loadFiles(t *testing.T) []policy.Policy {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no *.yaml in the pack directory (err %v)", err)
	}
	ps, err := policy.Load(files)
	if err != nil {
		t.Fatalf("Load(%v): %v", files, err)
	}
	return ps
}

// TestPackContents checks that the pack is large and broad enough and that
// every policy carries what an admin needs to act on a failure.
func TestPackContents(t *testing.T) {
	ps := loadFiles(t)
	if len(ps) < minPolicies {
		t.Errorf("pack has %d policies, want at least %d", len(ps), minPolicies)
	}
	perPlatform := map[string]int{}
	seen := map[string]bool{}
	for _, p := range ps {
		t.Run(p.ID, func(t *testing.T) {
			if seen[p.ID] {
				t.Errorf("duplicate id %s", p.ID)
			}
			seen[p.ID] = true
			for field, v := range map[string]string{
				"title": p.Title, "rationale": p.Rationale, "remediation": p.Remediation, "severity": p.Severity,
			} {
				if strings.TrimSpace(v) == "" {
					t.Errorf("%s is empty", field)
				}
			}
			// A pack tags its policies with its name, which is how a
			// compliance report or a remediation selects it (pack=baseline).
			if !slices.Contains(p.Tags, "baseline") {
				t.Errorf("tags %v do not name the pack (baseline)", p.Tags)
			}
			if len(p.Platforms) == 0 {
				t.Error("no platforms: every baseline policy says where it applies")
			}
			for _, pl := range p.Platforms {
				perPlatform[pl]++
			}
			if usesCommand(p.Check) || (p.AppliesIf != nil && usesCommand(*p.AppliesIf)) {
				t.Error("uses a command leaf, which agents refuse by default")
			}
		})
	}
	for _, pl := range []string{"linux", "windows", "darwin"} {
		if perPlatform[pl] < minPoliciesPerPlatform {
			t.Errorf("platform %s has %d policies, want at least %d", pl, perPlatform[pl], minPoliciesPerPlatform)
		}
	}
}

// TestLoadDirectory loads the pack the way the README tells users to
// (stewardctl policies apply -f shared/policy/baseline/): the whole
// directory, fixtures included, must load as exactly the pack.
func TestLoadDirectory(t *testing.T) {
	loaded, err := policy.Load([]string{"."})
	if err != nil {
		t.Fatalf("Load(shared/policy/baseline/): %v", err)
	}
	if got, want := ids(loaded), ids(loadFiles(t)); !slices.Equal(got, want) {
		t.Errorf("directory load gave %v\nthe pack's files give %v", got, want)
	}
}

// TestEmbeddedMatchesFiles keeps the embedded pack (what a binary ships)
// identical to the files on disk (what the CLI applies).
func TestEmbeddedMatchesFiles(t *testing.T) {
	embedded, err := baseline.Policies()
	if err != nil {
		t.Fatalf("baseline.Policies: %v", err)
	}
	loaded := loadFiles(t)
	if got, want := ids(embedded), ids(loaded); !slices.Equal(got, want) {
		t.Errorf("embedded ids %v\ndiffer from loaded %v", got, want)
	}
}

func ids(ps []policy.Policy) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	slices.Sort(out)
	return out
}

func usesCommand(c policy.Check) bool {
	if c.Command != nil {
		return true
	}
	for _, list := range [][]policy.Check{c.All, c.Any, c.None} {
		for _, child := range list {
			if usesCommand(child) {
				return true
			}
		}
	}
	return false
}
