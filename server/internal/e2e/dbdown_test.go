package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/pgtest"
)

// TestServeRefusesUnreachableDatabase: a database that is down at start
// makes serve exit with status 1 and a message that says so.
func TestServeRefusesUnreachableDatabase(t *testing.T) {
	t.Parallel()
	dead := "postgres://steward:secret@" + freeAddr(t) + "/steward?sslmode=disable&connect_timeout=2"
	p := start(t, "steward-server", "serve", "--listen", freeAddr(t), "--db", dead, "--data-dir", t.TempDir())
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatal("serve kept running with an unreachable database")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	out := p.Output()
	if !strings.Contains(out, "open database") || !strings.Contains(out, "xxxxx") {
		t.Errorf("message does not name the database (with its password hidden):\n%s", out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("password leaked into the output:\n%s", out)
	}
}

// TestDatabaseGoesAway stops PostgreSQL under a running server and agent,
// then brings it back: /readyz fails meanwhile, the agent is told to back
// off, and afterwards it reconnects and reports again without a restart.
func TestDatabaseGoesAway(t *testing.T) {
	t.Parallel()
	cluster := pgtest.NewCluster(t)
	db := cluster.NewDatabase(t)
	conf := filepath.Join(t.TempDir(), "server.yaml")
	os.WriteFile(conf, []byte("agent:\n  heartbeat_interval: 1s\nmetrics:\n  fleet_interval: 1s\n"), 0o600)
	s := startServer(t, db, "--config", conf)
	agent := s.startAgent(t, filepath.Join(t.TempDir(), "agent"))

	var hosts hostsResponse
	eventually(t, 60*time.Second, "the host online", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		return len(hosts.Hosts) == 1 && hosts.Hosts[0].Online, ""
	})

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "/readyz to fail", func() (bool, string) {
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			t.Fatalf("server died with its database: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable, resp.Status
	})
	// The fleet loop's next ping fails: steward_store_up says so, and the
	// failed pings count as errors of the Ping operation.
	eventually(t, 30*time.Second, "steward_store_up 0", func() (bool, string) {
		v, ok := s.metric(t, "steward_store_up")
		return ok && v == 0, fmt.Sprint(v)
	})
	if v, _ := s.metric(t, `steward_store_operation_errors_total{operation="Ping"}`); v < 1 {
		t.Errorf(`steward_store_operation_errors_total{operation="Ping"} = %v with the database down, want at least 1`, v)
	}
	eventually(t, 30*time.Second, "the agent to be told to back off", func() (bool, string) {
		out := agent.Output()
		return strings.Contains(out, "unavailable"), ""
	})
	if code := s.get(t, "/api/v1/hosts", nil); code != http.StatusServiceUnavailable {
		t.Errorf("API with the database down: HTTP %d, want 503", code)
	}
	if s.exited() {
		t.Fatalf("server exited while its database was down:\n%s", s.Output())
	}

	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "/readyz to recover", func() (bool, string) {
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	eventually(t, 30*time.Second, "steward_store_up 1 again", func() (bool, string) {
		v, ok := s.metric(t, "steward_store_up")
		return ok && v == 1, fmt.Sprint(v)
	})
	before := hosts.Hosts[0].LastSeen
	// The agent waits out the server's retry hint (30 s by default) before
	// reconnecting, so this bound is generous.
	eventually(t, 120*time.Second, "the agent back online, reporting again", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		return len(hosts.Hosts) == 1 && hosts.Hosts[0].Online && hosts.Hosts[0].LastSeen != before, hosts.Hosts[0].LastSeen
	})
}
