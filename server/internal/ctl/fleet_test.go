package ctl_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/ctl"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// seedFleet is seedPolicies plus labels on web-1, a second status change
// of db-1 and a few audit entries at fixed times.
func (ts *testServer) seedFleet(t *testing.T) {
	t.Helper()
	ts.seedPolicies(t)
	if err := ts.store.SetHostLabels(t.Context(), 1, map[string]string{"env": "prod", "team": "web"}, "admin"); err != nil {
		t.Fatal(err)
	}
	// db-1 turns to debian: os-debian passes there now.
	if _, err := ts.store.ApplyResults(t.Context(), []store.ResultBatch{{HostID: 2, Revision: 2, Results: []policy.Result{
		{PolicyID: "os-debian", Status: policy.StatusPass, CheckedAt: now.Add(-20 * time.Minute),
			Evidence: []policy.Evidence{{Check: "check", Passed: true, Detail: `inventory.os.platform is "debian"`}}}}}}); err != nil {
		t.Fatal(err)
	}
	ts.store.AddChange(store.Change{ID: 100, HostID: 2, Kind: "os_changed", Subject: "platform", OldValue: "rocky", NewValue: "debian",
		FirstSeen: now.Add(-25 * time.Minute), Seq: 7})
	ts.store.SetInventory(store.InventoryDoc{HostID: 2, CollectedAt: now.Add(-25 * time.Minute),
		Sections: map[string]json.RawMessage{"os": json.RawMessage(`{"name":"Debian GNU/Linux 12 (bookworm)","platform":"debian"}`),
			"x_custom": json.RawMessage(`{"k":1}`)},
		Hashes: map[string]string{"os": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "x_custom": "2c26b46b68ffc68ff99b453c1d304134"},
		Errors: map[string]string{"software": "rpm database locked"}})
	for i, e := range []store.AuditEntry{
		{At: now.Add(-50 * time.Minute), Actor: "alice", Action: "exemption_revoked", Subject: "7", Detail: json.RawMessage(`{"exemption_id": 7}`)},
		{At: now.Add(-40 * time.Minute), Actor: "bob", Action: "alerting_reloaded", Subject: "alerting.yaml"},
	} {
		if err := ts.store.AppendAudit(t.Context(), e); err != nil {
			t.Fatalf("audit %d: %v", i, err)
		}
	}
}

func TestFleetCommandsOutput(t *testing.T) {
	ts := newTestServer(t)
	ts.seedFleet(t)
	cases := []struct {
		name   string
		args   []string
		golden string
	}{
		{"hosts label print", []string{"hosts", "label", "1"}, "hosts_label.txt"},
		{"hosts label none", []string{"hosts", "label", "2"}, "hosts_label_none.txt"},
		{"hosts label json", []string{"hosts", "label", "1", "-o", "json"}, "hosts_label.json"},
		{"hosts show labels", []string{"hosts", "show", "1"}, "hosts_show_labels.txt"},
		{"hosts policies", []string{"hosts", "policies", "1"}, "hosts_policies.txt"},
		{"hosts policies of an erroring host", []string{"hosts", "policies", "3"}, "hosts_policies_error.txt"},
		{"hosts policies failing", []string{"hosts", "policies", "2", "--status", "fail"}, "hosts_policies_fail.txt"},
		{"hosts policies without result", []string{"hosts", "policies", "--status=none", "3"}, "hosts_policies_none.txt"},
		{"hosts policies json", []string{"hosts", "policies", "1", "-o", "json"}, "hosts_policies.json"},
		{"hosts policies json filtered", []string{"hosts", "policies", "2", "-o", "json", "--status", "pass"}, "hosts_policies_pass.json"},
		{"hosts inventory", []string{"hosts", "inventory", "1"}, "hosts_inventory.txt"},
		{"hosts inventory hashes cut", []string{"hosts", "inventory", "2"}, "hosts_inventory_2.txt"},
		{"hosts inventory empty", []string{"hosts", "inventory", "3"}, "hosts_inventory_empty.txt"},
		{"hosts inventory section", []string{"hosts", "inventory", "1", "--section", "os"}, "hosts_inventory_os.txt"},
		{"hosts inventory json", []string{"hosts", "inventory", "1", "--section", "cpu", "-o", "json"}, "hosts_inventory.json"},
		{"audit list", []string{"audit", "list", "--action", "policy_applied"}, "audit_list.txt"},
		{"audit list json", []string{"audit", "list", "-o", "json", "--action", "exemption_revoked"}, "audit_list.json"},
		{"changes list", []string{"changes", "list"}, "changes_list.txt"},
		{"changes list filtered", []string{"changes", "list", "--kind", "software_upgraded", "--kind=software_removed", "--since", "4h", "--until", "1h"}, "changes_list_filtered.txt"},
		{"changes list subject", []string{"changes", "list", "--subject", "tcp/80"}, "changes_list_subject.txt"},
		{"changes list of a host", []string{"changes", "list", "--host", "2"}, "changes_list_host.txt"},
		{"changes list json", []string{"changes", "list", "-o", "json", "--kind", "admin_added"}, "changes_list.json"},
		{"policies history", []string{"policies", "history", "os-debian"}, "policies_history.txt"},
		{"policies history of a host", []string{"policies", "history", "os-debian", "--host", "2"}, "policies_history_host.txt"},
		{"policies history since", []string{"policies", "history", "os-debian", "--since", "30m"}, "policies_history_since.txt"},
		{"policies history json", []string{"policies", "history", "no-telnet", "-o", "json"}, "policies_history.json"},
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

// TestHostsLabel sets and removes labels through the API and reads them
// back from the store, hosts show and the audit log.
func TestHostsLabel(t *testing.T) {
	ts := newTestServer(t)
	ts.seed()
	if err := ts.store.SetHostLabels(t.Context(), 1, map[string]string{"keep": "yes", "env": "lab"}, "admin"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": token}
	labelsOf := func() map[string]string {
		t.Helper()
		l, err := ts.store.HostLabels(t.Context(), 1)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	r := run(t, env, "hosts", "label", "1", "env=prod", "team=web")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := map[string]string{"keep": "yes", "env": "prod", "team": "web"}
	if got := labelsOf(); !maps.Equal(got, want) {
		t.Fatalf("labels %v, want %v (the others kept, env replaced)", got, want)
	}
	if wantOut := "KEY   VALUE\nenv   prod\nkeep  yes\nteam  web\n"; r.stdout != wantOut {
		t.Errorf("stdout %q, want %q", r.stdout, wantOut)
	}

	r = run(t, env, "hosts", "label", "--remove", "env", "1", "team=db", "--remove=keep", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want = map[string]string{"team": "db"}
	if got := labelsOf(); !maps.Equal(got, want) {
		t.Fatalf("labels %v, want %v", got, want)
	}
	var out struct {
		HostID int64             `json:"host_id"`
		Labels map[string]string `json:"labels"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.HostID != 1 || !maps.Equal(out.Labels, want) {
		t.Errorf("json %q (%v): want host 1 with %v", r.stdout, err, want)
	}

	// Removing a label the host lacks changes nothing and sends no PUT.
	before := ts.requests.Load()
	r = run(t, env, "hosts", "label", "1", "--remove", "absent")
	if r.code != 0 || ts.requests.Load()-before != 1 || !maps.Equal(labelsOf(), want) {
		t.Errorf("exit %d, %d requests, labels %v: want one GET and no change", r.code, ts.requests.Load()-before, labelsOf())
	}

	r = run(t, env, "hosts", "label", "1", "--remove", "team")
	if r.code != 0 || len(labelsOf()) != 0 || r.stdout != "Host 1 has no labels.\n" {
		t.Errorf("remove the last: exit %d, labels %v, stdout %q", r.code, labelsOf(), r.stdout)
	}

	r = run(t, env, "hosts", "label", "1", "os=debian")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if show := run(t, env, "hosts", "show", "1"); !strings.Contains(show.stdout, "\nLabels:         os=debian\n") {
		t.Errorf("hosts show does not show the labels:\n%s", show.stdout)
	}
	var shown struct {
		Labels map[string]string `json:"labels"`
	}
	if show := run(t, env, "hosts", "show", "1", "-o", "json"); json.Unmarshal([]byte(show.stdout), &shown) != nil || shown.Labels["os"] != "debian" {
		t.Errorf("hosts show -o json labels: %s", show.stdout)
	}

	r = run(t, env, "audit", "list", "--action", "host_labels_set", "-o", "json")
	var audit struct {
		Entries []store.AuditEntry `json:"entries"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &audit); err != nil {
		t.Fatalf("audit: %v: %s", err, r.stdout)
	}
	// The seed's set, then four changes through stewardctl.
	if len(audit.Entries) != 5 || audit.Entries[0].Subject != "1" {
		t.Fatalf("%d audit entries, want 5 with the newest about host 1: %s", len(audit.Entries), r.stdout)
	}
	var detail struct {
		Labels, Previous map[string]string
	}
	if err := json.Unmarshal(audit.Entries[0].Detail, &detail); err != nil || !maps.Equal(detail.Labels, map[string]string{"os": "debian"}) ||
		len(detail.Previous) != 0 {
		t.Errorf("newest audit detail %s (%v): want os=debian, none before", audit.Entries[0].Detail, err)
	}
}

func TestFleetCommandsFollowEveryPage(t *testing.T) {
	ts := newTestServer(t)
	ts.store.AddHost(store.Host{ID: 1, Hostname: "a"})
	ts.store.AddHost(store.Host{ID: 2, Hostname: "b"})
	for i := 1; i <= 25; i++ {
		ts.store.AddChange(store.Change{ID: int64(i), HostID: int64(1 + i%2), Kind: "software_installed",
			Subject: fmt.Sprintf("pkg%03d", i), NewValue: "1", FirstSeen: now.Add(time.Duration(i) * time.Minute)})
		if err := ts.store.AppendAudit(t.Context(), store.AuditEntry{At: now, Actor: "a", Action: "policy_deleted", Subject: fmt.Sprintf("p%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": token}
	for _, c := range []struct {
		args        []string
		first, last string
	}{
		{[]string{"changes", "list", "--limit", "10"}, "pkg025", "pkg001"},
		{[]string{"audit", "list", "--limit=10"}, "p25", "p1 "},
	} {
		before := ts.requests.Load()
		r := run(t, env, c.args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, r.code, r.stderr)
		}
		if got := ts.requests.Load() - before; got != 3 {
			t.Errorf("%v: %d requests, want 3 pages", c.args, got)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 26 || !strings.Contains(lines[1], c.first) || !strings.Contains(lines[25]+" ", c.last) {
			t.Errorf("%v: %d lines, want header + 25, newest first:\n%s", c.args, len(lines), r.stdout)
		}
	}
}

// TestFleetCommandsCSV checks that the list commands print CSV through
// the table writer, with their notes on stderr.
func TestFleetCommandsCSV(t *testing.T) {
	ts := newTestServer(t)
	ts.seedFleet(t)
	env := map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": token}
	for _, c := range []struct {
		args         []string
		first, other string
	}{
		{[]string{"changes", "list", "--host", "2"}, "TIME,HOST,KIND,SUBJECT,OLD,NEW\n", "2025-03-01T11:35:00Z,2,os_changed,platform,rocky,debian\n"},
		{[]string{"hosts", "policies", "2", "--status", "pass"}, "POLICY,SEVERITY,STATUS,SINCE,LAST CHECKED,EVIDENCE\n", `os-debian,low,pass,`},
		{[]string{"hosts", "inventory", "2"}, "SECTION,HASH,SIZE,ERROR\n", "os,9f86d081884c,61 B,-\n"},
		{[]string{"policies", "history", "os-debian", "--host", "2"}, "TIME,HOST_ID,FROM,TO,EVIDENCE\n", "2025-03-01T11:40:00Z,2,fail,pass,"},
		{[]string{"audit", "list", "--action", "alerting_reloaded"}, "ID,TIME,ACTOR,ACTION,SUBJECT,DETAIL\n", ",bob,alerting_reloaded,alerting.yaml,"},
		{[]string{"hosts", "label", "1"}, "KEY,VALUE\n", "env,prod\nteam,web\n"},
	} {
		r := run(t, env, append(c.args, "-o", "csv")...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, c.first) || !strings.Contains(r.stdout, c.other) {
			t.Errorf("%v -o csv: exit %d, stdout %q, stderr %q", c.args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestFleetCommandsErrors(t *testing.T) {
	ts := newTestServer(t)
	ts.seedFleet(t)
	env := map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": token}
	cases := []struct {
		name       string
		args       []string
		code       int
		wantStderr string
		wantNoCall bool
	}{
		{"label without ID", []string{"hosts", "label"}, ctl.ExitUsage, "hosts label takes at least 1 argument(s), got 0", true},
		{"label ID not a number", []string{"hosts", "label", "web-1", "a=b"}, ctl.ExitUsage, `host ID "web-1" is not a positive integer`, true},
		{"label not a pair", []string{"hosts", "label", "1", "env"}, ctl.ExitUsage, `label "env": want KEY=VALUE`, true},
		{"label empty key", []string{"hosts", "label", "1", "=x"}, ctl.ExitUsage, `label "=x": want KEY=VALUE`, true},
		{"label twice", []string{"hosts", "label", "1", "a=1", "a=2"}, ctl.ExitUsage, "label a given twice", true},
		{"label set and removed", []string{"hosts", "label", "1", "a=1", "--remove", "a"}, ctl.ExitUsage, "label a is both set and removed", true},
		{"label bad key", []string{"hosts", "label", "1", "bad key=1"}, ctl.ExitUsage, `label key "bad key"`, false},
		{"label unknown host", []string{"hosts", "label", "99", "a=1"}, ctl.ExitError, "host 99 not found (404 from GET /api/v1/hosts/99/labels)", false},
		{"policies of two hosts", []string{"hosts", "policies", "1", "2"}, ctl.ExitUsage, "hosts policies takes 1 argument(s), got 2", true},
		{"policies bad status", []string{"hosts", "policies", "1", "--status", "failed"}, ctl.ExitUsage, `--status "failed": want one of`, true},
		{"policies unknown host", []string{"hosts", "policies", "99"}, ctl.ExitError, "host 99 not found (404 from GET /api/v1/hosts/99/policies)", false},
		{"inventory without ID", []string{"hosts", "inventory"}, ctl.ExitUsage, "hosts inventory takes 1 argument(s), got 0", true},
		{"inventory bad ID", []string{"hosts", "inventory", "0"}, ctl.ExitUsage, `host ID "0" is not a positive integer`, true},
		{"inventory section with an error", []string{"hosts", "inventory", "1", "--section", "ports"}, ctl.ExitError, "host 1 did not report section ports: permission denied", false},
		{"inventory unknown section", []string{"hosts", "inventory", "1", "--section", "nope"}, ctl.ExitError, `host 1 has no section "nope"; it reported: os, cpu, memory, software, ports`, false},
		{"audit bad limit", []string{"audit", "list", "--limit", "0"}, ctl.ExitUsage, "--limit must be from 1 to 1000, got 0", true},
		{"audit unknown action", []string{"audit", "list", "--action", "nope"}, ctl.ExitError, `unknown action "nope"; actions are`, false},
		{"audit takes no arguments", []string{"audit", "list", "x"}, ctl.ExitUsage, "audit list takes 0 argument(s), got 1", true},
		{"changes bad since", []string{"changes", "list", "--since", "yesterday"}, ctl.ExitUsage, `--since: "yesterday" is neither`, true},
		{"changes bad host", []string{"changes", "list", "--host", "-3"}, ctl.ExitUsage, "--host -3 is not a positive integer", true},
		{"changes bad limit", []string{"changes", "list", "--limit", "1001"}, ctl.ExitUsage, "--limit must be from 1 to 1000, got 1001", true},
		{"changes unknown kind", []string{"changes", "list", "--kind", "pkg_added"}, ctl.ExitError, `unknown change kind "pkg_added"`, false},
		{"changes unknown host", []string{"changes", "list", "--host", "99"}, ctl.ExitError, "host 99 not found (404 from GET /api/v1/hosts/99/changes)", false},
		{"inventory section as csv", []string{"hosts", "inventory", "1", "--section", "os", "-o", "csv"}, ctl.ExitUsage, "--section prints JSON: use -o table or -o json", false},
		{"history without ID", []string{"policies", "history"}, ctl.ExitUsage, "policies history takes 1 argument(s), got 0", true},
		{"history bad since", []string{"policies", "history", "os-debian", "--since", "soon"}, ctl.ExitUsage, `--since: "soon" is neither`, true},
		{"history bad host", []string{"policies", "history", "os-debian", "--host", "-1"}, ctl.ExitUsage, "--host -1 is not a positive integer", true},
		{"history unknown policy", []string{"policies", "history", "nope"}, ctl.ExitError, "(404 from GET /api/v1/policies/nope/history)", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.requests.Load()
			r := run(t, env, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.wantStderr) || r.stdout != "" {
				t.Fatalf("exit %d, stderr %q, stdout %q; want exit %d, stderr with %q", r.code, r.stderr, r.stdout, tc.code, tc.wantStderr)
			}
			if calls := ts.requests.Load() - before; tc.wantNoCall && calls != 0 {
				t.Errorf("%d requests; a usage error should send none", calls)
			}
		})
	}
}
