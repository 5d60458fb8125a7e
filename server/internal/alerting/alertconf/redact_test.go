package alertconf

import (
	"encoding/json"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestRedacted(t *testing.T) {
	t.Setenv("STEWARD_TEST_PD", "pd-routing-key-from-env")
	c := mustParse(t, `alerting:
  external_url: https://steward.example.com/
  receivers:
    - name: oncall
      pagerduty: {routing_key: {env: STEWARD_TEST_PD}}
    - name: hook
      webhook:
        url: https://user:hook-password@example.com/hook
        secret: hook-hmac-secret
        headers: {Authorization: Bearer hook-bearer-token}
    - name: chat
      slack: {webhook_url: https://hooks.slack.com/services/T/B/slack-token, channel: '#ops'}
    - name: mail
      email: {smtp: mail.example.com:587, from: s@example.com, to: [a@example.com], username: steward, password: mail-password}
    - name: am
      alertmanager: {url: http://am.example.com:9093}
  routes:
    - {matchers: ['team=db'], match_re: {hostname: 'db-.*'}, receivers: [oncall, hook], continue: true}
  rules:
    - {name: off, type: host_offline, after: 10m}
    - {name: ex, type: expr, expr: 'has(inventory.os)', labels: {team: db}}
  maintenance_windows:
    - {name: w, days: [sat, sun], start: "01:00", duration: 2h}
`)
	v := c.Redacted()
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, secret := range []string{"pd-routing-key-from-env", "hook-password", "hook-hmac-secret", "hook-bearer-token", "slack-token", "mail-password"} {
		if strings.Contains(text, secret) {
			t.Errorf("%s shown: %s", secret, text)
		}
	}
	if _, err := yaml.Marshal(v); err != nil {
		t.Errorf("YAML: %v", err)
	}
	var back struct {
		ExternalURL string `json:"external_url"`
		Receivers   []struct {
			Name   string         `json:"name"`
			Type   string         `json:"type"`
			Config map[string]any `json:"config"`
		} `json:"receivers"`
		Routes []map[string]any `json:"routes"`
		Rules  []map[string]any `json:"rules"`
		Win    []map[string]any `json:"maintenance_windows"`
		Del    map[string]any   `json:"delivery"`
		Sweep  string           `json:"sweep_interval"`
	}
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.ExternalURL != "https://steward.example.com" || back.Sweep != "5m0s" || back.Del["timeout"] != "10s" || back.Del["max_attempts"] != 12.0 {
		t.Errorf("top: %s", text)
	}
	checks := map[string]map[string]any{
		"oncall": {"routing_key": "<secret>"},
		"hook":   {"url": "https://user:xxxxx@example.com/hook", "secret": "<secret>"},
		"chat":   {"webhook_url": "<secret>", "channel": "#ops"},
		"mail":   {"smtp": "mail.example.com:587", "username": "steward", "password": "<secret>"},
		"am":     {"url": "http://am.example.com:9093"},
	}
	for i, r := range back.Receivers {
		if want := []string{"pagerduty", "webhook", "slack", "email", "alertmanager"}[i]; r.Type != want {
			t.Errorf("receiver %s type %q, want %q", r.Name, r.Type, want)
		}
		for k, want := range checks[r.Name] {
			if r.Config[k] != want {
				t.Errorf("receiver %s %s = %v, want %v", r.Name, k, r.Config[k], want)
			}
		}
		if _, ok := r.Config["ca_file"]; ok {
			t.Errorf("receiver %s shows empty settings: %v", r.Name, r.Config)
		}
	}
	if h := back.Receivers[1].Config["headers"].(map[string]any); h["Authorization"] != "<secret>" {
		t.Errorf("headers %v", h)
	}
	if r := back.Routes[0]; r["continue"] != true || r["matchers"].([]any)[0] != "team=db" {
		t.Errorf("route %v", r)
	}
	if r := back.Rules[0]; r["after"] != "10m0s" || r["severity"] != "high" || r["expr"] != nil {
		t.Errorf("rule %v", r)
	}
	if w := back.Win[0]; w["days"].([]any)[0] != "sun" || w["duration"] != "2h0m0s" || w["time_zone"] != "UTC" {
		t.Errorf("window %v", w)
	}
	if out, err := json.Marshal(Config{}.Redacted()); err != nil || !strings.Contains(string(out), `"receivers":[]`) {
		t.Errorf("empty config: %s, %v", out, err)
	}
}
