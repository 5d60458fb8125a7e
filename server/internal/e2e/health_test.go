package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/pgtest"
)

// TestAgentHealthMetrics runs a real agent against a real server whose
// welcome asks for a heartbeat every second: the agent's heartbeats carry
// its health, and /metrics shows it summed over the fleet (a collection,
// an evaluation, the check that ended in error because the agent does not
// allow commands). After a server restart the agent reports its reconnect
// to the new process.
func TestAgentHealthMetrics(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "steward.db") },
		"postgres": func(t *testing.T) string { return pgtest.NewDatabase(t) },
	}
	for name, db := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			agentHealthMetrics(t, db(t))
		})
	}
}

func agentHealthMetrics(t *testing.T, db string) {
	dir := t.TempDir()
	config := filepath.Join(dir, "steward.yaml")
	writeFile(t, config, "agent:\n  heartbeat_interval: 1s\n")
	s := startServer(t, db, "--config", config)
	agent := s.startAgent(t, filepath.Join(dir, "agent"))

	atLeast := func(series string, min float64) func() (bool, string) {
		return func() (bool, string) {
			v, ok := s.metric(t, series)
			return ok && v >= min, fmt.Sprintf("%s = %v (exported: %v)\n%s", series, v, ok, agent.Output())
		}
	}
	eventually(t, 60*time.Second, "a health report", atLeast("steward_agent_health_reports_total", 1))
	eventually(t, 60*time.Second, "an inventory scan reported", atLeast(`steward_agent_scan_duration_seconds_count{kind="inventory"}`, 1))
	if v, _ := s.metric(t, `steward_agent_scan_duration_seconds_sum{kind="inventory"}`); v <= 0 {
		t.Errorf("inventory scans took %v s in total, want more than 0", v)
	}

	// A command leaf on an agent that does not allow commands ends in
	// error: the evaluation and its check error reach the server.
	file := filepath.Join(dir, "policies.yaml")
	writeFile(t, file, `policies:
  - id: uptime-runs
    title: uptime runs
    severity: low
    check:
      command: {run: [uptime]}
`)
	s.ctl(t, "policies", "apply", "-f", file)
	eventually(t, 60*time.Second, "a policy scan reported", atLeast(`steward_agent_scan_duration_seconds_count{kind="policy"}`, 1))
	eventually(t, 60*time.Second, "the check error reported", atLeast("steward_agent_check_errors_total", 1))

	// The new server process counts from zero: the agent's first
	// heartbeat to it reports the reconnect.
	s.restart(t)
	eventually(t, 60*time.Second, "the reconnect reported", atLeast("steward_agent_reconnects_total", 1))
	if v, ok := s.metric(t, "steward_agent_spooled_messages"); !ok || v < 0 {
		t.Errorf("steward_agent_spooled_messages = %v (exported: %v), want a level of at least 0", v, ok)
	}
	if err := agent.stop(t); err != nil {
		t.Errorf("agent did not exit cleanly: %v", err)
	}
	// With the agent gone, its share of the spool gauge is gone too.
	eventually(t, 30*time.Second, "no agent connected", func() (bool, string) {
		c, _ := s.metric(t, "steward_agents_connected")
		v, _ := s.metric(t, "steward_agent_spooled_messages")
		return c == 0 && v == 0, fmt.Sprintf("connected %v, spooled %v", c, v)
	})
}
