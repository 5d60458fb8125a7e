package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/shared/wire"
)

// TestBadAgentInputAgainstRealServer sends garbage and oversized messages
// to the real server binary: each closes only its own connection, the
// server logs why, stays up, and a real agent keeps reporting.
func TestBadAgentInputAgainstRealServer(t *testing.T) {
	t.Parallel()
	s := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "steward.db"))
	s.startAgent(t, filepath.Join(t.TempDir(), "agent"))

	secret := readSecret(t, filepath.Join(s.dataDir, "enroll-secret"))
	body, _ := json.Marshal(map[string]string{"enroll_secret": secret, "hostname": "mallory"})
	resp, err := http.Post(s.url+"/agent/v1/enroll", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var enrolled struct {
		NodeKey string `json:"node_key"`
	}
	json.NewDecoder(resp.Body).Decode(&enrolled)
	resp.Body.Close()
	if enrolled.NodeKey == "" {
		t.Fatalf("enroll: HTTP %d", resp.StatusCode)
	}

	wsURL := "ws" + strings.TrimPrefix(s.url, "http") + "/agent/v1/ws"
	dial := func() *websocket.Conn {
		ws, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Authorization": {"Bearer " + enrolled.NodeKey}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		hello, _ := wire.Encode(wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{1}, OS: "linux", Hostname: "mallory"})
		ws.WriteMessage(websocket.TextMessage, hello)
		ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, msg, err := ws.ReadMessage(); err != nil || !strings.Contains(string(msg), `"welcome"`) {
			t.Fatalf("handshake: %v %s", err, msg)
		}
		return ws
	}

	t.Run("garbage", func(t *testing.T) {
		ws := dial()
		ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"inventory","seq":1,"payload":{"digest":"nope"}}`))
		_, msg, err := ws.ReadMessage()
		if err != nil || !strings.Contains(string(msg), wire.CodeBadMessage) {
			t.Fatalf("want a bad_message error frame, got %s %v", msg, err)
		}
		if _, _, err := ws.ReadMessage(); err == nil {
			t.Fatal("connection still open")
		}
	})
	t.Run("oversized", func(t *testing.T) {
		ws := dial()
		ws.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("a"), wire.MaxMessageBytes+1))
		_, _, err := ws.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Fatalf("want close 1009, got %v", err)
		}
	})

	eventually(t, 10*time.Second, "the reasons in the server log", func() (bool, string) {
		out := s.Output()
		return strings.Contains(out, "bad message") && strings.Contains(out, "message too large"), ""
	})
	var hosts hostsResponse
	eventually(t, 30*time.Second, "the real agent still online", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		for _, h := range hosts.Hosts {
			if h.Hostname != "mallory" && h.Online {
				return true, ""
			}
		}
		return false, ""
	})
	if s.exited() {
		t.Fatal("server exited")
	}
}
