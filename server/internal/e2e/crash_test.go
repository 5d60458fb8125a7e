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
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/pgtest"
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
