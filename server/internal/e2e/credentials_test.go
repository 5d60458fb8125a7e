package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/pgtest"
)

// ctlAs runs stewardctl with token and returns stdout, stderr and the exit
// code, without failing the test.
func (s *server) ctlAs(t *testing.T, token string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin("stewardctl"), args...)
	cmd.Env = append(os.Environ(), "STEWARD_SERVER="+s.url, "STEWARD_TOKEN="+token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("stewardctl %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), code
}

// lastLine is the secret a create command prints last.
func lastLine(s string) string {
	lines := strings.Fields(s)
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}

// allHosts lists hosts (retired ones too), keyed by id.
func (s *server) allHosts(t *testing.T) map[int64]apitypes.Host {
	t.Helper()
	var list apitypes.HostList
	if code := s.get(t, "/api/v1/hosts?retired=true&limit=1000", &list); code != 200 {
		t.Fatalf("list hosts: %d", code)
	}
	out := map[int64]apitypes.Host{}
	for _, h := range list.Hosts {
		out[h.ID] = h
	}
	return out
}

func readHostID(t *testing.T, stateDir string) int64 {
	t.Helper()
	var st struct {
		HostID int64 `json:"host_id"`
	}
	eventually(t, 60*time.Second, "agent enrolled", func() (bool, string) {
		b, err := os.ReadFile(filepath.Join(stateDir, "state.json"))
		if err != nil {
			return false, err.Error()
		}
		if err := json.Unmarshal(b, &st); err != nil {
			return false, err.Error()
		}
		return st.HostID > 0, string(b)
	})
	return st.HostID
}

// TestCredentialLifecycle drives tokens, enroll secrets and host
// retirement through the real stewardctl against a real server with real
// agents, on both stores.
func TestCredentialLifecycle(t *testing.T) {
	for name, db := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "steward.db") },
		"postgres": func(t *testing.T) string { return pgtest.NewDatabase(t) },
	} {
		t.Run(name, func(t *testing.T) { testCredentialLifecycle(t, db(t)) })
	}
}

func testCredentialLifecycle(t *testing.T, db string) {
	conf := filepath.Join(t.TempDir(), "server.yaml")
	if err := os.WriteFile(conf, []byte("agent:\n  heartbeat_interval: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, db, "--config", conf)

	// Tokens: a viewer reads and is refused changes and credentials; a
	// revoked token stops working at once.
	out, _, code := s.ctlAs(t, s.token, "tokens", "create", "grafana", "--role", "viewer", "--expires", "30d")
	viewer := lastLine(out)
	if code != 0 || len(viewer) < 32 || !strings.Contains(out, "viewer") {
		t.Fatalf("tokens create: code %d\n%s", code, out)
	}
	if out, errOut, code := s.ctlAs(t, viewer, "hosts", "list"); code != 0 {
		t.Errorf("viewer hosts list: %d %s %s", code, out, errOut)
	}
	if _, errOut, code := s.ctlAs(t, viewer, "tokens", "list"); code == 0 || !strings.Contains(errOut, "403") && !strings.Contains(errOut, "viewer") {
		t.Errorf("viewer tokens list: code %d, stderr %q; want refused", code, errOut)
	}
	out, _, _ = s.ctlAs(t, s.token, "tokens", "create", "temp")
	temp := lastLine(out)
	if code := s.getWithToken(t, "/api/v1/hosts", temp, nil); code != 200 {
		t.Fatalf("new admin token: %d", code)
	}
	s.ctl(t, "tokens", "revoke", "temp")
	if code := s.getWithToken(t, "/api/v1/hosts", temp, nil); code != 401 {
		t.Errorf("revoked token: %d, want 401", code)
	}
	list := s.ctl(t, "tokens", "list")
	if !strings.Contains(list, "grafana") || !strings.Contains(list, "bootstrap") || strings.Contains(list, "temp") ||
		strings.Contains(list, viewer) {
		t.Errorf("tokens list:\n%s", list)
	}
	if _, errOut, code := s.ctlAs(t, s.token, "tokens", "create", "far", "--expires", "2099-01-01"); code == 0 || !strings.Contains(errOut, "--force") {
		t.Errorf("expiry past a year without --force: code %d, %q", code, errOut)
	}

	// The offline command makes a working token in the same database.
	cmd := exec.Command(bin("steward-server"), "token", "create", "rescue", "--db", db, "--data-dir", s.dataDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("steward-server token create: %v\n%s", err, stderr.String())
	}
	if code := s.getWithToken(t, "/api/v1/tokens", strings.TrimSpace(string(raw)), nil); code != 200 {
		t.Errorf("offline token: %d, want 200", code)
	}

	// Enroll secrets: a 1-use secret enrolls one host and refuses the next.
	out = s.ctl(t, "enroll-secrets", "create", "lab", "--max-uses", "1")
	labFile := filepath.Join(t.TempDir(), "lab-secret")
	if err := os.WriteFile(labFile, []byte(lastLine(out)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stateA, stateB, stateC := t.TempDir(), t.TempDir(), t.TempDir()
	agentA := s.startAgent(t, stateA)
	agentB := start(t, "steward-agent", "run", "--server", s.url, "--enroll-secret-file", labFile, "--state-dir", stateB, "--log-level", "debug")
	hostA, hostB := readHostID(t, stateA), readHostID(t, stateB)
	agentC := start(t, "steward-agent", "run", "--server", s.url, "--enroll-secret-file", labFile, "--state-dir", stateC, "--log-level", "debug")
	eventually(t, 60*time.Second, "third agent refused by the used-up secret", func() (bool, string) {
		return strings.Contains(agentC.Output(), "enroll secret refused"), agentC.Output()
	})
	eventually(t, 60*time.Second, "two agents connected", func() (bool, string) {
		v, _ := s.metric(t, "steward_agents_connected")
		return v == 2, fmt.Sprint(v)
	})
	secrets := s.ctl(t, "enroll-secrets", "list")
	if !strings.Contains(secrets, "lab") || !strings.Contains(secrets, "1/1") {
		t.Errorf("enroll-secrets list:\n%s", secrets)
	}
	// Revoking the secret leaves the host it enrolled connected.
	s.ctl(t, "enroll-secrets", "revoke", "lab")
	connectedB := s.allHosts(t)[hostB].LastSeen
	eventually(t, 90*time.Second, "host B still reporting after its secret was revoked", func() (bool, string) {
		h := s.allHosts(t)[hostB]
		return h.Online && h.LastSeen.After(connectedB), fmt.Sprintf("%+v", h)
	})

	// Retirement: the socket closes within 60 s, the host leaves the
	// list, and its key neither reconnects nor enrolls.
	s.ctl(t, "hosts", "retire", fmt.Sprint(hostA))
	eventually(t, 60*time.Second, "retired host's socket closed", func() (bool, string) {
		v, _ := s.metric(t, "steward_agents_connected")
		return v == 1, fmt.Sprint(v)
	})
	var live apitypes.HostList
	s.get(t, "/api/v1/hosts", &live)
	for _, h := range live.Hosts {
		if h.ID == hostA {
			t.Errorf("retired host %d still listed", hostA)
		}
	}
	key, err := os.ReadFile(filepath.Join(stateA, "node_key"))
	if err != nil {
		t.Fatal(err)
	}
	wsURL := "ws" + strings.TrimPrefix(s.url, "http") + "/agent/v1/ws"
	_, resp, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Authorization": {"Bearer " + strings.TrimSpace(string(key))}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("retired key dial: %v, %v; want 403", err, resp)
	}
	body, _ := json.Marshal(map[string]string{"enroll_secret": strings.TrimSpace(string(key)), "hostname": "x"})
	r, err := http.Post(s.url+"/agent/v1/enroll", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized {
		t.Errorf("enroll with the retired key: %d, want 401", r.StatusCode)
	}
	eventually(t, 60*time.Second, "retired agent told why", func() (bool, string) {
		return strings.Contains(agentA.Output(), "retired"), agentA.Output()
	})

	// Deletion purges the host; its agent cannot enroll again because its
	// secret is revoked.
	s.ctl(t, "hosts", "delete", fmt.Sprint(hostB))
	if code := s.get(t, fmt.Sprintf("/api/v1/hosts/%d", hostB), nil); code != 404 {
		t.Errorf("deleted host: %d, want 404", code)
	}
	eventually(t, 60*time.Second, "deleted host's socket closed", func() (bool, string) {
		v, _ := s.metric(t, "steward_agents_connected")
		return v == 0, fmt.Sprint(v)
	})
	hosts := s.allHosts(t)
	if len(hosts) != 1 || hosts[hostA].RetiredAt.IsZero() {
		t.Errorf("hosts after retire and delete: %+v; want only the retired one (no re-enrollment)", hosts)
	}
	_ = agentB

	// Everything above is in the audit log, by name.
	var audit struct {
		Entries []struct{ Action, Actor, Subject string } `json:"entries"`
	}
	if code := s.get(t, "/api/v1/audit?limit=100", &audit); code != 200 {
		t.Fatalf("audit: %d", code)
	}
	var got []string
	for _, e := range audit.Entries {
		got = append(got, e.Action)
	}
	for _, want := range []string{"token_created", "token_revoked", "enroll_secret_created", "enroll_secret_revoked", "host_retired", "host_deleted"} {
		if !slices.Contains(got, want) {
			t.Errorf("audit has no %s: %q", want, got)
		}
	}
}
