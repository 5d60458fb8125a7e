package ctl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/match"
	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/ctl"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/sqlite"
)

// alertServer is the real API over a real SQLite store, which holds the
// token, the hosts, the audit log and the alerting tables.
type alertServer struct {
	*httptest.Server
	db       *sqlite.Store
	requests atomic.Int64

	mu     sync.Mutex
	reload func() (any, error)
	acked  []int64
}

func newAlertServer(t *testing.T) *alertServer {
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
	if _, err := db.Bootstrap(ctx, store.Credential{Name: "alice", Hash: auth.Hash(token)},
		store.Credential{Name: "enroll", Hash: auth.Hash("enroll-secret")}); err != nil {
		t.Fatal(err)
	}
	as := &alertServer{db: db}
	as.reload = func() (any, error) {
		return map[string]any{"file": "/etc/steward/server.yaml", "receivers": 3, "routes": 4, "rules": 5, "maintenance_windows": 1}, nil
	}
	h := api.New(api.Config{
		Store:    db,
		Alerting: db,
		Now:      func() time.Time { return now },
		AlertAcked: func(a store.Alert) {
			as.mu.Lock()
			defer as.mu.Unlock()
			as.acked = append(as.acked, a.ID)
		},
		ReloadAlerting: func(context.Context, string) (any, error) {
			as.mu.Lock()
			defer as.mu.Unlock()
			return as.reload()
		},
	})
	as.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		as.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(as.Close)
	return as
}

func (as *alertServer) env() map[string]string {
	return map[string]string{"STEWARD_SERVER": as.URL, "STEWARD_TOKEN": token}
}

func (as *alertServer) setReload(fn func() (any, error)) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.reload = fn
}

// seed stores two hosts, four alerts, their notifications (one dead
// letter each on alerts 2 and 4, the resolve of alert 1 pending) and
// three silences: expired, active and pending.
func (as *alertServer) seed(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	for _, h := range []string{"web-1", "db-1"} {
		if _, err := as.db.EnrollHost(ctx, store.NewHost{NodeKeyHash: auth.Hash("key-" + h), Hostname: h, EnrolledAt: now.Add(-48 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	spec := func(rule string, host int64, subject, severity, summary string) store.AlertSpec {
		hostname := map[int64]string{1: "web-1", 2: "db-1"}[host]
		return store.AlertSpec{Rule: rule, HostID: host, Subject: subject, Severity: severity,
			Labels:      map[string]string{"rule": rule, "severity": severity, "host_id": fmt.Sprint(host), "hostname": hostname, "os": "linux"},
			Annotations: map[string]string{"summary": summary}}
	}
	failing := spec("ssh-root-login", 2, "ssh-root", "medium", "db-1 fails ssh-root")
	failing.Annotations["evidence"] = "/etc/ssh/sshd_config:32: PermitRootLogin yes\n/etc/ssh/sshd_config.d/10.conf:1: PermitRootLogin yes"
	steps := []store.AlertChanges{
		{At: now.Add(-5 * time.Hour), Open: []store.AlertOpen{{Spec: spec("ssh-root-login", 1, "ssh-root", "medium", "web-1 fails ssh-root"), Receivers: []string{"slack"}}}},
		{At: now.Add(-4 * time.Hour), Open: []store.AlertOpen{{Spec: spec("host-offline", 2, "", "critical", "db-1 is offline"), Receivers: []string{"pager", "slack"}}}},
		{At: now.Add(-3 * time.Hour), Open: []store.AlertOpen{{Spec: spec("new-software", 1, "software_installed:telnetd", "low", "telnetd installed on web-1"), Muted: true}}},
		{At: now.Add(-2 * time.Hour), Resolve: []int64{1}},
		{At: now.Add(-90 * time.Minute), Open: []store.AlertOpen{{Spec: failing, Receivers: []string{"slack", "pager"}}}},
	}
	for _, c := range steps {
		if _, err := as.db.ApplyAlertChanges(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := as.db.ClaimNotifications(ctx, store.NotificationClaim{Now: now.Add(-time.Hour), Lease: time.Minute, Limit: 10})
	if err != nil || len(claimed) != 5 {
		t.Fatalf("claimed %d, %v", len(claimed), err)
	}
	states := map[int64]store.NotificationOutcome{
		1: {State: store.NotificationSent},
		2: {State: store.NotificationSent},
		3: {State: store.NotificationDead, Status: 404, Error: `slack receiver "slack": Not Found: "channel_not_found"`},
		5: {State: store.NotificationSent},
		6: {State: store.NotificationDead, Status: 400, Error: "pagerduty receiver \"pager\": Bad Request:\n\"Invalid Routing Key\""},
	}
	var outs []store.NotificationOutcome
	for _, c := range claimed {
		o := states[c.ID]
		o.ID, o.Attempts, o.At = c.ID, c.Attempts, now.Add(-59*time.Minute)
		outs = append(outs, o)
	}
	if _, err := as.db.RecordOutcomes(ctx, outs); err != nil {
		t.Fatal(err)
	}
	for _, sl := range []struct {
		matchers    []string
		comment     string
		starts, end time.Duration
	}{
		{[]string{"rule=host-offline"}, "reboot window", -6 * time.Hour, -5 * time.Hour},
		{[]string{"rule=new-software", "hostname=~web-.*"}, "image rebuild,\nexpected", -3*time.Hour - time.Minute, 2 * time.Hour},
		{[]string{`team="data eng"`}, "migration", 24 * time.Hour, 26 * time.Hour},
	} {
		parsed, err := match.ParseAll(sl.matchers)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := as.db.AddSilence(ctx, store.Silence{Matchers: parsed, Comment: sl.comment, CreatedBy: "bob",
			CreatedAt: now.Add(sl.starts - time.Minute), StartsAt: now.Add(sl.starts), EndsAt: now.Add(sl.end)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAlertCommandsOutput(t *testing.T) {
	as := newAlertServer(t)
	as.seed(t)
	cases := []struct {
		name   string
		args   []string
		golden string
	}{
		{"alerts list", []string{"alerts", "list"}, "alerts_list.txt"},
		{"alerts list all", []string{"alerts", "list", "--all"}, "alerts_list_all.txt"},
		{"alerts list json", []string{"alerts", "list", "--all", "-o", "json"}, "alerts_list.json"},
		{"alerts list filtered", []string{"alerts", "list", "--state", "resolved", "--rule", "ssh-root-login", "--host", "1"}, "alerts_list_resolved.txt"},
		{"alerts list severity", []string{"alerts", "list", "--severity", "critical"}, "alerts_list_critical.txt"},
		{"alerts show", []string{"alerts", "show", "4"}, "alerts_show.txt"},
		{"alerts show muted", []string{"alerts", "show", "3"}, "alerts_show_muted.txt"},
		{"alerts show json", []string{"alerts", "show", "2", "-o", "json"}, "alerts_show.json"},
		{"silences list", []string{"silences", "list"}, "silences_list.txt"},
		{"silences list all", []string{"silences", "list", "--all"}, "silences_list_all.txt"},
		{"notifications list", []string{"notifications", "list"}, "notifications_list.txt"},
		{"notifications dead", []string{"notifications", "list", "--dead"}, "notifications_list_dead.txt"},
		{"notifications filtered", []string{"notifications", "list", "--receiver", "slack", "--alert", "1", "-o", "json"}, "notifications_list.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, as.env(), tc.args...)
			if r.code != ctl.ExitOK || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if strings.HasSuffix(tc.golden, ".json") && !json.Valid([]byte(r.stdout)) {
				t.Fatalf("-o json printed invalid JSON:\n%s", r.stdout)
			}
			golden(t, tc.golden, r.stdout)
		})
	}
}

func TestAlertsAck(t *testing.T) {
	as := newAlertServer(t)
	as.seed(t)
	env := as.env()
	r := run(t, env, "alerts", "ack", "2", "--comment", "rebooting it")
	want := "Alert 2 (host-offline on db-1 (2)) acknowledged by alice at 2025-03-01T12:00:00Z: rebooting it.\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("ack: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	// A second ack reports the first.
	if r = run(t, env, "alerts", "ack", "2", "--comment", "me too"); r.code != 0 || r.stdout != want {
		t.Errorf("ack twice: exit %d, stdout %q", r.code, r.stdout)
	}
	r = run(t, env, "alerts", "ack", "4", "-o", "json")
	var a apitypes.Alert
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &a) != nil || a.State != "acknowledged" || a.AckComment != "" {
		t.Errorf("ack json: exit %d, %q", r.code, r.stdout)
	}
	r = run(t, env, "alerts", "ack", "1")
	if r.code != ctl.ExitError || r.stderr != "stewardctl: alert 1 is already resolved (409 from POST /api/v1/alerts/1/ack)\n" {
		t.Errorf("ack resolved: exit %d, %q", r.code, r.stderr)
	}
	r = run(t, env, "alerts", "show", "99")
	if r.code != ctl.ExitError || r.stderr != "stewardctl: alert 99 not found (404 from GET /api/v1/alerts/99)\n" {
		t.Errorf("show unknown: exit %d, %q", r.code, r.stderr)
	}
	as.mu.Lock()
	acked := fmt.Sprint(as.acked)
	as.mu.Unlock()
	if acked != "[2 4]" {
		t.Errorf("AlertAcked for %s, want [2 4]", acked)
	}
	r = run(t, env, "alerts", "list", "--state", "acknowledged")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 3 ||
		!strings.HasPrefix(lines[1], "4   acknowledged") || !strings.HasPrefix(lines[2], "2   acknowledged") {
		t.Errorf("acknowledged alerts: exit %d\n%s", r.code, r.stdout)
	}
}

func TestSilencesCommands(t *testing.T) {
	as := newAlertServer(t)
	as.seed(t)
	env := as.env()
	r := run(t, env, "silences", "add", "--match", "rule=host-offline", "--match", "hostname=~db-.*", "--comment", "patching", "--duration", "2h")
	if want := "Added silence 4 (active until 2025-03-01T14:00:00Z): rule=host-offline, hostname=~db-.*\n"; r.code != 0 || r.stdout != want {
		t.Fatalf("add: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	r = run(t, env, "silences", "add", "--match", "severity=low", "--comment", "later", "--starts", "2025-03-02T00:00:00Z", "--ends", "2025-03-02T06:00:00+02:00")
	if want := "Added silence 5 (from 2025-03-02T00:00:00Z until 2025-03-02T04:00:00Z): severity=low\n"; r.code != 0 || r.stdout != want {
		t.Errorf("add pending: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	r = run(t, env, "silences", "expire", "4")
	if want := "Expired silence 4 (expired 2025-03-01T12:00:00Z by alice): rule=host-offline, hostname=~db-.*\n"; r.code != 0 || r.stdout != want {
		t.Errorf("expire: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	r = run(t, env, "silences", "expire", "4")
	if r.code != ctl.ExitError || r.stderr != "stewardctl: silence 4 has already ended (409 from DELETE /api/v1/silences/4)\n" {
		t.Errorf("expire twice: exit %d, %q", r.code, r.stderr)
	}
	r = run(t, env, "silences", "list", "-o", "json")
	var list struct {
		Silences []apitypes.Silence `json:"silences"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list.Silences) != 3 || list.Silences[0].ID != 5 {
		t.Errorf("list json: exit %d, %q", r.code, r.stdout)
	}

	refused := []struct {
		args []string
		want string
	}{
		{[]string{"--match", "team!=db", "--comment", "c", "--duration", "1h"}, "at least one must not match an empty value"},
		{[]string{"--match", "rule=x", "--comment", "c", "--ends", "2025-03-01T11:00:00Z"}, "not in the future"},
	}
	for _, tc := range refused {
		r := run(t, env, append([]string{"silences", "add"}, tc.args...)...)
		if r.code != ctl.ExitError || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "(400 from POST /api/v1/silences)") {
			t.Errorf("%q: exit %d, stderr %q; want exit 1 with %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestAlertingReloadCommand(t *testing.T) {
	as := newAlertServer(t)
	env := as.env()
	r := run(t, env, "alerting", "reload")
	want := `Alerting configuration reloaded.
  File:                 /etc/steward/server.yaml
  Maintenance windows:  1
  Receivers:            3
  Routes:               4
  Rules:                5
`
	if r.code != 0 || r.stdout != want {
		t.Errorf("reload: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	r = run(t, env, "alerting", "reload", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"reloaded": true`) {
		t.Errorf("reload json: exit %d, %q", r.code, r.stdout)
	}

	as.setReload(func() (any, error) {
		return nil, errors.Join(
			errors.New(`/etc/steward/server.yaml:14: receivers[1].type: "pagerdooty" is not one of pagerduty, alertmanager, slack, email, webhook`),
			errors.New(`/etc/steward/server.yaml:31: routes[0].receiver: no receiver named "oncall"`))
	})
	r = run(t, env, "alerting", "reload")
	wantErr := `/etc/steward/server.yaml:14: receivers[1].type: "pagerdooty" is not one of pagerduty, alertmanager, slack, email, webhook` + "\n" +
		`/etc/steward/server.yaml:31: routes[0].receiver: no receiver named "oncall"` + "\n" +
		"stewardctl: 2 problem(s); the alerting configuration in force stays\n"
	if r.code != ctl.ExitError || r.stdout != "" || r.stderr != wantErr {
		t.Errorf("refused reload: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, wantErr)
	}

	as.setReload(func() (any, error) { return nil, nil })
	if r = run(t, env, "alerting", "reload"); r.code != 0 || r.stdout != "Alerting configuration reloaded.\n" {
		t.Errorf("reload without summary: exit %d, %q", r.code, r.stdout)
	}
}

func TestAlertCommandsWithoutAlerting(t *testing.T) {
	ts := newTestServer(t) // the API without Alerting or ReloadAlerting
	env := map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": token}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"alerts", "list"}, "stewardctl: alerting is not available (503 from GET /api/v1/alerts)\n"},
		{[]string{"silences", "list"}, "stewardctl: alerting is not available (503 from GET /api/v1/silences)\n"},
		{[]string{"notifications", "list", "--dead"}, "stewardctl: alerting is not available (503 from GET /api/v1/notifications)\n"},
		{[]string{"alerting", "reload"}, "stewardctl: alerting reload is not available (503 from POST /api/v1/alerting/reload)\n"},
	}
	for _, tc := range cases {
		if r := run(t, env, tc.args...); r.code != ctl.ExitError || r.stderr != tc.want {
			t.Errorf("%q: exit %d, stderr %q; want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestAlertsListFollowsEveryPage(t *testing.T) {
	as := newAlertServer(t)
	ctx := t.Context()
	if _, err := as.db.EnrollHost(ctx, store.NewHost{NodeKeyHash: "k", Hostname: "h", EnrolledAt: now}); err != nil {
		t.Fatal(err)
	}
	var opens []store.AlertOpen
	for i := range 120 {
		opens = append(opens, store.AlertOpen{Spec: store.AlertSpec{Rule: "r", HostID: 1, Subject: fmt.Sprintf("s%03d", i+1), Severity: "low"}})
	}
	if _, err := as.db.ApplyAlertChanges(ctx, store.AlertChanges{At: now.Add(-time.Hour), Open: opens}); err != nil {
		t.Fatal(err)
	}
	before := as.requests.Load()
	r := run(t, as.env(), "alerts", "list", "--limit", "50")
	if got := as.requests.Load() - before; r.code != 0 || got != 3 {
		t.Fatalf("exit %d, %d requests; want 3 pages", r.code, got)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 121 || !strings.HasPrefix(lines[1], "120 ") || !strings.HasPrefix(lines[120], "1 ") {
		t.Errorf("%d lines, first %q, last %q; want header + 120, newest first", len(lines), lines[1], lines[len(lines)-1])
	}
}

func TestAlertCommandsUsage(t *testing.T) {
	as := newAlertServer(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"alerts", "list", "--state", "closed"}, `--state "closed": want one of open, firing`},
		{[]string{"alerts", "list", "--state", "firing", "--all"}, "--state or --all, not both"},
		{[]string{"alerts", "list", "--severity", "urgent"}, `--severity "urgent"`},
		{[]string{"alerts", "list", "--host", "-1"}, "not a positive integer"},
		{[]string{"alerts", "list", "--limit", "0"}, "--limit"},
		{[]string{"alerts", "show", "x"}, `alert ID "x" is not a positive integer`},
		{[]string{"alerts", "ack"}, "takes 1 argument"},
		{[]string{"alerts", "ack", "0"}, "not a positive integer"},
		{[]string{"alerts"}, "alerts needs a subcommand"},
		{[]string{"alerting"}, "alerting needs a subcommand"},
		{[]string{"silences", "add", "--comment", "c", "--duration", "1h"}, "silences add needs --match"},
		{[]string{"silences", "add", "--match", "rule=x", "--duration", "1h"}, "silences add needs --comment"},
		{[]string{"silences", "add", "--match", "rule=x", "--comment", "c"}, "--duration or --ends, not both"},
		{[]string{"silences", "add", "--match", "rule=x", "--comment", "c", "--duration", "1h", "--ends", "2025-03-02T00:00:00Z"}, "--duration or --ends, not both"},
		{[]string{"silences", "add", "--match", "rule", "--comment", "c", "--duration", "1h"}, `--match: matcher "rule"`},
		{[]string{"silences", "add", "--match", "host=~(", "--comment", "c", "--duration", "1h"}, "--match: matcher"},
		{[]string{"silences", "add", "--match", "rule=x", "--comment", "c", "--duration", "soon"}, `--duration "soon"`},
		{[]string{"silences", "add", "--match", "rule=x", "--comment", "c", "--duration", "0d"}, `--duration "0d"`},
		{[]string{"silences", "add", "--match", "rule=x", "--comment", "c", "--ends", "tomorrow"}, `--ends "tomorrow"`},
		{[]string{"silences", "add", "--match", "rule=x", "--comment", "c", "--duration", "1h", "--starts", "now"}, `--starts "now"`},
		{[]string{"silences", "expire", "x"}, `silence ID "x" is not a positive integer`},
		{[]string{"notifications", "list", "--state", "lost"}, `--state "lost"`},
		{[]string{"notifications", "list", "--dead", "--state", "sent"}, "contradicts --state sent"},
		{[]string{"notifications", "list", "--alert", "-2"}, "not a positive integer"},
		{[]string{"alerting", "reload", "now"}, "takes 0 argument"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			before := as.requests.Load()
			r := run(t, as.env(), tc.args...)
			if r.code != ctl.ExitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 with %q", r.code, r.stderr, tc.want)
			}
			if n := as.requests.Load() - before; n != 0 {
				t.Errorf("%d requests sent for a command line mistake", n)
			}
		})
	}
	help := run(t, nil, "help", "silences", "add")
	for _, want := range []string{"--match", "--comment", "--duration", "--ends", "--starts"} {
		if !strings.Contains(help.stdout, want) {
			t.Errorf("help for silences add lacks %s:\n%s", want, help.stdout)
		}
	}
	usage := run(t, nil, "help")
	for _, want := range []string{"alerts list", "alerts show ID", "alerts ack ID", "silences add", "silences list", "silences expire ID", "notifications list", "alerting reload"} {
		if !strings.Contains(usage.stdout, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}
