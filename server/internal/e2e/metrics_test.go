package e2e

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMetricsPassPromtool scrapes a real server that has a real agent and
// lints the exposition with Prometheus's own promtool.
func TestMetricsPassPromtool(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install it with `apt-get install -y prometheus`")
	}
	s := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "steward.db"))
	s.startAgent(t, filepath.Join(t.TempDir(), "agent"))
	eventually(t, 60*time.Second, "an inventory counted", func() (bool, string) {
		v, _ := s.metric(t, `steward_agent_messages_received_total{type="inventory"}`)
		return v >= 1, ""
	})
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"steward_agents_connected", "steward_ingest_duration_seconds_bucket", "steward_build_info", "steward_enrollments_total"} {
		if !bytes.Contains(body, []byte(name)) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
