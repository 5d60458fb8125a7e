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
	dir := t.TempDir()
	config := filepath.Join(dir, "steward.yaml")
	writeFile(t, config, "metrics:\n  fleet_interval: 1s\n")
	s := startServer(t, "sqlite://"+filepath.Join(dir, "steward.db"), "--config", config)
	s.startAgent(t, filepath.Join(dir, "agent"))
	eventually(t, 60*time.Second, "an inventory counted", func() (bool, string) {
		v, _ := s.metric(t, `steward_agent_messages_received_total{type="inventory"}`)
		return v >= 1, ""
	})
	var body []byte
	// The fleet gauges come from the store every fleet_interval: the
	// agent's host shows as online, with the OS its inventory reported.
	eventually(t, 30*time.Second, "the host in steward_hosts", func() (bool, string) {
		resp, err := http.Get(s.url + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return bytes.Contains(body, []byte(`steward_hosts{online="true",os="linux",`)), ""
	})
	for _, name := range []string{"steward_agents_connected", "steward_ingest_duration_seconds_bucket", "steward_build_info",
		"steward_enrollments_total", "steward_agent_versions",
		`steward_db_connections{state="idle"}`, `steward_db_connections{state="in_use"}`, "steward_db_max_connections",
		`steward_inventory_changes_total{kind="software_installed"}`} {
		if !bytes.Contains(body, []byte(name)) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// The operator series: the inventory went through the measured store
	// (ApplyBatch) and recorded the host's first inventory; the store
	// answered the fleet loop's ping.
	for _, c := range []struct {
		series  string
		atLeast float64
	}{
		{`steward_store_operation_duration_seconds_count{operation="ApplyBatch"}`, 1},
		{`steward_agent_message_bytes_total{type="inventory"}`, 1},
		{`steward_inventory_changes_total{kind="first_inventory"}`, 1},
		{"steward_store_up", 1}, // 0 or 1: at least 1 is up
	} {
		if v, ok := s.metric(t, c.series); !ok || v < c.atLeast {
			t.Errorf("%s = %v (present: %v), want at least %v", c.series, v, ok, c.atLeast)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetricsToken: with metrics.token set (here from an environment
// variable), a scrape without the bearer token is refused and one with it
// is served.
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "steward.yaml")
	writeFile(t, config, "metrics:\n  token: {env: STEWARD_TEST_METRICS_TOKEN}\n")
	s := startServerEnv(t, []string{"STEWARD_TEST_METRICS_TOKEN=scrape-me-7f3a"}, "sqlite://"+filepath.Join(dir, "steward.db"), "--config", config)
	scrape := func(auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, s.url+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := scrape(""); code != http.StatusUnauthorized || strings.Contains(body, "steward_") {
		t.Errorf("scrape without token: %d %.200q, want 401 and no metrics", code, body)
	}
	if code, _ := scrape("Bearer wrong"); code != http.StatusUnauthorized {
		t.Errorf("scrape with a wrong token: %d, want 401", code)
	}
	if code, body := scrape("Bearer scrape-me-7f3a"); code != http.StatusOK || !strings.Contains(body, "steward_build_info") {
		t.Errorf("scrape with the token: %d %.200q", code, body)
	}
	if strings.Contains(s.Output(), "scrape-me-7f3a") {
		t.Error("the metrics token appears in the server's output")
	}
}
