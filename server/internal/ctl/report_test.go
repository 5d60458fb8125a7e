package ctl_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/ctl"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

const fixPolicyFile = `policies:
  - id: telnet-gone
    title: No telnet daemon
    severity: high
    tags: [my-pack, cis-l1-server]
    references: {cis: "2.2.18", ssg: package_telnet-server_removed}
    check:
      package: {name: telnetd, installed: false}
    fix:
      sh: apt-get purge -y telnetd
      ansible: |
        - name: Remove telnetd
          ansible.builtin.apt: {name: telnetd, state: absent, purge: true}
`

// seedFix is seedPolicies plus telnet-gone, which has a fix: web-1
// (env=prod) and db-1 fail it, laptop-7 passes.
func (ts *testServer) seedFix(t *testing.T) {
	t.Helper()
	ts.seedPolicies(t)
	path := filepath.Join(t.TempDir(), "fix.yaml")
	if err := os.WriteFile(path, []byte(fixPolicyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := ts.run(t, "policies", "apply", "-f", path); r.code != 0 {
		t.Fatalf("apply: exit %d: %s", r.code, r.stderr)
	}
	if err := ts.store.SetHostLabels(t.Context(), 1, map[string]string{"env": "prod"}, "admin"); err != nil {
		t.Fatal(err)
	}
	res := func(host int64, st policy.Status) store.ResultBatch {
		return store.ResultBatch{HostID: host, Revision: 2, Results: []policy.Result{{PolicyID: "telnet-gone", Status: st,
			CheckedAt: now.Add(-time.Hour), Evidence: []policy.Evidence{{Check: "check.package", Passed: st == policy.StatusPass, Detail: "telnetd"}}}}}
	}
	if _, err := ts.store.ApplyResults(t.Context(), []store.ResultBatch{res(1, policy.StatusFail), res(2, policy.StatusFail), res(3, policy.StatusPass)}); err != nil {
		t.Fatal(err)
	}
}

func (ts *testServer) run(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, nil, append([]string{"--server", ts.URL, "--token", token}, args...)...)
}

func TestComplianceReportCommand(t *testing.T) {
	ts := newTestServer(t)
	ts.seedFix(t)
	out := filepath.Join(t.TempDir(), "report.csv")
	r := ts.run(t, "compliance", "report", "--format", "csv", "--out", out)
	if r.code != ctl.ExitOK || !strings.Contains(r.stderr, "Wrote the csv compliance report to "+out) {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Four hosts by four policies, after the header.
	if len(rows) != 1+4*4 || strings.Join(rows[0], ",") != strings.Join(apitypes.ReportCSVHeader, ",") {
		t.Fatalf("rows %d, header %q", len(rows), rows[0])
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*.tmp")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	r = ts.run(t, "compliance", "report", "--format=csv", "--tag", "cis-l1-server", "--label", "env=prod")
	rows, err = csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if r.code != ctl.ExitOK || err != nil || len(rows) != 2 || rows[1][0] != "web-1" || rows[1][3] != "telnet-gone" || rows[1][7] != "fail" {
		t.Fatalf("exit %d, %v: %q %s", r.code, err, rows, r.stderr)
	}
	r = ts.run(t, "compliance", "report", "--format=csv", "--pack", "my-pack")
	rows, err = csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if r.code != ctl.ExitOK || err != nil || len(rows) != 1+4 {
		t.Fatalf("pack: exit %d, %v: %q %s", r.code, err, rows, r.stderr)
	}
	for _, row := range rows[1:] {
		if row[3] != "telnet-gone" {
			t.Errorf("pack: row outside it: %q", row)
		}
	}
	r = ts.run(t, "compliance", "report", "--reference", "ssg")
	if r.code != ctl.ExitOK || !strings.HasPrefix(r.stdout, "<!DOCTYPE html>") || !strings.Contains(r.stdout, "telnet-gone") ||
		strings.Contains(r.stdout, "os-debian") {
		t.Fatalf("html: exit %d: %.300s %s", r.code, r.stdout, r.stderr)
	}
	// The summary is still there, and refuses the report's flags.
	if r = ts.run(t, "compliance"); r.code != ctl.ExitOK || !strings.Contains(r.stdout, "telnet-gone") {
		t.Fatalf("summary: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{
		{"compliance", "--format", "csv"},
		{"compliance", "summary"},
		{"compliance", "report", "--format", "pdf"},
		{"compliance", "report", "--label", "env"},
		{"compliance", "report", "-o", "json"},
	} {
		if r := ts.run(t, args...); r.code != ctl.ExitUsage {
			t.Errorf("%q: exit %d, want %d: %s", args, r.code, ctl.ExitUsage, r.stderr)
		}
	}
	// A failed report leaves no file behind.
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if r := run(t, nil, "--server", ts.URL, "--token", "wrong", "compliance", "report", "--out", bad); r.code != ctl.ExitError {
		t.Fatalf("bad token: exit %d", r.code)
	}
	if entries, _ := os.ReadDir(filepath.Dir(bad)); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestPoliciesRemediationCommand(t *testing.T) {
	ts := newTestServer(t)
	ts.seedFix(t)
	r := ts.run(t, "policies", "remediation", "telnet-gone")
	if r.code != ctl.ExitOK || !strings.HasPrefix(r.stdout, "#!/bin/sh\n") || !strings.Contains(r.stdout, `"web-1" (host 1)`) ||
		!strings.Contains(r.stdout, `"db-1" (host 2)`) || strings.Contains(r.stdout, "laptop-7") || strings.Count(r.stdout, "apt-get purge") != 1 {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = ts.run(t, "policies", "remediation", "telnet-gone", "--format", "ansible", "--label", "env=prod")
	var plays []struct {
		Hosts []string         `yaml:"hosts"`
		Tasks []map[string]any `yaml:"tasks"`
	}
	if err := yaml.Unmarshal([]byte(r.stdout), &plays); err != nil || r.code != ctl.ExitOK || len(plays) != 1 ||
		strings.Join(plays[0].Hosts, ",") != "web-1" || len(plays[0].Tasks) != 1 {
		t.Fatalf("exit %d, %v:\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	r = ts.run(t, "policies", "remediation", "telnet-gone", "--host", "2")
	if r.code != ctl.ExitOK || strings.Contains(r.stdout, "web-1") || !strings.Contains(r.stdout, "db-1") {
		t.Fatalf("by host: exit %d:\n%s", r.code, r.stdout)
	}
	r = ts.run(t, "policies", "remediation", "no-telnet")
	if r.code != ctl.ExitError || !strings.Contains(r.stderr, "has no sh fix") {
		t.Fatalf("no fix: exit %d: %s", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"policies", "remediation", "telnet-gone", "--format", "bat"},
		{"policies", "remediation", "telnet-gone", "--host", "x"},
		{"policies", "remediation"},
	} {
		if r := ts.run(t, args...); r.code != ctl.ExitUsage {
			t.Errorf("%q: exit %d, want %d: %s", args, r.code, ctl.ExitUsage, r.stderr)
		}
	}
}

func TestPoliciesByReferenceCommand(t *testing.T) {
	ts := newTestServer(t)
	ts.seedFix(t)
	r := ts.run(t, "policies", "list", "--reference", "cis:2.2.18")
	if r.code != ctl.ExitOK || !strings.Contains(r.stdout, "telnet-gone") || strings.Contains(r.stdout, "no-telnet") {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = ts.run(t, "policies", "show", "telnet-gone")
	if r.code != ctl.ExitOK || !strings.Contains(r.stdout, "References:    cis:2.2.18, ssg:package_telnet-server_removed") ||
		!strings.Contains(r.stdout, "sh: apt-get purge -y telnetd") {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}
