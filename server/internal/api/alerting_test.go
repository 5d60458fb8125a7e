package api_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/sqlite"
)

// alertFixture is the API over a real SQLite store, which serves tokens,
// hosts, the audit log and alerting alike, with its hooks recorded.
type alertFixture struct {
	*fixture
	db *sqlite.Store

	mu       sync.Mutex
	acked    []int64  // alert ids AlertAcked was called with
	silences int      // SilencesChanged calls
	reloads  []string // actors ReloadAlerting was called with
	reload   func() (any, error)
}

func newAlertFixture(t *testing.T) *alertFixture {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Bootstrap(ctx, store.Credential{Name: "ops-token", Hash: auth.Hash(token)},
		store.Credential{Name: "enroll", Hash: auth.Hash("enroll-secret")}); err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	f := &alertFixture{fixture: &fixture{logs: logs}, db: db}
	f.reload = func() (any, error) { return map[string]int{"receivers": 2, "routes": 1, "rules": 3}, nil }
	f.handler = api.New(api.Config{
		Store:    db,
		Alerting: db,
		Logger:   slog.New(slog.NewJSONHandler(logs, nil)),
		Now:      func() time.Time { return now },
		AlertAcked: func(a store.Alert) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.acked = append(f.acked, a.ID)
		},
		SilencesChanged: func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.silences++
		},
		ReloadAlerting: func(_ context.Context, actor string) (any, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.reloads = append(f.reloads, actor)
			return f.reload()
		},
	})
	return f
}

// hooks returns what the hooks were called with so far.
func (f *alertFixture) hooks() (acked []int64, silences int, reloads []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.acked...), f.silences, append([]string(nil), f.reloads...)
}

// slackURL is a receiver URL that is a credential; it must never reach
// an API answer.
const slackURL = "https://hooks.slack.com/services/T0000/B0000/XXXXSECRETXXXX"

// seed stores two hosts and four alerts through the store:
//
//	1 policy_failing   web-1 ssh-root  medium   resolved  slack
//	2 host_offline     db-1            critical firing    pager, slack
//	3 inventory_change web-1           low      firing    muted
//	4 policy_failing   db-1  ssh-root  medium   firing    slack, pager
//
// and six notifications: 1 slack sent, 2 pager sent, 3 slack dead (an
// error quoting the Slack URL), 4 slack resolve of alert 1 pending, 5
// slack sent, 6 pager dead.
func (f *alertFixture) seed(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	for _, h := range []string{"web-1", "db-1"} {
		if _, err := f.db.EnrollHost(ctx, store.NewHost{NodeKeyHash: auth.Hash("key-" + h), Hostname: h, EnrolledAt: now.Add(-48 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	spec := func(rule string, host int64, subject, severity string) store.AlertSpec {
		hostname := map[int64]string{1: "web-1", 2: "db-1"}[host]
		return store.AlertSpec{Rule: rule, HostID: host, Subject: subject, Severity: severity,
			Labels:      map[string]string{"rule": rule, "severity": severity, "hostname": hostname},
			Annotations: map[string]string{"summary": rule + " on " + hostname}}
	}
	steps := []store.AlertChanges{
		{At: now.Add(-5 * time.Hour), Open: []store.AlertOpen{{Spec: spec("policy_failing", 1, "ssh-root", "medium"), Receivers: []string{"slack"}}}},
		{At: now.Add(-4 * time.Hour), Open: []store.AlertOpen{{Spec: spec("host_offline", 2, "", "critical"), Receivers: []string{"pager", "slack"}}}},
		{At: now.Add(-3 * time.Hour), Open: []store.AlertOpen{{Spec: spec("inventory_change", 1, "software_installed:telnetd", "low"), Muted: true}}},
		{At: now.Add(-2 * time.Hour), Resolve: []int64{1}},
		{At: now.Add(-time.Hour), Open: []store.AlertOpen{{Spec: spec("policy_failing", 2, "ssh-root", "medium"), Receivers: []string{"slack", "pager"}}}},
	}
	for _, c := range steps {
		if _, err := f.db.ApplyAlertChanges(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := f.db.ClaimNotifications(ctx, store.NotificationClaim{Now: now.Add(-30 * time.Minute), Lease: time.Minute, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	outcome := map[int64]store.NotificationOutcome{
		1: {State: store.NotificationSent},
		2: {State: store.NotificationSent},
		3: {State: store.NotificationDead, Status: 404, Error: `slack receiver "slack": Not Found: "no_service" (POST ` + slackURL + `)`},
		5: {State: store.NotificationSent},
		6: {State: store.NotificationDead, Status: 400, Error: `pagerduty receiver "pager": Bad Request: "invalid routing key"`},
	}
	var outs []store.NotificationOutcome
	for _, c := range claimed {
		o, ok := outcome[c.ID]
		if !ok {
			t.Fatalf("claimed notification %d, want only %v", c.ID, outcome)
		}
		o.ID, o.Attempts, o.At = c.ID, c.Attempts, now.Add(-29*time.Minute)
		outs = append(outs, o)
	}
	if n, err := f.db.RecordOutcomes(ctx, outs); err != nil || n != len(outcome) {
		t.Fatalf("record outcomes: %d applied, %v", n, err)
	}
}

// alertingRoutes is one request per alerting route.
var alertingRoutes = []struct{ method, path, body string }{
	{http.MethodGet, "/api/v1/alerts", ""},
	{http.MethodGet, "/api/v1/alerts/1", ""},
	{http.MethodPost, "/api/v1/alerts/1/ack", `{"comment":"x"}`},
	{http.MethodPost, "/api/v1/silences", `{"matchers":["rule=x"],"comment":"c","duration":"1h"}`},
	{http.MethodGet, "/api/v1/silences", ""},
	{http.MethodGet, "/api/v1/silences/1", ""},
	{http.MethodDelete, "/api/v1/silences/1", ""},
	{http.MethodGet, "/api/v1/notifications", ""},
	{http.MethodPost, "/api/v1/alerting/reload", ""},
}

func TestAlertingRoutesNeedAToken(t *testing.T) {
	f := newAlertFixture(t)
	f.seed(t)
	for _, rt := range alertingRoutes {
		for _, authz := range []string{"", "Bearer wrong"} {
			wantError(t, f.send(t, rt.method, rt.path, authz, "application/json", rt.body), http.StatusUnauthorized, "token")
		}
	}
	if acked, silences, reloads := f.hooks(); len(acked)+silences+len(reloads) != 0 {
		t.Errorf("hooks called without a token: %v %d %v", acked, silences, reloads)
	}
}

func TestAlertingOff(t *testing.T) {
	f := newFixture(t) // no Alerting, no ReloadAlerting
	for _, rt := range alertingRoutes {
		want := "alerting is not available"
		if strings.HasSuffix(rt.path, "/reload") {
			want = "alerting reload is not available"
		}
		wantError(t, f.send(t, rt.method, rt.path, "Bearer "+token, "application/json", rt.body), http.StatusServiceUnavailable, want)
		wantError(t, f.send(t, rt.method, rt.path, "", "application/json", rt.body), http.StatusUnauthorized, "token")
	}
}

func TestAlertingStoreErrorsAnswer503(t *testing.T) {
	f := newAlertFixture(t)
	f.seed(t)
	failing := failingAlerts{AlertingStore: f.db, err: errors.New("disk I/O error in table alerts_secret")}
	f.handler = api.New(api.Config{Store: f.db, Alerting: failing, Logger: slog.New(slog.NewJSONHandler(f.logs, nil)), Now: func() time.Time { return now }})
	for _, path := range []string{"/api/v1/alerts", "/api/v1/alerts/2", "/api/v1/silences", "/api/v1/notifications"} {
		rec := f.get(t, path)
		wantError(t, rec, http.StatusServiceUnavailable, "the store is unavailable")
		if strings.Contains(rec.Body.String(), "alerts_secret") || rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s: body %s, Retry-After %q", path, rec.Body, rec.Header().Get("Retry-After"))
		}
	}
}

// failingAlerts fails every read.
type failingAlerts struct {
	api.AlertingStore
	err error
}

func (s failingAlerts) ListAlerts(context.Context, store.AlertQuery) ([]store.Alert, error) {
	return nil, s.err
}

func (s failingAlerts) GetAlert(context.Context, int64) (store.Alert, error) {
	return store.Alert{}, s.err
}

func (s failingAlerts) ListSilences(context.Context, store.SilenceQuery) ([]store.Silence, error) {
	return nil, s.err
}

func (s failingAlerts) ListNotifications(context.Context, store.NotificationQuery) ([]store.Notification, error) {
	return nil, s.err
}

func TestReloadAlerting(t *testing.T) {
	f := newAlertFixture(t)

	ok := decode[apitypes.ReloadResult](t, f.send(t, http.MethodPost, "/api/v1/alerting/reload", "Bearer "+token, "", ""), http.StatusOK)
	summary, _ := ok.Summary.(map[string]any)
	if !ok.Reloaded || summary["rules"] != 3.0 || summary["receivers"] != 2.0 {
		t.Errorf("reload = %+v", ok)
	}

	f.reload = func() (any, error) {
		return nil, errors.Join(
			errors.New("/etc/steward/server.yaml:12: receivers[0].type: \"pagerdooty\" is not one of pagerduty, alertmanager, slack, email, webhook"),
			errors.New("/etc/steward/server.yaml:30: routes[1].receiver: no receiver named \"oncall\""))
	}
	bad := decode[apitypes.ReloadError](t, f.send(t, http.MethodPost, "/api/v1/alerting/reload", "Bearer "+token, "", ""), http.StatusBadRequest)
	if !strings.Contains(bad.Error, "2 problem(s)") || !strings.Contains(bad.Error, "previous one stays") || len(bad.Problems) != 2 ||
		!strings.HasPrefix(bad.Problems[0], "/etc/steward/server.yaml:12: receivers[0].type") ||
		!strings.HasPrefix(bad.Problems[1], "/etc/steward/server.yaml:30: routes[1].receiver") {
		t.Errorf("refused reload = %+v", bad)
	}

	f.reload = func() (any, error) {
		return nil, errors.New("config file: open /etc/steward/server.yaml: permission denied")
	}
	one := decode[apitypes.ReloadError](t, f.send(t, http.MethodPost, "/api/v1/alerting/reload", "Bearer "+token, "", ""), http.StatusBadRequest)
	if len(one.Problems) != 1 || !strings.Contains(one.Problems[0], "permission denied") {
		t.Errorf("refused reload = %+v", one)
	}

	if _, _, reloads := f.hooks(); strings.Join(reloads, ",") != "ops-token,ops-token,ops-token" {
		t.Errorf("ReloadAlerting actors %q, want the token name three times", reloads)
	}
	wantError(t, f.get(t, "/api/v1/alerting/reload"), http.StatusMethodNotAllowed, "not allowed")
}
