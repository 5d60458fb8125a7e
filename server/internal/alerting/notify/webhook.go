package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// WebhookVersion is the version of the webhook body schema, sent as its
// "version" field. Fields may be added within a version; a field is
// removed or changes meaning only with a new version.
const WebhookVersion = "1"

// Webhook headers.
const (
	// SignatureHeader carries "sha256=" and the lowercase hex HMAC-SHA256
	// of the body under the receiver's secret, when it has one.
	SignatureHeader = "X-Steward-Signature"
	// EventHeader carries the event: trigger, acknowledge or resolve.
	EventHeader = "X-Steward-Event"
	// NotificationHeader carries the notification id: a repeat of one
	// delivery carries the same id, so receivers can drop it.
	NotificationHeader = "X-Steward-Notification"
)

// Webhook is the sender for a generic webhook. It POSTs this JSON body
// (schema version 1; times are RFC 3339 in UTC, and the optional
// ones are left out when unset):
//
//	{
//	  "version": "1",
//	  "notification_id": 1234,                 // outbox id, same on a repeat
//	  "event": "trigger",                      // trigger | acknowledge | resolve
//	  "at": "2025-03-01T10:15:00Z",            // when the event happened
//	  "alert": {
//	    "id": 42,
//	    "dedup_key": "steward-42-9f86d081884c7d65",
//	    "rule": "disk-encryption",
//	    "host_id": 7,
//	    "hostname": "web-01",
//	    "subject": "policy-17",
//	    "severity": "high",                    // info | low | medium | high | critical
//	    "state": "firing",                     // firing | acknowledged | resolved
//	    "labels": {"os": "linux"},             // always an object
//	    "annotations": {"summary": "..."},     // always an object
//	    "starts_at": "2025-03-01T10:15:00Z",
//	    "acked_at": "...", "acked_by": "...", "ack_comment": "...",  // optional
//	    "resolved_at": "..."                   // optional
//	  }
//	}
//
// with the headers Content-Type: application/json, X-Steward-Event,
// X-Steward-Notification, X-Steward-Signature (when a secret is set; see
// VerifySignature) and the configured extra headers.
type Webhook struct {
	p       poster
	url     *url.URL
	secret  []byte
	headers http.Header
}

// webhookBody is the JSON body of a webhook, schema version 1.
type webhookBody struct {
	Version        string       `json:"version"`
	NotificationID int64        `json:"notification_id"`
	Event          Event        `json:"event"`
	At             string       `json:"at"`
	Alert          webhookAlert `json:"alert"`
}

type webhookAlert struct {
	ID          int64             `json:"id"`
	DedupKey    string            `json:"dedup_key"`
	Rule        string            `json:"rule"`
	HostID      int64             `json:"host_id"`
	Hostname    string            `json:"hostname"`
	Subject     string            `json:"subject"`
	Severity    string            `json:"severity"`
	State       string            `json:"state"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    string            `json:"starts_at"`
	AckedAt     string            `json:"acked_at,omitempty"`
	AckedBy     string            `json:"acked_by,omitempty"`
	AckComment  string            `json:"ack_comment,omitempty"`
	ResolvedAt  string            `json:"resolved_at,omitempty"`
}

func (c *WebhookConfig) validate() error {
	if _, err := parseHTTPURL("url", c.URL); err != nil {
		return err
	}
	for name, value := range c.Headers {
		if !isToken(name) {
			return fmt.Errorf("headers: %q is not a valid header name", name)
		}
		switch canon := http.CanonicalHeaderKey(name); {
		case canon == "Host", canon == "Content-Type", canon == "Content-Length", canon == "Transfer-Encoding",
			canon == "Connection", canon == "User-Agent", strings.HasPrefix(canon, "X-Steward-"):
			return fmt.Errorf("headers: %s is set by Steward", canon)
		}
		if strings.ContainsFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			// The value is not quoted: it may be a credential.
			return fmt.Errorf("headers: the value of %s contains control characters", http.CanonicalHeaderKey(name))
		}
	}
	return nil
}

// isToken reports whether s is an HTTP token (RFC 9110), as header names
// must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

func newWebhook(desc string, c WebhookConfig, o Options) *Webhook {
	u, _ := parseHTTPURL("url", c.URL) // checked by Validate
	h := make(http.Header, len(c.Headers))
	for k, v := range c.Headers {
		h.Set(k, v)
	}
	return &Webhook{
		p:       newPoster(desc, o, append(urlSecrets(u), c.Secret.Value())...),
		url:     u,
		secret:  []byte(c.Secret.Value()),
		headers: h,
	}
}

// Handles reports true: a webhook is sent every event.
func (w *Webhook) Handles(Event) bool { return true }

// Send POSTs m as the version 1 JSON body, signed when a secret is set.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	body, err := webhookJSON(m)
	if err != nil {
		return &Error{Permanent: true, Err: fmt.Errorf("%s: encode: %w", w.p.desc, err)}
	}
	h := w.headers.Clone()
	h.Set(EventHeader, string(m.Event))
	h.Set(NotificationHeader, strconv.FormatInt(m.NotificationID, 10))
	if len(w.secret) > 0 {
		h.Set(SignatureHeader, Sign(w.secret, body))
	}
	return w.p.post(ctx, w.url, body, h)
}

// webhookJSON renders the webhook body of m.
func webhookJSON(m Message) ([]byte, error) {
	a := m.Alert
	body := webhookBody{
		Version:        WebhookVersion,
		NotificationID: m.NotificationID,
		Event:          m.Event,
		At:             timeString(eventTime(m)),
		Alert: webhookAlert{
			ID:          a.ID,
			DedupKey:    a.DedupKey,
			Rule:        a.Rule,
			HostID:      a.HostID,
			Hostname:    a.Hostname,
			Subject:     a.Subject,
			Severity:    a.Severity,
			State:       a.State,
			Labels:      nonNil(a.Labels),
			Annotations: nonNil(a.Annotations),
			StartsAt:    timeString(a.StartsAt),
			AckedAt:     timeString(a.AckedAt),
			AckedBy:     a.AckedBy,
			AckComment:  a.AckComment,
			ResolvedAt:  timeString(a.ResolvedAt),
		},
	}
	return json.Marshal(body)
}

// nonNil returns m, or an empty map for nil so it encodes as {}.
func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Sign is the X-Steward-Signature value of body under secret:
// "sha256=" and the lowercase hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether header, an X-Steward-Signature value,
// is the signature of body under secret. The comparison takes constant
// time; an empty secret verifies nothing.
func VerifySignature(secret, body []byte, header string) bool {
	if len(secret) == 0 {
		return false
	}
	hexSum, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(mac.Sum(nil), got)
}
