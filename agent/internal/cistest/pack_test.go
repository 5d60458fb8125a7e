package cistest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/shared/policy"
)

const (
	// profileID is the XCCDF profile the pack follows.
	profileID = "xccdf_org.ssgproject.content_profile_cis_level1_server"
	// rulePrefix is how the datastream spells a rule id.
	rulePrefix = "xccdf_org.ssgproject.content_rule_"
)

// repoRoot is the directory holding go.mod, found by walking up from the
// test's working directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's working directory: cannot find the repository root")
		}
		dir = parent
	}
}

func packDir(t testing.TB) string {
	return filepath.Join(repoRoot(t), "shared", "policy", "packs", "cis-debian12-l1-server")
}

// referenceDir holds the benchmark's datastream and rule list, beside the
// repository (never shipped with it).
func referenceDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "..", "shared", "reference")
	for _, f := range []string{"cis-debian12-l1-server.rules", "ssg-debian12-ds.xml.xz"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("the CIS reference content is missing beside the repository (%v): the comparison needs the profile's rule list and the ComplianceAsCode datastream in %s", err, dir)
		}
	}
	return dir
}

// profileRules are the rule ids the profile selects, without the prefix.
func profileRules(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(referenceDir(t), "cis-debian12-l1-server.rules"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), rulePrefix)); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// difference is one reviewed disagreement with OpenSCAP on the image.
type difference struct {
	Steward  string `yaml:"steward"`
	OpenSCAP string `yaml:"openscap"`
	Reason   string `yaml:"reason"`
	area     string
}

// areaOf names the area of a pack test data file: known-differences-access.yaml -> access.
func areaOf(path, prefix string) string {
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), prefix), ".yaml")
}

// loadRuleMaps reads every testdata/PREFIX*.yaml of the pack as a map of
// rule id to T, refusing unknown keys and a rule given twice.
func loadRuleMaps[T any](t testing.TB, prefix string, set func(*T, string)) map[string]T {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(packDir(t), "testdata", prefix+"*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]T{}
	from := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]T
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&m); err != nil && err.Error() != "EOF" {
			t.Fatalf("%s: %v", p, err)
		}
		for id, v := range m {
			if prev, dup := from[id]; dup {
				t.Errorf("%s: rule %s is already listed in %s", filepath.Base(p), id, prev)
				continue
			}
			set(&v, areaOf(p, prefix))
			out[id], from[id] = v, filepath.Base(p)
		}
	}
	return out
}

// notCovered is a rule the pack cannot express natively, with the reason.
type notCovered struct {
	Reason string
	Area   string
}

func (n *notCovered) UnmarshalYAML(v *yaml.Node) error {
	if v.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want the reason as text", v.Line)
	}
	n.Reason = strings.TrimSpace(v.Value)
	return nil
}

func loadNotCovered(t testing.TB) map[string]notCovered {
	return loadRuleMaps(t, "not-covered-", func(n *notCovered, area string) { n.Area = area })
}

func loadKnownDifferences(t testing.TB) map[string]difference {
	return loadRuleMaps(t, "known-differences-", func(d *difference, area string) {
		d.area = area
		// Either tool's spelling of not applicable is accepted.
		d.Steward = strings.ReplaceAll(d.Steward, "not_applicable", "notapplicable")
		d.OpenSCAP = strings.ReplaceAll(d.OpenSCAP, "not_applicable", "notapplicable")
	})
}

// serverSideFile holds the pack's expression-only counterparts of machine
// policies, which the server evaluates against stored inventory. They name
// rules the machine policies already cover and add no coverage.
const serverSideFile = "server-side.yaml"

// serverSideSuffix ends the id of a server-side counterpart; the rest is
// the machine policy's id.
const serverSideSuffix = "-inventory"

// coverage is how the pack's policies map onto the profile's rules.
type coverage struct {
	rules      []string
	policies   []policy.Policy     // the machine policies
	serverSide []policy.Policy     // server-side.yaml
	byRule     map[string][]string // rule -> policy ids referencing it
	area       map[string]string   // policy id -> pack file (area)
	notCovered map[string]notCovered
	problems   []string
}

func (c coverage) covered() int { return len(c.byRule) }

func (c coverage) percent() float64 {
	if len(c.rules) == 0 {
		return 0
	}
	return 100 * float64(c.covered()) / float64(len(c.rules))
}

// packCoverage loads the pack and checks that every profile rule is
// covered by a policy or listed as not covered, and nothing else.
func packCoverage(t testing.TB) coverage {
	t.Helper()
	dir := packDir(t)
	policies, err := policy.Load([]string{dir})
	if err != nil {
		t.Fatalf("pack %s: %v", dir, err)
	}
	c := coverage{rules: profileRules(t), byRule: map[string][]string{}, area: map[string]string{}, notCovered: loadNotCovered(t)}
	inProfile := map[string]bool{}
	for _, r := range c.rules {
		inProfile[r] = true
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		ps, err := policy.Load([]string{f})
		if err != nil {
			continue
		}
		for _, p := range ps {
			c.area[p.ID] = strings.TrimSuffix(filepath.Base(f), ".yaml")
		}
	}
	for _, p := range policies {
		if c.area[p.ID] == strings.TrimSuffix(serverSideFile, ".yaml") {
			c.serverSide = append(c.serverSide, p)
		} else {
			c.policies = append(c.policies, p)
		}
	}
	c.problems = append(c.problems, serverSideProblems(c.policies, c.serverSide)...)
	// A pack tags its policies with its name: reports and remediation
	// select a pack that way (pack=cis-debian12-l1-server).
	for _, p := range policies {
		if !slices.Contains(p.Tags, packTag) {
			c.problems = append(c.problems, fmt.Sprintf("policy %s: tags %v do not name the pack (%s)", p.ID, p.Tags, packTag))
		}
	}
	for _, p := range c.policies {
		refs := p.References["ssg"]
		if len(refs) == 0 {
			c.problems = append(c.problems, fmt.Sprintf("policy %s has no ssg reference", p.ID))
		}
		for _, r := range refs {
			if !inProfile[r] {
				c.problems = append(c.problems, fmt.Sprintf("policy %s references ssg rule %s, which the profile does not select", p.ID, r))
				continue
			}
			c.byRule[r] = append(c.byRule[r], p.ID)
		}
	}
	for _, r := range c.rules {
		ids, nc := c.byRule[r], c.notCovered[r]
		switch {
		case len(ids) > 1:
			c.problems = append(c.problems, fmt.Sprintf("rule %s is referenced by %d policies: %s", r, len(ids), strings.Join(ids, ", ")))
		case len(ids) == 1 && nc.Area != "":
			c.problems = append(c.problems, fmt.Sprintf("rule %s is covered by %s and also listed as not covered in not-covered-%s.yaml", r, ids[0], nc.Area))
		case len(ids) == 0 && nc.Area == "":
			c.problems = append(c.problems, fmt.Sprintf("rule %s is neither covered by a policy nor listed in a not-covered file", r))
		case nc.Area != "" && nc.Reason == "":
			c.problems = append(c.problems, fmt.Sprintf("rule %s is listed as not covered without a reason", r))
		}
	}
	for r, nc := range c.notCovered {
		if !inProfile[r] {
			c.problems = append(c.problems, fmt.Sprintf("not-covered-%s.yaml lists %s, which the profile does not select", nc.Area, r))
		}
	}
	sort.Strings(c.problems)
	return c
}

// serverSideProblems checks the server-side counterparts: each is
// expression-only, extends a machine policy's id with serverSideSuffix
// and names exactly that policy's rules.
func serverSideProblems(machine, serverSide []policy.Policy) []string {
	byID := map[string]policy.Policy{}
	for _, p := range machine {
		byID[p.ID] = p
	}
	var out []string
	for _, p := range serverSide {
		if !policy.ExprOnly(p) {
			out = append(out, fmt.Sprintf("%s: policy %s is not expression-only, so the server cannot evaluate it", serverSideFile, p.ID))
		}
		base, ok := strings.CutSuffix(p.ID, serverSideSuffix)
		m, found := byID[base]
		if !ok || !found {
			out = append(out, fmt.Sprintf("%s: policy %s does not name a machine policy (want its id followed by %q)", serverSideFile, p.ID, serverSideSuffix))
			continue
		}
		if !slices.Equal(p.References["ssg"], m.References["ssg"]) {
			out = append(out, fmt.Sprintf("%s: policy %s references ssg %v, its machine policy %s references %v", serverSideFile, p.ID, p.References["ssg"], m.ID, m.References["ssg"]))
		}
	}
	return out
}

// TestCISCoverage checks that every rule of the profile is covered by a
// pack policy or listed as not covered, and that every policy names a
// rule of the profile; it logs the coverage.
func TestCISCoverage(t *testing.T) {
	c := packCoverage(t)
	for _, p := range c.problems {
		t.Error(p)
	}
	t.Logf("CIS Debian 12 Level 1 Server: %d of %d rules covered natively (%.1f %%), %d listed as not covered", c.covered(), len(c.rules), c.percent(), len(c.notCovered))
	areas := map[string]int{}
	for _, nc := range c.notCovered {
		areas[nc.Area]++
	}
	names := make([]string, 0, len(areas))
	for a := range areas {
		names = append(names, a)
	}
	slices.Sort(names)
	for _, a := range names {
		t.Logf("  not covered, %s: %d", a, areas[a])
	}
}

// packTag is the tag every policy of the pack carries: the pack's name.
const packTag = "cis-debian12-l1-server"

// coverageTarget is the share of the profile's rules the pack must cover
// natively.
const coverageTarget = 85.0

// TestCISCoverageTarget holds the pack to its coverage target: at least
// 85 % of the profile's rules assessed by a native policy.
func TestCISCoverageTarget(t *testing.T) {
	c := packCoverage(t)
	if c.percent() < coverageTarget {
		t.Errorf("the pack covers %d of %d profile rules natively (%.1f %%); the target is %.0f %%", c.covered(), len(c.rules), c.percent(), coverageTarget)
	}
}
