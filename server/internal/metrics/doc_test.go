package metrics

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsDocumented checks that the metric table in dashboards/README.md
// lists exactly the steward_* families the server exports, so that a new
// series cannot ship undocumented and a removed one cannot stay listed.
func TestMetricsDocumented(t *testing.T) {
	m := New("test")
	m.RegisterPool(func() PoolStats { return PoolStats{HasAcquires: true} })
	m.RegisterTLSExpiry(time.Unix(2000000000, 0))
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var exported []string
	for _, f := range families {
		if name := f.GetName(); strings.HasPrefix(name, "steward_") {
			exported = append(exported, name)
		}
	}
	// Vectors without a label set yet are not gathered; describe them.
	for _, name := range describedNames(m) {
		if !slices.Contains(exported, name) {
			exported = append(exported, name)
		}
	}
	slices.Sort(exported)

	readme, err := os.ReadFile("../../../dashboards/README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(steward_[a-z_]+)` \\|")
	var documented []string
	for _, mm := range row.FindAllStringSubmatch(string(readme), -1) {
		documented = append(documented, mm[1])
	}
	slices.Sort(documented)
	documented = slices.Compact(documented)
	for _, name := range exported {
		if !slices.Contains(documented, name) {
			t.Errorf("%s is exported but not in the metric table of dashboards/README.md", name)
		}
	}
	for _, name := range documented {
		if !slices.Contains(exported, name) {
			t.Errorf("dashboards/README.md lists %s, which the server does not export", name)
		}
	}
}

// describedNames returns the family names of every collector registered,
// from their descriptions (which exist before any label set does).
func describedNames(m *Metrics) []string {
	descs := make(chan *prometheus.Desc)
	go func() {
		m.Registry.Describe(descs)
		close(descs)
	}()
	name := regexp.MustCompile(`fqName: "([^"]+)"`)
	var out []string
	for d := range descs {
		if mm := name.FindStringSubmatch(d.String()); mm != nil && strings.HasPrefix(mm[1], "steward_") {
			out = append(out, mm[1])
		}
	}
	return out
}
