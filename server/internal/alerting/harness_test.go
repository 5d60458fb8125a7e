package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/alertconf"
	"github.com/steward-project/steward/server/internal/alerting/notify"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/sqlite"
	"github.com/steward-project/steward/shared/policy"
)

// hook is a webhook receiver that records what it gets and answers with
// a scripted sequence of statuses (then 200).
type hook struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	got    []hookMsg
	script []int
	hang   chan struct{} // when set, every request blocks on it
	news   chan hookMsg
}

type hookMsg struct {
	At             time.Time
	Status         int
	Event          string `json:"event"`
	NotificationID int64  `json:"notification_id"`
	Alert          struct {
		ID          int64             `json:"id"`
		DedupKey    string            `json:"dedup_key"`
		Rule        string            `json:"rule"`
		Subject     string            `json:"subject"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"alert"`
}

func newHook(t *testing.T, script ...int) *hook {
	h := &hook{t: t, script: script, news: make(chan hookMsg, 100)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.hang != nil {
			select {
			case <-h.hang:
			case <-r.Context().Done():
			}
			return
		}
		body, _ := io.ReadAll(r.Body)
		var m hookMsg
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("hook got invalid JSON: %v", err)
		}
		if !notify.VerifySignature([]byte("s3cret"), body, r.Header.Get("X-Steward-Signature")) {
			t.Errorf("hook got a body with a bad signature")
		}
		h.mu.Lock()
		status := http.StatusOK
		if len(h.script) > 0 {
			status, h.script = h.script[0], h.script[1:]
		}
		m.At, m.Status = time.Now(), status
		h.got = append(h.got, m)
		h.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		h.news <- m
	}))
	t.Cleanup(func() {
		if h.hang != nil {
			close(h.hang)
		}
		h.srv.Close()
	})
	return h
}

// next waits for the next request the hook answered.
func (h *hook) next(what string) hookMsg {
	h.t.Helper()
	select {
	case m := <-h.news:
		return m
	case <-time.After(20 * time.Second):
		h.t.Fatalf("no %s reached the receiver within 20s", what)
		return hookMsg{}
	}
}

func (h *hook) receiver(name string) alertconf.Receiver {
	return alertconf.Receiver{Name: name, Config: notify.Config{Webhook: &notify.WebhookConfig{URL: h.srv.URL, Secret: notify.NewSecret("s3cret")}}}
}

// fixture is a SQLite store with one host and one policy, and an engine
// over it.
type fixture struct {
	t      *testing.T
	st     *sqlite.Store
	host   int64
	conf   alertconf.Config
	engine *Engine
	m      *metrics.Metrics
	stop   func()
	clock  *clock
}

// clock runs with real time, shifted by what tests add, so that retries
// come due by themselves while a test can still jump ahead.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.offset)
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func testConfig(receivers []alertconf.Receiver, rules ...alertconf.Rule) alertconf.Config {
	c := alertconf.Default()
	c.Receivers = receivers
	var names []string
	for _, r := range receivers {
		names = append(names, r.Name)
	}
	c.Routes = []alertconf.Route{{Receivers: names}}
	c.Rules = rules
	c.Delivery.BackoffBase, c.Delivery.BackoffMax = 20*time.Millisecond, 100*time.Millisecond
	c.Delivery.Timeout = 500 * time.Millisecond
	c.ExternalURL = "http://steward.test:8080"
	return c
}

var failingRule = alertconf.Rule{Name: "policy-failing", Type: "policy_failing", MinSeverity: "medium"}

func newFixture(t *testing.T, conf alertconf.Config) *fixture {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "steward.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, st: st, conf: conf, clock: &clock{}}
	f.host, err = st.EnrollHost(ctx, store.NewHost{NodeKeyHash: fmt.Sprintf("%064x", 1), Hostname: "web-1", EnrolledAt: f.clock.now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.HostConnected(ctx, f.host, store.HelloInfo{Hostname: "web-1", OS: "linux", Arch: "amd64"}, f.clock.now()); err != nil {
		t.Fatal(err)
	}
	if err := st.SetHostLabels(ctx, f.host, map[string]string{"team": "web", "severity": "host-label"}, "test"); err != nil {
		t.Fatal(err)
	}
	_, err = st.ApplyPolicies(ctx, store.PolicyApply{Actor: "test", Policies: []store.PolicySpec{
		{Policy: policy.Policy{ID: "ssh-root", Title: "SSH denies root", Severity: policy.SeverityHigh,
			Remediation: "PermitRootLogin no", Check: policy.Check{File: &policy.FileCheck{Path: "/etc/ssh/sshd_config"}}}},
		{Policy: policy.Policy{ID: "motd", Title: "MOTD", Severity: policy.SeverityLow,
			Check: policy.Check{File: &policy.FileCheck{Path: "/etc/motd"}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.start()
	return f
}

func (f *fixture) start() {
	f.t.Helper()
	f.m = metrics.New("test")
	e, err := New(Config{Store: f.st, Alerting: f.conf, Workers: 1, Now: f.clock.now, Started: f.clock.now(), Metrics: f.m})
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	f.engine = e
	f.stop = func() { cancel(); <-done }
	f.t.Cleanup(func() { f.stop() })
}

// result stores one result of the host and tells the engine, as the
// gateway does.
func (f *fixture) result(policyID string, st policy.Status) {
	f.t.Helper()
	f.clock.add(time.Second)
	rev, _ := f.st.PolicyRevision(f.t.Context())
	ts, err := f.st.ApplyResults(f.t.Context(), []store.ResultBatch{{HostID: f.host, Revision: rev, Results: []policy.Result{{
		PolicyID: policyID, Status: st, CheckedAt: f.clock.now(),
		Evidence: []policy.Evidence{{Check: "check.file", Passed: st == policy.StatusPass, Detail: "PermitRootLogin yes"}},
	}}}})
	if err != nil {
		f.t.Fatal(err)
	}
	f.engine.ResultsChanged(ts)
}

// settle waits for an evaluation pass that started after this call.
func (f *fixture) settle() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.t.Context(), 20*time.Second)
	defer cancel()
	n := f.engine.WaitPass(ctx, 0)
	f.engine.Resweep()
	if got := f.engine.WaitPass(ctx, n+2); got < n+2 {
		f.t.Fatal("the engine did not finish an evaluation pass within 20s")
	}
}

func (f *fixture) outbox(alertID int64) []store.Notification {
	f.t.Helper()
	ns, err := f.st.ListNotifications(f.t.Context(), store.NotificationQuery{AlertID: alertID})
	if err != nil {
		f.t.Fatal(err)
	}
	return ns
}

// waitOutbox waits until every row of the alert's outbox is final.
func (f *fixture) waitOutbox(alertID int64) []store.Notification {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ns := f.outbox(alertID)
		pending := false
		for _, n := range ns {
			pending = pending || n.State == store.NotificationPending
		}
		if !pending {
			return ns
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("alert %d's notifications still pending after 20s: %+v", alertID, ns)
		}
		f.engine.signal(f.engine.deliver)
		time.Sleep(20 * time.Millisecond) // polls a database, not a clock: there is no event to wait on across processes
	}
}
