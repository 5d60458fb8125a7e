package notify

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// WebhookConfig is a generic webhook: a JSON body POSTed to URL, signed
// with an HMAC-SHA256 of the body under Secret when one is set.
type WebhookConfig struct {
	URL     string            `yaml:"url"`
	Secret  Secret            `yaml:"secret"`
	Headers map[string]string `yaml:"headers"`
}

// SlackConfig is a Slack incoming webhook. Its URL is a credential.
type SlackConfig struct {
	WebhookURL Secret `yaml:"webhook_url"`
	// Channel and Username override the webhook's defaults when set (only
	// legacy webhooks honour them).
	Channel  string `yaml:"channel"`
	Username string `yaml:"username"`
}

// DefaultPagerDutyURL is PagerDuty's Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDutyConfig is a PagerDuty service's Events API v2 integration.
type PagerDutyConfig struct {
	RoutingKey Secret `yaml:"routing_key"`
	// URL defaults to DefaultPagerDutyURL.
	URL string `yaml:"url"`
}

// AlertmanagerConfig is a Prometheus Alertmanager, reached through its API
// v2 at URL (the base, without /api/v2).
type AlertmanagerConfig struct {
	URL string `yaml:"url"`
}

// EmailConfig sends mail through an SMTP server.
type EmailConfig struct {
	// SMTP is host:port of the mail server (587 submission is usual).
	SMTP     string   `yaml:"smtp"`
	From     string   `yaml:"from"`
	To       []string `yaml:"to"`
	Username string   `yaml:"username"`
	Password Secret   `yaml:"password"`
	// StartTLS is "required" (the default: refuse to send in clear),
	// "opportunistic", or "none" for a relay on the same machine.
	StartTLS string `yaml:"starttls"`
	// CAFile is a PEM bundle to verify the server's certificate with,
	// instead of the system roots.
	CAFile string `yaml:"ca_file"`
	// ServerName overrides the name the certificate is checked against.
	ServerName string `yaml:"server_name"`
}

// Secret is a credential from the config file: written inline, or as
// {file: PATH} (the file's content without a trailing newline) or
// {env: NAME}. Its value never reaches a log line, the API or a
// formatted string.
type Secret struct {
	value  string
	source string // "inline", "file PATH" or "env NAME", for messages
}

// NewSecret wraps a value given in code.
func NewSecret(v string) Secret { return Secret{value: v, source: "inline"} }

// Value is the secret itself, for the one place that sends it.
func (s Secret) Value() string { return s.value }

// IsSet reports whether a non-empty secret was given.
func (s Secret) IsSet() bool { return s.value != "" }

// String hides the value.
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "<secret>"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON hides the value from JSON output.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalYAML hides the value from YAML output.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML reads an inline string, {file: PATH} or {env: NAME}, and
// resolves it now: a reload reads files and variables again.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*s = Secret{value: n.Value, source: "inline"}
		return nil
	case yaml.MappingNode:
		var ref struct {
			File string `yaml:"file"`
			Env  string `yaml:"env"`
		}
		if err := n.Decode(&ref); err != nil {
			return err
		}
		switch {
		case (ref.File == "") == (ref.Env == ""):
			return errors.New("a secret is a string, {file: PATH} or {env: NAME}")
		case ref.File != "":
			raw, err := os.ReadFile(ref.File)
			if err != nil {
				return fmt.Errorf("secret file: %w", err)
			}
			v := strings.TrimRight(string(raw), "\r\n")
			if v == "" {
				return fmt.Errorf("secret file %s is empty", ref.File)
			}
			*s = Secret{value: v, source: "file " + ref.File}
		default:
			v, ok := os.LookupEnv(ref.Env)
			if !ok || v == "" {
				return fmt.Errorf("secret variable %s is not set", ref.Env)
			}
			*s = Secret{value: v, source: "env " + ref.Env}
		}
		return nil
	}
	return errors.New("a secret is a string, {file: PATH} or {env: NAME}")
}
