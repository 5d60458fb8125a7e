package ctl_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/ctl"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

var policiesDir = filepath.Join("testdata", "policies")

// seedPolicies applies testdata/policies/base with stewardctl itself and
// stores results: web-1 fails no-telnet (exempt), db-1 fails it, laptop-7
// errors on ssh-root.
func (ts *testServer) seedPolicies(t *testing.T) {
	t.Helper()
	ts.seed()
	if r := run(t, nil, "--server", ts.URL, "--token", token, "policies", "apply", "-f", filepath.Join(policiesDir, "base")); r.code != 0 {
		t.Fatalf("apply: exit %d: %s", r.code, r.stderr)
	}
	at := now.Add(-2 * time.Hour)
	res := func(id string, st policy.Status, detail string, passed bool) policy.Result {
		return policy.Result{PolicyID: id, Status: st, CheckedAt: at, Duration: 2 * time.Millisecond,
			Evidence: []policy.Evidence{{Check: "check", Passed: passed, Detail: detail}}}
	}
	batches := []store.ResultBatch{
		{HostID: 1, Revision: 1, Results: []policy.Result{
			res("no-telnet", policy.StatusFail, "telnetd 0.17-44 is installed (dpkg)", false),
			res("os-debian", policy.StatusPass, `inventory.os.platform is "debian"`, true),
			res("ssh-root", policy.StatusPass, "/etc/ssh/sshd_config:32: PermitRootLogin no", true)}},
		{HostID: 2, Revision: 1, Results: []policy.Result{
			res("no-telnet", policy.StatusFail, "telnet-server 0.17-85 is installed (rpm)", false),
			res("os-debian", policy.StatusFail, `inventory.os.platform is "rocky"`, false)}},
		{HostID: 3, Revision: 1, Results: []policy.Result{
			{PolicyID: "ssh-root", Status: policy.StatusError, CheckedAt: at, Error: "permission denied reading /etc/ssh/sshd_config"}}},
	}
	if _, err := ts.store.ApplyResults(t.Context(), batches); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.store.AddExemption(t.Context(), store.Exemption{PolicyID: "no-telnet", HostID: 1, Reason: "legacy line printer",
		Owner: "alice@example.com", ExpiresAt: now.Add(72 * time.Hour), CreatedAt: now.Add(-time.Hour), CreatedBy: "admin"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.store.AddExemption(t.Context(), store.Exemption{PolicyID: "ssh-root", Labels: map[string]string{"env": "lab"},
		Reason: "lab images", Owner: "bob", ExpiresAt: now.Add(-time.Hour), CreatedAt: now.Add(-48 * time.Hour), CreatedBy: "admin"}); err != nil {
		t.Fatal(err)
	}
}

func TestPolicyCommandsOutput(t *testing.T) {
	ts := newTestServer(t)
	ts.seedPolicies(t)
	cases := []struct {
		name   string
		args   []string
		golden string
	}{
		{"policies list", []string{"policies", "list"}, "policies_list.txt"},
		{"policies list json", []string{"policies", "list", "-o", "json"}, "policies_list.json"},
		{"policies show", []string{"policies", "show", "ssh-root"}, "policies_show.txt"},
		{"policies results", []string{"policies", "results", "no-telnet"}, "policies_results.txt"},
		{"policies results failing", []string{"policies", "results", "no-telnet", "--status", "fail"}, "policies_results_fail.txt"},
		{"policies results json", []string{"policies", "results", "ssh-root", "-o", "json"}, "policies_results.json"},
		{"compliance", []string{"compliance"}, "compliance.txt"},
		{"compliance json", []string{"compliance", "-o", "json"}, "compliance.json"},
		{"exemptions list", []string{"exemptions", "list"}, "exemptions_list.txt"},
		{"exemptions list all", []string{"exemptions", "list", "--all"}, "exemptions_list_all.txt"},
		{"apply again", []string{"policies", "apply", "-f", filepath.Join(policiesDir, "base", "ssh.yaml"), "-f", filepath.Join(policiesDir, "base", "os.json")}, "policies_apply_unchanged.txt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, append([]string{"--server", ts.URL, "--token", token}, tc.args...)...)
			if r.code != ctl.ExitOK || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if strings.HasSuffix(tc.golden, ".json") && !json.Valid([]byte(r.stdout)) {
				t.Fatalf("-o json printed invalid JSON:\n%s", r.stdout)
			}
			golden(t, tc.golden, r.stdout)
		})
	}
}

func TestPoliciesApply(t *testing.T) {
	env := func(ts *testServer) map[string]string {
		return map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": token}
	}
	t.Run("a directory", func(t *testing.T) {
		ts := newTestServer(t)
		r := run(t, env(ts), "policies", "apply", "-f", filepath.Join(policiesDir, "base"))
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		golden(t, "policies_apply.txt", r.stdout)
		list := policyIDs(t, ts)
		if strings.Join(list, " ") != "no-telnet os-debian ssh-root" {
			t.Errorf("applied %q", list)
		}
	})
	t.Run("validate only", func(t *testing.T) {
		ts := newTestServer(t)
		r := run(t, env(ts), "policies", "apply", "--validate-only", "-f", filepath.Join(policiesDir, "base"), "-o", "json")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		golden(t, "policies_apply_validate.json", r.stdout)
		if list := policyIDs(t, ts); len(list) != 0 {
			t.Errorf("validate-only applied %q", list)
		}
	})
	t.Run("a bad file refuses every file", func(t *testing.T) {
		ts := newTestServer(t)
		bad := filepath.Join(policiesDir, "bad.yaml")
		r := run(t, env(ts), "policies", "apply", "-f", filepath.Join(policiesDir, "base"), "-f", bad)
		if r.code != ctl.ExitError || r.stdout != "" {
			t.Fatalf("exit %d, stdout %q; want 1 and nothing", r.code, r.stdout)
		}
		want := bad + ":4: policy ssh-root: severity: "
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], want) ||
			!strings.HasPrefix(lines[1], bad+":6: policy ssh-root: check.file.matches: invalid regular expression") ||
			!strings.HasPrefix(lines[2], bad+":11: policy os-debian: check.expr: invalid CEL expression") ||
			lines[3] != "stewardctl: 3 problem(s) in 1 file(s); nothing applied" {
			t.Errorf("stderr:\n%s", r.stderr)
		}
		if list := policyIDs(t, ts); len(list) != 0 {
			t.Errorf("the good files were applied: %q", list)
		}
	})
	t.Run("an id in two files", func(t *testing.T) {
		ts := newTestServer(t)
		r := run(t, env(ts), "policies", "apply", "-f", filepath.Join(policiesDir, "dup"))
		wantErr := filepath.Join(policiesDir, "dup", "b.yaml") + ":2: policy same: id: duplicate id (first defined at " +
			filepath.Join(policiesDir, "dup", "a.yaml") + ":2)\nstewardctl: 1 problem(s) in 1 file(s); nothing applied\n"
		if r.code != ctl.ExitError || r.stderr != wantErr {
			t.Errorf("exit %d, stderr %q; want %q", r.code, r.stderr, wantErr)
		}
		if list := policyIDs(t, ts); len(list) != 0 {
			t.Errorf("applied %q", list)
		}
	})
	t.Run("usage", func(t *testing.T) {
		ts := newTestServer(t)
		for _, args := range [][]string{{"policies", "apply"}, {"policies", "results"}, {"policies", "results", "x", "--status", "broken"}} {
			if r := run(t, env(ts), args...); r.code != ctl.ExitUsage {
				t.Errorf("%q: exit %d, want 2", args, r.code)
			}
		}
		empty := t.TempDir()
		if r := run(t, env(ts), "policies", "apply", "-f", empty); r.code != ctl.ExitError || !strings.Contains(r.stderr, "no *.yaml") {
			t.Errorf("empty dir: exit %d, %q", r.code, r.stderr)
		}
		if r := run(t, env(ts), "policies", "apply", "-f", filepath.Join(empty, "nope.yaml")); r.code != ctl.ExitError {
			t.Errorf("missing file: exit %d", r.code)
		}
	})
}

func policyIDs(t *testing.T, ts *testServer) []string {
	t.Helper()
	ps, err := ts.store.ListPolicies(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.Policy.ID)
	}
	return ids
}

func TestPoliciesDeleteAndShowErrors(t *testing.T) {
	ts := newTestServer(t)
	ts.seedPolicies(t)
	env := map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": token}
	r := run(t, env, "policies", "delete", "os-debian")
	if r.code != 0 || r.stdout != "Deleted policy os-debian; policy set revision 2.\n" {
		t.Errorf("delete: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "policies", "show", "os-debian")
	if r.code != ctl.ExitError || r.stderr != "stewardctl: policy \"os-debian\" not found (404 from GET /api/v1/policies/os-debian)\n" {
		t.Errorf("show deleted: exit %d, %q", r.code, r.stderr)
	}
}

func TestExemptionsCommands(t *testing.T) {
	ts := newTestServer(t)
	ts.seedPolicies(t)
	env := map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": token}
	r := run(t, env, "exemptions", "add", "--policy", "os-debian", "--host", "2", "--reason", "rocky by design",
		"--owner", "dba-team", "--expires", "30d")
	if r.code != 0 || r.stdout != "Added exemption 3: os-debian for host 2 until 2025-03-31T12:00:00Z (owner dba-team).\n" {
		t.Fatalf("add: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "exemptions", "add", "--policy", "ssh-root", "--label", "env=lab", "--label", "team=qa", "--reason", "r",
		"--owner", "o", "--expires", "2025-06-01T00:00:00Z", "-o", "json")
	var e apitypes.Exemption
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &e) != nil || e.ID != 4 || e.Labels["team"] != "qa" || e.CreatedBy != "admin" {
		t.Fatalf("add by labels: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	// A date is midnight UTC; beyond a year it takes --force.
	r = run(t, env, "exemptions", "add", "--policy", "os-debian", "--host", "1", "--reason", "r", "--owner", "o", "--expires", "2025-06-01")
	if r.code != 0 || !strings.Contains(r.stdout, "until 2025-06-01T00:00:00Z") {
		t.Errorf("date expiry: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "exemptions", "add", "--policy", "os-debian", "--host", "1", "--reason", "r", "--owner", "o", "--expires", "2027-01-01", "--force")
	if r.code != 0 || !strings.Contains(r.stdout, "until 2027-01-01T00:00:00Z") {
		t.Errorf("forced expiry: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "exemptions", "remove", "3")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Revoked exemption 3: os-debian for host 2") {
		t.Errorf("remove: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "exemptions", "remove", "3")
	if r.code != ctl.ExitError || !strings.Contains(r.stderr, "already revoked (409") {
		t.Errorf("remove twice: exit %d, %q", r.code, r.stderr)
	}
	usage := [][]string{
		{"exemptions", "add", "--policy", "p", "--reason", "r", "--owner", "o", "--expires", "1d"},
		{"exemptions", "add", "--policy", "p", "--host", "1", "--label", "a=b", "--reason", "r", "--owner", "o", "--expires", "1d"},
		{"exemptions", "add", "--policy", "p", "--host", "1", "--owner", "o", "--expires", "1d"},
		{"exemptions", "add", "--policy", "p", "--label", "novalue", "--reason", "r", "--owner", "o", "--expires", "1d"},
		{"exemptions", "add", "--policy", "p", "--host", "1", "--reason", "r", "--owner", "o", "--expires", "soon"},
		{"exemptions", "add", "--policy", "p", "--host", "1", "--reason", "r", "--owner", "o", "--expires", "2027-01-01"}, // over a year, no --force
		{"exemptions", "add", "--policy", "p", "--host", "1", "--reason", "r", "--owner", "o", "--expires", "2020-01-01"}, // past
		{"exemptions", "remove", "x"},
	}
	for _, args := range usage {
		if r := run(t, env, args...); r.code != ctl.ExitUsage {
			t.Errorf("%q: exit %d (%s), want 2", args, r.code, r.stderr)
		}
	}
	r = run(t, env, "exemptions", "add", "--policy", "nope", "--host", "1", "--reason", "r", "--owner", "o", "--expires", "1d")
	if r.code != ctl.ExitError || r.stderr != "stewardctl: policy \"nope\" not found (404 from POST /api/v1/exemptions)\n" {
		t.Errorf("unknown policy: exit %d, %q", r.code, r.stderr)
	}
}
