package alertconf

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/server/internal/alerting/match"
)

// parseText parses the alerting key of a whole config file's text, as
// from a file called steward.yaml.
func parseText(t *testing.T, text string) (Config, error) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("test YAML: %v", err)
	}
	var section *yaml.Node
	if len(doc.Content) > 0 {
		top := doc.Content[0]
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value == "alerting" {
				section = top.Content[i+1]
			}
		}
	}
	return Parse("steward.yaml", section)
}

func mustParse(t *testing.T, text string) Config {
	t.Helper()
	c, err := parseText(t, text)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// specExample is the example of the alerting design, as written there.
const specExample = `alerting:
  external_url: http://steward.example.com:8080   # optional
  receivers:
    - name: oncall
      pagerduty: {routing_key: KEY, url: https://events.pagerduty.com/v2/enqueue}
    - name: am
      alertmanager: {url: http://127.0.0.1:9093}
    - name: hook
      webhook: {url: https://example.com/steward, secret: S}
    - name: chat
      slack: {webhook_url: https://hooks.slack.com/services/T/B/X}
    - name: mail
      email: {smtp: mail.example.com:587, from: steward@example.com, to: [oncall@example.com]}
  routes:                       # first match wins unless continue: true
    - match: {severity: [critical, high]}
      receivers: [oncall, am]
    - receivers: [hook]
  rules:
    - name: policy-failing
      type: policy_failing
      min_severity: medium
    - name: host-offline
      type: host_offline
      after: 10m
      severity: high
`

func TestParseSpecExample(t *testing.T) {
	c := mustParse(t, specExample)
	if c.File != "steward.yaml" || c.ExternalURL != "http://steward.example.com:8080" {
		t.Errorf("File %q ExternalURL %q", c.File, c.ExternalURL)
	}
	if len(c.Receivers) != 5 {
		t.Fatalf("%d receivers", len(c.Receivers))
	}
	wantNames := []string{"oncall", "am", "hook", "chat", "mail"}
	wantTypes := []string{"pagerduty", "alertmanager", "webhook", "slack", "email"}
	wantLines := []int{4, 6, 8, 10, 12}
	for i, r := range c.Receivers {
		if r.Name != wantNames[i] || r.Type() != wantTypes[i] || r.Line != wantLines[i] {
			t.Errorf("receiver %d: %s %s line %d", i, r.Name, r.Type(), r.Line)
		}
	}
	pd := c.Receivers[0].PagerDuty
	if pd.RoutingKey.Value() != "KEY" || pd.URL != "https://events.pagerduty.com/v2/enqueue" {
		t.Errorf("pagerduty %+v", pd)
	}
	if am := c.Receivers[1].Alertmanager; am.URL != "http://127.0.0.1:9093" {
		t.Errorf("alertmanager %+v", am)
	}
	if wh := c.Receivers[2].Webhook; wh.URL != "https://example.com/steward" || wh.Secret.Value() != "S" || wh.Headers != nil {
		t.Errorf("webhook %+v", wh)
	}
	if sl := c.Receivers[3].Slack; sl.WebhookURL.Value() != "https://hooks.slack.com/services/T/B/X" || sl.Channel != "" {
		t.Errorf("slack %+v", sl)
	}
	if em := c.Receivers[4].Email; em.SMTP != "mail.example.com:587" || em.From != "steward@example.com" ||
		!reflect.DeepEqual(em.To, []string{"oncall@example.com"}) || em.Password.IsSet() {
		t.Errorf("email %+v", em)
	}
	wantRoutes := []Route{
		{Match: map[string][]string{"severity": {"critical", "high"}}, Receivers: []string{"oncall", "am"}, Line: 15},
		{Receivers: []string{"hook"}, Line: 17},
	}
	for i := range wantRoutes {
		c.Routes[i].matchRE = nil
	}
	if !reflect.DeepEqual(c.Routes, wantRoutes) {
		t.Errorf("routes\n got %+v\nwant %+v", c.Routes, wantRoutes)
	}
	wantRules := []Rule{
		{Name: "policy-failing", Type: TypePolicyFailing, MinSeverity: "medium", Statuses: []string{"fail"}, Line: 19},
		{Name: "host-offline", Type: TypeHostOffline, After: 10 * time.Minute, Severity: "high", Line: 22},
	}
	if !reflect.DeepEqual(c.Rules, wantRules) {
		t.Errorf("rules\n got %+v\nwant %+v", c.Rules, wantRules)
	}
	if c.MaintenanceWindows != nil {
		t.Errorf("windows %+v", c.MaintenanceWindows)
	}
	if c.Delivery != DefaultDelivery() || c.SweepInterval != 5*time.Minute {
		t.Errorf("delivery %+v sweep %v", c.Delivery, c.SweepInterval)
	}
	if got := c.Route(map[string]string{"severity": "critical"}); !reflect.DeepEqual(got, []string{"oncall", "am"}) {
		t.Errorf("critical routes to %v", got)
	}
	if got := c.Route(map[string]string{"severity": "low"}); !reflect.DeepEqual(got, []string{"hook"}) {
		t.Errorf("low routes to %v", got)
	}
	if r, ok := c.Receiver("hook"); !ok || r.Webhook == nil {
		t.Errorf("Receiver(hook) = %+v, %v", r, ok)
	}
	if _, ok := c.Receiver("nope"); ok {
		t.Error("Receiver(nope) found")
	}
}

func TestParseDefaults(t *testing.T) {
	for _, text := range []string{"listen: x\n", "alerting:\n", "alerting: {}\n", "alerting:\n  receivers: []\n"} {
		c := mustParse(t, text)
		want := Default()
		want.File = "steward.yaml"
		if !reflect.DeepEqual(c, want) {
			t.Errorf("%q:\n got %+v\nwant %+v", text, c, want)
		}
	}
	if c, err := Parse("x.yaml", nil); err != nil || c.Delivery.Workers != 4 || c.SweepInterval != 5*time.Minute {
		t.Errorf("Parse(nil) = %+v, %v", c, err)
	}
	want := Delivery{Timeout: 10 * time.Second, MaxAttempts: 12, BackoffBase: 2 * time.Second, BackoffMax: 10 * time.Minute,
		Workers: 4, PerReceiver: 8, ResendInterval: time.Minute}
	if DefaultDelivery() != want {
		t.Errorf("DefaultDelivery() = %+v", DefaultDelivery())
	}

	c := mustParse(t, `alerting:
  rules:
    - {name: off, type: host_offline, after: 10s}
    - {name: pkg, type: inventory_change, kinds: [software_installed]}
    - {name: ex, type: expr, expr: 'has(inventory.os)'}
    - {name: pol, type: policy_failing}
`)
	got := map[string]Rule{}
	for _, r := range c.Rules {
		r.subjectRE = nil
		got[r.Name] = r
	}
	wantRules := map[string]Rule{
		"off": {Name: "off", Type: TypeHostOffline, Severity: "high", After: 10 * time.Second, Line: 3},
		"pkg": {Name: "pkg", Type: TypeInventoryChange, Severity: "medium", Kinds: []string{"software_installed"}, ResolveAfter: 24 * time.Hour, Line: 4},
		"ex":  {Name: "ex", Type: TypeExpr, Severity: "medium", Expr: "has(inventory.os)", Line: 5},
		"pol": {Name: "pol", Type: TypePolicyFailing, Severity: "", Statuses: []string{"fail"}, Line: 6},
	}
	if !reflect.DeepEqual(got, wantRules) {
		t.Errorf("rules\n got %+v\nwant %+v", got, wantRules)
	}
}

func TestParseEverything(t *testing.T) {
	c := mustParse(t, `alerting:
  sweep_interval: 1m
  delivery: {timeout: 5s, max_attempts: 3, backoff_base: 1s, backoff_max: 1m, workers: 2, per_receiver: 1, resend_interval: 30s}
  receivers:
    - name: hook
      webhook:
        url: https://example.com/hook
        headers: {Authorization: Bearer abc}
  routes:
    - match: {team: db}
      match_re: {hostname: 'db-\d+'}
      matchers: ['os!=windows']
      receivers: hook
      continue: true
  rules:
    - name: new_admin
      type: inventory_change
      kinds: [admin_added, software_installed, admin_added]
      subject_matches: '^(root|admin)$'
      resolve_after: 1h
      severity: critical
      labels: {team: sec}
      summary: New admin
      description: An administrator was added.
    - name: ssh
      type: policy_failing
      policies: [ssh-root-login]
      tags: [cis, cis]
      statuses: [error, fail]
  maintenance_windows:
    - name: weekend
      matchers: ['team=db']
      days: [Sat, sunday]
      start: "23:00"
      duration: 3h
      time_zone: America/New_York
`)
	if c.SweepInterval != time.Minute {
		t.Errorf("sweep %v", c.SweepInterval)
	}
	wantD := Delivery{Timeout: 5 * time.Second, MaxAttempts: 3, BackoffBase: time.Second, BackoffMax: time.Minute,
		Workers: 2, PerReceiver: 1, ResendInterval: 30 * time.Second}
	if c.Delivery != wantD {
		t.Errorf("delivery %+v", c.Delivery)
	}
	if h := c.Receivers[0].Webhook.Headers; h["Authorization"] != "Bearer abc" {
		t.Errorf("headers %v", h)
	}
	r := c.Routes[0]
	if !reflect.DeepEqual(r.Match, map[string][]string{"team": {"db"}}) || r.MatchRE["hostname"] != `db-\d+` ||
		len(r.Matchers) != 1 || r.Matchers[0].String() != "os!=windows" || !reflect.DeepEqual(r.Receivers, []string{"hook"}) || !r.Continue {
		t.Errorf("route %+v", r)
	}
	ic := c.Rules[0]
	if !reflect.DeepEqual(ic.Kinds, []string{"admin_added", "software_installed"}) || ic.ResolveAfter != time.Hour ||
		ic.Severity != "critical" || ic.Labels["team"] != "sec" || ic.Summary != "New admin" || ic.Description != "An administrator was added." {
		t.Errorf("inventory rule %+v", ic)
	}
	if !ic.ChangeMatches("admin_added", "root") || ic.ChangeMatches("admin_added", "rooty") || ic.ChangeMatches("user_added", "root") {
		t.Error("ChangeMatches")
	}
	pf := c.Rules[1]
	if !reflect.DeepEqual(pf.Policies, []string{"ssh-root-login"}) || !reflect.DeepEqual(pf.Tags, []string{"cis"}) ||
		!reflect.DeepEqual(pf.Statuses, []string{"error", "fail"}) {
		t.Errorf("policy rule %+v", pf)
	}
	w := c.MaintenanceWindows[0]
	if w.Name != "weekend" || !reflect.DeepEqual(w.Days, []time.Weekday{time.Sunday, time.Saturday}) || w.Start != "23:00" ||
		w.Duration != 3*time.Hour || w.TimeZone != "America/New_York" || w.Line != 31 || len(w.Matchers) != 1 {
		t.Errorf("window %+v", w)
	}
}

func TestRuleHelpers(t *testing.T) {
	r := Rule{Type: TypePolicyFailing, MinSeverity: "high", Tags: []string{"cis"}}
	tests := []struct {
		id, sev string
		tags    []string
		want    bool
	}{
		{"a", "high", []string{"x", "cis"}, true},
		{"a", "critical", []string{"cis"}, true},
		{"a", "medium", []string{"cis"}, false},
		{"a", "high", nil, false},
		{"a", "bogus", []string{"cis"}, false},
	}
	for _, tc := range tests {
		if got := r.PolicyMatches(tc.id, tc.sev, tc.tags); got != tc.want {
			t.Errorf("PolicyMatches(%s, %s, %v) = %v", tc.id, tc.sev, tc.tags, got)
		}
	}
	r = Rule{Policies: []string{"p1"}}
	if !r.PolicyMatches("p1", "info", nil) || r.PolicyMatches("p2", "critical", nil) {
		t.Error("Policies filter")
	}
	if !r.Fires("fail") || r.Fires("error") || !(Rule{Statuses: []string{"error"}}).Fires("error") {
		t.Error("Fires")
	}
	if r.AlertSeverity("low") != "low" || (Rule{Severity: "high"}).AlertSeverity("low") != "high" {
		t.Error("AlertSeverity")
	}
	if !(Rule{Kinds: []string{"port_opened"}, SubjectMatches: "^22/"}).ChangeMatches("port_opened", "22/tcp") {
		t.Error("ChangeMatches on an unparsed rule")
	}
	for s, want := range map[string]int{"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4, "": -1, "HIGH": -1} {
		if got := SeverityRank(s); got != want {
			t.Errorf("SeverityRank(%q) = %d", s, got)
		}
	}
	if !SeverityAtLeast("info", "") || SeverityAtLeast("", "info") || !SeverityAtLeast("critical", "high") {
		t.Error("SeverityAtLeast")
	}
	if err := CheckExpr("inventory.os.name == 'linux'"); err != nil {
		t.Errorf("CheckExpr: %v", err)
	}
	if err := CheckExpr("1 + 1"); err == nil || !strings.Contains(err.Error(), "boolean") {
		t.Errorf("CheckExpr(1 + 1) = %v", err)
	}
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "pd.key")
	if err := os.WriteFile(keyFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STEWARD_TEST_SLACK", "https://hooks.slack.com/services/T/B/env")
	c := mustParse(t, `alerting:
  receivers:
    - name: pd
      pagerduty:
        routing_key: {file: `+keyFile+`}
    - name: chat
      slack: {webhook_url: {env: STEWARD_TEST_SLACK}}
`)
	if got := c.Receivers[0].PagerDuty.RoutingKey.Value(); got != "from-file" {
		t.Errorf("file secret = %q", got)
	}
	if got := c.Receivers[1].Slack.WebhookURL.Value(); got != "https://hooks.slack.com/services/T/B/env" {
		t.Errorf("env secret = %q", got)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "steward.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Keys outside alerting: are not this package's business.
	write("listen: 127.0.0.1:9999\nsomething_new: 1\n" + strings.TrimPrefix(specExample, ""))
	c, err := LoadFile(path)
	if err != nil || len(c.Rules) != 2 || c.File != path || c.Receivers[0].Line != 6 {
		t.Fatalf("LoadFile = %+v, %v", c, err)
	}
	write("listen: x\n")
	if c, err := LoadFile(path); err != nil || len(c.Rules) != 0 || c.Delivery != DefaultDelivery() {
		t.Errorf("no section: %+v, %v", c, err)
	}
	write("")
	if _, err := LoadFile(path); err != nil {
		t.Errorf("empty file: %v", err)
	}
	write("alerting:\n  rules:\n    - name: x\n      type: a: b\n")
	if _, err := LoadFile(path); err == nil || !strings.HasPrefix(err.Error(), path+":4: invalid YAML: ") {
		t.Errorf("syntax error = %v", err)
	}
	write("alerting:\n  rules:\n    - {name: x, type: nope}\n")
	if _, err := LoadFile(path); err == nil || err.Error() != path+`:3: rule "x": unknown rule type "nope"; want one of policy_failing, inventory_change, expr, host_offline` {
		t.Errorf("bad rule = %v", err)
	}
	write("alerting: {}\nlisten: x\nalerting: {}\n")
	if _, err := LoadFile(path); err == nil || err.Error() != path+":3: alerting is given twice" {
		t.Errorf("two sections = %v", err)
	}
	write("- a\n")
	if _, err := LoadFile(path); err == nil || !strings.HasPrefix(err.Error(), path+":1: ") {
		t.Errorf("list file = %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestRouteBuiltInCode(t *testing.T) {
	m, _ := match.Parse("team=db")
	c := Config{Routes: []Route{{MatchRE: map[string]string{"hostname": "db-.*"}, Matchers: []match.Matcher{m}, Receivers: []string{"a"}}}}
	if got := c.Route(map[string]string{"hostname": "db-1", "team": "db"}); !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("Route = %v", got)
	}
	if got := c.Route(map[string]string{"hostname": "xdb-1", "team": "db"}); got != nil {
		t.Errorf("Route = %v", got)
	}
}
