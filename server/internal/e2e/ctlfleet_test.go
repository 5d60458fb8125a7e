package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCtlFleetCommands drives the stewardctl commands for labels, a
// host's policies and inventory, the audit log, fleet changes and policy
// history against a real server with a real agent reporting.
func TestCtlFleetCommands(t *testing.T) {
	s := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "steward.db"))
	agent := s.startAgent(t, filepath.Join(t.TempDir(), "agent"))
	var hosts hostsResponse
	eventually(t, 60*time.Second, "the agent's host online with an os section", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		if len(hosts.Hosts) != 1 || !hosts.Hosts[0].Online {
			return false, agent.Output()
		}
		var inv struct {
			Sections map[string]json.RawMessage `json:"sections"`
		}
		s.get(t, "/api/v1/hosts/"+itoa(hosts.Hosts[0].ID)+"/inventory", &inv)
		return len(inv.Sections["os"]) > 2, "no os section yet"
	})
	host := itoa(hosts.Hosts[0].ID)
	var h struct {
		Platform string `json:"platform"`
	}
	s.get(t, "/api/v1/hosts/"+host, &h)

	// Labels: set two, then change one and remove the other; the rest of
	// the set is kept by the read-modify-write.
	out := s.ctl(t, "hosts", "label", host, "env=e2e", "team=ops", "tier=1")
	if !strings.Contains(out, "env   e2e") || !strings.Contains(out, "team  ops") {
		t.Errorf("hosts label printed:\n%s", out)
	}
	out = s.ctl(t, "hosts", "label", host, "team=sre", "--remove", "tier")
	if want := "KEY   VALUE\nenv   e2e\nteam  sre\n"; out != want {
		t.Errorf("hosts label printed %q, want %q", out, want)
	}
	if out := s.ctl(t, "hosts", "show", host); !strings.Contains(out, "Labels:         env=e2e, team=sre\n") {
		t.Errorf("hosts show lacks the labels:\n%s", out)
	}

	// Policies: one passes on this host, one fails everywhere.
	file := filepath.Join(t.TempDir(), "fleet.yaml")
	writeFile(t, file, `policies:
  - id: os-platform
    title: Runs the expected OS
    severity: medium
    check:
      expr: inventory.os.platform == "`+h.Platform+`"
  - id: no-os
    title: Reports no OS (fails everywhere)
    severity: high
    check:
      expr: inventory.os.platform == ""
`)
	s.ctl(t, "policies", "apply", "-f", file)
	var hp struct {
		Policies []struct {
			PolicyID string `json:"policy_id"`
			Status   string `json:"status"`
		} `json:"policies"`
	}
	eventually(t, 20*time.Second, "results for both policies", func() (bool, string) {
		out := s.ctl(t, "hosts", "policies", host, "-o", "json")
		if err := json.Unmarshal([]byte(out), &hp); err != nil {
			t.Fatalf("hosts policies -o json: %v\n%s", err, out)
		}
		got := map[string]string{}
		for _, p := range hp.Policies {
			got[p.PolicyID] = p.Status
		}
		return len(got) == 2 && got["os-platform"] == "pass" && got["no-os"] == "fail", out
	})
	out = s.ctl(t, "hosts", "policies", host)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "POLICY") || !strings.Contains(out, h.Platform) {
		t.Errorf("hosts policies printed:\n%s", out)
	}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) < 5 || (f[0] == "no-os") != (f[2] == "fail") || (f[0] == "os-platform") != (f[2] == "pass") {
			t.Errorf("hosts policies line %q", l)
		}
	}
	if out := s.ctl(t, "hosts", "policies", host, "--status", "fail"); !strings.Contains(out, "no-os") || strings.Contains(out, "os-platform") {
		t.Errorf("hosts policies --status fail printed:\n%s", out)
	}

	// Inventory: the summary names the os section, --section prints it.
	if out := s.ctl(t, "hosts", "inventory", host); !strings.Contains(out, "\nos ") || !strings.HasPrefix(out, "Inventory of host "+host) {
		t.Errorf("hosts inventory printed:\n%s", out)
	}
	var osSection struct {
		Platform string `json:"platform"`
	}
	out = s.ctl(t, "hosts", "inventory", host, "--section", "os")
	if err := json.Unmarshal([]byte(out), &osSection); err != nil || osSection.Platform != h.Platform {
		t.Errorf("hosts inventory --section os (%v): platform %q, want %q:\n%s", err, osSection.Platform, h.Platform, out)
	}

	// Audit: both label changes and the policy apply, newest first.
	out = s.ctl(t, "audit", "list")
	if !strings.Contains(out, "host_labels_set") || !strings.Contains(out, `"team":"sre"`) || !strings.Contains(out, "policy_applied") {
		t.Errorf("audit list printed:\n%s", out)
	}
	var audit struct {
		Entries []struct {
			Action  string `json:"action"`
			Subject string `json:"subject"`
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(s.ctl(t, "audit", "list", "--action", "host_labels_set", "-o", "json")), &audit); err != nil {
		t.Fatal(err)
	}
	if len(audit.Entries) != 2 || audit.Entries[0].Subject != host {
		t.Errorf("host_labels_set entries: %+v", audit.Entries)
	}

	// Changes across the fleet: the host's first inventory.
	out = s.ctl(t, "changes", "list", "--kind", "first_inventory", "--since", "1h")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "first_inventory") ||
		strings.Fields(lines[1])[1] != host {
		t.Errorf("changes list printed:\n%s", out)
	}

	// History: each policy's first result on this host.
	out = s.ctl(t, "policies", "history", "no-os", "--host", host, "--since", "1h")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "fail") {
		t.Errorf("policies history printed:\n%s", out)
	}
	var hist struct {
		Transitions []struct {
			HostID int64  `json:"host_id"`
			To     string `json:"to_status"`
		} `json:"transitions"`
	}
	if err := json.Unmarshal([]byte(s.ctl(t, "policies", "history", "os-platform", "-o", "json")), &hist); err != nil {
		t.Fatal(err)
	}
	if len(hist.Transitions) != 1 || itoa(hist.Transitions[0].HostID) != host || hist.Transitions[0].To != "pass" {
		t.Errorf("os-platform history: %+v", hist.Transitions)
	}
}
