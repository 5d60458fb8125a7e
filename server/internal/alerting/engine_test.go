package alerting

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steward-project/steward/server/internal/alerting/alertconf"
	"github.com/steward-project/steward/server/internal/alerting/match"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

func TestFailingPolicyPagesOnceAndResolves(t *testing.T) {
	h := newHook(t)
	f := newFixture(t, testConfig([]alertconf.Receiver{h.receiver("hook")}, failingRule))

	f.result("ssh-root", policy.StatusFail)
	trig := h.next("trigger")
	if trig.Event != "trigger" || trig.Alert.Rule != "policy-failing" || trig.Alert.Subject != "ssh-root" {
		t.Fatalf("first notification = %+v, want a trigger for ssh-root", trig)
	}
	labels := trig.Alert.Labels
	for k, want := range map[string]string{"rule": "policy-failing", "severity": "high", "policy": "ssh-root",
		"hostname": "web-1", "os": "linux", "team": "web", "host_severity": "host-label"} {
		if labels[k] != want {
			t.Errorf("label %s = %q, want %q (labels %v)", k, labels[k], want, labels)
		}
	}
	ann := trig.Alert.Annotations
	if !strings.Contains(ann["summary"], "ssh-root") || !strings.Contains(ann["evidence"], "PermitRootLogin yes") ||
		ann["url"] != "http://steward.test:8080/api/v1/alerts/"+itoa(trig.Alert.ID) {
		t.Errorf("annotations = %v", ann)
	}

	// A low-severity policy is below the rule's min_severity: no alert.
	f.result("motd", policy.StatusFail)
	// The same failure again changes nothing; a resweep finds the
	// episode open and sends nothing.
	f.result("ssh-root", policy.StatusFail)
	f.settle()
	open, err := f.st.OpenAlerts(t.Context(), store.OpenAlertQuery{})
	if err != nil || len(open) != 1 {
		t.Fatalf("open alerts = %+v, %v; want only ssh-root's", open, err)
	}

	f.result("ssh-root", policy.StatusPass)
	res := h.next("resolve")
	if res.Event != "resolve" || res.Alert.DedupKey != trig.Alert.DedupKey || res.Alert.ID != trig.Alert.ID {
		t.Errorf("resolve = %+v, want the trigger's identity %q", res, trig.Alert.DedupKey)
	}
	ns := f.waitOutbox(trig.Alert.ID)
	if len(ns) != 2 || ns[0].State != store.NotificationSent || ns[1].State != store.NotificationSent {
		t.Errorf("outbox = %+v, want a sent trigger and resolve", ns)
	}
}

func TestRestartSendsNothingAgain(t *testing.T) {
	h := newHook(t)
	f := newFixture(t, testConfig([]alertconf.Receiver{h.receiver("hook")}, failingRule))
	f.result("ssh-root", policy.StatusFail)
	trig := h.next("trigger")
	f.waitOutbox(trig.Alert.ID)

	f.stop()
	f.start() // a new engine over the same database: its first pass reconciles everything
	f.settle()
	f.settle()
	if ns := f.outbox(trig.Alert.ID); len(ns) != 1 {
		t.Errorf("after a restart the outbox has %d rows, want the one trigger", len(ns))
	}
	select {
	case m := <-h.news:
		t.Errorf("restart sent %+v", m)
	default:
	}
	// And the episode still resolves with the trigger's identity.
	f.result("ssh-root", policy.StatusPass)
	if res := h.next("resolve"); res.Event != "resolve" || res.Alert.DedupKey != trig.Alert.DedupKey {
		t.Errorf("resolve after restart = %+v", res)
	}
}

func TestRetryRetryAfterAndDeadLetter(t *testing.T) {
	h := newHook(t, 500, 429, 200, 400)
	f := newFixture(t, testConfig([]alertconf.Receiver{h.receiver("hook")}, failingRule))
	f.result("ssh-root", policy.StatusFail)
	first := h.next("first attempt")
	second := h.next("retry after 500")
	third := h.next("retry after 429")
	if first.Status != 500 || second.Status != 429 || third.Status != 200 {
		t.Fatalf("statuses = %d %d %d, want 500 429 200", first.Status, second.Status, third.Status)
	}
	if gap := third.At.Sub(second.At); gap < time.Second {
		t.Errorf("retry came %v after the 429, want at least its Retry-After of 1s", gap)
	}
	ns := f.waitOutbox(third.Alert.ID)
	if len(ns) != 1 || ns[0].State != store.NotificationSent || ns[0].Attempts != 3 {
		t.Errorf("trigger row = %+v, want sent on attempt 3", ns)
	}
	// The resolve meets a 400: dead at once, not retried.
	f.result("ssh-root", policy.StatusPass)
	if m := h.next("resolve"); m.Status != 400 {
		t.Fatalf("resolve answered %d, want 400", m.Status)
	}
	ns = f.waitOutbox(third.Alert.ID)
	if ns[0].Event != store.EventResolve || ns[0].State != store.NotificationDead || ns[0].Attempts != 1 || ns[0].LastStatus != 400 {
		t.Errorf("resolve row = %+v, want dead after one attempt with status 400", ns[0])
	}
}

func TestGiveUpAfterMaxAttempts(t *testing.T) {
	h := newHook(t, 503, 503, 503, 503)
	conf := testConfig([]alertconf.Receiver{h.receiver("hook")}, failingRule)
	conf.Delivery.MaxAttempts = 3
	f := newFixture(t, conf)
	f.result("ssh-root", policy.StatusFail)
	var last hookMsg
	for i := range 3 {
		last = h.next("attempt " + itoa(int64(i+1)))
	}
	ns := f.waitOutbox(last.Alert.ID)
	if ns[0].State != store.NotificationDead || ns[0].Attempts != 3 || !strings.Contains(ns[0].LastError, "gave up after 3 attempts") {
		t.Errorf("row = %+v, want dead after 3 attempts", ns[0])
	}
}

func TestHangingReceiverBlocksOnlyItself(t *testing.T) {
	slow, fast := newHook(t), newHook(t)
	slow.hang = make(chan struct{})
	f := newFixture(t, testConfig([]alertconf.Receiver{slow.receiver("slow"), fast.receiver("fast")}, failingRule))
	f.result("ssh-root", policy.StatusFail)
	trig := fast.next("trigger to the fast receiver")
	f.result("ssh-root", policy.StatusPass)
	if res := fast.next("resolve to the fast receiver"); res.Event != "resolve" {
		t.Fatalf("fast receiver got %+v", res)
	}
	// The slow receiver's rows are cut off by the timeout and retried.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ns, err := f.st.ListNotifications(t.Context(), store.NotificationQuery{AlertID: trig.Alert.ID, Receiver: "slow"})
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) > 0 && ns[len(ns)-1].Attempts >= 2 && strings.Contains(ns[len(ns)-1].LastError, "deadline") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slow receiver's trigger = %+v, want retried after timeouts", ns)
		}
		time.Sleep(50 * time.Millisecond) // polls the store for an outcome another goroutine writes
	}
}

func TestSilenceMutesThenNotifiesWhenItEnds(t *testing.T) {
	h := newHook(t)
	f := newFixture(t, testConfig([]alertconf.Receiver{h.receiver("hook")}, failingRule))
	ms, _ := match.ParseAll([]string{"rule=policy-failing", "team=web"})
	id, err := f.st.AddSilence(t.Context(), store.Silence{Matchers: ms, Comment: "patching", CreatedBy: "alice", EndsAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f.engine.SilencesChanged()
	f.result("ssh-root", policy.StatusFail)
	f.settle()
	open, _ := f.st.OpenAlerts(t.Context(), store.OpenAlertQuery{})
	if len(open) != 1 || !open[0].Muted || len(f.outbox(open[0].ID)) != 0 {
		t.Fatalf("open alerts = %+v, want one muted alert without notifications", open)
	}
	if err := f.st.ExpireSilence(t.Context(), id, "alice", time.Time{}); err != nil {
		t.Fatal(err)
	}
	f.engine.SilencesChanged()
	if m := h.next("trigger after the silence"); m.Event != "trigger" || m.Alert.ID != open[0].ID {
		t.Errorf("after the silence ended got %+v", m)
	}
}

func TestHostOffline(t *testing.T) {
	h := newHook(t)
	rule := alertconf.Rule{Name: "host-offline", Type: "host_offline", After: 10 * time.Minute, Severity: "high"}
	f := newFixture(t, testConfig([]alertconf.Receiver{h.receiver("hook")}, rule))
	f.settle()
	if open, _ := f.st.OpenAlerts(t.Context(), store.OpenAlertQuery{}); len(open) != 0 {
		t.Fatalf("alerts before the host went quiet: %+v", open)
	}
	f.clock.add(11 * time.Minute)
	f.engine.Resweep()
	m := h.next("host offline")
	if m.Alert.Rule != "host-offline" || m.Alert.Labels["severity"] != "high" || !strings.Contains(m.Alert.Annotations["summary"], "web-1") {
		t.Errorf("offline alert = %+v", m)
	}
	if err := f.st.HostConnected(t.Context(), f.host, store.HelloInfo{Hostname: "web-1", OS: "linux"}, f.clock.now()); err != nil {
		t.Fatal(err)
	}
	f.engine.Resweep()
	if r := h.next("host back"); r.Event != "resolve" || r.Alert.DedupKey != m.Alert.DedupKey {
		t.Errorf("host back = %+v", r)
	}
}

func TestReloadResolvesAlertsOfRemovedRules(t *testing.T) {
	h := newHook(t)
	conf := testConfig([]alertconf.Receiver{h.receiver("hook")}, failingRule)
	f := newFixture(t, conf)
	f.result("ssh-root", policy.StatusFail)
	trig := h.next("trigger")
	f.waitOutbox(trig.Alert.ID)
	next := conf
	next.Rules = nil
	if err := f.engine.Reload(next); err != nil {
		t.Fatal(err)
	}
	if r := h.next("resolve of the removed rule's alert"); r.Event != "resolve" || r.Alert.ID != trig.Alert.ID {
		t.Errorf("after reload = %+v", r)
	}
	// A reload that drops the receiver dead-letters what is still queued
	// for it, with the reason.
	f2 := newFixture(t, testConfig([]alertconf.Receiver{h.receiver("gone")}, failingRule))
	if err := f2.engine.Reload(testConfig(nil, failingRule)); err != nil {
		t.Fatal(err)
	}
	f2.result("ssh-root", policy.StatusFail)
	f2.settle()
	open, _ := f2.st.OpenAlerts(t.Context(), store.OpenAlertQuery{})
	if len(open) != 1 {
		t.Fatalf("open = %+v", open)
	}
	if ns := f2.outbox(open[0].ID); len(ns) != 0 {
		t.Errorf("notifications for an alert no route sends anywhere: %+v", ns)
	}
}

func TestRetryDelay(t *testing.T) {
	d := alertconf.Delivery{BackoffBase: 2 * time.Second, BackoffMax: 10 * time.Minute}
	for attempt := 1; attempt <= 20; attempt++ {
		ceil := min(d.BackoffBase<<min(attempt-1, 20), d.BackoffMax)
		for range 50 {
			got := retryDelay(d, attempt, 0)
			if got < time.Second || got > ceil {
				t.Fatalf("attempt %d: delay %v outside [1s, %v]", attempt, got, ceil)
			}
		}
	}
	if got := retryDelay(d, 1, 7*time.Second); got != 7*time.Second {
		t.Errorf("asked 7s, got %v", got)
	}
	if got := retryDelay(d, 1, 5*time.Hour); got != time.Hour {
		t.Errorf("asked 5h, got %v, want the 1h cap", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestMetrics(t *testing.T) {
	h := newHook(t, 400)
	f := newFixture(t, testConfig([]alertconf.Receiver{h.receiver("hook")}, failingRule))
	f.result("ssh-root", policy.StatusFail)
	m := h.next("trigger")
	f.waitOutbox(m.Alert.ID)
	if err := f.engine.updateGauges(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"steward_alerts firing", testutil.ToFloat64(f.m.Alerts.WithLabelValues("policy-failing", "high", "firing")), 1},
		{"steward_notifications_queued dead", testutil.ToFloat64(f.m.NotificationsQueued.WithLabelValues("hook", "dead")), 1},
		{"steward_notifications_total dead", testutil.ToFloat64(f.m.Notifications.WithLabelValues("hook", "dead")), 1},
		{"steward_alert_transitions_total opened", testutil.ToFloat64(f.m.AlertTransitions.WithLabelValues("policy-failing", "high", "opened")), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// No host or software name is a label value of any alerting series.
	if n := testutil.CollectAndCount(f.m.Alerts); n != 1 {
		t.Errorf("steward_alerts has %d series, want 1", n)
	}
}
