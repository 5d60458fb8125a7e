package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	_ "modernc.org/sqlite"

	"github.com/steward-project/steward/shared/wire"
)

// TestReadyzFollowsFailedCommits: a database that still answers pings
// but refuses every write (as a full disk does) makes /readyz answer 503
// once readiness.commit_failures ingest commits in a row have failed,
// and 200 again after the next commit succeeds.
func TestReadyzFollowsFailedCommits(t *testing.T) {
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "steward.db")
	conf := filepath.Join(t.TempDir(), "server.yaml")
	os.WriteFile(conf, []byte("readiness:\n  commit_failures: 2\n"), 0o600)
	s := startServer(t, "sqlite://"+dbPath, "--config", conf)

	secret := readSecret(t, filepath.Join(s.dataDir, "enroll-secret"))
	body, _ := json.Marshal(map[string]string{"enroll_secret": secret, "hostname": "full-disk"})
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

	seq := uint64(0)
	// heartbeat connects, sends one heartbeat and returns the server's
	// answer: an ack, or the error frame it closes with.
	heartbeat := func() wire.Envelope {
		t.Helper()
		wsURL := "ws" + strings.TrimPrefix(s.url, "http") + "/agent/v1/ws"
		ws, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Authorization": {"Bearer " + enrolled.NodeKey}})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		send := func(typ string, seq uint64, payload any) {
			b, _ := wire.Encode(typ, seq, payload)
			if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
				t.Fatal(err)
			}
		}
		read := func() wire.Envelope {
			ws.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, data, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			env, err := wire.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			return env
		}
		send(wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{1}, OS: "linux", Hostname: "full-disk"})
		if env := read(); env.Type != wire.TypeWelcome {
			t.Fatalf("got %s, want welcome", env.Type)
		}
		seq++
		send(wire.TypeHeartbeat, seq, wire.Heartbeat{Time: time.Now()})
		return read()
	}
	readyz := func() int {
		t.Helper()
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	if env := heartbeat(); env.Type != wire.TypeAck {
		t.Fatalf("healthy database: got %s, want ack", env.Type)
	}
	// Every update of a host's sequence number now fails, as on a full
	// disk; reads and pings still work.
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER e2e_full_disk BEFORE UPDATE OF last_seq ON hosts
		BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		env := heartbeat()
		var e wire.Error
		json.Unmarshal(env.Payload, &e)
		if env.Type != wire.TypeError || e.Code != wire.CodeUnavailable {
			t.Fatalf("failed commit %d: got %s %+v, want an unavailable error", i, env.Type, e)
		}
		want := http.StatusOK
		if i == 2 {
			want = http.StatusServiceUnavailable
		}
		if got := readyz(); got != want {
			t.Fatalf("/readyz after %d failed commits: HTTP %d, want %d", i, got, want)
		}
	}
	eventually(t, 30*time.Second, "the reason for not being ready logged", func() (bool, string) {
		return strings.Contains(s.Output(), "consecutive_failed_commits=2"), ""
	})

	// The disk has room again: the next commit makes the server ready.
	if _, err := db.Exec(`DROP TRIGGER e2e_full_disk`); err != nil {
		t.Fatal(err)
	}
	if env := heartbeat(); env.Type != wire.TypeAck {
		t.Fatalf("after recovery: got %s, want ack", env.Type)
	}
	if got := readyz(); got != http.StatusOK {
		t.Errorf("/readyz after a successful commit: HTTP %d, want 200", got)
	}
}
