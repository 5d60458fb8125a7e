package ctl_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-project/steward/server/internal/ctl"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// tailoredPolicy declares the parameters the tailoring tests set.
var tailoredPolicy = policy.Policy{
	ID: "password-max-days", Title: "Passwords expire", Severity: policy.SeverityMedium,
	Parameters: map[string]policy.Parameter{"max_days": {Default: "365"}, "warn_days": {Default: "7"}},
	Check: policy.Check{All: []policy.Check{
		{LoginDefs: &policy.LoginDefsCheck{Key: "PASS_MAX_DAYS", ValueTest: policy.ValueTest{Max: "${max_days}"}}},
		{LoginDefs: &policy.LoginDefsCheck{Key: "PASS_WARN_AGE", ValueTest: policy.ValueTest{Min: "${warn_days}"}}},
	}},
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTailorings: apply a tailoring file for a label, list, show, apply
// it again unchanged, then delete it.
func TestTailorings(t *testing.T) {
	ts := newTestServer(t)
	if _, err := ts.store.ApplyPolicies(t.Context(), store.PolicyApply{Policies: []store.PolicySpec{{Policy: tailoredPolicy}}, Actor: "ci", At: now}); err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, "prod.yaml", `tailoring:
  parameters:
    warn_days: "14"
  policies:
    password-max-days:
      parameters: {max_days: "90"}
`)
	ctlArgs := func(args ...string) []string { return append([]string{"--server", ts.URL, "--token", token}, args...) }
	steps := []struct {
		name   string
		args   []string
		golden string
	}{
		{"apply", ctlArgs("tailorings", "apply", "-f", file, "--name", "prod", "--label", "env=prod"), "tailorings_apply.txt"},
		{"apply unchanged", ctlArgs("tailorings", "apply", "-f", file, "--name", "prod", "--label", "env=prod"), "tailorings_apply_unchanged.txt"},
		{"list", ctlArgs("tailorings", "list"), "tailorings_list.txt"},
		{"list json", ctlArgs("tailorings", "list", "-o", "json"), "tailorings_list.json"},
		{"show", ctlArgs("tailorings", "show", "prod"), "tailorings_show.txt"},
		{"delete", ctlArgs("tailorings", "delete", "prod"), "tailorings_delete.txt"},
		{"list none", ctlArgs("tailorings", "list"), "tailorings_list_none.txt"},
	}
	for _, st := range steps {
		r := run(t, nil, st.args...)
		if r.code != ctl.ExitOK || r.stderr != "" {
			t.Fatalf("%s: exit %d, stderr %q", st.name, r.code, r.stderr)
		}
		golden(t, st.golden, r.stdout)
	}
}

func TestTailoringsApplyRefused(t *testing.T) {
	ts := newTestServer(t)
	if _, err := ts.store.ApplyPolicies(t.Context(), store.PolicyApply{Policies: []store.PolicySpec{{Policy: tailoredPolicy}}, Actor: "ci", At: now}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		file  string
		extra []string
		code  int
		want  []string
	}{
		{"server refuses the value", "tailoring:\n  policies:\n    password-max-days: {parameters: {max_days: abc}}\n", nil, ctl.ExitError,
			[]string{"bad.yaml: tailoring prod: policy password-max-days: check.all[0].login_defs.max: parameter max_days = \"abc\""}},
		{"unknown policy", "tailoring:\n  policies:\n    nope: {parameters: {max_days: \"1\"}}\n", nil, ctl.ExitError,
			[]string{"no policy in the set has id nope"}},
		{"malformed file", "tailoring:\n  parameterz: {}\n", nil, ctl.ExitError, []string{"bad.yaml:2"}},
		{"disabled policy", "tailoring:\n  policies:\n    password-max-days: {disabled: true}\n", nil, ctl.ExitError,
			[]string{"disables password-max-days", "parameter values only"}},
		{"bad label", "tailoring:\n  parameters: {max_days: \"90\"}\n", []string{"--label", "novalue"}, ctl.ExitUsage, []string{`--label "novalue": want KEY=VALUE`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, "bad.yaml", tc.file)
			args := append([]string{"--server", ts.URL, "--token", token, "tailorings", "apply", "-f", file, "--name", "prod"}, tc.extra...)
			r := run(t, nil, args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tc.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
				}
			}
		})
	}
	if list, _ := ts.store.ListTailorings(t.Context()); len(list) != 0 {
		t.Errorf("refused applies stored %+v", list)
	}
}
