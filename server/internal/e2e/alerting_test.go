package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/pgtest"
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

// TestAlertsEndToEnd is alerting's acceptance test: a policy that fails on
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
