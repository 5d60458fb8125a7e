package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Alertmanager is the sender for a Prometheus Alertmanager, through its
// API v2 (POST /api/v2/alerts). It handles trigger and resolve; there is
// no acknowledge in Alertmanager.
//
// Alertmanager forgets an alert once its endsAt passes, so a trigger is
// posted with endsAt four resend intervals ahead, and the caller must
// re-post every open alert it sent there with Post every resend interval
// until it resolves. A resolve posts endsAt = when the alert resolved.
type Alertmanager struct {
	p      poster
	url    *url.URL
	resend time.Duration
}

// amAlert is an Alertmanager API v2 postableAlert.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

func (c *AlertmanagerConfig) validate() error {
	_, err := parseHTTPURL("url", c.URL)
	return err
}

func newAlertmanager(desc string, c AlertmanagerConfig, o Options) *Alertmanager {
	u, _ := parseHTTPURL("url", c.URL) // checked by Validate
	return &Alertmanager{p: newPoster(desc, o, urlSecrets(u)...), url: u.JoinPath("api", "v2", "alerts"), resend: o.ResendInterval}
}

// Handles reports whether e is a trigger or a resolve: Alertmanager has
// no acknowledgement.
func (a *Alertmanager) Handles(e Event) bool { return e == Trigger || e == Resolve }

// Send posts the alert of m: a trigger with endsAt four resend intervals
// from now, a resolve with endsAt when it resolved. An acknowledge is
// refused with a permanent error (Handles reports false for it).
// Alertmanager answers 200; 400 is permanent.
func (a *Alertmanager) Send(ctx context.Context, m Message) error {
	var al amAlert
	switch m.Event {
	case Trigger:
		al = amRender(m.Alert, m.At, a.p.now().Add(4*a.resend))
	case Resolve:
		end := m.Alert.ResolvedAt
		if end.IsZero() {
			end = m.At
		}
		if end.IsZero() {
			end = a.p.now()
		}
		al = amRender(m.Alert, m.At, end)
	default:
		return &Error{Permanent: true, Err: fmt.Errorf("%s: no %s event in Alertmanager", a.p.desc, m.Event)}
	}
	return a.post(ctx, []amAlert{al})
}

// Post re-posts open alerts in one request, each with endsAt four
// resend intervals after now, so Alertmanager keeps them firing. An alert
// in the batch that has resolved since is posted with its ResolvedAt as
// endsAt instead. Callers batch (about 500 alerts a request) and call it
// every resend interval; an empty batch sends nothing.
func (a *Alertmanager) Post(ctx context.Context, alerts []Alert, now time.Time) error {
	if len(alerts) == 0 {
		return nil
	}
	out := make([]amAlert, 0, len(alerts))
	for _, al := range alerts {
		end := now.Add(4 * a.resend)
		if !al.ResolvedAt.IsZero() {
			end = al.ResolvedAt
		}
		out = append(out, amRender(al, now, end))
	}
	return a.post(ctx, out)
}

func (a *Alertmanager) post(ctx context.Context, alerts []amAlert) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return &Error{Permanent: true, Err: fmt.Errorf("%s: encode: %w", a.p.desc, err)}
	}
	return a.p.post(ctx, a.url, body, nil)
}

// amRender is the postable alert of al ending at end. startsAt is the
// alert's start (at when unset), and never after end, which
// Alertmanager refuses.
func amRender(al Alert, at, end time.Time) amAlert {
	start := al.StartsAt
	if start.IsZero() {
		start = at
	}
	if !start.IsZero() && end.Before(start) {
		end = start
	}
	labels := amLabels(al.Labels)
	labels["alertname"] = amValue(al.Rule)
	labels["steward_alert_id"] = strconv.FormatInt(al.ID, 10)
	if labels["alertname"] == "" {
		labels["alertname"] = "steward"
	}
	return amAlert{
		Labels:       labels,
		Annotations:  amLabels(al.Annotations),
		StartsAt:     timeString(start),
		EndsAt:       timeString(end),
		GeneratorURL: alertURL(al),
	}
}

// amLabels makes m a valid label set: names matching
// [a-zA-Z_][a-zA-Z0-9_]* (other characters replaced with "_", a leading
// digit prefixed with "_"), values valid UTF-8, empty values dropped. A
// name that was already valid wins over one that became equal to it.
func amLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+2)
	var renamed []string
	for k, v := range m {
		if v == "" || k == "" {
			continue
		}
		if amLabelName(k) == k {
			out[k] = amValue(v)
		} else {
			renamed = append(renamed, k)
		}
	}
	sort.Strings(renamed) // deterministic choice among collisions
	for _, k := range renamed {
		n := amLabelName(k)
		if _, taken := out[n]; !taken {
			out[n] = amValue(m[k])
		}
	}
	return out
}

// amLabelName turns s into a label name.
func amLabelName(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// amValue is v as valid UTF-8.
func amValue(v string) string { return strings.ToValidUTF8(v, "\uFFFD") }
