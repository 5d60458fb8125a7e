package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestAgentsLeaveRoomForAdmins runs a server capped at 40 connections, 10
// of them kept from agents. Thirty agents fill their share; the next one
// is answered 503 with Retry-After and its connection closed, each of
// ten times it tries, while an
// administrator still lists hosts and applies a policy. When an agent
// leaves, the waiting one gets in.
func TestAgentsLeaveRoomForAdmins(t *testing.T) {
	s := startEdgeServer(t, 0, "limits:\n  max_connections: 40\n  api_reserve: 10\n")
	if v, ok := s.metric(t, "steward_http_max_connections"); !ok || v != 40 {
		t.Fatalf("steward_http_max_connections = %v (found %v), want 40", v, ok)
	}
	keys := make([]string, 31)
	for i := range keys {
		keys[i] = enrollKey(t, s, fmt.Sprintf("share-%d", i))
	}
	agents := make([]*agentConn, 30)
	for i := range agents {
		agents[i] = dialAgent(t, s, keys[i], fmt.Sprintf("share-%d", i))
	}
	if v, _ := s.metric(t, "steward_agents_connected"); v != 30 {
		t.Fatalf("steward_agents_connected = %v, want 30", v)
	}

	url := "ws" + strings.TrimPrefix(s.url, "http") + "/agent/v1/ws"
	d := websocket.Dialer{HandshakeTimeout: hangGuard}
	hdr := http.Header{"Authorization": {"Bearer " + keys[30]}}
	// Ten tries of the 31st agent: each is refused and its connection
	// closed, so none of them holds a place under the cap.
	for range 10 {
		ws, resp, err := d.Dial(url, hdr)
		if err == nil {
			ws.Close()
			t.Fatal("the 31st agent connected over a share of 30")
		}
		if resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !resp.Close {
			t.Fatalf("31st agent: %v (%v), want 503 with Retry-After and Connection: close", resp, err)
		}
	}
	if v, _ := s.metric(t, `steward_http_refused_total{reason="agent_cap"}`); v != 10 {
		t.Errorf(`steward_http_refused_total{reason="agent_cap"} = %v, want 10`, v)
	}

	// The administrator is not refused.
	var hosts struct {
		Hosts []struct {
			ID int64 `json:"id"`
		} `json:"hosts"`
	}
	if code := s.get(t, "/api/v1/hosts?limit=1000", &hosts); code != http.StatusOK || len(hosts.Hosts) != 31 {
		t.Fatalf("GET /api/v1/hosts with agents at their share: HTTP %d, %d hosts", code, len(hosts.Hosts))
	}
	file := filepath.Join(t.TempDir(), "policies.yaml")
	writeFile(t, file, `policies:
  - id: full-fleet
    title: Applied with the agents' share full
    severity: low
    check:
      expr: "true"
`)
	s.ctl(t, "policies", "apply", "-f", file)
	if out := s.ctl(t, "policies", "list"); !strings.Contains(out, "full-fleet") {
		t.Errorf("stewardctl policies list after the apply:\n%s", out)
	}

	// One agent leaves; the 31st gets in on a retry.
	agents[0].ws.Close()
	eventually(t, 30*time.Second, "the 31st agent connected", func() (bool, string) {
		ws, resp, err := d.Dial(url, hdr)
		if err != nil {
			if resp != nil {
				return false, resp.Status
			}
			return false, err.Error()
		}
		ws.Close()
		return true, ""
	})
	if out := s.Output(); !strings.Contains(out, "agents hold their whole share") {
		t.Errorf("no warning of the refused agent in the server log:\n%s", out)
	}
}
