package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const secretValue = "hunter2-do-not-print"

func TestSecretNeverShown(t *testing.T) {
	s := NewSecret(secretValue)
	if s.Value() != secretValue || !s.IsSet() {
		t.Fatalf("Value %q, IsSet %v", s.Value(), s.IsSet())
	}
	cfg := SlackConfig{WebhookURL: s, Channel: "#ops"}
	var shown []string
	shown = append(shown, s.String(), s.GoString(), s.LogValue().String())
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		shown = append(shown, fmt.Sprintf(verb, s), fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg))
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	shown = append(shown, string(j), string(y))
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
		slog.New(h).Info("config", "secret", s, "receiver", cfg, slog.Any("ptr", &cfg))
	}
	shown = append(shown, logs.String())
	for _, out := range shown {
		if strings.Contains(out, secretValue) {
			t.Errorf("secret shown in %q", out)
		}
	}
	if s.String() != "<secret>" || (Secret{}).String() != "" {
		t.Errorf("String = %q, zero String = %q", s.String(), Secret{}.String())
	}
	if !json.Valid(j) {
		t.Errorf("JSON %s is invalid", j)
	}
}

func TestSecretUnmarshalYAML(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte(secretValue+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STEWARD_TEST_SECRET", secretValue)
	t.Setenv("STEWARD_TEST_EMPTY", "")

	for _, tc := range []struct {
		name, doc, want, err string
	}{
		{"inline", `key: ` + secretValue, secretValue, ""},
		{"file", `key: {file: ` + file + `}`, secretValue, ""},
		{"env", `key: {env: STEWARD_TEST_SECRET}`, secretValue, ""},
		{"missing file", `key: {file: ` + filepath.Join(dir, "nope") + `}`, "", "secret file"},
		{"empty file", `key: {file: ` + empty + `}`, "", "is empty"},
		{"unset variable", `key: {env: STEWARD_TEST_UNSET_VARIABLE}`, "", "is not set"},
		{"empty variable", `key: {env: STEWARD_TEST_EMPTY}`, "", "is not set"},
		{"both", `key: {file: ` + file + `, env: STEWARD_TEST_SECRET}`, "", "{file: PATH} or {env: NAME}"},
		{"neither", `key: {}`, "", "{file: PATH} or {env: NAME}"},
		{"sequence", `key: [a, b]`, "", "{file: PATH} or {env: NAME}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v struct {
				Key Secret `yaml:"key"`
			}
			err := yaml.Unmarshal([]byte(tc.doc), &v)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				if strings.Contains(err.Error(), secretValue) {
					t.Errorf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Key.Value() != tc.want {
				t.Errorf("value %q, want %q", v.Key.Value(), tc.want)
			}
		})
	}
}

func TestConfigFromYAML(t *testing.T) {
	var c Config
	doc := "slack:\n  webhook_url: https://hooks.slack.com/services/T0/B0/" + secretValue + "\n  channel: '#ops'\n"
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if c.Type() != "slack" || c.Validate() != nil {
		t.Fatalf("Type %q, Validate %v", c.Type(), c.Validate())
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), secretValue) {
		t.Errorf("YAML output shows the Slack URL:\n%s", out)
	}
}

func TestNewBuildsEachType(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	_, caPEM := selfSigned(t)
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c    Config
		typ  string
		want string // the Sender's type
	}{
		{Config{Webhook: &WebhookConfig{URL: "https://example.org/hook"}}, "webhook", "*notify.Webhook"},
		{Config{Slack: &SlackConfig{WebhookURL: NewSecret("https://hooks.slack.com/services/T/B/x")}}, "slack", "*notify.Slack"},
		{Config{PagerDuty: &PagerDutyConfig{RoutingKey: NewSecret("k")}}, "pagerduty", "*notify.PagerDuty"},
		{Config{Alertmanager: &AlertmanagerConfig{URL: "http://am:9093"}}, "alertmanager", "*notify.Alertmanager"},
		{Config{Email: &EmailConfig{SMTP: "mail.example.org:587", From: "s@example.org", To: []string{"o@example.org"},
			Username: "u", Password: NewSecret("p"), StartTLS: "opportunistic", CAFile: caFile}}, "email", "*notify.Email"},
	} {
		if got := tc.c.Type(); got != tc.typ {
			t.Errorf("Type = %q, want %q", got, tc.typ)
		}
		if err := tc.c.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", tc.typ, err)
		}
		s, err := New("r", tc.c, Options{})
		if err != nil {
			t.Errorf("%s: New: %v", tc.typ, err)
			continue
		}
		if got := fmt.Sprintf("%T", s); got != tc.want {
			t.Errorf("New(%s) = %s, want %s", tc.typ, got, tc.want)
		}
	}
	if got := (Config{}).Type(); got != "" {
		t.Errorf("empty config Type = %q", got)
	}
	pd := mustNew(t, Config{PagerDuty: &PagerDutyConfig{RoutingKey: NewSecret("k")}}, Options{}).(*PagerDuty)
	if pd.url.String() != DefaultPagerDutyURL {
		t.Errorf("PagerDuty URL %s, want the default", pd.url)
	}
	am := mustNew(t, Config{Alertmanager: &AlertmanagerConfig{URL: "http://am:9093"}}, Options{}).(*Alertmanager)
	if am.resend != time.Minute || am.p.timeout != 10*time.Second || am.p.userAgent != "steward-server" {
		t.Errorf("defaults: resend %v, timeout %v, user agent %q", am.resend, am.p.timeout, am.p.userAgent)
	}
	if am.url.String() != "http://am:9093/api/v2/alerts" {
		t.Errorf("Alertmanager URL %s", am.url)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	email := func(edit func(*EmailConfig)) Config {
		c := &EmailConfig{SMTP: "mail.example.org:587", From: "s@example.org", To: []string{"o@example.org"}}
		edit(c)
		return Config{Email: c}
	}
	slackURL := func(u string) Config { return Config{Slack: &SlackConfig{WebhookURL: NewSecret(u)}} }
	for _, tc := range []struct {
		name string
		c    Config
		err  string
	}{
		{"none", Config{}, "no receiver type"},
		{"several", Config{Webhook: &WebhookConfig{URL: "https://a"}, Alertmanager: &AlertmanagerConfig{URL: "https://b"}},
			"several receiver types set (webhook, alertmanager)"},
		{"webhook without url", Config{Webhook: &WebhookConfig{}}, "webhook: url is required"},
		{"webhook relative url", Config{Webhook: &WebhookConfig{URL: "/hook"}}, "url must be an http or https URL"},
		{"webhook ftp url", Config{Webhook: &WebhookConfig{URL: "ftp://example.org/x"}}, "url must be an http or https URL"},
		{"webhook no host", Config{Webhook: &WebhookConfig{URL: "https:///x"}}, "url has no host"},
		{"webhook bad url", Config{Webhook: &WebhookConfig{URL: "https://exa mple.org/%zz"}}, "url is not a valid URL"},
		{"webhook bad header name", Config{Webhook: &WebhookConfig{URL: "https://a", Headers: map[string]string{"Bad Name": "x"}}}, "not a valid header name"},
		{"webhook header injection", Config{Webhook: &WebhookConfig{URL: "https://a", Headers: map[string]string{"X-A": "v\r\nX-B: w"}}}, "control characters"},
		{"webhook reserved header", Config{Webhook: &WebhookConfig{URL: "https://a", Headers: map[string]string{"content-type": "text/plain"}}}, "Content-Type is set by Steward"},
		{"webhook steward header", Config{Webhook: &WebhookConfig{URL: "https://a", Headers: map[string]string{"X-Steward-Event": "x"}}}, "X-Steward-Event is set by Steward"},
		{"slack without url", Config{Slack: &SlackConfig{}}, "slack: webhook_url is required"},
		{"slack bad url", slackURL("hooks.slack.com/services/T/B/" + secretValue), "webhook_url must be an http or https URL"},
		{"slack unparsable url", slackURL("https://hooks.slack.com/%zz/" + secretValue), "webhook_url is not a valid URL"},
		{"pagerduty without key", Config{PagerDuty: &PagerDutyConfig{}}, "pagerduty: routing_key is required"},
		{"pagerduty bad url", Config{PagerDuty: &PagerDutyConfig{RoutingKey: NewSecret(secretValue), URL: "events.pagerduty.com"}}, "url must be an http or https URL"},
		{"alertmanager without url", Config{Alertmanager: &AlertmanagerConfig{}}, "alertmanager: url is required"},
		{"alertmanager bad url", Config{Alertmanager: &AlertmanagerConfig{URL: "am:9093"}}, "url must be an http or https URL"},
		{"email without smtp", email(func(c *EmailConfig) { c.SMTP = "" }), "email: smtp (host:port of the mail server) is required"},
		{"email without port", email(func(c *EmailConfig) { c.SMTP = "mail.example.org" }), "is not host:port"},
		{"email bad port", email(func(c *EmailConfig) { c.SMTP = "mail.example.org:99999" }), "port must be a number"},
		{"email without host", email(func(c *EmailConfig) { c.SMTP = ":587" }), "is not host:port"},
		{"email without from", email(func(c *EmailConfig) { c.From = "" }), "from is required"},
		{"email bad from", email(func(c *EmailConfig) { c.From = "not an address" }), "from \"not an address\""},
		{"email without to", email(func(c *EmailConfig) { c.To = nil }), "at least one address"},
		{"email bad to", email(func(c *EmailConfig) { c.To = []string{"o@example.org", "nope"} }), "to \"nope\""},
		{"email bad starttls", email(func(c *EmailConfig) { c.StartTLS = "always" }), "starttls \"always\""},
		{"email password without username", email(func(c *EmailConfig) { c.Password = NewSecret(secretValue) }), "password is set without a username"},
		{"email username without password", email(func(c *EmailConfig) { c.Username = "u" }), "username is set without a password"},
		{"email missing ca file", email(func(c *EmailConfig) { c.CAFile = filepath.Join(dir, "nope.pem") }), "ca_file"},
		{"email ca file without pem", email(func(c *EmailConfig) { c.CAFile = notPEM }), "no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verr := tc.c.Validate()
			if verr == nil || !strings.Contains(verr.Error(), tc.err) {
				t.Errorf("Validate = %v, want an error containing %q", verr, tc.err)
			}
			s, err := New("bad", tc.c, Options{})
			if err == nil || s != nil {
				t.Fatalf("New = %v, %v; want an error", s, err)
			}
			if !strings.Contains(err.Error(), `receiver "bad"`) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("New error %q, want the receiver and %q", err, tc.err)
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}
