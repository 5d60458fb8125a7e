package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/match"
)

// Alert states.
const (
	AlertFiring       = "firing"
	AlertAcknowledged = "acknowledged"
	AlertResolved     = "resolved"
)

// Notification events and states.
const (
	EventTrigger     = "trigger"
	EventAcknowledge = "acknowledge"
	EventResolve     = "resolve"

	NotificationPending = "pending"
	NotificationSent    = "sent"
	NotificationDead    = "dead"
	// NotificationSkipped is an event the receiver has no use for, such
	// as an acknowledge for Alertmanager.
	NotificationSkipped = "skipped"
)

// Audit actions of alerting.
const (
	AuditAlertAcknowledged = "alert_acknowledged"
	AuditSilenceAdded      = "silence_added"
	AuditSilenceExpired    = "silence_expired"
	AuditAlertingReloaded  = "alerting_reloaded"
)

// AlertSpec is an alert the engine wants open: one episode of (Rule,
// HostID, Subject).
type AlertSpec struct {
	Rule        string            `json:"rule"`
	HostID      int64             `json:"host_id"`
	Subject     string            `json:"subject"`
	Severity    string            `json:"severity"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// Alert is one episode as stored.
type Alert struct {
	ID int64 `json:"id"`
	AlertSpec
	State      string    `json:"state"`
	StartedAt  time.Time `json:"started_at"`
	AckedAt    time.Time `json:"acked_at,omitzero"`
	AckedBy    string    `json:"acked_by,omitempty"`
	AckComment string    `json:"ack_comment,omitempty"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// Muted is true while a silence or maintenance window has held the
	// alert's trigger back; Notified once the trigger was written to the
	// outbox.
	Muted    bool `json:"muted"`
	Notified bool `json:"notified"`
}

// DedupKey is the episode's identity for receivers: the same on every
// notification about the alert, at most 64 characters.
func (a Alert) DedupKey() string {
	return DedupKey(a.ID, a.Rule, a.HostID, a.Subject)
}

// DedupKey builds Alert.DedupKey from its parts.
func DedupKey(id int64, rule string, hostID int64, subject string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s", rule, hostID, subject))
	return fmt.Sprintf("steward-%d-%s", id, hex.EncodeToString(sum[:8]))
}

// AlertOpen opens one episode unless one is open already for its (Rule,
// HostID, Subject). Receivers get a trigger unless Muted.
type AlertOpen struct {
	Spec      AlertSpec
	Receivers []string
	Muted     bool
}

// AlertChanges is one reconciliation step, committed in one transaction
// with the notifications it causes.
type AlertChanges struct {
	At   time.Time // zero: now
	Open []AlertOpen
	// Resolve names open alerts to resolve; each gets a resolve for
	// every receiver that was sent its trigger. Ids already resolved are
	// ignored.
	Resolve []int64
	// Unmute names muted open alerts to notify now, each with the
	// receivers its trigger goes to. Alerts no longer muted or open are
	// ignored.
	Unmute []AlertUnmute
	// Annotate replaces the annotations of open alerts (fresher evidence)
	// without notifying anyone.
	Annotate []AlertAnnotate
}

// AlertUnmute is one muted alert to notify.
type AlertUnmute struct {
	ID        int64
	Receivers []string
}

// AlertAnnotate is new annotations for one open alert.
type AlertAnnotate struct {
	ID          int64
	Annotations map[string]string
}

// AlertChangeResult is what a reconciliation step actually changed: the
// alerts it opened, resolved and unmuted, as stored afterwards.
type AlertChangeResult struct {
	Opened        []Alert
	Resolved      []Alert
	Unmuted       []Alert
	Notifications int // outbox rows written
}

// OpenAlertQuery selects open (firing or acknowledged) alerts, ordered by
// id. Zero fields do not filter.
type OpenAlertQuery struct {
	Rule    string
	HostIDs []int64 // nil: every host
	Muted   bool    // only muted alerts
	AfterID int64
	Limit   int // 0: all
}

// AlertQuery selects alerts for people, newest first by id. Zero fields do
// not filter.
type AlertQuery struct {
	State    string // firing, acknowledged, resolved, or "open" for the first two
	Severity string
	Rule     string
	HostID   int64
	BeforeID int64 // 0: from the newest
	Limit    int
}

// ErrAlertResolved is returned when acknowledging an alert that already
// resolved.
var ErrAlertResolved = errors.New("alert already resolved")

// Alerts holds alert episodes. Every change writes its notifications to
// the outbox in the same transaction.
type Alerts interface {
	ApplyAlertChanges(ctx context.Context, c AlertChanges) (AlertChangeResult, error)
	OpenAlerts(ctx context.Context, q OpenAlertQuery) ([]Alert, error)
	// AckAlert acknowledges an open alert, queues an acknowledge for
	// every receiver sent its trigger, and audits it. ErrNotFound for an
	// unknown id, ErrAlertResolved for a resolved one; acknowledging
	// twice keeps the first and is not an error.
	AckAlert(ctx context.Context, id int64, actor, comment string, at time.Time) (Alert, error)
	// GetAlert returns ErrNotFound for an unknown id.
	GetAlert(ctx context.Context, id int64) (Alert, error)
	ListAlerts(ctx context.Context, q AlertQuery) ([]Alert, error)
	// AlertCounts counts open alerts by rule, severity and state
	// ("muted" for muted ones), for metrics.
	AlertCounts(ctx context.Context) ([]AlertCount, error)
	// OpenAlertsSentTo lists open alerts whose trigger was delivered to
	// receiver, ordered by id: what the Alertmanager refresher re-posts.
	OpenAlertsSentTo(ctx context.Context, receiver string, afterID int64, limit int) ([]Alert, error)
}

// AlertCount is how many open alerts share a rule, severity and state.
type AlertCount struct {
	Rule     string
	Severity string
	State    string
	Count    int64
}

// Silence mutes alerts whose labels match every matcher, from StartsAt
// until EndsAt or until it is expired early.
type Silence struct {
	ID        int64           `json:"id"`
	Matchers  []match.Matcher `json:"matchers"`
	Comment   string          `json:"comment"`
	CreatedBy string          `json:"created_by"`
	CreatedAt time.Time       `json:"created_at"`
	StartsAt  time.Time       `json:"starts_at"`
	EndsAt    time.Time       `json:"ends_at"`
	ExpiredAt time.Time       `json:"expired_at,omitzero"`
	ExpiredBy string          `json:"expired_by,omitempty"`
}

// Active reports whether s mutes alerts at t.
func (s Silence) Active(t time.Time) bool {
	return s.ExpiredAt.IsZero() && !t.Before(s.StartsAt) && t.Before(s.EndsAt)
}

// Validate checks what every silence needs.
func (s Silence) Validate() error {
	var errs []error
	if len(s.Matchers) == 0 {
		errs = append(errs, errors.New("a silence needs at least one matcher"))
	}
	if s.Comment == "" {
		errs = append(errs, errors.New("comment is required"))
	}
	if s.CreatedBy == "" {
		errs = append(errs, errors.New("created_by is required"))
	}
	if s.EndsAt.IsZero() {
		errs = append(errs, errors.New("ends_at is required"))
	} else if !s.StartsAt.IsZero() && !s.EndsAt.After(s.StartsAt) {
		errs = append(errs, errors.New("ends_at must be after starts_at"))
	}
	return errors.Join(errs...)
}

// SilenceQuery selects silences, newest first by id.
type SilenceQuery struct {
	// All includes expired ones; otherwise only those active or pending
	// (not yet ended) at At (zero: now).
	All      bool
	At       time.Time
	BeforeID int64
	Limit    int
}

// Silences holds silences. Changes are audited.
type Silences interface {
	// AddSilence stores s (CreatedAt zero: now; StartsAt zero: CreatedAt)
	// and returns its id.
	AddSilence(ctx context.Context, s Silence) (int64, error)
	GetSilence(ctx context.Context, id int64) (Silence, error)
	ListSilences(ctx context.Context, q SilenceQuery) ([]Silence, error)
	// ExpireSilence ends a silence now; ErrNotFound for an unknown id,
	// ErrConflict for one already expired or ended.
	ExpireSilence(ctx context.Context, id int64, actor string, at time.Time) error
}

// Notification is one outbox row: one event of one alert for one
// receiver.
type Notification struct {
	ID            int64     `json:"id"`
	AlertID       int64     `json:"alert_id"`
	Receiver      string    `json:"receiver"`
	Event         string    `json:"event"`
	State         string    `json:"state"`
	Attempts      int       `json:"attempts"`
	CreatedAt     time.Time `json:"created_at"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	SentAt        time.Time `json:"sent_at,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	LastStatus    int       `json:"last_status,omitempty"`
	// At is when the event happened (the alert's start, ack or resolve).
	At time.Time `json:"at"`
}

// ClaimedNotification is a claimed row with the alert it is about.
type ClaimedNotification struct {
	Notification
	Alert Alert
}

// NotificationClaim asks for up to Limit due rows, skipping receivers in
// Skip (those with no free delivery slot). Lease is how long the claim
// holds before another worker may take the row.
type NotificationClaim struct {
	Now   time.Time
	Lease time.Duration
	Limit int
	Skip  []string
}

// NotificationOutcome records one delivery attempt. Attempts must be the
// value the claim returned: an outcome for a row claimed again since is
// ignored.
type NotificationOutcome struct {
	ID            int64
	Attempts      int
	State         string // sent, pending (retry), dead or skipped
	At            time.Time
	NextAttemptAt time.Time // for pending
	Error         string
	Status        int
}

// NotificationQuery selects outbox rows, newest first by id.
type NotificationQuery struct {
	Receiver string
	State    string
	AlertID  int64
	BeforeID int64
	Limit    int
}

// Outbox is the durable notification queue.
type Outbox interface {
	ClaimNotifications(ctx context.Context, c NotificationClaim) ([]ClaimedNotification, error)
	// RecordOutcomes stores delivery results and returns how many were
	// applied (the others had been claimed again).
	RecordOutcomes(ctx context.Context, outs []NotificationOutcome) (int, error)
	ListNotifications(ctx context.Context, q NotificationQuery) ([]Notification, error)
	// NotificationCounts counts rows by receiver and state, for metrics.
	NotificationCounts(ctx context.Context) ([]NotificationCount, error)
}

// NotificationCount is how many outbox rows one receiver has in a state.
type NotificationCount struct {
	Receiver string
	State    string
	Count    int64
}

// EncodeStringMap is a label or annotation map's stored JSON (an object,
// never null).
func EncodeStringMap(m map[string]string) string {
	if m == nil {
		return "{}"
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return "{}" // a map of strings always encodes
	}
	return string(raw)
}

// DecodeStringMap reads what EncodeStringMap wrote; garbage reads as an
// empty map.
func DecodeStringMap(s string) map[string]string {
	m := map[string]string{}
	if s != "" {
		_ = json.Unmarshal([]byte(s), &m)
	}
	return m
}

// ValidOutcomeState reports whether a delivery outcome may set state.
func ValidOutcomeState(state string) bool {
	switch state {
	case NotificationSent, NotificationPending, NotificationDead, NotificationSkipped:
		return true
	}
	return false
}

// PrepareSilence validates a silence to add, fills in its times (in UTC
// at microsecond precision, what both backends keep) and returns its
// matchers' stored JSON.
func PrepareSilence(s Silence) (Silence, string, error) {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = time.Now()
	}
	s.CreatedAt = s.CreatedAt.UTC().Truncate(time.Microsecond)
	if s.StartsAt.IsZero() {
		s.StartsAt = s.CreatedAt
	}
	s.StartsAt = s.StartsAt.UTC().Truncate(time.Microsecond)
	s.EndsAt = s.EndsAt.UTC().Truncate(time.Microsecond)
	if err := s.Validate(); err != nil {
		return s, "", err
	}
	raw, err := json.Marshal(s.Matchers)
	if err != nil {
		return s, "", err
	}
	return s, string(raw), nil
}

// DecodeMatchers reads a silence's stored matchers.
func DecodeMatchers(s string) ([]match.Matcher, error) {
	var ms []match.Matcher
	if err := json.Unmarshal([]byte(s), &ms); err != nil {
		return nil, fmt.Errorf("stored matchers: %w", err)
	}
	return ms, nil
}

// SilenceDetail is a silence's audit log detail.
func SilenceDetail(s Silence) ([]byte, error) {
	return json.Marshal(s)
}

// AlertHost is what alert labels need of a host.
type AlertHost struct {
	ID       int64
	Hostname string
	OS       string
	Labels   map[string]string
}

// AlertReads are the bulk reads alert evaluation makes, one query for a
// whole set of hosts instead of several per host.
type AlertReads interface {
	// ResultsOfHosts returns the current results of these hosts as
	// HostResults does, ordered by (host id, policy id); unknown hosts
	// have none.
	ResultsOfHosts(ctx context.Context, hostIDs []int64, at time.Time) ([]HostResult, error)
	// AlertHosts returns these hosts with their labels; unknown hosts
	// are left out.
	AlertHosts(ctx context.Context, hostIDs []int64) (map[int64]AlertHost, error)
}
