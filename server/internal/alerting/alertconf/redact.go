package alertconf

import (
	"net/url"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/server/internal/alerting/match"
)

// hidden replaces values the API must not show.
const hidden = "<secret>"

// View is the loaded section as the API shows it: keys as in the file,
// durations as text, and no credentials. Secrets, webhook header values
// and passwords in URLs read as "<secret>" or "xxxxx". It marshals to
// JSON (and YAML) cleanly.
type View struct {
	File               string         `json:"file,omitempty" yaml:"file,omitempty"`
	ExternalURL        string         `json:"external_url,omitempty" yaml:"external_url,omitempty"`
	Receivers          []ReceiverView `json:"receivers" yaml:"receivers"`
	Routes             []RouteView    `json:"routes" yaml:"routes"`
	Rules              []RuleView     `json:"rules" yaml:"rules"`
	MaintenanceWindows []WindowView   `json:"maintenance_windows" yaml:"maintenance_windows"`
	Delivery           map[string]any `json:"delivery" yaml:"delivery"`
	SweepInterval      string         `json:"sweep_interval" yaml:"sweep_interval"`
}

// ReceiverView is a receiver in a View: its type and the settings of that
// type, keyed as in the file, with secrets hidden.
type ReceiverView struct {
	Name   string         `json:"name" yaml:"name"`
	Type   string         `json:"type" yaml:"type"`
	Config map[string]any `json:"config" yaml:"config"`
}

// RouteView is a route in a View.
type RouteView struct {
	Match     map[string][]string `json:"match,omitempty" yaml:"match,omitempty"`
	MatchRE   map[string]string   `json:"match_re,omitempty" yaml:"match_re,omitempty"`
	Matchers  []string            `json:"matchers,omitempty" yaml:"matchers,omitempty"`
	Receivers []string            `json:"receivers" yaml:"receivers"`
	Continue  bool                `json:"continue,omitempty" yaml:"continue,omitempty"`
}

// RuleView is a rule in a View: the keys that apply to its type.
type RuleView struct {
	Name           string            `json:"name" yaml:"name"`
	Type           string            `json:"type" yaml:"type"`
	Severity       string            `json:"severity,omitempty" yaml:"severity,omitempty"`
	Labels         map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Summary        string            `json:"summary,omitempty" yaml:"summary,omitempty"`
	Description    string            `json:"description,omitempty" yaml:"description,omitempty"`
	After          string            `json:"after,omitempty" yaml:"after,omitempty"`
	MinSeverity    string            `json:"min_severity,omitempty" yaml:"min_severity,omitempty"`
	Policies       []string          `json:"policies,omitempty" yaml:"policies,omitempty"`
	Tags           []string          `json:"tags,omitempty" yaml:"tags,omitempty"`
	Statuses       []string          `json:"statuses,omitempty" yaml:"statuses,omitempty"`
	Kinds          []string          `json:"kinds,omitempty" yaml:"kinds,omitempty"`
	SubjectMatches string            `json:"subject_matches,omitempty" yaml:"subject_matches,omitempty"`
	ResolveAfter   string            `json:"resolve_after,omitempty" yaml:"resolve_after,omitempty"`
	Expr           string            `json:"expr,omitempty" yaml:"expr,omitempty"`
}

// WindowView is a maintenance window in a View.
type WindowView struct {
	Name     string   `json:"name" yaml:"name"`
	Matchers []string `json:"matchers,omitempty" yaml:"matchers,omitempty"`
	Days     []string `json:"days" yaml:"days"`
	Start    string   `json:"start" yaml:"start"`
	Duration string   `json:"duration" yaml:"duration"`
	TimeZone string   `json:"time_zone" yaml:"time_zone"`
}

// Redacted returns the section as the API may show it.
func (c Config) Redacted() View {
	v := View{
		File:          c.File,
		ExternalURL:   redactURL(c.ExternalURL),
		SweepInterval: c.SweepInterval.String(),
		Delivery: map[string]any{
			"timeout":         c.Delivery.Timeout.String(),
			"max_attempts":    c.Delivery.MaxAttempts,
			"backoff_base":    c.Delivery.BackoffBase.String(),
			"backoff_max":     c.Delivery.BackoffMax.String(),
			"workers":         c.Delivery.Workers,
			"per_receiver":    c.Delivery.PerReceiver,
			"resend_interval": c.Delivery.ResendInterval.String(),
		},
		Receivers:          []ReceiverView{},
		Routes:             []RouteView{},
		Rules:              []RuleView{},
		MaintenanceWindows: []WindowView{},
	}
	for _, r := range c.Receivers {
		v.Receivers = append(v.Receivers, receiverView(r))
	}
	for _, r := range c.Routes {
		v.Routes = append(v.Routes, RouteView{Match: r.Match, MatchRE: r.MatchRE, Matchers: matcherStrings(r.Matchers),
			Receivers: r.Receivers, Continue: r.Continue})
	}
	for _, r := range c.Rules {
		v.Rules = append(v.Rules, RuleView{Name: r.Name, Type: r.Type, Severity: r.Severity, Labels: r.Labels,
			Summary: r.Summary, Description: r.Description, After: durationText(r.After),
			MinSeverity: r.MinSeverity, Policies: r.Policies, Tags: r.Tags, Statuses: r.Statuses,
			Kinds: r.Kinds, SubjectMatches: r.SubjectMatches, ResolveAfter: durationText(r.ResolveAfter), Expr: r.Expr})
	}
	for _, w := range c.MaintenanceWindows {
		days := []string{"daily"}
		if len(w.Days) > 0 {
			days = days[:0]
			for _, d := range w.Days {
				days = append(days, strings.ToLower(d.String()[:3]))
			}
		}
		v.MaintenanceWindows = append(v.MaintenanceWindows, WindowView{Name: w.Name, Matchers: matcherStrings(w.Matchers),
			Days: days, Start: w.Start, Duration: w.Duration.String(), TimeZone: w.TimeZone})
	}
	return v
}

func durationText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func matcherStrings(ms []match.Matcher) []string {
	if len(ms) == 0 {
		return nil
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return out
}

// receiverView renders the one set field of the receiver's notify.Config
// through YAML, where notify.Secret writes itself as "<secret>", and then
// hides what else may carry a credential.
func receiverView(r Receiver) ReceiverView {
	rv := ReceiverView{Name: r.Name, Config: map[string]any{}}
	cfg := reflect.ValueOf(r.Config)
	for _, typ := range ReceiverTypes() {
		f := cfg.FieldByIndex(receiverTypes()[typ])
		if f.Kind() == reflect.Pointer && f.IsNil() {
			continue
		}
		rv.Type = typ
		raw, err := yaml.Marshal(f.Interface())
		var m map[string]any
		if err != nil || yaml.Unmarshal(raw, &m) != nil {
			rv.Config = map[string]any{"error": "cannot be shown"}
			break
		}
		rv.Config = sanitize(m).(map[string]any)
		break
	}
	return rv
}

// sanitize drops empty values, hides header values (an Authorization
// header is a credential) and passwords in URLs.
func sanitize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, val := range v {
			if k == "headers" {
				if hs, ok := val.(map[string]any); ok {
					masked := make(map[string]any, len(hs))
					for h := range hs {
						masked[h] = hidden
					}
					val = masked
				}
			}
			if val = sanitize(val); !isEmpty(val) {
				out[k] = val
			}
		}
		return out
	case []any:
		out := make([]any, 0, len(v))
		for _, it := range v {
			out = append(out, sanitize(it))
		}
		return out
	case string:
		return redactURL(v)
	}
	return v
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// redactURL hides the password of a URL with user information; other
// strings are returned as they are.
func redactURL(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	return u.Redacted()
}
