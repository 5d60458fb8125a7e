package baselinetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/steward-project/steward/agent/internal/check"
	"github.com/steward-project/steward/agent/internal/collect"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policy/baseline"
)

// TestLiveMachine evaluates the whole pack on this machine as the agent
// would (a real inventory, files under /), and requires every result to be
// explained by its evidence. Run with -v to see the results table.
func TestLiveMachine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pack, err := baseline.Policies()
	if err != nil {
		t.Fatalf("baseline pack: %v", err)
	}
	doc := collect.Collect(ctx, collect.Config{})
	for section, why := range doc.Errors {
		t.Logf("inventory section %s missing: %s", section, why)
	}
	env := check.NewEnv(ctx, check.Config{}, doc)
	results := policy.EvaluateAll(ctx, pack, env, 2)
	if len(results) != len(pack) {
		t.Fatalf("%d results for %d policies", len(results), len(pack))
	}

	platforms := map[string][]string{}
	for _, p := range pack {
		platforms[p.ID] = p.Platforms
	}
	counts := map[policy.Status]int{}
	mine, decided := 0, 0
	for _, res := range results {
		counts[res.Status]++
		checkExplained(t, res)
		if slices.Contains(platforms[res.PolicyID], env.Platform()) {
			mine++
			if res.Status == policy.StatusPass || res.Status == policy.StatusFail {
				decided++
			}
		}
	}
	// The pack must actually judge this machine: a pack whose policies for
	// this platform mostly end not_applicable or error explains nothing.
	if decided*2 < mine {
		t.Errorf("only %d of the %d policies for %s passed or failed", decided, mine, env.Platform())
	}
	t.Logf("platform %s: %d pass, %d fail, %d not applicable, %d error\n%s",
		env.Platform(), counts[policy.StatusPass], counts[policy.StatusFail],
		counts[policy.StatusNotApplicable], counts[policy.StatusError], table(results))
}

// table formats results one evidence line per row, as an admin reads them.
func table(results []policy.Result) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "POLICY\tSTATUS\tEVIDENCE")
	for _, res := range results {
		lines := []string{}
		if res.Error != "" {
			lines = append(lines, "error: "+res.Error)
		}
		for _, ev := range res.Evidence {
			mark := "-"
			if ev.Passed {
				mark = "+"
			}
			lines = append(lines, fmt.Sprintf("%s %s: %s", mark, ev.Check, ev.Detail))
		}
		for i, l := range lines {
			if i == 0 {
				fmt.Fprintf(w, "%s\t%s\t%s\n", res.PolicyID, res.Status, l)
			} else {
				fmt.Fprintf(w, "\t\t%s\n", l)
			}
		}
	}
	w.Flush()
	return b.String()
}
