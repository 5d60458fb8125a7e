package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

// TestFormatPlatforms: platform lists print one way everywhere, with the
// names policies use.
func TestFormatPlatforms(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{{nil, "all"}, {[]string{"linux"}, "linux"}, {[]string{"linux", "darwin"}, "linux, darwin"}} {
		if got := FormatPlatforms(c.in); got != c.want {
			t.Errorf("FormatPlatforms(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// The evidence of a policy for other platforms says the same.
	ps, err := Parse("p.yaml", []byte("policies:\n  - id: w\n    title: W\n    severity: low\n    platforms: [windows, darwin]\n    check: {expr: 'true'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := Evaluate(context.Background(), ps[0], InventoryEnv(inventory.Document{}, "linux"))
	if r.Status != StatusNotApplicable || len(r.Evidence) != 1 || !strings.HasSuffix(r.Evidence[0].Detail, "["+FormatPlatforms(ps[0].Platforms)+"]") {
		t.Errorf("result %+v", r)
	}
}
