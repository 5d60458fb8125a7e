// Package alertconf is the `alerting:` section of the server config file:
// receivers, routes, rules, maintenance windows and delivery tuning. Parse
// checks the whole section and reports every problem as FILE:LINE; the
// methods here answer the engine's questions about a parsed section
// (which receivers an alert goes to, whether it falls in a maintenance
// window, whether a policy result concerns a rule).
//
// docs/alerting-config.md is the reference of the section.
package alertconf

import (
	"fmt"
	"regexp"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/match"
	"github.com/steward-project/steward/server/internal/alerting/notify"
	"github.com/steward-project/steward/shared/policy"
)

// Rule types.
const (
	TypeHostOffline     = "host_offline"
	TypePolicyFailing   = "policy_failing"
	TypeInventoryChange = "inventory_change"
	TypeExpr            = "expr"
)

// RuleTypes lists the rule types in the order the docs give them.
var RuleTypes = []string{TypePolicyFailing, TypeInventoryChange, TypeExpr, TypeHostOffline}

// Defaults of the section.
const (
	DefaultSweepInterval  = 5 * time.Minute
	DefaultTimeout        = 10 * time.Second
	DefaultMaxAttempts    = 12
	DefaultBackoffBase    = 2 * time.Second
	DefaultBackoffMax     = 10 * time.Minute
	DefaultWorkers        = 4
	DefaultPerReceiver    = 8
	DefaultResendInterval = time.Minute
	DefaultResolveAfter   = 24 * time.Hour
)

// MinAfter is the shortest `after` a host_offline rule accepts.
const MinAfter = 10 * time.Second

// BuiltinLabels are the labels the engine sets on every alert (rule,
// severity, host_id, hostname, os, policy, kind) and the two it adds for
// Alertmanager; a rule's own labels may not use these names.
var BuiltinLabels = []string{"rule", "severity", "host_id", "hostname", "os", "policy", "kind", "alertname", "steward_alert_id"}

// Config is a parsed and checked `alerting:` section. The zero value
// routes nothing and has no rules; Parse fills in the defaults.
type Config struct {
	// ExternalURL (external_url) is the base of links in notifications,
	// without a trailing slash; "" when the file gives none, in which case
	// the server derives it from its listen address.
	ExternalURL string
	Receivers   []Receiver
	// Routes are tried in order; see Route.
	Routes             []Route
	Rules              []Rule
	MaintenanceWindows []MaintenanceWindow // maintenance_windows
	Delivery           Delivery
	// SweepInterval (sweep_interval) is how often every rule is reconciled
	// in full as a safety net; default 5m.
	SweepInterval time.Duration
	// File is the config file the section came from.
	File string
}

// Receiver is a named destination: exactly one of the embedded
// notify.Config fields is set (the pagerduty, alertmanager, webhook,
// slack or email key).
type Receiver struct {
	Name string
	notify.Config
	// Line is where the receiver starts in File.
	Line int
}

// Route picks receivers for alerts by their labels. A route matches when
// every condition holds; one without conditions matches every alert.
type Route struct {
	// Match (match) maps a label to the values it may have (any of them).
	Match map[string][]string
	// MatchRE (match_re) maps a label to a regular expression its value
	// must match, anchored at both ends.
	MatchRE map[string]string
	// Matchers (matchers) are label matchers as in silences:
	// "team=db", "hostname=~web-.*".
	Matchers  []match.Matcher
	Receivers []string
	// Continue (continue) goes on to the next routes after this one
	// matched; by default the first matching route is the last.
	Continue bool
	Line     int

	matchRE map[string]*regexp.Regexp // MatchRE compiled by Parse
}

// Rule is one alert rule. Which fields apply depends on Type.
type Rule struct {
	// Name is unique in the section: [a-z0-9][a-z0-9_-]*.
	Name string
	// Type is host_offline, policy_failing, inventory_change or expr.
	Type string
	// Severity is info, low, medium, high or critical. Parse sets the
	// type's default (host_offline high, inventory_change and expr
	// medium); for policy_failing "" means the failing policy's own.
	Severity string
	// Labels are added to every alert of the rule.
	Labels map[string]string
	// Summary and Description, when set, replace the engine's default
	// annotations.
	Summary     string
	Description string

	// After (host_offline) is how long a host may go without contact.
	After time.Duration

	// MinSeverity (policy_failing, min_severity) skips policies of lower
	// severity; "" takes every policy.
	MinSeverity string
	// Policies (policy_failing), when set, are the only policy ids the
	// rule looks at.
	Policies []string
	// Tags (policy_failing), when set, keep policies with at least one of
	// these tags.
	Tags []string
	// Statuses (policy_failing) are the result statuses that fire: fail,
	// and error when listed. Default [fail].
	Statuses []string

	// Kinds (inventory_change) are the change kinds that fire.
	Kinds []string
	// SubjectMatches (inventory_change, subject_matches) is a regular
	// expression the change's subject must contain a match of (unanchored);
	// "" takes every subject.
	SubjectMatches string
	// ResolveAfter (inventory_change, resolve_after) is how long after
	// the change its alert resolves; default 24h.
	ResolveAfter time.Duration

	// Expr (expr) is a CEL expression over `inventory`, as in a policy's
	// expr check; the alert fires while it is true.
	Expr string

	Line int

	subjectRE *regexp.Regexp // SubjectMatches compiled by Parse
}

// Delivery tunes the outbox workers.
type Delivery struct {
	// Timeout bounds one send; default 10s.
	Timeout time.Duration
	// MaxAttempts (max_attempts) is how many sends a notification gets
	// before it is dead; default 12.
	MaxAttempts int
	// BackoffBase (backoff_base) and BackoffMax (backoff_max) bound the
	// retry delay: up to min(BackoffMax, BackoffBase × 2^(attempt-1)),
	// with full jitter. Defaults 2s and 10m.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// Workers is the number of delivery workers; default 4. The engine
	// runs one on SQLite whatever this says.
	Workers int
	// PerReceiver (per_receiver) bounds the sends in flight to one
	// receiver; default 8.
	PerReceiver int
	// ResendInterval (resend_interval) is how often open alerts are
	// re-posted to Alertmanager; default 1m.
	ResendInterval time.Duration
}

// DefaultDelivery returns the delivery settings used when none are given.
func DefaultDelivery() Delivery {
	return Delivery{
		Timeout:        DefaultTimeout,
		MaxAttempts:    DefaultMaxAttempts,
		BackoffBase:    DefaultBackoffBase,
		BackoffMax:     DefaultBackoffMax,
		Workers:        DefaultWorkers,
		PerReceiver:    DefaultPerReceiver,
		ResendInterval: DefaultResendInterval,
	}
}

// Default returns the section used when the file has none: no receivers,
// routes or rules, and the default delivery and sweep settings.
func Default() Config {
	return Config{Delivery: DefaultDelivery(), SweepInterval: DefaultSweepInterval}
}

// Receiver returns the receiver called name.
func (c Config) Receiver(name string) (Receiver, bool) {
	for _, r := range c.Receivers {
		if r.Name == name {
			return r, true
		}
	}
	return Receiver{}, false
}

// Rule returns the rule called name.
func (c Config) Rule(name string) (Rule, bool) {
	for _, r := range c.Rules {
		if r.Name == name {
			return r, true
		}
	}
	return Rule{}, false
}

// severities lists the severity names, lowest first.
var severities = []string{policy.SeverityInfo, policy.SeverityLow, policy.SeverityMedium, policy.SeverityHigh, policy.SeverityCritical}

// SeverityRank orders severities: info 0, low 1, medium 2, high 3,
// critical 4, and -1 for anything else.
func SeverityRank(s string) int {
	for i, v := range severities {
		if v == s {
			return i
		}
	}
	return -1
}

// SeverityAtLeast reports whether severity s is least or above. An empty
// least admits everything; an unknown s is below every known least.
func SeverityAtLeast(s, least string) bool {
	if least == "" {
		return true
	}
	return SeverityRank(s) >= SeverityRank(least) && SeverityRank(s) >= 0
}

// Problem is one thing wrong in the section, at a line of File.
type Problem struct {
	File string
	// Line is 1-based; 0 when the problem has no place in the file.
	Line    int
	Message string
}

// Error formats the problem as FILE:LINE: message.
func (p *Problem) Error() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return p.File + ": " + p.Message
}
