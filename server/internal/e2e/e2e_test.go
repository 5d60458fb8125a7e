package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/pgtest"
)

type hostsResponse struct {
	Hosts []struct {
		ID       int64  `json:"id"`
		Hostname string `json:"hostname"`
		OS       string `json:"os"`
		Online   bool   `json:"online"`
		LastSeen string `json:"last_seen"`
	} `json:"hosts"`
	NextCursor string `json:"next_cursor"`
}

type softwareResponse struct {
	Software []struct {
		Name     string `json:"name"`
		Version  string `json:"version"`
		Arch     string `json:"arch"`
		Source   string `json:"source"`
		HostID   int64  `json:"host_id"`
		Hostname string `json:"hostname"`
	} `json:"software"`
}

// dpkgVersion asks dpkg itself, the reference the agent must agree with.
func dpkgVersion(t *testing.T, pkg string) string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", pkg).Output()
	if err != nil {
		t.Fatalf("dpkg-query -W %s: %v (this test needs a Debian machine with %s installed)", pkg, err, pkg)
	}
	return strings.TrimSpace(string(out))
}

func TestAgentToAPI(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "steward.db") },
		"postgres": func(t *testing.T) string { return pgtest.NewDatabase(t) },
	}
	for name, db := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			agentToAPI(t, db(t))
		})
	}
}

func agentToAPI(t *testing.T, db string) {
	want := dpkgVersion(t, "bash")
	hostname, _ := os.Hostname()
	s := startServer(t, db)
	stateDir := filepath.Join(t.TempDir(), "agent")
	agent := s.startAgent(t, stateDir)

	var hosts hostsResponse
	eventually(t, 60*time.Second, "the host online in the API", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		return len(hosts.Hosts) == 1 && hosts.Hosts[0].Online, agent.Output()
	})
	h := hosts.Hosts[0]
	if h.Hostname != hostname || h.OS != "linux" {
		t.Errorf("host %+v, want hostname %q os linux", h, hostname)
	}

	var sw softwareResponse
	eventually(t, 30*time.Second, "bash in the software search", func() (bool, string) {
		s.get(t, "/api/v1/software?name=bash&match=exact", &sw)
		return len(sw.Software) > 0, ""
	})
	if len(sw.Software) != 1 || sw.Software[0].Version != want || sw.Software[0].Source != "dpkg" || sw.Software[0].HostID != h.ID {
		t.Errorf("software search bash = %+v, want one dpkg hit with version %s on host %d", sw.Software, want, h.ID)
	}

	var inv struct {
		Sections map[string]json.RawMessage `json:"sections"`
	}
	if code := s.get(t, "/api/v1/hosts/"+itoa(h.ID)+"/inventory", &inv); code != 200 {
		t.Fatalf("inventory: HTTP %d", code)
	}
	for _, sec := range []string{"host", "os", "cpu", "memory", "disks", "network", "software"} {
		if len(inv.Sections[sec]) < 3 {
			t.Errorf("inventory section %s missing or empty: %s", sec, inv.Sections[sec])
		}
	}

	// The CLI, as a user runs it.
	if out := s.ctl(t, "hosts", "list"); !strings.Contains(out, hostname) || !strings.Contains(out, "yes") && !strings.Contains(out, "true") {
		t.Errorf("stewardctl hosts list does not show %s online:\n%s", hostname, out)
	}
	if out := s.ctl(t, "software", "search", "bash"); !strings.Contains(out, want) || !strings.Contains(out, hostname) {
		t.Errorf("stewardctl software search bash lacks %s on %s:\n%s", want, hostname, out)
	}
	// The real agent's first inventory is the baseline of its history.
	if out := s.ctl(t, "hosts", "changes", itoa(h.ID)); !strings.Contains(out, "first_inventory") || strings.Contains(out, "software_installed") {
		t.Errorf("stewardctl hosts changes after the first inventory:\n%s", out)
	}
	var ctlJSON hostsResponse
	if err := json.Unmarshal([]byte(s.ctl(t, "-o", "json", "hosts", "list")), &ctlJSON); err != nil || len(ctlJSON.Hosts) != 1 {
		t.Errorf("stewardctl -o json hosts list: %v %+v", err, ctlJSON)
	}

	if v, ok := s.metric(t, "steward_agents_connected"); !ok || v != 1 {
		t.Errorf("steward_agents_connected = %v (found %v), want 1", v, ok)
	}
	if v, _ := s.metric(t, `steward_agent_messages_received_total{type="inventory"}`); v < 1 {
		t.Errorf("no inventory message counted")
	}

	// Wrong credentials are refused and store nothing.
	if code := s.getWithToken(t, "/api/v1/hosts", "not-the-token", nil); code != 401 {
		t.Errorf("API with a wrong token: HTTP %d, want 401", code)
	}
	resp, err := http.Post(s.url+"/agent/v1/enroll", "application/json", strings.NewReader(`{"enroll_secret":"wrong","hostname":"intruder"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("enroll with a wrong secret: HTTP %d, want 401", resp.StatusCode)
	}

	// The node key survives a restart: no second enrollment, no second host.
	keyInfo, err := os.Stat(filepath.Join(stateDir, "node_key"))
	if err != nil {
		t.Fatal(err)
	}
	if keyInfo.Mode().Perm() != 0o600 {
		t.Errorf("node_key mode %v, want 0600", keyInfo.Mode().Perm())
	}
	if err := agent.stop(t); err != nil {
		t.Errorf("agent exit on SIGTERM: %v", err)
	}
	eventually(t, 30*time.Second, "the host offline after the agent stopped", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		return len(hosts.Hosts) == 1 && !hosts.Hosts[0].Online, ""
	})
	agent = s.startAgent(t, stateDir)
	eventually(t, 60*time.Second, "the restarted agent online again", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		return len(hosts.Hosts) == 1 && hosts.Hosts[0].Online, agent.Output()
	})
	if hosts.Hosts[0].ID != h.ID {
		t.Errorf("restarted agent is host %d, was %d: it enrolled again", hosts.Hosts[0].ID, h.ID)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("server exit on SIGTERM: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
