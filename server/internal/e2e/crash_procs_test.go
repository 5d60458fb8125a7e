//go:build soak

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// crashServer is the one steward-server of a crash run, killed and
// started again on the same address, data directory, database and
// config file.
type crashServer struct {
	addr, url, dataDir, db, conf, token string
	lives                               []*proc
	cur                                 *proc
	readyAt                             time.Time
}

// launch starts the server and waits until /readyz answers.
func (cs *crashServer) launch(t *testing.T) {
	t.Helper()
	cs.url = "http://" + cs.addr
	p := &proc{name: "steward-server", done: make(chan struct{})}
	p.cmd = exec.Command(bin("steward-server"), "serve", "--listen", cs.addr, "--db", cs.db, "--data-dir", cs.dataDir,
		"--config", cs.conf, "--log-level", "info")
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start steward-server: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	cs.lives = append(cs.lives, p)
	cs.cur = p
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if p.exited() {
			t.Fatalf("steward-server (start %d) exited: %v\n%s", len(cs.lives), p.err, p.Output())
		}
		if resp, err := client.Get(cs.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				cs.readyAt = time.Now()
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("steward-server (start %d) not ready within 60s:\n%s", len(cs.lives), p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (cs *crashServer) kill(t *testing.T) {
	t.Helper()
	if cs.cur.exited() {
		t.Fatalf("steward-server (start %d) exited before it was killed: %v\n%s", len(cs.lives), cs.cur.err, cs.cur.Output())
	}
	if err := cs.cur.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-cs.cur.done
	if ws, ok := cs.cur.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("steward-server (start %d) ended with %v, not by SIGKILL:\n%s", len(cs.lives), cs.cur.err, cs.cur.Output())
	}
}

// finish stops the last server and, when the test failed, shows the
// warnings and errors of every run and the last run's whole log.
func (cs *crashServer) finish(t *testing.T) {
	if cs.cur == nil {
		return
	}
	if err := cs.cur.stop(t); err != nil && !t.Failed() {
		t.Errorf("the last steward-server did not exit cleanly: %v\n%s", err, cs.cur.Output())
	}
	if !t.Failed() {
		return
	}
	for i, p := range cs.lives[:len(cs.lives)-1] {
		var lines []string
		for _, l := range strings.Split(p.Output(), "\n") {
			if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "panic") ||
				strings.Contains(l, "alert firing") || strings.Contains(l, "alert resolved") {
				lines = append(lines, l)
			}
		}
		t.Logf("--- steward-server start %d (killed): warnings, errors, alert transitions:\n%s", i+1, strings.Join(lines, "\n"))
	}
	t.Logf("--- steward-server start %d (last) output:\n%s", len(cs.lives), cs.cur.Output())
}

// crashAgent is a simulated agent, like protoAgent, that survives the
// server's deaths: it re-dials when the connection is lost and re-sends
// the message whose ack it did not get (results are idempotent: the
// same result twice records nothing). It is used from one goroutine.
type crashAgent struct {
	name     string
	url      string
	nodeKey  string
	hostID   int64
	revision uint64
	policies int
	seq      uint64
	ws       *websocket.Conn
	rng      *rand.Rand
	status   map[string]policy.Status // as last acknowledged

	sent, resent, redials int
}

func enrollCrashAgent(serverURL, secret, hostname string, rng *rand.Rand) (*crashAgent, error) {
	body, _ := json.Marshal(map[string]string{"enroll_secret": secret, "hostname": hostname})
	resp, err := http.Post(serverURL+"/agent/v1/enroll", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("enroll %s: %w", hostname, err)
	}
	defer resp.Body.Close()
	var enrolled struct {
		NodeKey string `json:"node_key"`
	}
	json.NewDecoder(resp.Body).Decode(&enrolled)
	if enrolled.NodeKey == "" {
		return nil, fmt.Errorf("enroll %s: HTTP %d", hostname, resp.StatusCode)
	}
	return &crashAgent{name: hostname, url: serverURL, nodeKey: enrolled.NodeKey, rng: rng, status: map[string]policy.Status{}}, nil
}

// dial connects and shakes hands; the first time, it waits for the policy
// set and keeps its revision.
func (a *crashAgent) dial() error {
	wsURL := "ws" + strings.TrimPrefix(a.url, "http") + "/agent/v1/ws"
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(wsURL, http.Header{"Authorization": {"Bearer " + a.nodeKey}})
	if err != nil {
		if resp != nil {
			return fmt.Errorf("dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return fmt.Errorf("dial: %w", err)
	}
	hello, _ := wire.Encode(wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{wire.ProtocolVersion}, OS: "linux",
		Arch: "amd64", Hostname: a.name, AgentVersion: "crash-test", PolicyRevision: a.revision})
	if err := ws.WriteMessage(websocket.TextMessage, hello); err != nil {
		ws.Close()
		return fmt.Errorf("hello: %w", err)
	}
	welcomed := false
	for !welcomed || a.revision == 0 {
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return fmt.Errorf("handshake: %w", err)
		}
		env, err := wire.Decode(msg)
		if err != nil {
			ws.Close()
			return fmt.Errorf("handshake: %w", err)
		}
		switch env.Type {
		case wire.TypeWelcome:
			var w wire.Welcome
			if err := wire.DecodePayload(env, &w); err != nil {
				ws.Close()
				return err
			}
			a.hostID, welcomed = w.HostID, true
		case wire.TypePolicySet:
			var set wire.PolicySet
			if err := wire.DecodePayload(env, &set); err != nil {
				ws.Close()
				return err
			}
			a.revision, a.policies = set.Revision, len(set.Policies)
		case wire.TypeError:
			ws.Close()
			return fmt.Errorf("handshake: server error %s", env.Payload)
		}
	}
	a.ws = ws
	return nil
}

func (a *crashAgent) drop() {
	if a.ws != nil {
		a.ws.Close()
		a.ws = nil
	}
}

// send delivers one results message: it returns once the server
// acknowledged it, re-dialling and re-sending the same message (same seq)
// as often as needed, or with an error when life ends first.
func (a *crashAgent) send(life context.Context, r wire.Results) error {
	a.seq++
	frame, err := wire.Encode(wire.TypeResults, a.seq, r)
	if err != nil {
		return err
	}
	a.sent++
	for written := false; ; {
		if life.Err() != nil {
			return fmt.Errorf("%s: results seq %d never acknowledged", a.name, a.seq)
		}
		if a.ws == nil {
			if err := a.dial(); err != nil {
				time.Sleep(50*time.Millisecond + rand.N(100*time.Millisecond))
				continue
			}
			a.redials++
		}
		if written {
			a.resent++
		}
		if err := a.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
			a.drop()
			continue
		}
		written = true
		if a.waitAck(a.seq) {
			return nil
		}
		a.drop()
	}
}

// waitAck reads until the ack of seq, passing over what the server
// pushes on its own; false when the connection failed or closed first.
func (a *crashAgent) waitAck(seq uint64) bool {
	for {
		a.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, msg, err := a.ws.ReadMessage()
		if err != nil {
			return false
		}
		env, err := wire.Decode(msg)
		if err != nil {
			return false
		}
		switch env.Type {
		case wire.TypeAck:
			if env.Seq == seq {
				return true
			}
		case wire.TypeError:
			return false
		}
	}
}

func (a *crashAgent) result(id string, st policy.Status) policy.Result {
	return policy.Result{PolicyID: id, Status: st, CheckedAt: time.Now(), Duration: time.Millisecond,
		Evidence: []policy.Evidence{{Check: "check.file", Passed: st == policy.StatusPass,
			Detail: fmt.Sprintf("/etc/steward-crash-marker-%s: %s", strings.TrimPrefix(id, "crash-"), st)}}}
}

// flipLoop reports every policy once, then flips one or two at random
// per message, until flipping ends; the message in flight is always
// finished.
func (a *crashAgent) flipLoop(flipping, life context.Context) error {
	first := wire.Results{Revision: a.revision}
	for i := range crashPolicies {
		st := policy.StatusPass
		if a.rng.IntN(2) == 0 {
			st = policy.StatusFail
		}
		first.Results = append(first.Results, a.result(fmt.Sprintf("crash-%d", i), st))
	}
	if err := a.commit(life, first); err != nil {
		return err
	}
	for {
		pause := crashFlipMin + time.Duration(a.rng.Int64N(int64(crashFlipMax-crashFlipMin)))
		select {
		case <-flipping.Done():
			return nil
		case <-time.After(pause):
		}
		msg := wire.Results{Revision: a.revision}
		for _, i := range a.rng.Perm(crashPolicies)[:1+a.rng.IntN(2)] {
			id := fmt.Sprintf("crash-%d", i)
			st := policy.StatusFail
			if a.status[id] == policy.StatusFail {
				st = policy.StatusPass
			}
			msg.Results = append(msg.Results, a.result(id, st))
		}
		if err := a.commit(life, msg); err != nil {
			return err
		}
	}
}

func (a *crashAgent) commit(life context.Context, r wire.Results) error {
	if err := a.send(life, r); err != nil {
		return err
	}
	for _, res := range r.Results {
		a.status[res.PolicyID] = res.Status
	}
	return nil
}

// allPass reports every policy passing.
func (a *crashAgent) allPass(life context.Context) error {
	msg := wire.Results{Revision: a.revision}
	for i := range crashPolicies {
		msg.Results = append(msg.Results, a.result(fmt.Sprintf("crash-%d", i), policy.StatusPass))
	}
	err := a.commit(life, msg)
	a.drop()
	return err
}

// crashAcker plays the on-call operator: it acknowledges a random firing
// alert now and then through the API, and remembers what was accepted.
type crashAcker struct {
	url, token string
	rng        *rand.Rand
	accepted   map[int64]bool
	conflicts  int // 409: resolved in between
	failures   int // no answer: the server was down or died mid-request
}

func (k *crashAcker) loop(ctx context.Context) {
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200*time.Millisecond + time.Duration(k.rng.Int64N(int64(400*time.Millisecond)))):
		}
		var firing crashAlertsPage
		if code, err := k.do(client, http.MethodGet, "/api/v1/alerts?state=firing&limit=200", &firing); err != nil || code != 200 {
			continue
		}
		if len(firing.Alerts) == 0 || k.rng.IntN(10) < 3 {
			continue
		}
		id := firing.Alerts[k.rng.IntN(len(firing.Alerts))].ID
		code, err := k.do(client, http.MethodPost, "/api/v1/alerts/"+itoa(id)+"/ack", nil)
		switch {
		case err != nil:
			k.failures++
		case code == http.StatusOK:
			k.accepted[id] = true
		case code == http.StatusConflict:
			k.conflicts++
		default:
			k.failures++
		}
	}
}

func (k *crashAcker) do(client *http.Client, method, path string, v any) (int, error) {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"comment":"crash test"}`)
	}
	req, err := http.NewRequest(method, k.url+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+k.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, v); err != nil {
			return 0, err
		}
	}
	return resp.StatusCode, nil
}

// crashAlert is an alert as the API lists it.
type crashAlert struct {
	ID         int64     `json:"id"`
	DedupKey   string    `json:"dedup_key"`
	Rule       string    `json:"rule"`
	HostID     int64     `json:"host_id"`
	Subject    string    `json:"subject"`
	State      string    `json:"state"`
	AckedAt    time.Time `json:"acked_at"`
	ResolvedAt time.Time `json:"resolved_at"`
	Muted      bool      `json:"muted"`
	Notified   bool      `json:"notified"`
}

type crashAlertsPage struct {
	Alerts     []crashAlert `json:"alerts"`
	NextCursor string       `json:"next_cursor"`
}

type crashNotification struct {
	ID        int64  `json:"id"`
	AlertID   int64  `json:"alert_id"`
	Receiver  string `json:"receiver"`
	Event     string `json:"event"`
	State     string `json:"state"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
}

type crashNotificationsPage struct {
	Notifications []crashNotification `json:"notifications"`
	NextCursor    string              `json:"next_cursor"`
}

// crashAlerts pages through every alert.
func crashAlerts(t *testing.T, s *server) []crashAlert {
	t.Helper()
	var out []crashAlert
	for cursor := ""; ; {
		var page crashAlertsPage
		path := "/api/v1/alerts?limit=1000"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if code := s.get(t, path, &page); code != 200 {
			t.Fatalf("GET %s: HTTP %d", path, code)
		}
		out = append(out, page.Alerts...)
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

// crashNotifications pages through every outbox row (of one state, or
// all for "").
func crashNotifications(t *testing.T, s *server, state string) []crashNotification {
	t.Helper()
	var out []crashNotification
	for cursor := ""; ; {
		var page crashNotificationsPage
		path := "/api/v1/notifications?limit=1000"
		if state != "" {
			path += "&state=" + state
		}
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if code := s.get(t, path, &page); code != 200 {
			t.Fatalf("GET %s: HTTP %d", path, code)
		}
		out = append(out, page.Notifications...)
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}
