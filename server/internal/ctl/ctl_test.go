package ctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/api/apitest"
	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/ctl"
	"github.com/steward-project/steward/server/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const token = "ctl-test-token"

// testServer is the real API over a fake store, counting requests.
type testServer struct {
	*httptest.Server
	store    *apitest.Store
	requests atomic.Int64
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ts := &testServer{store: apitest.NewStore()}
	ts.store.AddToken(token)
	h := api.New(api.Config{Store: ts.store, Now: func() time.Time { return now }})
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// seed stores three hosts, one with a full inventory, and some software.
func (ts *testServer) seed() {
	ts.store.AddHost(store.Host{ID: 1, Hostname: "web-1", OS: "linux", Platform: "debian", OSVersion: "12.5",
		Arch: "amd64", AgentVersion: "0.1.0", EnrolledAt: now.Add(-48 * time.Hour),
		ConnectedAt: now.Add(-time.Hour), LastSeen: now.Add(-20 * time.Second),
		HardwareUUID: "4c4c4544-0042-3510-8052-b4c04f4d4a32", MachineID: "0123456789abcdef0123456789abcdef",
		Serial: "CN0ABC123", PossibleDuplicates: []int64{4}})
	ts.store.AddHost(store.Host{ID: 4, Hostname: "web-1-clone", OS: "linux", Platform: "debian", OSVersion: "12.5",
		Arch: "amd64", AgentVersion: "0.1.0", EnrolledAt: now.Add(-2 * time.Hour),
		HardwareUUID: "4c4c4544-0042-3510-8052-b4c04f4d4a32", PossibleDuplicates: []int64{1}})
	ts.store.AddHost(store.Host{ID: 2, Hostname: "db-1", OS: "linux", Platform: "rocky", OSVersion: "9.3",
		Arch: "arm64", AgentVersion: "0.1.0", EnrolledAt: now.Add(-24 * time.Hour),
		ConnectedAt: now.Add(-3 * time.Hour), DisconnectedAt: now.Add(-2 * time.Hour), LastSeen: now.Add(-2 * time.Hour)})
	ts.store.AddHost(store.Host{ID: 3, Hostname: "laptop-7", OS: "windows", EnrolledAt: now.Add(-time.Hour)})
	ts.store.SetInventory(store.InventoryDoc{
		HostID:      1,
		CollectedAt: now.Add(-30 * time.Minute),
		Sections: map[string]json.RawMessage{
			"os":       json.RawMessage(`{"arch":"amd64","kernel":"6.1.0-18-amd64","name":"Debian GNU/Linux 12 (bookworm)","platform":"debian","version":"12.5"}`),
			"cpu":      json.RawMessage(`{"cores":4,"model":"Intel(R) Xeon(R) Gold 6230","sockets":1,"threads":8}`),
			"memory":   json.RawMessage(`{"swap_bytes":1073741824,"total_bytes":17179869184}`),
			"software": json.RawMessage(`{"packages":[{"name":"openssl","source":"dpkg","version":"3.0.11"},{"name":"curl","source":"dpkg","version":"7.88.1"}]}`),
		},
		Hashes: map[string]string{"os": "h1", "cpu": "h2", "memory": "h3", "software": "h4"},
		Errors: map[string]string{"ports": "permission denied"},
	})
	for i, c := range []store.Change{
		{Kind: "first_inventory", FirstSeen: now.Add(-47 * time.Hour), Seq: 1},
		{Kind: "software_installed", Subject: "htop", NewValue: "3.2.2-2", Details: json.RawMessage(`{"arch":"amd64","source":"dpkg"}`), FirstSeen: now.Add(-30 * time.Hour), Seq: 12},
		{Kind: "software_upgraded", Subject: "openssl", OldValue: "3.0.11-1~deb12u2", NewValue: "3.0.13-1~deb12u1", Details: json.RawMessage(`{"arch":"amd64","source":"dpkg"}`), FirstSeen: now.Add(-3 * time.Hour), Seq: 40},
		{Kind: "software_removed", Subject: "curl", OldValue: "7.88.1-10+deb12u5", Details: json.RawMessage(`{"arch":"amd64","source":"dpkg"}`), FirstSeen: now.Add(-3 * time.Hour), Seq: 40},
		{Kind: "port_opened", Subject: "tcp/80", NewValue: "[::]:80 nginx", FirstSeen: now.Add(-2 * time.Hour), Seq: 41},
		{Kind: "admin_added", Subject: "mallory", FirstSeen: now.Add(-time.Hour), Seq: 42},
	} {
		c.ID, c.HostID = int64(i+1), 1
		ts.store.AddChange(c)
	}
	ts.store.AddSoftware(store.SoftwareHit{SoftwareID: 10, Name: "openssl", Version: "3.0.11", Arch: "amd64", Source: "dpkg", HostID: 1, Hostname: "web-1"})
	ts.store.AddSoftware(store.SoftwareHit{SoftwareID: 11, Name: "openssl", Version: "3.0.7", Arch: "aarch64", Source: "rpm", HostID: 2, Hostname: "db-1"})
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs stewardctl with env as its whole environment.
func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := ctl.Run(context.Background(), args, ctl.Env{
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string { return env[k] },
		Now:    func() time.Time { return now },
	})
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestCommandsOutput(t *testing.T) {
	ts := newTestServer(t)
	ts.seed()
	cases := []struct {
		name   string
		args   []string
		golden string
	}{
		{"hosts list table", []string{"hosts", "list"}, "hosts_list.txt"},
		{"hosts list json", []string{"hosts", "list", "-o", "json"}, "hosts_list.json"},
		{"hosts show table", []string{"hosts", "show", "1"}, "hosts_show.txt"},
		{"hosts show without inventory", []string{"hosts", "show", "3"}, "hosts_show_empty.txt"},
		{"hosts show json", []string{"-o", "json", "hosts", "show", "1"}, "hosts_show.json"},
		{"hosts changes table", []string{"hosts", "changes", "1"}, "hosts_changes.txt"},
		{"hosts changes json", []string{"hosts", "changes", "1", "-o", "json"}, "hosts_changes.json"},
		{"hosts changes filtered", []string{"hosts", "changes", "--kind", "software_installed", "--kind=software_upgraded", "1", "--since", "1d"}, "hosts_changes_filtered.txt"},
		{"hosts changes until", []string{"hosts", "changes", "1", "--since", "2025-02-27T00:00:00Z", "--until", "90m", "--subject", "tcp/80"}, "hosts_changes_until.txt"},
		{"hosts changes none", []string{"hosts", "changes", "3"}, "hosts_changes_none.txt"},
		{"hosts show duplicate", []string{"hosts", "show", "4"}, "hosts_show_duplicate.txt"},
		{"software search table", []string{"software", "search", "openssl"}, "software_search.txt"},
		{"software search json", []string{"software", "search", "--output=json", "openssl"}, "software_search.json"},
		{"software search version", []string{"software", "search", "openssl", "--version", "3.0.7"}, "software_search_version.txt"},
		{"software search no match", []string{"software", "search", "nothing"}, "software_search_none.txt"},
		{"software search prefix", []string{"software", "search", "OPEN"}, "software_search_prefix.txt"},
		{"software search glob range", []string{"software", "search", "*SSL", "--version", ">=3.0.0 <3.0.11"}, "software_search_glob_range.txt"},
		{"software search exact", []string{"software", "search", "--exact", "OPENSSL"}, "software_search_none.txt"},
		{"software versions table", []string{"software", "versions", "openssl", "--exact"}, "software_versions.txt"},
		{"software versions json", []string{"software", "versions", "-o", "json", "open", "--version", "<3.0.8"}, "software_versions.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--server", ts.URL, "--token", token}, tc.args...)
			r := run(t, nil, args...)
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

func TestHostsListFollowsEveryPage(t *testing.T) {
	ts := newTestServer(t)
	for i := 1; i <= 250; i++ {
		ts.store.AddHost(store.Host{ID: int64(i), Hostname: fmt.Sprintf("h%03d", i), OS: "linux", EnrolledAt: now})
	}
	env := map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": token}

	t.Run("json merges pages", func(t *testing.T) {
		before := ts.requests.Load()
		r := run(t, env, "hosts", "list", "--limit", "100", "-o", "json")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if got := ts.requests.Load() - before; got != 3 {
			t.Errorf("%d requests, want 3 pages", got)
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatal(err)
		}
		if _, ok := out["next_cursor"]; ok || len(out) != 1 {
			t.Errorf("merged output keys: want only hosts, got %d keys", len(out))
		}
		var hosts []apitypes.Host
		if err := json.Unmarshal(out["hosts"], &hosts); err != nil {
			t.Fatal(err)
		}
		if len(hosts) != 250 {
			t.Fatalf("%d hosts, want 250", len(hosts))
		}
		for i, h := range hosts {
			if h.ID != int64(i+1) {
				t.Fatalf("host %d has id %d: pages overlap or skip", i, h.ID)
			}
		}
	})
	t.Run("table has every host once", func(t *testing.T) {
		r := run(t, env, "hosts", "list", "--limit=7")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) != 251 {
			t.Fatalf("exit %d, %d lines, want header + 250", r.code, len(lines))
		}
		if !strings.HasPrefix(lines[250], "250 ") {
			t.Errorf("last line %q", lines[250])
		}
	})
}

func TestHostsChangesFollowsEveryPage(t *testing.T) {
	ts := newTestServer(t)
	ts.store.AddHost(store.Host{ID: 1, Hostname: "h"})
	for i := 1; i <= 250; i++ {
		ts.store.AddChange(store.Change{ID: int64(i), HostID: 1, Kind: "software_installed",
			Subject: fmt.Sprintf("pkg%03d", i), NewValue: "1", FirstSeen: now.Add(time.Duration(i) * time.Minute)})
	}
	env := map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": token}
	before := ts.requests.Load()
	r := run(t, env, "hosts", "changes", "1", "--limit", "100")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := ts.requests.Load() - before; got != 3 {
		t.Errorf("%d requests, want 3 pages", got)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 251 || !strings.Contains(lines[1], "pkg250") || !strings.Contains(lines[250], "pkg001") {
		t.Errorf("%d lines, first %q, last %q; want header + 250, newest first", len(lines), lines[1], lines[len(lines)-1])
	}
}
