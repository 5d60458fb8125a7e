package notify

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Defaults for the zero fields of Options.
const (
	DefaultTimeout        = 10 * time.Second
	DefaultResendInterval = time.Minute
	DefaultUserAgent      = "steward-server"
)

// Type is the receiver type c configures: "webhook", "slack",
// "pagerduty", "alertmanager" or "email", or "" when no field is set.
// When several are set (which Validate refuses) it is the first of them in
// that order.
func (c Config) Type() string {
	if t := c.types(); len(t) > 0 {
		return t[0]
	}
	return ""
}

// types lists the receiver types set in c, in declaration order.
func (c Config) types() []string {
	var t []string
	if c.Webhook != nil {
		t = append(t, "webhook")
	}
	if c.Slack != nil {
		t = append(t, "slack")
	}
	if c.PagerDuty != nil {
		t = append(t, "pagerduty")
	}
	if c.Alertmanager != nil {
		t = append(t, "alertmanager")
	}
	if c.Email != nil {
		t = append(t, "email")
	}
	return t
}

// Validate checks c as New does, without building a sender: exactly one
// receiver type, its required fields, URLs, addresses and the email CA
// file. Its messages never contain a secret or a URL (a URL may carry
// credentials).
func (c Config) Validate() error {
	switch t := c.types(); len(t) {
	case 0:
		return errors.New("no receiver type set (one of webhook, slack, pagerduty, alertmanager, email)")
	case 1:
	default:
		return fmt.Errorf("several receiver types set (%s): a receiver has exactly one", strings.Join(t, ", "))
	}
	var err error
	switch {
	case c.Webhook != nil:
		err = c.Webhook.validate()
	case c.Slack != nil:
		err = c.Slack.validate()
	case c.PagerDuty != nil:
		err = c.PagerDuty.validate()
	case c.Alertmanager != nil:
		err = c.Alertmanager.validate()
	case c.Email != nil:
		_, err = c.Email.settings()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c.Type(), err)
	}
	return nil
}

// New builds the sender for the one receiver type c sets, named name in
// error messages (the receiver's name in the config). For an
// alertmanager config the Sender is an *Alertmanager, whose Post method
// the refresher uses.
func New(name string, c Config, o Options) (Sender, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("receiver %q: %w", name, err)
	}
	o = o.withDefaults()
	desc := fmt.Sprintf("%s receiver %q", c.Type(), name)
	switch {
	case c.Webhook != nil:
		return newWebhook(desc, *c.Webhook, o), nil
	case c.Slack != nil:
		return newSlack(desc, *c.Slack, o), nil
	case c.PagerDuty != nil:
		return newPagerDuty(desc, *c.PagerDuty, o), nil
	case c.Alertmanager != nil:
		return newAlertmanager(desc, *c.Alertmanager, o), nil
	default:
		s, err := c.Email.settings()
		if err != nil { // checked by Validate
			return nil, fmt.Errorf("receiver %q: email: %w", name, err)
		}
		return newEmail(desc, s, o), nil
	}
}

// withDefaults fills the zero fields of o.
func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ResendInterval <= 0 {
		o.ResendInterval = DefaultResendInterval
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Client == nil {
		// The timeout is applied per request through its context. Redirects
		// are not followed: a POST turned into a GET loses its body, and a
		// receiver that moved is a configuration to fix.
		// Idle connections are kept per receiver host, enough for the
		// delivery workers' sends in flight to reuse them instead of
		// opening a connection per notification (Go keeps 2 by default).
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		o.Client = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return o
}

// parseHTTPURL parses an absolute http or https URL. Its errors never
// repeat the URL, which may carry credentials.
func parseHTTPURL(field, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%s is required", field)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s is not a valid URL: %v", field, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s must be an http or https URL", field)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%s has no host", field)
	}
	return u, nil
}

// Helpers shared by the renderers.

// summary is the alert's one-line summary: its summary annotation, or
// the rule and the host when it has none.
func summary(a Alert) string {
	if s := strings.TrimSpace(a.Annotations["summary"]); s != "" {
		return s
	}
	return a.Rule + " on " + hostLabel(a)
}

// hostLabel names the alert's host: its hostname, or "host <id>".
func hostLabel(a Alert) string {
	if a.Hostname != "" {
		return a.Hostname
	}
	return fmt.Sprintf("host %d", a.HostID)
}

// eventTime is when the event of m happened, falling back on the alert's
// own times when m.At is unset.
func eventTime(m Message) time.Time {
	if !m.At.IsZero() {
		return m.At
	}
	switch m.Event {
	case Acknowledge:
		return m.Alert.AckedAt
	case Resolve:
		return m.Alert.ResolvedAt
	}
	return m.Alert.StartsAt
}

// timeString formats t as RFC 3339 in UTC with whole seconds, or "" for
// the zero time.
func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// alertURL is the alert's url annotation when it is an absolute http(s)
// URL without characters that would break out of a Slack link or an
// HTML attribute, else "".
func alertURL(a Alert) string {
	raw := a.Annotations["url"]
	if raw == "" || strings.ContainsAny(raw, "|<>\"' \\") || strings.ContainsFunc(raw, unicode.IsControl) {
		return ""
	}
	if _, err := parseHTTPURL("url", raw); err != nil {
		return ""
	}
	return raw
}

// truncateRunes cuts s to at most max runes, ending it with "…" when it
// cut, and makes it valid UTF-8.
func truncateRunes(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// oneLine is s with control characters (line breaks above all) and the
// Unicode line and paragraph separators turned into spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}
