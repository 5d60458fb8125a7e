package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckTailoring runs `check --tailoring` on the tailoring fixtures of
// shared/policy: the site file overrides a parameter for every policy,
// another for one policy, and disables a third; the values used are in
// the results. A tailoring naming an unknown parameter is refused with
// exit 2 and nothing evaluated.
func TestCheckTailoring(t *testing.T) {
	bin := buildAgent(t)
	dir := filepath.Join("..", "..", "..", "shared", "policy", "testdata", "tailoring")
	policies := filepath.Join(dir, "policies.yaml")

	stdout, stderr, code := runAgent(t, bin, "check", "--policy", policies, "--tailoring", filepath.Join(dir, "site.yaml"))
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	var report struct {
		Results []struct {
			PolicyID   string            `json:"policy_id"`
			Parameters map[string]string `json:"parameters"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	got := map[string]map[string]string{}
	for _, r := range report.Results {
		got[r.PolicyID] = r.Parameters
	}
	if _, ok := got["no-container"]; ok || len(got) != 2 {
		t.Fatalf("results for %v; want kernel-series and kernel-minimum only (no-container is disabled)", got)
	}
	if v := got["kernel-series"]["series"]; v != `^6\.1\.` {
		t.Errorf("kernel-series used series %q, want the site's ^6\\.1\\.", v)
	}
	if v := got["kernel-minimum"]; v["min_major"] != "6" || v["series"] != `^6\.1\.` {
		t.Errorf("kernel-minimum used %v, want min_major 6 (its own override) and the site's series", v)
	}

	stdout, stderr, code = runAgent(t, bin, "check", "--policy", policies, "--tailoring", filepath.Join(dir, "unknown.yaml"))
	if code != 2 || stdout != "" {
		t.Fatalf("unknown parameter: exit %d, stdout %q; want 2 and nothing evaluated", code, stdout)
	}
	for _, want := range []string{"invalid tailoring", "max_days", "missing-policy"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not name %q:\n%s", want, stderr)
		}
	}
}
