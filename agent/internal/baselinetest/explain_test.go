package baselinetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/policy"
)

// checkExplained asserts what every result must carry: evidence
// that says what was seen, and an error message when the status is error.
func checkExplained(t *testing.T, res policy.Result) {
	t.Helper()
	if len(res.Evidence) == 0 {
		t.Errorf("%s: %s with no evidence", res.PolicyID, res.Status)
	}
	for _, ev := range res.Evidence {
		if strings.TrimSpace(ev.Check) == "" || strings.TrimSpace(ev.Detail) == "" {
			t.Errorf("%s: evidence entry without check or detail: %+v", res.PolicyID, ev)
		}
	}
	if res.Status == policy.StatusError && strings.TrimSpace(res.Error) == "" {
		t.Errorf("%s: status error without an error message", res.PolicyID)
	}
	if res.Status != policy.StatusError && res.Error != "" {
		t.Errorf("%s: status %s carries error %q", res.PolicyID, res.Status, res.Error)
	}
}

func describe(res policy.Result) string {
	var b strings.Builder
	if res.Error != "" {
		fmt.Fprintf(&b, "  error: %s\n", res.Error)
	}
	for _, ev := range res.Evidence {
		fmt.Fprintf(&b, "  %-40s passed=%-5t %s\n", ev.Check, ev.Passed, ev.Detail)
	}
	return b.String()
}
