package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/shared/inventory"
)

// TestPolicies applies a policy file with the real stewardctl to a real
// server with a real agent connected, and reads the server-side results,
// compliance, an exemption and a refused file back through stewardctl.
func TestPolicies(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "steward.db") },
		"postgres": func(t *testing.T) string { return pgtest.NewDatabase(t) },
	}
	for name, db := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			policies(t, db(t))
		})
	}
}

// ctlRun runs stewardctl and returns its exit code and outputs, for
// commands expected to fail.
func (s *server) ctlRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin("stewardctl"), args...)
	cmd.Env = append(os.Environ(), "STEWARD_SERVER="+s.url, "STEWARD_TOKEN="+s.token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("stewardctl %s: %v", strings.Join(args, " "), err)
	return 0, "", ""
}

type resultsJSON struct {
	Results []struct {
		HostID           int64     `json:"host_id"`
		Hostname         string    `json:"hostname"`
		Status           string    `json:"status"`
		UnderlyingStatus string    `json:"underlying_status"`
		Since            time.Time `json:"since"`
		Evidence         []struct {
			Check  string `json:"check"`
			Passed bool   `json:"passed"`
			Detail string `json:"detail"`
		} `json:"evidence"`
		Exemption *struct {
			ID     int64  `json:"id"`
			Reason string `json:"reason"`
		} `json:"exemption"`
	} `json:"results"`
}

type complianceJSON struct {
	Revision int64 `json:"revision"`
	Policies []struct {
		PolicyID string `json:"policy_id"`
		Pass     int64  `json:"pass"`
		Fail     int64  `json:"fail"`
		Exempt   int64  `json:"exempt"`
		Total    int64  `json:"total"`
	} `json:"policies"`
}

func (s *server) results(t *testing.T, args ...string) resultsJSON {
	t.Helper()
	var r resultsJSON
	if err := json.Unmarshal([]byte(s.ctl(t, append([]string{"-o", "json", "policies", "results"}, args...)...)), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// counts renders `stewardctl compliance` as "policy pass/fail/exempt".
func (s *server) counts(t *testing.T) (int64, []string) {
	t.Helper()
	var c complianceJSON
	if err := json.Unmarshal([]byte(s.ctl(t, "-o", "json", "compliance")), &c); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range c.Policies {
		out = append(out, p.PolicyID+" "+itoa(p.Pass)+"/"+itoa(p.Fail)+"/"+itoa(p.Exempt))
	}
	return c.Revision, out
}

func policies(t *testing.T, db string) {
	s := startServer(t, db)
	agent := s.startAgent(t, filepath.Join(t.TempDir(), "agent"))
	var hosts hostsResponse
	eventually(t, 60*time.Second, "the agent's host online with inventory", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		if len(hosts.Hosts) != 1 || !hosts.Hosts[0].Online {
			return false, agent.Output()
		}
		var inv struct {
			Sections map[string]json.RawMessage `json:"sections"`
		}
		s.get(t, "/api/v1/hosts/"+itoa(hosts.Hosts[0].ID)+"/inventory", &inv)
		return len(inv.Sections["os"]) > 2 && len(inv.Sections["software"]) > 2, "no os or software section yet"
	})
	host := hosts.Hosts[0].ID
	var h struct {
		Platform string `json:"platform"`
	}
	s.get(t, "/api/v1/hosts/"+itoa(host), &h)
	if h.Platform == "" {
		t.Fatal("the agent reported no os platform; the policies below need one")
	}

	dir := t.TempDir()
	good := filepath.Join(dir, "fleet.yaml")
	writeFile(t, good, `policies:
  - id: os-platform
    title: Runs the expected OS
    severity: medium
    check:
      expr: inventory.os.platform == "`+h.Platform+`"
  - id: bash-installed
    title: bash is installed
    severity: low
    check:
      expr: inventory.software.packages.exists(p, p.name == "bash")
  - id: no-bash
    title: bash is absent (fails everywhere)
    severity: high
    check:
      none:
        - expr: inventory.software.packages.exists(p, p.name == "bash")
`)
	start := time.Now()
	out := s.ctl(t, "policies", "apply", "-f", good)
	if !strings.Contains(out, "no-bash") || !strings.Contains(out, "added") || !strings.Contains(out, "Policy set revision 1.") {
		t.Errorf("policies apply printed:\n%s", out)
	}

	// The server evaluates expr-only policies against the stored
	// inventory at once; no agent round trip is needed.
	eventually(t, 10*time.Second, "server-side results for every policy", func() (bool, string) {
		_, c := s.counts(t)
		return strings.Join(c, ",") == "bash-installed 1/0/0,no-bash 0/1/0,os-platform 1/0/0", strings.Join(c, ",")
	})
	t.Logf("results of a new policy set visible after %v", time.Since(start).Round(time.Millisecond))
	r := s.results(t, "os-platform")
	if len(r.Results) != 1 || r.Results[0].HostID != host || r.Results[0].Status != "pass" ||
		len(r.Results[0].Evidence) == 0 || !strings.Contains(r.Results[0].Evidence[0].Detail, h.Platform) {
		t.Errorf("os-platform results = %+v", r.Results)
	}
	failing := s.results(t, "no-bash", "--status", "fail")
	if len(failing.Results) != 1 || failing.Results[0].Since.IsZero() || len(failing.Results[0].Evidence) == 0 {
		t.Fatalf("no-bash failures = %+v", failing.Results)
	}
	table := s.ctl(t, "policies", "results", "no-bash")
	if !strings.Contains(table, "fail") || !strings.Contains(table, failing.Results[0].Hostname) ||
		!strings.Contains(table, failing.Results[0].Since.UTC().Format(time.RFC3339)) {
		t.Errorf("results table lacks the failure and its since:\n%s", table)
	}

	// An exemption takes the failure out of the fail count.
	out = s.ctl(t, "exemptions", "add", "--policy", "no-bash", "--host", itoa(host), "--reason", "bash is required here",
		"--owner", "e2e@example.com", "--expires", "1d")
	if !strings.Contains(out, "Added exemption 1: no-bash for host "+itoa(host)) {
		t.Errorf("exemptions add printed %q", out)
	}
	if _, c := s.counts(t); strings.Join(c, ",") != "bash-installed 1/0/0,no-bash 0/0/1,os-platform 1/0/0" {
		t.Errorf("compliance with the exemption: %q", c)
	}
	if f := s.results(t, "no-bash", "--status", "fail"); len(f.Results) != 0 {
		t.Errorf("exempt host still listed as failing: %+v", f.Results)
	}
	ex := s.results(t, "no-bash", "--status", "exempt")
	if len(ex.Results) != 1 || ex.Results[0].UnderlyingStatus != "fail" || ex.Results[0].Exemption == nil ||
		ex.Results[0].Exemption.Reason != "bash is required here" {
		t.Errorf("exempt results = %+v", ex.Results)
	}
	if out := s.ctl(t, "exemptions", "list"); !strings.Contains(out, "e2e@example.com") || !strings.Contains(out, "active") {
		t.Errorf("exemptions list:\n%s", out)
	}

	// A malformed file is refused whole, with the exact place, and the
	// set in force stays.
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, `policies:
  - id: new-one
    title: Would be new
    severity: low
    check:
      expr: "true"
  - id: os-platform
    title: Would replace os-platform
    severity: medium
    check:
      file: {path: /etc/os-release, matches: '(unclosed'}
`)
	code, stdout, stderr := s.ctlRun(t, "policies", "apply", "-f", bad)
	wantLine := bad + ":11: policy os-platform: check.file.matches: invalid regular expression"
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, wantLine) || !strings.Contains(stderr, "nothing applied") {
		t.Errorf("bad file: exit %d, stdout %q, stderr %q; want exit 1 and %q", code, stdout, stderr, wantLine)
	}
	if rev, c := s.counts(t); rev != 1 || len(c) != 3 {
		t.Errorf("after the refused file: revision %d, policies %q; want revision 1 and the 3 policies", rev, c)
	}
	if list := s.ctl(t, "policies", "list"); strings.Contains(list, "new-one") || strings.Contains(list, "Would replace") {
		t.Errorf("refused file partly applied:\n%s", list)
	}

	// A host whose inventory changes is evaluated again when it is
	// ingested: a second host reports another platform, then this one.
	other := connectAgent(t, s, "other")
	osSection := func(platform string) map[string]any {
		return map[string]any{
			inventory.SectionOS:       inventory.OS{Name: platform, Platform: platform, Arch: "amd64"},
			inventory.SectionSoftware: inventory.Software{Packages: []inventory.Package{{Name: "zsh", Version: "5.9", Source: "dpkg"}}},
		}
	}
	other.report(t, time.Now(), osSection("not-"+h.Platform))
	eventually(t, 10*time.Second, "the second host evaluated", func() (bool, string) {
		_, c := s.counts(t)
		return strings.Join(c, ",") == "bash-installed 1/1/0,no-bash 1/0/1,os-platform 1/1/0", strings.Join(c, ",")
	})
	other.report(t, time.Now(), osSection(h.Platform))
	eventually(t, 10*time.Second, "the second host evaluated again", func() (bool, string) {
		_, c := s.counts(t)
		return strings.Join(c, ",") == "bash-installed 1/1/0,no-bash 1/0/1,os-platform 2/0/0", strings.Join(c, ",")
	})
	var history struct {
		Transitions []struct {
			From string `json:"from_status"`
			To   string `json:"to_status"`
		} `json:"transitions"`
	}
	if code := s.get(t, "/api/v1/policies/os-platform/history?host_id="+itoa(other.hostID), &history); code != 200 {
		t.Fatalf("history: HTTP %d", code)
	}
	if len(history.Transitions) != 2 || history.Transitions[0].From != "fail" || history.Transitions[0].To != "pass" ||
		history.Transitions[1].From != "" || history.Transitions[1].To != "fail" {
		t.Errorf("os-platform history of the second host = %+v", history.Transitions)
	}

	// Deleting a policy removes its results; the audit log has it all.
	if out := s.ctl(t, "policies", "delete", "no-bash"); !strings.Contains(out, "revision 2") {
		t.Errorf("delete printed %q", out)
	}
	if rev, c := s.counts(t); rev != 2 || strings.Join(c, ",") != "bash-installed 1/1/0,os-platform 2/0/0" {
		t.Errorf("after delete: revision %d, %q", rev, c)
	}
	var audit struct {
		Entries []struct {
			Actor  string `json:"actor"`
			Action string `json:"action"`
		} `json:"entries"`
	}
	s.get(t, "/api/v1/audit", &audit)
	var actions []string
	for _, e := range audit.Entries {
		actions = append(actions, e.Actor+" "+e.Action)
	}
	if strings.Join(actions, ",") != "bootstrap policy_deleted,bootstrap exemption_added,bootstrap policy_applied" {
		t.Errorf("audit log %q", actions)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
