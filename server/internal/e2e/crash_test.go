//go:build soak

package e2e

// The crash test: `make soak` (go test -tags soak -run TestCrash). It
// kills the real steward-server with SIGKILL at random points while
// simulated agents flip policy results and an operator acknowledges
// alerts, and checks what reached a fake PagerDuty and a fake webhook
// receiver against the design's promises (docs/alerting.md): every
// episode paged, never twice, resolves and acknowledges delivered with the
// trigger's identity, no dead letters.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// Shape of one crash run (per store).
const (
	crashAgents   = 20
	crashPolicies = 5
	crashKills    = 24
	// Kills land uniformly in [crashKillMin, crashKillMax) after the
	// server answered /readyz.
	crashKillMin = 300 * time.Millisecond
	crashKillMax = 2500 * time.Millisecond
	// Each agent sends a results message every crashFlipMin..crashFlipMax.
	crashFlipMin = 200 * time.Millisecond
	crashFlipMax = 800 * time.Millisecond
	// crashDrain bounds the wait for the outbox to empty after the last
	// restart. Rows claimed by a killed server wait out their lease
	// (5 × delivery.timeout + 15 s = 25 s here) before they are sent again.
	crashDrain = 4 * time.Minute
	// crashFailPercent is how many receiver answers are injected 5xx/429
	// failures (not processed), so the retry path runs too.
	crashFailPercent = 4

	crashRoutingKey = "R0123456789abcdef0123456789abcdef"
	crashHookSecret = "crash-test-webhook-secret"
)

// TestCrashDeliversEveryEpisodeOnce: see the top of this file. The seed
// of the random choices (flips, acks, kill points, injected failures) is
// logged; STEWARD_CRASH_SEED replays the choices (not the timing).
func TestCrashDeliversEveryEpisodeOnce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("STEWARD_CRASH_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("STEWARD_CRASH_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("seed %d (replay the random choices with STEWARD_CRASH_SEED=%d)", seed, seed)
	stores := []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "steward.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.NewDatabase(t) }},
	}
	// One store after the other: the kill points are meant to fall
	// anywhere in the server's work, and two runs sharing the CPUs would
	// mostly land them in scheduling delays.
	for i, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			crashDelivers(t, st.db(t), seed+uint64(i))
		})
	}
}

func crashDelivers(t *testing.T, db string, seed uint64) {
	began := time.Now()
	rng := rand.New(rand.NewPCG(seed, 0))
	pd := newCrashPagerDuty(seed)
	pdSrv := httptest.NewServer(pd)
	defer pdSrv.Close()
	hook := newCrashWebhook(seed, []byte(crashHookSecret))
	hookSrv := httptest.NewServer(hook)
	defer hookSrv.Close()

	dir := t.TempDir()
	conf := filepath.Join(dir, "steward.yaml")
	writeFile(t, conf, `alerting:
  receivers:
    - name: pd
      pagerduty:
        routing_key: `+crashRoutingKey+`
        url: `+pdSrv.URL+`/v2/enqueue
    - name: hook
      webhook:
        url: `+hookSrv.URL+`/steward
        secret: `+crashHookSecret+`
  routes:
    - receivers: [pd, hook]
  rules:
    - name: policy-failing
      type: policy_failing
  delivery:
    timeout: 2s
    backoff_base: 200ms
    backoff_max: 2s
`)
	cs := &crashServer{addr: freeAddr(t), dataDir: filepath.Join(dir, "data"), db: db, conf: conf}
	t.Cleanup(func() { cs.finish(t) })
	cs.launch(t)
	s := &server{url: cs.url, dataDir: cs.dataDir, token: readSecret(t, filepath.Join(cs.dataDir, "admin-token"))}
	cs.token = s.token

	// Policies only an agent can evaluate, so the agents report them.
	var pol strings.Builder
	pol.WriteString("policies:\n")
	sevs := []string{"critical", "high", "medium", "low", "info"}
	for i := range crashPolicies {
		fmt.Fprintf(&pol, "  - id: crash-%d\n    title: Crash test marker %d is present\n    severity: %s\n"+
			"    check:\n      file: {path: /etc/steward-crash-marker-%d, exists: true}\n", i, i, sevs[i%len(sevs)], i)
	}
	polFile := filepath.Join(dir, "policies.yaml")
	writeFile(t, polFile, pol.String())
	s.ctl(t, "policies", "apply", "-f", polFile)

	secret := readSecret(t, filepath.Join(cs.dataDir, "enroll-secret"))
	agents := make([]*crashAgent, crashAgents)
	for i := range agents {
		a, err := enrollCrashAgent(cs.url, secret, fmt.Sprintf("crash-%02d", i), rand.New(rand.NewPCG(seed, uint64(i)+1)))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.dial(); err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
		if a.policies != crashPolicies {
			t.Fatalf("%s got a policy set of %d policies, want %d (file checks are not expr-only)", a.name, a.policies, crashPolicies)
		}
		agents[i] = a
	}
	life, endLife := context.WithCancel(context.Background())
	t.Cleanup(endLife) // a failed test must not leave agents dialling

	// The churn: agents flip results, the operator acknowledges, the
	// server is killed and restarted.
	flipping, stopFlipping := context.WithCancel(life)
	var wg sync.WaitGroup
	errs := make(chan error, crashAgents+1)
	for _, a := range agents {
		wg.Go(func() {
			if err := a.flipLoop(flipping, life); err != nil {
				errs <- err
			}
		})
	}
	ack := &crashAcker{url: cs.url, token: s.token, rng: rand.New(rand.NewPCG(seed, 1000)), accepted: map[int64]bool{}}
	acking, stopAcking := context.WithCancel(life)
	ackDone := make(chan struct{})
	go func() { defer close(ackDone); ack.loop(acking) }()

	churnStart := time.Now()
	var upTimes []time.Duration
	for kills := 0; kills < crashKills; kills++ {
		wait := crashKillMin + time.Duration(rng.Int64N(int64(crashKillMax-crashKillMin)))
		time.Sleep(time.Until(cs.readyAt.Add(wait)))
		upTimes = append(upTimes, time.Since(cs.readyAt))
		cs.kill(t)
		cs.launch(t)
	}
	churn := time.Since(churnStart)

	stopFlipping()
	wg.Wait()
	stopAcking()
	<-ackDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// The last server stays up: every agent reports all-pass, and every
	// alert must resolve and every notification go out.
	var final sync.WaitGroup
	finalErrs := make(chan error, crashAgents)
	for _, a := range agents {
		final.Go(func() {
			if err := a.allPass(life); err != nil {
				finalErrs <- err
			}
		})
	}
	final.Wait()
	close(finalErrs)
	for err := range finalErrs {
		t.Fatal(err)
	}
	drainStart := time.Now()
	eventually(t, crashDrain, "no open alerts and an empty outbox", func() (bool, string) {
		if cs.cur.exited() {
			t.Fatalf("the last server exited: %v", cs.cur.err)
		}
		var open crashAlertsPage
		var pending crashNotificationsPage
		if code := s.get(t, "/api/v1/alerts?state=open&limit=1000", &open); code != 200 {
			return false, fmt.Sprintf("alerts: HTTP %d", code)
		}
		if code := s.get(t, "/api/v1/notifications?state=pending&limit=1000", &pending); code != 200 {
			return false, fmt.Sprintf("notifications: HTTP %d", code)
		}
		return len(open.Alerts) == 0 && len(pending.Notifications) == 0,
			fmt.Sprintf("%d open alerts, %d pending notifications", len(open.Alerts), len(pending.Notifications))
	})
	drain := time.Since(drainStart)

	// What the API says happened.
	alerts := crashAlerts(t, s)
	notes := crashNotifications(t, s, "")
	var dead crashNotificationsPage
	if code := s.get(t, "/api/v1/notifications?state=dead&limit=1000", &dead); code != 200 {
		t.Fatalf("dead notifications: HTTP %d", code)
	}

	pd.mu.Lock()
	defer pd.mu.Unlock()
	hook.mu.Lock()
	defer hook.mu.Unlock()

	rep := &crashReport{t: t, seen: map[string]int{}}
	defer rep.done()
	// The fakes' own checks: payloads valid, signatures right.
	for _, p := range pd.invalid {
		rep.errorf("PagerDuty refused an event: %s", p)
	}
	for _, p := range hook.invalid {
		rep.errorf("webhook refused a delivery: %s", p)
	}

	// 4. No dead letters.
	for _, n := range dead.Notifications {
		rep.errorf("dead notification %d (alert %d, %s to %s, %d attempts): %s", n.ID, n.AlertID, n.Event, n.Receiver, n.Attempts, n.LastError)
	}

	byID := make(map[int64]crashAlert, len(alerts))
	keys := make(map[string]int64, len(alerts))
	routed, acked := 0, 0
	for _, a := range alerts {
		byID[a.ID] = a
		keys[a.DedupKey] = a.ID
		if a.State != "resolved" {
			rep.errorf("alert %d is %s after the final all-pass", a.ID, a.State)
		}
		if a.Muted || !a.Notified {
			// Nothing silences anything here: an alert held back would
			// be a page lost.
			rep.errorf("alert %d is muted=%v notified=%v with no silence or maintenance window configured", a.ID, a.Muted, a.Notified)
			continue
		}
		routed++
		inc := pd.incidents[a.DedupKey]
		hk := hook.byAlert[a.ID]
		// 1. Every routed episode reached both receivers.
		if inc == nil || inc.firstTrigger == 0 {
			rep.errorf("alert %d (%s): PagerDuty never got its trigger", a.ID, a.DedupKey)
		}
		if hk == nil || len(hk["trigger"]) == 0 {
			rep.errorf("alert %d: the webhook never got its trigger", a.ID)
		}
		// 3. Its resolve too, with the trigger's identity.
		if inc == nil || inc.firstResolve == 0 {
			rep.errorf("alert %d (%s): PagerDuty never got its resolve", a.ID, a.DedupKey)
		}
		if hk == nil || len(hk["resolve"]) == 0 {
			rep.errorf("alert %d: the webhook never got its resolve", a.ID)
		}
		for event, ids := range hk {
			// One outbox row per event and receiver: a second notification
			// id would be a new identity, a second page.
			if len(ids) > 1 {
				rep.errorf("alert %d: the webhook got %d different notifications for its %s: %v", a.ID, len(ids), event, ids)
			}
		}
		// Events of one alert reach the webhook in order, repeats included:
		// nothing about the episode after its resolve.
		if ord := hook.order1[a.ID]; ord != nil {
			if ord["acknowledge"] != 0 && ord["acknowledge"] < ord["trigger"] {
				rep.errorf("alert %d: the webhook got the acknowledge (#%d) before the trigger (#%d)", a.ID, ord["acknowledge"], ord["trigger"])
			}
			if res := ord["resolve"]; res != 0 {
				if last := hook.lastBefore[a.ID]; last > res {
					rep.errorf("alert %d: the webhook got a trigger or acknowledge (#%d) after the resolve (#%d)", a.ID, last, res)
				}
			}
		}
		if d, ok := hook.firstFor(a.ID); ok && d.DedupKey != a.DedupKey {
			rep.errorf("alert %d: webhook dedup_key %q, API %q", a.ID, d.DedupKey, a.DedupKey)
		}
		if inc != nil && inc.alertID != 0 && inc.alertID != a.ID {
			rep.errorf("dedup_key %s: PagerDuty trigger named alert %d, API says %d", a.DedupKey, inc.alertID, a.ID)
		}
		if a.AckedAt.IsZero() {
			continue
		}
		acked++
		// Every acknowledged episode (by this test or by a request whose
		// answer the kill swallowed) was acknowledged at PagerDuty before
		// its resolve.
		if inc == nil || inc.firstAck == 0 {
			rep.errorf("alert %d (%s) was acknowledged at %v; PagerDuty never got the acknowledge", a.ID, a.DedupKey, a.AckedAt)
		} else if inc.firstResolve != 0 && inc.firstAck > inc.firstResolve {
			rep.errorf("alert %d (%s): PagerDuty got the acknowledge (#%d) after the resolve (#%d)", a.ID, a.DedupKey, inc.firstAck, inc.firstResolve)
		}
		if hk == nil || len(hk["acknowledge"]) == 0 {
			rep.errorf("alert %d was acknowledged; the webhook never got the acknowledge", a.ID)
		}
	}
	// 3 (cont.). Every acknowledge the API accepted shows on the alert and
	// reached PagerDuty (checked above for every acknowledged alert).
	for id := range ack.accepted {
		a, ok := byID[id]
		if !ok {
			rep.errorf("acknowledged alert %d is not listed", id)
			continue
		}
		if a.AckedAt.IsZero() {
			rep.errorf("alert %d: the API accepted its acknowledge but the alert has no acked_at", id)
		}
	}
	// 2. Never paged twice; nothing about an episode after its resolve;
	// nothing for an episode the server does not know.
	for _, v := range pd.violations {
		rep.errorf("PagerDuty: %s", v)
	}
	for key := range pd.incidents {
		if _, ok := keys[key]; !ok {
			rep.errorf("PagerDuty got events for dedup_key %s, which no alert has", key)
		}
	}
	for id := range hook.byAlert {
		if _, ok := byID[id]; !ok {
			rep.errorf("the webhook got events for alert %d, which the API does not list", id)
		}
	}
	// Every row the outbox marked sent arrived: at the webhook under its
	// notification id, at PagerDuty as its event for the alert's key.
	sentHook := 0
	for _, n := range notes {
		if n.State != "sent" {
			rep.errorf("notification %d (alert %d, %s to %s) is %s", n.ID, n.AlertID, n.Event, n.Receiver, n.State)
			continue
		}
		if n.Receiver == "pd" {
			inc := pd.incidents[byID[n.AlertID].DedupKey]
			if inc == nil || map[string]int{"trigger": inc.firstTrigger, "acknowledge": inc.firstAck, "resolve": inc.firstResolve}[n.Event] == 0 {
				rep.errorf("notification %d (alert %d, %s) is sent, but PagerDuty never got it", n.ID, n.AlertID, n.Event)
			}
			continue
		}
		if n.Receiver != "hook" {
			rep.errorf("notification %d (alert %d, %s) is for receiver %q, which the config does not route to", n.ID, n.AlertID, n.Event, n.Receiver)
			continue
		}
		sentHook++
		d, ok := hook.byNotification[n.ID]
		switch {
		case !ok:
			rep.errorf("notification %d (alert %d, %s) is sent, but the webhook never got it", n.ID, n.AlertID, n.Event)
		case d.AlertID != n.AlertID || d.Event != n.Event:
			rep.errorf("notification %d is alert %d %s in the outbox, alert %d %s at the webhook", n.ID, n.AlertID, n.Event, d.AlertID, d.Event)
		}
	}
	// Duplicates: accepted (a kill between the receiver's answer and the
	// commit), provided they repeat the same identity.
	for _, m := range hook.dupMismatch {
		rep.errorf("webhook: a repeated delivery changed identity: %s", m)
	}

	if routed == 0 || acked == 0 {
		t.Errorf("the run raised %d routed alerts with %d acknowledged: too little happened to test anything", routed, acked)
	}
	var up time.Duration
	for _, d := range upTimes {
		up += d
	}
	sent, resent, redials := 0, 0, 0
	for _, a := range agents {
		sent += a.sent
		resent += a.resent
		redials += a.redials
	}
	t.Logf("%d kills (SIGKILL %v–%v after ready, mean %v up), churn %v, drain %v after the final all-pass, total %v",
		crashKills, crashKillMin, crashKillMax, (up / time.Duration(len(upTimes))).Round(time.Millisecond),
		churn.Round(time.Millisecond), drain.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	t.Logf("%d agents sent %d results messages, %d re-sends after a lost connection, %d re-dials",
		crashAgents, sent, resent, redials)
	t.Logf("%d alert episodes, %d routed to both receivers; %d acknowledged (%d acknowledge requests accepted, %d refused as resolved, %d unanswered)",
		len(alerts), routed, acked, len(ack.accepted), ack.conflicts, ack.failures)
	t.Logf("PagerDuty: %d events, %d incidents opened; webhook: %d deliveries of %d sent notifications; injected failures: PagerDuty %d, webhook %d",
		len(pd.events), pd.pages, len(hook.deliveries), sentHook, pd.injected, hook.injected)
	t.Logf("duplicate deliveries (at-least-once window hit): PagerDuty %d (trigger %d, acknowledge %d, resolve %d), webhook %d (same X-Steward-Notification)",
		pd.dupTrigger+pd.dupAck+pd.dupResolve, pd.dupTrigger, pd.dupAck, pd.dupResolve, hook.duplicates)
}

// crashReport reports the first few failures of each kind (by format)
// and counts the rest, so that a broken promise does not bury the log
// under a thousand identical lines.
type crashReport struct {
	t    *testing.T
	seen map[string]int
}

const crashReportEach = 20

func (r *crashReport) errorf(format string, args ...any) {
	r.t.Helper()
	r.seen[format]++
	if r.seen[format] <= crashReportEach {
		r.t.Errorf(format, args...)
	}
}

func (r *crashReport) done() {
	for format, n := range r.seen {
		if n > crashReportEach {
			r.t.Errorf("... and %d more failures like %q", n-crashReportEach, format)
		}
	}
}

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

// crashPagerDuty is the Events API v2 as far as Steward uses it: it checks
// every event and models PagerDuty's de-duplication by dedup_key. An
// incident is open from a trigger until a resolve; a trigger while it is
// open (or acknowledged) is deduplicated, and a trigger after it resolved
// opens a new incident: a second page for one episode, which Steward
// must never cause.
type crashPagerDuty struct {
	mu        sync.Mutex
	rng       *rand.Rand
	order     int
	events    []crashPDEvent
	incidents map[string]*crashPDIncident
	pages     int
	// violations break the promises: a second incident, an acknowledge or
	// resolve with no open incident, anything after a resolve.
	violations []string
	invalid    []string
	injected   int
	// Repeats the design accepts: the same event again for an incident
	// already in that state.
	dupTrigger, dupAck, dupResolve int
}

type crashPDEvent struct {
	order    int
	action   string
	dedupKey string
}

type crashPDIncident struct {
	state                                string // triggered, acknowledged, resolved
	alertID                              int64  // custom_details.alert_id of the first trigger
	firstTrigger, firstAck, firstResolve int    // arrival order, 0: none
}

func newCrashPagerDuty(seed uint64) *crashPagerDuty {
	return &crashPagerDuty{rng: rand.New(rand.NewPCG(seed, 2000)), incidents: map[string]*crashPDIncident{}}
}

type crashPDEventIn struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     *struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		Timestamp     string         `json:"timestamp"`
		Component     string         `json:"component"`
		Class         string         `json:"class"`
		CustomDetails map[string]any `json:"custom_details"`
	} `json:"payload"`
}

// check lists what PagerDuty would refuse (or what Steward documents and
// does not do).
func (e *crashPDEventIn) check() []string {
	var bad []string
	if e.RoutingKey != crashRoutingKey {
		bad = append(bad, fmt.Sprintf("routing_key %q", e.RoutingKey))
	}
	if e.DedupKey == "" || len(e.DedupKey) > 255 {
		bad = append(bad, fmt.Sprintf("dedup_key of %d bytes", len(e.DedupKey)))
	}
	switch e.EventAction {
	case "trigger":
		p := e.Payload
		if p == nil {
			return append(bad, "trigger without payload")
		}
		if p.Summary == "" || len([]rune(p.Summary)) > 1024 {
			bad = append(bad, fmt.Sprintf("payload.summary of %d characters", len([]rune(p.Summary))))
		}
		if p.Source == "" {
			bad = append(bad, "no payload.source")
		}
		if !slices.Contains([]string{"critical", "error", "warning", "info"}, p.Severity) {
			bad = append(bad, fmt.Sprintf("payload.severity %q", p.Severity))
		}
		if p.Timestamp != "" {
			if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil {
				bad = append(bad, fmt.Sprintf("payload.timestamp %q", p.Timestamp))
			}
		}
		if id, ok := p.CustomDetails["alert_id"].(float64); !ok || id <= 0 {
			bad = append(bad, "no custom_details.alert_id")
		} else if !strings.HasPrefix(e.DedupKey, fmt.Sprintf("steward-%d-", int64(id))) {
			bad = append(bad, fmt.Sprintf("dedup_key %s is not alert %d's", e.DedupKey, int64(id)))
		}
	case "acknowledge", "resolve":
	default:
		bad = append(bad, fmt.Sprintf("event_action %q", e.EventAction))
	}
	return bad
}

func (f *crashPagerDuty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var ev crashPDEventIn
	var bad []string
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue":
		bad = []string{r.Method + " " + r.URL.Path}
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
		bad = []string{"Content-Type " + r.Header.Get("Content-Type")}
	default:
		if err := json.Unmarshal(body, &ev); err != nil {
			bad = []string{err.Error()}
		} else {
			bad = ev.check()
		}
	}
	if len(bad) > 0 {
		f.invalid = append(f.invalid, fmt.Sprintf("%s: %s", strings.Join(bad, "; "), body))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": bad})
		return
	}
	// Injected failures: nothing processed, Steward must try again.
	if f.rng.IntN(100) < crashFailPercent {
		f.injected++
		if f.rng.IntN(2) == 0 {
			http.Error(w, `{"status":"throttled"}`, http.StatusTooManyRequests)
		} else {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
		return
	}
	f.order++
	f.events = append(f.events, crashPDEvent{order: f.order, action: ev.EventAction, dedupKey: ev.DedupKey})
	inc := f.incidents[ev.DedupKey]
	switch ev.EventAction {
	case "trigger":
		switch {
		case inc == nil:
			f.pages++
			inc = &crashPDIncident{state: "triggered", firstTrigger: f.order, alertID: int64(ev.Payload.CustomDetails["alert_id"].(float64))}
			f.incidents[ev.DedupKey] = inc
		case inc.state == "resolved":
			f.pages++
			f.violations = append(f.violations, fmt.Sprintf("trigger #%d for %s after its resolve (#%d): a NEW incident, a second page",
				f.order, ev.DedupKey, inc.firstResolve))
			inc.state = "triggered"
		default:
			f.dupTrigger++ // deduplicated into the open incident
			if id := int64(ev.Payload.CustomDetails["alert_id"].(float64)); id != inc.alertID {
				f.violations = append(f.violations, fmt.Sprintf("trigger #%d for %s names alert %d; its first trigger named alert %d",
					f.order, ev.DedupKey, id, inc.alertID))
			}
		}
	case "acknowledge":
		switch {
		case inc == nil:
			f.violations = append(f.violations, fmt.Sprintf("acknowledge #%d for %s, which was never triggered", f.order, ev.DedupKey))
		case inc.state == "resolved":
			f.violations = append(f.violations, fmt.Sprintf("acknowledge #%d for %s after its resolve (#%d)", f.order, ev.DedupKey, inc.firstResolve))
		case inc.state == "acknowledged":
			f.dupAck++
		default:
			inc.state = "acknowledged"
			inc.firstAck = f.order
		}
	case "resolve":
		switch {
		case inc == nil:
			f.violations = append(f.violations, fmt.Sprintf("resolve #%d for %s, which was never triggered", f.order, ev.DedupKey))
		case inc.state == "resolved":
			f.dupResolve++
		default:
			inc.state = "resolved"
			inc.firstResolve = f.order
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

// crashWebhook is a generic webhook receiver that checks the signature
// with its own HMAC and records deliveries by notification id and by
// alert.
type crashWebhook struct {
	secret []byte

	mu             sync.Mutex
	rng            *rand.Rand
	order          int
	deliveries     []crashHookDelivery
	byNotification map[int64]crashHookDelivery  // the first delivery of each notification id
	byAlert        map[int64]map[string][]int64 // alert id -> event -> distinct notification ids
	order1         map[int64]map[string]int     // alert id -> event -> arrival order of its first delivery
	lastBefore     map[int64]int                // alert id -> arrival order of its last trigger or acknowledge
	invalid        []string
	injected       int
	duplicates     int
	dupMismatch    []string
}

type crashHookDelivery struct {
	order          int
	notificationID int64
	AlertID        int64
	Event          string
	DedupKey       string
}

func newCrashWebhook(seed uint64, secret []byte) *crashWebhook {
	return &crashWebhook{secret: secret, rng: rand.New(rand.NewPCG(seed, 3000)),
		byNotification: map[int64]crashHookDelivery{}, byAlert: map[int64]map[string][]int64{},
		order1: map[int64]map[string]int{}, lastBefore: map[int64]int{}}
}

// firstFor is the first delivery about alert id.
func (f *crashWebhook) firstFor(id int64) (crashHookDelivery, bool) {
	for _, d := range f.deliveries {
		if d.AlertID == id {
			return d, true
		}
	}
	return crashHookDelivery{}, false
}

func (f *crashWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var in struct {
		Version        string `json:"version"`
		NotificationID int64  `json:"notification_id"`
		Event          string `json:"event"`
		Alert          struct {
			ID       int64  `json:"id"`
			DedupKey string `json:"dedup_key"`
			State    string `json:"state"`
		} `json:"alert"`
	}
	var bad []string
	mac := hmac.New(sha256.New, f.secret)
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	nid, nidErr := strconv.ParseInt(r.Header.Get("X-Steward-Notification"), 10, 64)
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/steward":
		bad = append(bad, r.Method+" "+r.URL.Path)
	case !hmac.Equal([]byte(r.Header.Get("X-Steward-Signature")), []byte(want)):
		bad = append(bad, fmt.Sprintf("X-Steward-Signature %q, want %q", r.Header.Get("X-Steward-Signature"), want))
	case nidErr != nil:
		bad = append(bad, fmt.Sprintf("X-Steward-Notification %q", r.Header.Get("X-Steward-Notification")))
	default:
		if err := json.Unmarshal(body, &in); err != nil {
			bad = append(bad, err.Error())
			break
		}
		if in.Version != "1" || in.NotificationID != nid || in.Event != r.Header.Get("X-Steward-Event") ||
			!slices.Contains([]string{"trigger", "acknowledge", "resolve"}, in.Event) ||
			in.Alert.ID <= 0 || !strings.HasPrefix(in.Alert.DedupKey, fmt.Sprintf("steward-%d-", in.Alert.ID)) {
			bad = append(bad, fmt.Sprintf("inconsistent delivery (headers event %q, notification %d)", r.Header.Get("X-Steward-Event"), nid))
		}
	}
	if len(bad) > 0 {
		f.invalid = append(f.invalid, fmt.Sprintf("%s: %s", strings.Join(bad, "; "), body))
		http.Error(w, strings.Join(bad, "; "), http.StatusUnauthorized)
		return
	}
	if f.rng.IntN(100) < crashFailPercent {
		f.injected++
		if f.rng.IntN(2) == 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		} else {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
		return
	}
	f.order++
	d := crashHookDelivery{order: f.order, notificationID: nid, AlertID: in.Alert.ID, Event: in.Event, DedupKey: in.Alert.DedupKey}
	f.deliveries = append(f.deliveries, d)
	if f.order1[d.AlertID] == nil {
		f.order1[d.AlertID] = map[string]int{}
	}
	if f.order1[d.AlertID][d.Event] == 0 {
		f.order1[d.AlertID][d.Event] = f.order
	}
	if d.Event != "resolve" {
		f.lastBefore[d.AlertID] = f.order
	}
	if first, ok := f.byNotification[nid]; ok {
		f.duplicates++
		if first.AlertID != d.AlertID || first.Event != d.Event || first.DedupKey != d.DedupKey {
			f.dupMismatch = append(f.dupMismatch, fmt.Sprintf("notification %d was alert %d %s %s, then alert %d %s %s",
				nid, first.AlertID, first.Event, first.DedupKey, d.AlertID, d.Event, d.DedupKey))
		}
	} else {
		f.byNotification[nid] = d
		if f.byAlert[d.AlertID] == nil {
			f.byAlert[d.AlertID] = map[string][]int64{}
		}
		f.byAlert[d.AlertID][d.Event] = append(f.byAlert[d.AlertID][d.Event], nid)
	}
	w.WriteHeader(http.StatusOK)
}
