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
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

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
