package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/shared/inventory"
)

// forEachStore runs fn on SQLite and on a throwaway PostgreSQL database,
// side by side.
func forEachStore(t *testing.T, fn func(t *testing.T, db string)) {
	stores := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "steward.db") },
		"postgres": func(t *testing.T) string { return pgtest.NewDatabase(t) },
	}
	for name, db := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			fn(t, db(t))
			t.Logf("%s took %v", t.Name(), time.Since(start).Round(100*time.Millisecond))
		})
	}
}

// apiAlert is an alert as the API and `stewardctl -o json` show it; the
// detail (GET /alerts/{id}, `alerts show`) adds its notifications.
type apiAlert struct {
	ID            int64             `json:"id"`
	DedupKey      string            `json:"dedup_key"`
	Rule          string            `json:"rule"`
	HostID        int64             `json:"host_id"`
	Subject       string            `json:"subject"`
	Severity      string            `json:"severity"`
	State         string            `json:"state"`
	Labels        map[string]string `json:"labels"`
	Annotations   map[string]string `json:"annotations"`
	StartedAt     time.Time         `json:"started_at"`
	AckedAt       time.Time         `json:"acked_at"`
	AckedBy       string            `json:"acked_by"`
	AckComment    string            `json:"ack_comment"`
	ResolvedAt    time.Time         `json:"resolved_at"`
	Muted         bool              `json:"muted"`
	Notified      bool              `json:"notified"`
	Notifications []apiNotification `json:"notifications"`
}

// apiNotification is one outbox row.
type apiNotification struct {
	ID         int64     `json:"id"`
	AlertID    int64     `json:"alert_id"`
	Receiver   string    `json:"receiver"`
	Event      string    `json:"event"`
	State      string    `json:"state"`
	Attempts   int       `json:"attempts"`
	SentAt     time.Time `json:"sent_at"`
	LastStatus int       `json:"last_status"`
	LastError  string    `json:"last_error"`
}

type auditEntries struct {
	Entries []struct {
		Actor   string          `json:"actor"`
		Action  string          `json:"action"`
		Subject string          `json:"subject"`
		Detail  json.RawMessage `json:"detail"`
	} `json:"entries"`
}

// apiAlerts lists alerts through the API (newest first).
func (s *server) apiAlerts(t *testing.T) []apiAlert {
	t.Helper()
	var out struct {
		Alerts []apiAlert `json:"alerts"`
	}
	if code := s.get(t, "/api/v1/alerts?limit=1000", &out); code != 200 {
		t.Fatalf("GET /api/v1/alerts: HTTP %d", code)
	}
	return out.Alerts
}

// apiNotifications lists the outbox through the API (newest first).
func (s *server) apiNotifications(t *testing.T) []apiNotification {
	t.Helper()
	var out struct {
		Notifications []apiNotification `json:"notifications"`
	}
	if code := s.get(t, "/api/v1/notifications?limit=1000", &out); code != 200 {
		t.Fatalf("GET /api/v1/notifications: HTTP %d", code)
	}
	return out.Notifications
}

// ctlJSON runs `stewardctl -o json ARGS` and decodes its output into v.
func (s *server) ctlJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := s.ctl(t, append([]string{"-o", "json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("stewardctl -o json %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// summarizeNotifications renders rows as "alert receiver event state".
func summarizeNotifications(ns []apiNotification) string {
	var parts []string
	for _, n := range ns {
		parts = append(parts, fmt.Sprintf("%d %s %s %s", n.AlertID, n.Receiver, n.Event, n.State))
	}
	return strings.Join(parts, "; ")
}

// countEvents counts rows of one alert, receiver and event.
func countEvents(ns []apiNotification, alertID int64, receiver, event string) int {
	n := 0
	for _, row := range ns {
		if row.AlertID == alertID && row.Receiver == receiver && row.Event == event {
			n++
		}
	}
	return n
}

// waitHost waits for the one host to be online and returns its id and
// name.
func waitHost(t *testing.T, s *server) (int64, string) {
	t.Helper()
	var hosts hostsResponse
	eventually(t, 60*time.Second, "the agent's host online", func() (bool, string) {
		s.get(t, "/api/v1/hosts", &hosts)
		return len(hosts.Hosts) == 1 && hosts.Hosts[0].Online, fmt.Sprintf("%+v", hosts.Hosts)
	})
	return hosts.Hosts[0].ID, hosts.Hosts[0].Hostname
}

// checkNow asks the host's agent to evaluate its policies now, waiting
// for the agent to be connected (after a server restart it reconnects
// with backoff).
func checkNow(t *testing.T, s *server, hostID int64) {
	t.Helper()
	eventually(t, 60*time.Second, "stewardctl hosts check to reach the agent", func() (bool, string) {
		code, _, stderr := s.ctlRun(t, "hosts", "check", itoa(hostID))
		return code == 0, stderr
	})
}

// TestAlertsEndToEnd is the "done when": a policy that fails on
// this machine, evaluated by a real agent, pages a (strict, fake)
// PagerDuty exactly once and shows in a real Alertmanager; a server
// restart pages no one again; fixing the machine resolves the incident in
// both; and an acknowledgement reaches PagerDuty and the audit log.
func TestAlertsEndToEnd(t *testing.T) {
	forEachStore(t, alertsEndToEnd)
}

func alertsEndToEnd(t *testing.T, db string) {
	const routingKey = "e2e-pd-routing-key-0123456789abcdef"
	am := startAlertmanager(t)
	pd := newFakePagerDuty(t, routingKey)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "pd.key")
	writeFile(t, keyFile, routingKey+"\n")
	marker := filepath.Join(dir, "marker.conf")
	writeFile(t, marker, "state=broken\n")

	conf := filepath.Join(dir, "steward.yaml")
	writeFile(t, conf, `alerting:
  receivers:
    - name: oncall
      pagerduty:
        url: `+pd.enqueueURL()+`
        routing_key: {file: `+keyFile+`}
    - name: am
      alertmanager:
        url: `+am.url+`
  routes:
    - receivers: [oncall, am]
  rules:
    - name: policy-failing
      type: policy_failing
      min_severity: medium
`)
	s := startServer(t, db, "--config", conf)
	s.startAgent(t, filepath.Join(t.TempDir(), "agent"))
	hostID, hostname := waitHost(t, s)

	policies := filepath.Join(dir, "policies.yaml")
	writeFile(t, policies, `policies:
  - id: e2e-marker-ok
    title: The e2e marker file says the state is ok
    severity: high
    check:
      file: {path: `+marker+`, matches: '(?m)^state=ok$'}
  - id: e2e-low-noise
    title: A low-severity policy that fails too, below the rule's min_severity
    severity: low
    check:
      file: {path: `+filepath.Join(dir, "absent")+`, exists: true}
`)
	s.ctl(t, "policies", "apply", "-f", policies)
	for _, id := range []string{"e2e-marker-ok", "e2e-low-noise"} {
		eventually(t, 60*time.Second, id+" failing, reported by the agent", func() (bool, string) {
			r := s.results(t, id)
			return len(r.Results) == 1 && r.Results[0].Status == "fail", fmt.Sprintf("%+v", r.Results)
		})
	}

	// One page, to each receiver, for the high-severity failure only.
	eventually(t, 60*time.Second, "the PagerDuty trigger", func() (bool, string) {
		return len(pd.actions("trigger")) == 1, pd.summarize()
	})
	alerts := s.apiAlerts(t)
	if len(alerts) != 1 {
		t.Fatalf("alerts = %+v; want one, for e2e-marker-ok (e2e-low-noise is below min_severity)", alerts)
	}
	alert := alerts[0]
	if alert.Rule != "policy-failing" || alert.Subject != "e2e-marker-ok" || alert.Severity != "high" ||
		alert.State != "firing" || alert.HostID != hostID || alert.Labels["hostname"] != hostname {
		t.Errorf("alert = %+v", alert)
	}
	trigger := pd.actions("trigger")[0]
	if trigger.DedupKey != alert.DedupKey || !strings.HasPrefix(trigger.DedupKey, "steward-"+itoa(alert.ID)+"-") {
		t.Errorf("PagerDuty dedup_key %q, alert's %q", trigger.DedupKey, alert.DedupKey)
	}
	if p := trigger.Payload; p.Severity != "error" || p.Source != hostname || !strings.Contains(p.Summary, "e2e-marker-ok") ||
		p.Component != "policy-failing" || p.Class != "e2e-marker-ok" || p.CustomDetails["alert_id"] != float64(alert.ID) {
		t.Errorf("PagerDuty trigger payload = %+v", p)
	}
	if trigger.ClientURL != s.url+"/api/v1/alerts/"+itoa(alert.ID) {
		t.Errorf("PagerDuty client_url %q", trigger.ClientURL)
	}

	// Alertmanager has it, active, with the labels routing there needs,
	// and with an endsAt far enough ahead that it cannot lapse during
	// this test: what ends it below is the resolve.
	eventually(t, 60*time.Second, "the alert in Alertmanager", func() (bool, string) {
		a, ok := am.alert(t, alert.ID)
		if !ok {
			return false, fmt.Sprintf("%+v", am.alerts(t))
		}
		want := map[string]string{"alertname": "policy-failing", "severity": "high", "policy": "e2e-marker-ok",
			"hostname": hostname, "steward_alert_id": itoa(alert.ID), "rule": "policy-failing", "host_id": itoa(hostID)}
		for k, v := range want {
			if a.Labels[k] != v {
				t.Fatalf("Alertmanager alert label %s=%q, want %q; labels %v", k, a.Labels[k], v, a.Labels)
			}
		}
		if a.Status.State != "active" || time.Until(a.EndsAt) < 2*time.Minute ||
			!a.StartsAt.Equal(alert.StartedAt.Truncate(time.Second)) {
			t.Fatalf("Alertmanager alert %+v; want active, ending 4 resend intervals ahead, started at %v", a, alert.StartedAt)
		}
		return true, ""
	})
	eventually(t, 30*time.Second, "Alertmanager's own firing notification", func() (bool, string) {
		n := am.notified(alert.ID)
		return len(n) > 0 && n[0].Status == "firing", fmt.Sprintf("%+v", n)
	})
	eventually(t, 30*time.Second, "both triggers marked sent", func() (bool, string) {
		ns := s.apiNotifications(t)
		ok := len(ns) == 2
		for _, n := range ns {
			ok = ok && n.Event == "trigger" && n.State == "sent" && n.AlertID == alert.ID
		}
		return ok, summarizeNotifications(ns)
	})

	// A restart pages no one again: the first pass of the new server
	// reconciles every rule in full and finds the episode open. It runs
	// at once at start; nothing observable marks its end, so the check
	// holds from /readyz until the agent has reconnected (which takes
	// seconds of backoff) and for 5 s more.
	s.restart(t)
	nothingNew := func() (bool, string) {
		ns := s.apiNotifications(t)
		if len(ns) != 2 || countEvents(ns, alert.ID, "oncall", "trigger") != 1 || countEvents(ns, alert.ID, "am", "trigger") != 1 {
			return false, "outbox after restart: " + summarizeNotifications(ns)
		}
		if got := pd.got(); len(got) != 1 {
			return false, "after restart: " + pd.summarize()
		}
		if as := s.apiAlerts(t); len(as) != 1 || as[0].ID != alert.ID || as[0].State != "firing" {
			return false, fmt.Sprintf("alerts after restart: %+v", as)
		}
		return true, ""
	}
	restarted := time.Now()
	eventually(t, 60*time.Second, "the agent reconnected to the new server", func() (bool, string) {
		if ok, state := nothingNew(); !ok {
			t.Fatal(state)
		}
		code, _, stderr := s.ctlRun(t, "hosts", "check", itoa(hostID))
		return code == 0, stderr
	})
	consistently(t, max(5*time.Second, 10*time.Second-time.Since(restarted)), "no new notification after the restart", nothingNew)
	var listed struct {
		Notifications []apiNotification `json:"notifications"`
	}
	s.ctlJSON(t, &listed, "notifications", "list")
	if len(listed.Notifications) != 2 || countEvents(listed.Notifications, alert.ID, "oncall", "trigger") != 1 ||
		countEvents(listed.Notifications, alert.ID, "am", "trigger") != 1 {
		t.Errorf("stewardctl notifications list after restart: %s", summarizeNotifications(listed.Notifications))
	}

	// Fix the machine: the incident resolves in PagerDuty with the
	// trigger's dedup_key, and in Alertmanager.
	writeFile(t, marker, "state=ok\n")
	checkNow(t, s, hostID)
	eventually(t, 60*time.Second, "the PagerDuty resolve", func() (bool, string) {
		return len(pd.actions("resolve")) == 1, pd.summarize()
	})
	if r := pd.actions("resolve")[0]; r.DedupKey != trigger.DedupKey {
		t.Errorf("resolve dedup_key %q, trigger's %q", r.DedupKey, trigger.DedupKey)
	}
	var resolved apiAlert
	eventually(t, 30*time.Second, "the alert resolved in the API", func() (bool, string) {
		s.get(t, "/api/v1/alerts/"+itoa(alert.ID), &resolved)
		return resolved.State == "resolved" && !resolved.ResolvedAt.IsZero(), resolved.State
	})
	// Alertmanager lists only alerts whose endsAt has not passed (with or
	// without ?active=true), and notifies its receivers "resolved" once
	// an alert's endsAt passes: Steward's resolve posts endsAt = the
	// resolve time, so the alert leaves the list and Alertmanager itself
	// reports it resolved at that time.
	eventually(t, 60*time.Second, "Alertmanager to report the alert resolved", func() (bool, string) {
		if a, ok := am.alert(t, alert.ID); ok {
			return false, fmt.Sprintf("still listed: %+v", a)
		}
		n := am.notified(alert.ID)
		if len(n) == 0 || n[len(n)-1].Status != "resolved" {
			return false, fmt.Sprintf("Alertmanager notifications %+v", n)
		}
		if end := n[len(n)-1].EndsAt; end.Sub(resolved.ResolvedAt).Abs() > time.Second {
			t.Fatalf("Alertmanager resolved the alert at %v; Steward resolved it at %v", end, resolved.ResolvedAt)
		}
		return true, ""
	})

	var list struct {
		Alerts []apiAlert `json:"alerts"`
	}
	s.ctlJSON(t, &list, "alerts", "list", "--all")
	if len(list.Alerts) != 1 || list.Alerts[0].ID != alert.ID || list.Alerts[0].State != "resolved" || list.Alerts[0].ResolvedAt.IsZero() {
		t.Errorf("stewardctl alerts list --all -o json: %+v", list.Alerts)
	}
	if table := s.ctl(t, "alerts", "list", "--all"); !tableRow(table, itoa(alert.ID), "resolved", "high", "policy-failing", hostname, "e2e-marker-ok") {
		t.Errorf("stewardctl alerts list --all (table) lacks the resolved alert:\n%s", table)
	}
	// The default lists open alerts only.
	s.ctlJSON(t, &list, "alerts", "list")
	if len(list.Alerts) != 0 {
		t.Errorf("stewardctl alerts list -o json still lists the resolved alert: %+v", list.Alerts)
	}
	var shown apiAlert
	s.ctlJSON(t, &shown, "alerts", "show", itoa(alert.ID))
	sent := 0
	for _, n := range shown.Notifications {
		if n.State == "sent" {
			sent++
		}
	}
	if len(shown.Notifications) != 4 || sent != 4 || countEvents(shown.Notifications, alert.ID, "oncall", "resolve") != 1 ||
		countEvents(shown.Notifications, alert.ID, "am", "resolve") != 1 {
		t.Errorf("stewardctl alerts show -o json notifications: %s", summarizeNotifications(shown.Notifications))
	}
	table := s.ctl(t, "alerts", "show", itoa(alert.ID))
	for _, n := range shown.Notifications {
		if !tableRow(table, itoa(n.ID), n.Receiver, n.Event, "sent") {
			t.Errorf("stewardctl alerts show lacks notification %d (%s %s):\n%s", n.ID, n.Receiver, n.Event, table)
		}
	}

	// The problem comes back: a second episode, with its own identity;
	// acknowledging it acknowledges the PagerDuty incident. Alertmanager
	// has no acknowledgement: its row is skipped.
	writeFile(t, marker, "state=broken again\n")
	checkNow(t, s, hostID)
	eventually(t, 60*time.Second, "the second PagerDuty trigger", func() (bool, string) {
		return len(pd.actions("trigger")) == 2, pd.summarize()
	})
	second := s.apiAlerts(t)[0]
	if second.ID == alert.ID || second.State != "firing" || second.Subject != "e2e-marker-ok" {
		t.Fatalf("second episode = %+v", second)
	}
	if k := pd.actions("trigger")[1].DedupKey; k != second.DedupKey || k == trigger.DedupKey {
		t.Errorf("second trigger dedup_key %q; alert's %q, first episode's %q", k, second.DedupKey, trigger.DedupKey)
	}
	if out := s.ctl(t, "alerts", "ack", itoa(second.ID), "--comment", "x"); !strings.HasPrefix(out, "Alert "+itoa(second.ID)+" ") ||
		!strings.Contains(out, "acknowledged by") || !strings.HasSuffix(out, ": x.\n") {
		t.Errorf("stewardctl alerts ack printed %q", out)
	}
	eventually(t, 60*time.Second, "the PagerDuty acknowledge", func() (bool, string) {
		return len(pd.actions("acknowledge")) == 1, pd.summarize()
	})
	if k := pd.actions("acknowledge")[0].DedupKey; k != second.DedupKey {
		t.Errorf("acknowledge dedup_key %q, want %q", k, second.DedupKey)
	}
	var acked apiAlert
	eventually(t, 30*time.Second, "the acknowledge rows settled", func() (bool, string) {
		s.get(t, "/api/v1/alerts/"+itoa(second.ID), &acked)
		states := map[string]string{}
		for _, n := range acked.Notifications {
			if n.Event == "acknowledge" {
				states[n.Receiver] = n.State
			}
		}
		return states["oncall"] == "sent" && states["am"] == "skipped", summarizeNotifications(acked.Notifications)
	})
	if acked.State != "acknowledged" || acked.AckComment != "x" || acked.AckedBy == "" || acked.AckedAt.IsZero() {
		t.Errorf("acknowledged alert = %+v", acked)
	}
	var audit auditEntries
	s.get(t, "/api/v1/audit?action=alert_acknowledged", &audit)
	if len(audit.Entries) != 1 || audit.Entries[0].Subject != itoa(second.ID) || audit.Entries[0].Actor != acked.AckedBy ||
		!strings.Contains(string(audit.Entries[0].Detail), `"comment":"x"`) {
		t.Errorf("audit of the acknowledgement: %+v", audit.Entries)
	}
	if got := pd.got(); len(got) != 4 {
		t.Errorf("PagerDuty got %s; want trigger, resolve, trigger, acknowledge", pd.summarize())
	}
}

// tableRow reports whether a line of table starts with the cell first
// and has the other cells after it, in order, each a whole cell.
func tableRow(table, first string, cells ...string) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != first {
			continue
		}
		rest, ok := f[1:], true
		for _, c := range cells {
			i := slices.Index(rest, c)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+1:]
		}
		if ok {
			return true
		}
	}
	return false
}

// runServerOnce runs `steward-server ARGS` to its exit and returns the
// status and the two outputs.
func runServerOnce(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin("steward-server"), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("steward-server %s kept running:\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// failingHost enrolls a host from the test and reports an inventory on
// which the server evaluates expr policies itself.
func failingHost(t *testing.T, s *server, hostname string) int64 {
	t.Helper()
	a := connectAgent(t, s, hostname)
	a.report(t, time.Now(), map[string]any{
		inventory.SectionOS: inventory.OS{Name: "linux", Platform: "debian", Arch: "amd64"},
	})
	return a.hostID
}

// applyFailingPolicy applies one more expr policy that fails on every
// host, keeping the ones applied before (ids).
func applyFailingPolicy(t *testing.T, s *server, dir string, ids ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("policies:\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "  - id: %s\n    title: %s fails everywhere\n    severity: high\n    check:\n      expr: inventory.os.platform == \"e2e-never\"\n", id, id)
	}
	file := filepath.Join(dir, "policies.yaml")
	writeFile(t, file, b.String())
	s.ctl(t, "policies", "apply", "-f", file)
}

// reloadAPI posts /api/v1/alerting/reload and returns the status and body.
func reloadAPI(t *testing.T, s *server) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/alerting/reload", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// TestAlertingConfigErrors: an invalid alerting section stops serve with
// status 2 and every problem as FILE:LINE; a reload of an invalid file is
// refused with its problems while the rules in force keep paging; SIGHUP
// with a valid file reloads it, as the log and the audit log say.
func TestAlertingConfigErrors(t *testing.T) {
	forEachStore(t, alertingConfigErrors)
}

func alertingConfigErrors(t *testing.T, db string) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	badConfig := `alerting:
  receivers:
    - name: pager
      opsgenie: {api_key: k}
    - name: hook
      webhook: {url: "http://127.0.0.1:9/hook"}
  routes:
    - receivers: [pagr]
    - matchers: ['team=~(unclosed']
      receivers: [hook]
  rules:
    - name: policy-failing
      type: policy_failing
`
	writeFile(t, bad, badConfig)
	wantProblems := []string{
		bad + `:4: receiver "pager": unknown receiver type opsgenie`,
		bad + `:8: routes[0]: no receiver is called "pagr"`,
		bad + `:9: routes[1]: matcher "team=~(unclosed": error parsing regexp: missing closing )`,
	}
	code, stdout, stderr := runServerOnce(t, "serve", "--listen", freeAddr(t), "--db", db, "--data-dir", t.TempDir(), "--config", bad)
	if code != 2 {
		t.Errorf("serve with an invalid alerting section: exit %d, want 2\n%s%s", code, stdout, stderr)
	}
	for _, want := range wantProblems {
		if !strings.Contains(stderr, "\n"+want) {
			t.Errorf("stderr lacks a line starting %q:\n%s", want, stderr)
		}
	}

	// A running server refuses an invalid file on reload and keeps its
	// rules.
	pd := newFakePagerDuty(t, "e2e-config-errors-key")
	conf := filepath.Join(dir, "steward.yaml")
	valid := `alerting:
  receivers:
    - name: oncall
      pagerduty: {url: "` + pd.enqueueURL() + `", routing_key: e2e-config-errors-key}
  routes:
    - receivers: [oncall]
  rules:
    - name: policy-failing
      type: policy_failing
`
	writeFile(t, conf, valid)
	s := startServer(t, db, "--config", conf)
	hostID := failingHost(t, s, "config-errors-host")
	writeFile(t, conf, badConfig)
	status, body := reloadAPI(t, s)
	var refused struct {
		Error    string   `json:"error"`
		Problems []string `json:"problems"`
	}
	json.Unmarshal(body, &refused)
	if status != http.StatusBadRequest || len(refused.Problems) != len(wantProblems) {
		t.Errorf("reload of an invalid file: HTTP %d %s; want 400 with %d problems", status, body, len(wantProblems))
	}
	for i, want := range wantProblems {
		want = strings.Replace(want, bad, conf, 1)
		if i >= len(refused.Problems) || !strings.HasPrefix(refused.Problems[i], want) {
			t.Errorf("reload problem %d: want %q; got %q", i, want, refused.Problems)
		}
	}
	code, stdout, stderr = s.ctlRun(t, "alerting", "reload")
	if code == 0 {
		t.Errorf("stewardctl alerting reload of an invalid file: exit 0, stdout %q", stdout)
	}
	for _, want := range wantProblems {
		if want = strings.Replace(want, bad, conf, 1); !strings.Contains(stderr, want) {
			t.Errorf("stewardctl alerting reload: stderr lacks %q:\n%s", want, stderr)
		}
	}
	// Every problem is logged too (docs/alerting-config.md, Reload).
	eventually(t, 30*time.Second, "the refused reload's problems in the server's log", func() (bool, string) {
		// slog quotes the multi-line error: look for each FILE:LINE.
		out := s.Output()
		if !strings.Contains(out, "reload refused") {
			return false, "no refusal logged"
		}
		for _, line := range []string{":4:", ":8:", ":9:"} {
			if !strings.Contains(out, conf+line) {
				return false, "no " + conf + line
			}
		}
		return true, ""
	})
	applyFailingPolicy(t, s, dir, "fails-after-refused-reload")
	eventually(t, 60*time.Second, "a page from the rules still in force", func() (bool, string) {
		return len(pd.actions("trigger")) == 1, pd.summarize()
	})
	if as := s.apiAlerts(t); len(as) != 1 || as[0].HostID != hostID || as[0].Subject != "fails-after-refused-reload" {
		t.Errorf("alerts after the refused reload: %+v", as)
	}
	var audit auditEntries
	s.get(t, "/api/v1/audit?action=alerting_reloaded", &audit)
	if len(audit.Entries) != 0 {
		t.Errorf("a refused reload was audited: %+v", audit.Entries)
	}

	// SIGHUP with a valid, changed file: a webhook receiver joins.
	hook := newFakeHook(t, "webhook", nil)
	writeFile(t, conf, strings.Replace(valid, "  routes:\n", `    - name: hook
      webhook: {url: "`+hook.URL+`/steward"}
  routes:
    - match: {team: e2e}
      receivers: [hook]
`, 1)+`    - name: second-rule
      type: policy_failing
      policies: [fails-after-reload]
      labels: {team: e2e}
`)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the reload in the server's log", func() (bool, string) {
		return strings.Contains(s.Output(), `msg="alerting configuration reloaded" by=SIGHUP`), ""
	})
	s.get(t, "/api/v1/audit?action=alerting_reloaded", &audit)
	if len(audit.Entries) != 1 || audit.Entries[0].Actor != "SIGHUP" || audit.Entries[0].Subject != conf ||
		!strings.Contains(string(audit.Entries[0].Detail), `"rules":2`) {
		t.Errorf("audit of the SIGHUP reload: %+v", audit.Entries)
	}
	// The new rule and route are in force: a new failure goes to the
	// webhook only (the first route matches it and does not continue).
	applyFailingPolicy(t, s, dir, "fails-after-refused-reload", "fails-after-reload")
	eventually(t, 60*time.Second, "the webhook paged by the reloaded rule", func() (bool, string) {
		return len(hook.deliveries()) == 1, fmt.Sprintf("%d deliveries", len(hook.deliveries()))
	})
	var ev struct {
		Event string `json:"event"`
		Alert struct {
			Rule    string `json:"rule"`
			Subject string `json:"subject"`
		} `json:"alert"`
	}
	json.Unmarshal(hook.deliveries()[0].Body, &ev)
	if ev.Event != "trigger" || ev.Alert.Rule != "second-rule" || ev.Alert.Subject != "fails-after-reload" {
		t.Errorf("webhook delivery: %s", hook.deliveries()[0].Body)
	}
	// policy-failing also fires for it, to PagerDuty (its route).
	eventually(t, 30*time.Second, "policy-failing's page for the new policy", func() (bool, string) {
		return len(pd.actions("trigger")) == 2, pd.summarize()
	})
	for _, tr := range pd.actions("trigger") {
		if tr.Payload.Component != "policy-failing" {
			t.Errorf("PagerDuty paged for rule %s, which its route no longer sends there", tr.Payload.Component)
		}
	}
	if s.exited() {
		t.Fatalf("the server exited: %s", s.Output())
	}
}

// TestAlertingSecretsStayHidden configures every kind of secret, inline,
// from a variable and from a file, lets an alert go to every receiver
// (through failures whose answers echo what they were sent), reloads, and
// looks for the secrets everywhere a person or a scraper can read.
func TestAlertingSecretsStayHidden(t *testing.T) {
	forEachStore(t, alertingSecretsStayHidden)
}

func alertingSecretsStayHidden(t *testing.T, db string) {
	// Recognisable and unique: nothing else in the output looks like
	// these.
	var (
		webhookSecret = "whsec-inline-7f3a9c1e5b2d4f60"           // inline
		pdKey         = "pdkey-env-a1b2c3d4e5f60718293a4b5c"      // {env: ...}
		slackToken    = "slacktoken-file-9e8d7c6b5a4f3e2d1c0b"    // in the URL from {file: ...}
		smtpPassword  = "smtppass-inline-0f1e2d3c4b5a6978"        // inline
		badSlackToken = "slacktoken-refused-5566778899aabbccddee" // in a refused reload
		pdEnv         = "STEWARD_E2E_PD_KEY"
	)
	dir := t.TempDir()
	hook := newFakeHook(t, "webhook", signedWith(webhookSecret))
	pd := newFakePagerDuty(t, pdKey)
	pd.failing.Store(true) // answers 500 with the event, routing key and all, echoed back
	slack := newFakeHook(t, "slack", func(r *http.Request, _ []byte) string {
		if r.URL.Path != "/services/T0E2E/B0E2E/"+slackToken {
			return "not the configured webhook URL: " + r.URL.Path
		}
		return ""
	})
	slack.failing.Store(true) // answers 503 with the URL's path echoed back
	smtpFake := newFakeSMTP(t, "steward", smtpPassword)
	slackURL := slack.URL + "/services/T0E2E/B0E2E/" + slackToken
	slackFile := filepath.Join(dir, "slack.url")
	writeFile(t, slackFile, slackURL+"\n")
	secrets := []string{webhookSecret, pdKey, slackToken, slackURL, smtpPassword, badSlackToken}

	conf := filepath.Join(dir, "steward.yaml")
	config := func(slackFile string) string {
		return `alerting:
  receivers:
    - name: hook
      webhook:
        url: ` + hook.URL + `/steward
        secret: ` + webhookSecret + `
    - name: pd
      pagerduty:
        url: ` + pd.enqueueURL() + `
        routing_key: {env: ` + pdEnv + `}
    - name: chat
      slack:
        webhook_url: {file: ` + slackFile + `}
    - name: mail
      email:
        smtp: ` + smtpFake.addr + `
        from: steward@example.org
        to: [oncall@example.org]
        username: steward
        password: ` + smtpPassword + `
        ca_file: ` + smtpFake.caFile + `
  routes:
    - receivers: [hook, pd, chat, mail]
  rules:
    - name: policy-failing
      type: policy_failing
  delivery:
    backoff_base: 200ms
    backoff_max: 1s
    max_attempts: 1000
`
	}
	writeFile(t, conf, config(slackFile))
	s := startServerEnv(t, []string{pdEnv + "=" + pdKey}, db, "--config", conf)
	failingHost(t, s, "secrets-host")
	applyFailingPolicy(t, s, dir, "secrets-policy")

	// While PagerDuty and Slack fail, their rows wait for a retry with
	// the answer quoted in last_error: the echoed secrets must have been
	// blanked out of it.
	type page struct {
		what string
		body []byte
	}
	var pages []page
	eventually(t, 60*time.Second, "the failed sends in the outbox with their errors", func() (bool, string) {
		req, _ := http.NewRequest(http.MethodGet, s.url+"/api/v1/notifications?state=pending", nil)
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var list struct {
			Notifications []apiNotification `json:"notifications"`
		}
		json.Unmarshal(body, &list)
		errs := map[string]apiNotification{}
		for _, n := range list.Notifications {
			if n.LastError != "" {
				errs[n.Receiver] = n
			}
		}
		if len(errs) < 2 {
			return false, string(body)
		}
		// The answers were quoted, so the check below means something.
		if pdErr := errs["pd"]; pdErr.LastStatus != 500 || !strings.Contains(pdErr.LastError, "upstream failed on") ||
			!strings.Contains(pdErr.LastError, `routing_key\":\"<secret>`) {
			t.Errorf("PagerDuty's error row: %+v", pdErr)
		}
		if slackErr := errs["chat"]; slackErr.LastStatus != 503 || !strings.Contains(slackErr.LastError, "/services/T0E2E/B0E2E/<secret>") {
			t.Errorf("Slack's error row: %+v", slackErr)
		}
		pages = append(pages, page{"GET /api/v1/notifications?state=pending while failing", body})
		return true, ""
	})
	pd.failing.Store(false)
	slack.failing.Store(false)
	eventually(t, 60*time.Second, "every receiver's trigger delivered", func() (bool, string) {
		ns := s.apiNotifications(t)
		sent := 0
		for _, n := range ns {
			if n.State == "sent" {
				sent++
			}
		}
		return len(ns) == 4 && sent == 4, summarizeNotifications(ns)
	})
	// Each secret reached its receiver: the signature verified (the fake
	// checks it), the routing key matched, the Slack path and the SMTP
	// login were the configured ones.
	mails, badLogins := smtpFake.received()
	if len(hook.deliveries()) != 1 || len(pd.actions("trigger")) != 1 || len(slack.deliveries()) != 1 || len(mails) != 1 || badLogins != 0 {
		t.Errorf("deliveries: webhook %d, PagerDuty %s, Slack %d, mail %d (failed logins %d); want one each",
			len(hook.deliveries()), pd.summarize(), len(slack.deliveries()), len(mails), badLogins)
	}

	// Reloads: one refused (the Slack file now holds an invalid URL with
	// another token in it), one accepted.
	badSlackFile := filepath.Join(dir, "slack-bad.url")
	writeFile(t, badSlackFile, "htps://hooks.example.org/services/T0E2E/B0E2E/"+badSlackToken+"\n")
	writeFile(t, conf, config(badSlackFile))
	refusedStatus, refusedBody := reloadAPI(t, s)
	if refusedStatus != http.StatusBadRequest || !bytes.Contains(refusedBody, []byte(conf+":")) {
		t.Errorf("reload with an invalid Slack URL: HTTP %d %s; want 400 naming the line", refusedStatus, refusedBody)
	}
	writeFile(t, conf, config(slackFile))
	okStatus, okBody := reloadAPI(t, s)
	if okStatus != http.StatusOK {
		t.Errorf("reload: HTTP %d %s", okStatus, okBody)
	}

	// Everything a person or a scraper reads.
	pages = append(pages, page{"refused reload response", refusedBody}, page{"reload response", okBody})
	fetch := func(path string, auth bool) {
		req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+s.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: HTTP %d %s", path, resp.StatusCode, body)
		}
		pages = append(pages, page{"GET " + path, body})
	}
	as := s.apiAlerts(t)
	if len(as) != 1 {
		t.Fatalf("alerts: %+v", as)
	}
	for _, path := range []string{"/api/v1/notifications", "/api/v1/notifications?state=sent", "/api/v1/alerts",
		"/api/v1/alerts/" + itoa(as[0].ID), "/api/v1/audit", "/api/v1/audit?action=alerting_reloaded"} {
		fetch(path, true)
	}
	fetch("/metrics", false)
	for _, args := range [][]string{{"notifications", "list"}, {"-o", "json", "notifications", "list"}, {"alerts", "list", "--all"},
		{"alerts", "show", itoa(as[0].ID)}, {"-o", "json", "alerts", "show", itoa(as[0].ID)}, {"alerting", "reload"}} {
		pages = append(pages, page{"stewardctl " + strings.Join(args, " "), []byte(s.ctl(t, args...))})
	}
	// The server's own output, after a clean stop so nothing is left
	// unflushed.
	if err := s.stop(t); err != nil {
		t.Errorf("server exit: %v", err)
	}
	pages = append(pages, page{"server output", []byte(s.outputs())})
	if !strings.Contains(s.outputs(), "notification failed; will retry") {
		t.Errorf("the failed first sends were not logged; the test did not exercise the error path:\n%s", s.outputs())
	}
	for _, p := range pages {
		for _, secret := range secrets {
			if i := bytes.Index(p.body, []byte(secret)); i >= 0 {
				t.Errorf("%s contains the secret %q: ...%s...", p.what, secret, p.body[max(0, i-200):min(len(p.body), i+len(secret)+50)])
			}
		}
	}
}
