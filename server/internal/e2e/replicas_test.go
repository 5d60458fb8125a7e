package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/shared/wire"
)

// startReplica starts another steward-server on a's database and data
// directory (the admin token and enroll secret files), as a second
// replica behind a load balancer would run.
func startReplica(t *testing.T, a *server, db string, extra ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"serve", "--listen", addr, "--db", db, "--data-dir", a.dataDir, "--log-level", "debug"}, extra...)
	s := &server{proc: startPath(t, bin("steward-server"), nil, args...), url: "http://" + addr, dataDir: a.dataDir, args: args}
	s.waitReady(t)
	return s
}

// waitListening waits until s's replica bus listens for the others.
func waitListening(t *testing.T, s *server) {
	t.Helper()
	eventually(t, 60*time.Second, "the server listening for other replicas", func() (bool, string) {
		return strings.Contains(s.Output(), "listening for other replicas' changes"), ""
	})
}

// framedAgent is a hand-driven agent connection whose incoming frames
// arrive, decoded, on frames.
type framedAgent struct {
	ws     *websocket.Conn
	hostID int64
	frames chan wire.Envelope
}

func dialFramed(t *testing.T, s *server, key, hostname string) *framedAgent {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(s.url, "http")+"/agent/v1/ws", http.Header{"Authorization": {"Bearer " + key}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	hello, _ := wire.Encode(wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{1}, OS: "linux", Hostname: hostname, Labels: true})
	ws.WriteMessage(websocket.TextMessage, hello)
	_, msg, err := ws.ReadMessage()
	var welcome struct {
		Type    string       `json:"type"`
		Payload wire.Welcome `json:"payload"`
	}
	if err != nil || json.Unmarshal(msg, &welcome) != nil || welcome.Type != wire.TypeWelcome {
		t.Fatalf("handshake: %v %s", err, msg)
	}
	a := &framedAgent{ws: ws, hostID: welcome.Payload.HostID, frames: make(chan wire.Envelope, 64)}
	go func() {
		defer close(a.frames)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if env, err := wire.Decode(data); err == nil {
				a.frames <- env
			}
		}
	}()
	return a
}

// next returns the next frame of type typ that satisfies ok, skipping
// others; within bounds a hung test only.
func (a *framedAgent) next(t *testing.T, within time.Duration, typ string, ok func(wire.Envelope) bool) (wire.Envelope, time.Time) {
	t.Helper()
	timeout := time.NewTimer(within)
	defer timeout.Stop()
	for {
		select {
		case env, open := <-a.frames:
			if !open {
				t.Fatalf("connection closed while waiting for %s", typ)
			}
			if env.Type == typ && (ok == nil || ok(env)) {
				return env, time.Now()
			}
		case <-timeout.C:
			t.Fatalf("no %s frame within %v", typ, within)
		}
	}
}

// TestReplicasShareOneDatabase runs two steward-server processes on one
// PostgreSQL database, with an agent connected to the second: a policy
// applied, a check requested and a label set through the first reach
// it, and when it goes offline the host_offline alert
// is delivered once, not once per replica.
func TestReplicasShareOneDatabase(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	dir := t.TempDir()
	hook := newFakeHook(t, "webhook", nil)
	conf := filepath.Join(dir, "steward.yaml")
	writeFile(t, conf, `alerting:
  receivers:
    - name: hook
      webhook: {url: "`+hook.URL+`/steward"}
  routes:
    - receivers: [hook]
  rules:
    - name: host-offline
      type: host_offline
      after: 10s
`)
	a := startServer(t, db, "--config", conf)
	b := startReplica(t, a, db, "--config", conf)
	waitListening(t, a)
	waitListening(t, b)

	agent := dialFramed(t, b, enrollKey(t, a, "replica-agent"), "replica-agent")
	// An agent on A itself shows what the replica hop adds.
	near := dialFramed(t, a, enrollKey(t, a, "near-agent"), "near-agent")

	// A policy applied through A reaches the agent connected to B.
	policies := filepath.Join(dir, "policies.yaml")
	writeFile(t, policies, `policies:
  - id: e2e-replicas
    title: The replicas test's file exists
    severity: low
    platforms: [linux]
    check:
      file: {path: `+filepath.Join(dir, "absent")+`, exists: true}
`)
	hasPolicy := func(env wire.Envelope) bool {
		var set wire.PolicySet
		if json.Unmarshal(env.Payload, &set) != nil {
			return false
		}
		for _, p := range set.Policies {
			if p.ID == "e2e-replicas" {
				return true
			}
		}
		return false
	}
	started := time.Now()
	a.ctl(t, "policies", "apply", "-f", policies)
	committed := time.Now()
	_, arrived := agent.next(t, 60*time.Second, wire.TypePolicySet, hasPolicy)
	_, arrivedNear := near.next(t, 60*time.Second, wire.TypePolicySet, hasPolicy)
	t.Logf("policy set reached the other replica's agent %v after stewardctl returned (%v after it started; the target is within 1 s); "+
		"an agent on the replica that took the change had it after %v",
		arrived.Sub(committed).Round(time.Millisecond), arrived.Sub(started).Round(time.Millisecond),
		arrivedNear.Sub(committed).Round(time.Millisecond))

	// A check requested through A reaches the agent on B.
	start := time.Now()
	if code, _, stderr := a.ctlRun(t, "hosts", "check", itoa(agent.hostID)); code != 0 {
		t.Fatalf("stewardctl hosts check through the other replica: exit %d: %s", code, stderr)
	}
	_, arrived = agent.next(t, 60*time.Second, wire.TypeCheckNow, nil)
	t.Logf("check_now reached the other replica's agent %v after stewardctl started", arrived.Sub(start).Round(time.Millisecond))
	// A label set through A reaches the agent on B.
	a.ctl(t, "hosts", "label", itoa(agent.hostID), "team=replicas")
	agent.next(t, 60*time.Second, wire.TypeLabels, func(env wire.Envelope) bool {
		var l wire.Labels
		return json.Unmarshal(env.Payload, &l) == nil && l.Labels["team"] == "replicas"
	})

	// A host connected nowhere is refused, after the replicas had their
	// chance to answer.
	if code, _, _ := a.ctlRun(t, "hosts", "check", "999999"); code == 0 {
		t.Errorf("stewardctl hosts check of an unknown host succeeded")
	}

	// The agent goes away; both replicas evaluate host_offline, and the
	// webhook hears of its alert once. (The near agent, silent since its
	// hello, goes offline too; its alert is not counted here.)
	agent.ws.Close()
	firing := func() (int, string) {
		n, bodies := 0, []string{}
		for _, d := range hook.deliveries() {
			body := string(d.Body)
			bodies = append(bodies, body)
			if strings.Contains(body, `"rule":"host-offline"`) && strings.Contains(body, `"hostname":"replica-agent"`) &&
				strings.Contains(body, `"state":"firing"`) {
				n++
			}
		}
		return n, strings.Join(bodies, "\n")
	}
	eventually(t, 90*time.Second, "the host_offline alert delivered", func() (bool, string) {
		n, bodies := firing()
		return n > 0, bodies
	})
	// Both replicas' evaluation and delivery loops run several times in
	// this span (the rule is checked every 5 s).
	consistently(t, 12*time.Second, "one delivery of the alert", func() (bool, string) {
		n, bodies := firing()
		return n == 1, fmt.Sprintf("%d firing deliveries:\n%s", n, bodies)
	})
}

// TestSQLiteServesOneProcess: a second server started on the SQLite
// database another one serves stops with an error saying why.
func TestSQLiteServesOneProcess(t *testing.T) {
	t.Parallel()
	db := "sqlite://" + filepath.Join(t.TempDir(), "steward.db")
	a := startServer(t, db)
	second := start(t, "steward-server", "serve", "--listen", freeAddr(t), "--db", db, "--data-dir", a.dataDir)
	select {
	case <-second.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the second server still runs:\n%s", second.Output())
	}
	if second.err == nil || !strings.Contains(second.Output(), "in use by another steward-server") {
		t.Fatalf("second server exited with %v:\n%s", second.err, second.Output())
	}
	if a.exited() {
		t.Fatalf("the first server stopped: %v", a.err)
	}
}
