package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/config"
	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/shared/wire"
)

// rawAgent is an agent reduced to its protocol: it sends what the test
// says and reads the server's frames.
type rawAgent struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialAgent(t *testing.T, base, nodeKey string) *rawAgent {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/agent/v1/ws",
		http.Header{"Authorization": {"Bearer " + nodeKey}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	a := &rawAgent{t: t, ws: ws}
	a.send(wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{wire.ProtocolVersion}, OS: "linux", Hostname: "db-outage"})
	if env := a.next(); env.Type != wire.TypeWelcome {
		t.Fatalf("got %s, want welcome", env.Type)
	}
	return a
}

func (a *rawAgent) send(typ string, seq uint64, payload any) {
	a.t.Helper()
	b, _ := wire.Encode(typ, seq, payload)
	if err := a.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		a.t.Fatal(err)
	}
}

// next returns the next ack or error frame, skipping the others (a
// policy set).
func (a *rawAgent) next() wire.Envelope {
	a.t.Helper()
	for {
		a.ws.SetReadDeadline(time.Now().Add(time.Minute))
		_, data, err := a.ws.ReadMessage()
		if err != nil {
			a.t.Fatalf("read: %v", err)
		}
		env, err := wire.Decode(data)
		if err != nil {
			a.t.Fatal(err)
		}
		switch env.Type {
		case wire.TypeAck, wire.TypeError, wire.TypeWelcome:
			return env
		}
	}
}

func (a *rawAgent) heartbeat(seq uint64) wire.Envelope {
	a.t.Helper()
	a.send(wire.TypeHeartbeat, seq, wire.Heartbeat{Time: time.Now()})
	return a.next()
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0 // not listening yet
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestDatabaseOutageEndToEnd runs the server on a PostgreSQL server that
// is stopped under it: the agent's message in flight fails at once with
// unavailable, /readyz answers 503, and once PostgreSQL is back the
// server is ready again and the message, sent again, is committed once.
func TestDatabaseOutageEndToEnd(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	dsn := cluster.NewDatabase(t)
	cfg := config.Default()
	cfg.Listen = freeAddr(t)
	cfg.DB = dsn
	cfg.DataDir = t.TempDir()
	serve(t, cfg)
	base := "http://" + cfg.Listen
	for getStatus(t, base+"/readyz") != http.StatusOK {
		time.Sleep(10 * time.Millisecond) // the server starts listening after its migrations
	}

	secret, err := os.ReadFile(filepath.Join(cfg.DataDir, auth.EnrollSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"enroll_secret": strings.TrimSpace(string(secret)), "hostname": "db-outage"})
	resp, err := http.Post(base+"/agent/v1/enroll", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var enrolled struct {
		NodeKey string `json:"node_key"`
	}
	json.NewDecoder(resp.Body).Decode(&enrolled)
	resp.Body.Close()
	a := dialAgent(t, base, enrolled.NodeKey)
	if env := a.heartbeat(1); env.Type != wire.TypeAck || env.Seq != 1 {
		t.Fatalf("healthy database: got %s %d, want ack 1", env.Type, env.Seq)
	}

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	env := a.heartbeat(2)
	var e wire.Error
	json.Unmarshal(env.Payload, &e)
	if env.Type != wire.TypeError || e.Code != wire.CodeUnavailable || e.RetryAfter <= 0 {
		t.Fatalf("database stopped: got %s %+v, want unavailable with retry_after", env.Type, e)
	}
	if got := getStatus(t, base+"/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database stopped: %d, want 503", got)
	}

	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	for getStatus(t, base+"/readyz") != http.StatusOK {
		time.Sleep(10 * time.Millisecond) // ingest's probe runs every second
	}
	a = dialAgent(t, base, enrolled.NodeKey)
	for range 2 { // the resend, then a duplicate of it
		if env := a.heartbeat(2); env.Type != wire.TypeAck || env.Seq != 2 {
			t.Fatalf("after recovery: got %s %d, want ack 2", env.Type, env.Seq)
		}
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var lastSeq int64
	if err := conn.QueryRow(t.Context(), "SELECT last_seq FROM hosts").Scan(&lastSeq); err != nil {
		t.Fatal(err)
	}
	if lastSeq != 2 {
		t.Errorf("last_seq %d, want 2", lastSeq)
	}
}
