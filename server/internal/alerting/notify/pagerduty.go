package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
)

// PagerDuty's Events API v2 limits.
const (
	pagerDutyDedupKeyMax = 255
	pagerDutySummaryMax  = 1024
)

// PagerDuty is the sender for a PagerDuty Events API v2 integration. A
// trigger opens (or joins) the incident of the alert's dedup_key, an
// acknowledge acknowledges it and a resolve resolves it. See
// docs/notifications.md for the fields and the severity mapping.
type PagerDuty struct {
	p          poster
	url        *url.URL
	routingKey string
}

// pagerDutyEvent is an Events API v2 event. Payload, Client, ClientURL
// and Links are for triggers only.
type pagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"`
	DedupKey    string            `json:"dedup_key"`
	Payload     *pagerDutyPayload `json:"payload,omitempty"`
	Client      string            `json:"client,omitempty"`
	ClientURL   string            `json:"client_url,omitempty"`
	Links       []pagerDutyLink   `json:"links,omitempty"`
}

type pagerDutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details"`
}

type pagerDutyLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

func (c *PagerDutyConfig) validate() error {
	if !c.RoutingKey.IsSet() {
		return fmt.Errorf("routing_key is required")
	}
	if c.URL != "" {
		if _, err := parseHTTPURL("url", c.URL); err != nil {
			return err
		}
	}
	return nil
}

func newPagerDuty(desc string, c PagerDutyConfig, o Options) *PagerDuty {
	raw := c.URL
	if raw == "" {
		raw = DefaultPagerDutyURL
	}
	u, _ := parseHTTPURL("url", raw) // checked by Validate
	return &PagerDuty{p: newPoster(desc, o, append(urlSecrets(u), c.RoutingKey.Value())...), url: u, routingKey: c.RoutingKey.Value()}
}

// Handles reports true: PagerDuty triggers, acknowledges and resolves
// incidents.
func (p *PagerDuty) Handles(Event) bool { return true }

// Send posts the event of m. PagerDuty answers 202; 400 (an invalid
// event) is permanent, 429 and 5xx are retried.
func (p *PagerDuty) Send(ctx context.Context, m Message) error {
	ev, err := p.event(m)
	if err != nil {
		return &Error{Permanent: true, Err: fmt.Errorf("%s: %w", p.p.desc, err)}
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return &Error{Permanent: true, Err: fmt.Errorf("%s: encode: %w", p.p.desc, err)}
	}
	return p.p.post(ctx, p.url, body, nil)
}

// event builds the Events API v2 event of m.
func (p *PagerDuty) event(m Message) (pagerDutyEvent, error) {
	a := m.Alert
	switch {
	case a.DedupKey == "":
		return pagerDutyEvent{}, fmt.Errorf("alert %d has no dedup key", a.ID)
	case len(a.DedupKey) > pagerDutyDedupKeyMax:
		return pagerDutyEvent{}, fmt.Errorf("alert %d: dedup key is %d bytes, PagerDuty takes at most %d",
			a.ID, len(a.DedupKey), pagerDutyDedupKeyMax)
	}
	ev := pagerDutyEvent{RoutingKey: p.routingKey, DedupKey: a.DedupKey}
	switch m.Event {
	case Trigger:
		ev.EventAction = "trigger"
	case Acknowledge:
		ev.EventAction = "acknowledge"
		return ev, nil
	case Resolve:
		ev.EventAction = "resolve"
		return ev, nil
	default:
		return pagerDutyEvent{}, fmt.Errorf("unknown event %q", m.Event)
	}

	start := a.StartsAt
	if start.IsZero() {
		start = m.At
	}
	details := map[string]any{
		"alert_id":    a.ID,
		"labels":      nonNil(a.Labels),
		"annotations": nonNil(a.Annotations),
	}
	if a.Subject != "" {
		details["subject"] = a.Subject
	}
	ev.Payload = &pagerDutyPayload{
		Summary:       truncateRunes(summary(a), pagerDutySummaryMax),
		Source:        truncateRunes(hostLabel(a), 255),
		Severity:      pagerDutySeverity(a.Severity),
		Timestamp:     timeString(start),
		Component:     a.Rule,
		Group:         a.Labels["os"],
		Class:         pagerDutyClass(a),
		CustomDetails: details,
	}
	ev.Client = "Steward"
	if u := alertURL(a); u != "" {
		ev.ClientURL = u
		ev.Links = []pagerDutyLink{{Href: u, Text: "Alert in Steward"}}
	}
	return ev, nil
}

// pagerDutySeverity maps Steward's severities onto PagerDuty's four; an
// unknown severity reads as error, so it still pages.
func pagerDutySeverity(s string) string {
	switch s {
	case "critical":
		return "critical"
	case "high":
		return "error"
	case "medium":
		return "warning"
	case "low", "info":
		return "info"
	}
	return "error"
}

// pagerDutyClass is the kind of problem: the policy of a policy rule, the
// change kind of an inventory rule, else the rule.
func pagerDutyClass(a Alert) string {
	if v := a.Labels["policy"]; v != "" {
		return v
	}
	if v := a.Labels["kind"]; v != "" {
		return v
	}
	return a.Rule
}
