// Package notify delivers alert notifications to receivers: generic
// webhooks, Slack, PagerDuty, Prometheus Alertmanager and email.
package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Event is what happened to an alert.
type Event string

// Events a notification reports.
const (
	Trigger     Event = "trigger"
	Acknowledge Event = "acknowledge"
	Resolve     Event = "resolve"
)

// Alert is the alert a notification is about, as the store holds it.
type Alert struct {
	ID int64
	// DedupKey is the episode's identity: the same on its trigger,
	// acknowledge and resolve, at most 64 characters.
	DedupKey    string
	Rule        string
	HostID      int64
	Hostname    string
	Subject     string
	Severity    string // info, low, medium, high or critical
	State       string // firing, acknowledged or resolved
	Labels      map[string]string
	Annotations map[string]string // summary, description, evidence, url
	StartsAt    time.Time
	AckedAt     time.Time
	AckedBy     string
	AckComment  string
	ResolvedAt  time.Time
}

// Message is one notification to send: an event of one alert.
type Message struct {
	// NotificationID is the outbox row's id: a repeat of one delivery
	// (after a crash between send and commit) carries the same id.
	NotificationID int64
	Event          Event
	Alert          Alert
	// At is when the event happened: the alert's start for a trigger,
	// its acknowledgement or its resolve.
	At time.Time
}

// Sender delivers messages to one receiver. Send returns nil once the
// receiver accepted the message, or an error that Classify can read.
type Sender interface {
	Send(ctx context.Context, m Message) error
	// Handles reports whether the receiver has a use for the event;
	// the delivery worker marks the others skipped without calling Send.
	Handles(e Event) bool
}

// Error is a failed delivery with what the delivery worker needs to know
// to retry it.
type Error struct {
	// Status is the HTTP status (or SMTP reply code) the receiver
	// answered; 0 when it never answered.
	Status int
	// Permanent means sending the same message again cannot succeed:
	// a 4xx other than 408 and 429, a payload the receiver refused.
	Permanent bool
	// RetryAfter is the delay the receiver asked for (Retry-After on
	// 429 and 503); 0 when it gave none.
	RetryAfter time.Duration
	Err        error
}

// Error is the receiver's answer (status or reply code) and the cause.
func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("status %d: %v", e.Status, e.Err)
	}
	return e.Err.Error()
}

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Classify reads a Send error: whether to try again, and after what delay
// the receiver asked for (0: the caller's backoff decides). Errors that
// are not *Error (timeouts, refused connections) are retried.
func Classify(err error) (retry bool, after time.Duration, status int) {
	var e *Error
	if errors.As(err, &e) {
		return !e.Permanent, e.RetryAfter, e.Status
	}
	return true, 0, 0
}

// Config is one receiver's configuration: exactly one field is set.
type Config struct {
	Webhook      *WebhookConfig      `yaml:"webhook,omitempty"`
	Slack        *SlackConfig        `yaml:"slack,omitempty"`
	PagerDuty    *PagerDutyConfig    `yaml:"pagerduty,omitempty"`
	Alertmanager *AlertmanagerConfig `yaml:"alertmanager,omitempty"`
	Email        *EmailConfig        `yaml:"email,omitempty"`
}

// Options are what every sender shares.
type Options struct {
	// Timeout bounds one send (request and answer); default 10 s.
	Timeout time.Duration
	// Client is the HTTP client for HTTP receivers; nil builds one with
	// Timeout.
	Client *http.Client
	// ResendInterval is how often the Alertmanager refresher re-posts
	// firing alerts; endsAt is set four intervals ahead. Default 1 m.
	ResendInterval time.Duration
	// UserAgent is sent by HTTP receivers.
	UserAgent string
}
