package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policysign"
)

// ErrConflict is returned when a write would contradict what is stored,
// such as revoking an exemption that was already revoked.
var ErrConflict = errors.New("conflict")

// PolicySpec is one validated policy to store, with what the server
// derived from it.
type PolicySpec struct {
	Policy policy.Policy
	// ExprOnly marks a policy the server evaluates itself against stored
	// inventory (policy.ExprOnly).
	ExprOnly bool
}

// StoredPolicy is one policy of the current set.
type StoredPolicy struct {
	Policy          policy.Policy
	ExprOnly        bool
	CreatedAt       time.Time
	UpdatedAt       time.Time
	UpdatedRevision int64 // the policy set revision that last changed it
}

// PolicyApply adds policies and replaces those with the same ids; others
// are kept. Actor is who asked (a token name), for the audit log.
type PolicyApply struct {
	Policies []PolicySpec
	Actor    string
	At       time.Time // zero: now
	// DryRun computes the outcome without writing anything.
	DryRun bool
	// Replace makes Policies the whole set: stored policies not among
	// them are deleted, with their results and history.
	Replace bool
	// Signature, when set, is recorded for the revision the apply
	// produces; it then always produces a new revision, even when no
	// policy changed (a set signed again must reach agents).
	Signature *policysign.Signature
}

// PolicyApplyResult says what an apply changed. Ids are sorted.
type PolicyApplyResult struct {
	// Revision is the policy set revision after the apply. It moves by
	// one when anything changed and stays put when nothing did; a dry run
	// reports the revision the apply would produce.
	Revision  int64
	Added     []string
	Updated   []string
	Unchanged []string
	// Deleted lists the policies a Replace removed.
	Deleted []string
}

// Policies holds the policy set. Every change bumps one global revision
// counter, so agents and evaluators can tell which set a result answers.
type Policies interface {
	ApplyPolicies(ctx context.Context, a PolicyApply) (PolicyApplyResult, error)
	// DeletePolicy removes a policy with its current results and history
	// and returns the new revision; ErrNotFound when there is none.
	DeletePolicy(ctx context.Context, id, actor string, at time.Time) (int64, error)
	// GetPolicy returns ErrNotFound for an unknown id.
	GetPolicy(ctx context.Context, id string) (StoredPolicy, error)
	// ListPolicies returns policies ordered by id after afterID; limit 0
	// returns all of them (a policy set is hundreds, not millions).
	ListPolicies(ctx context.Context, afterID string, limit int) ([]StoredPolicy, error)
	// PolicyRevision is the current revision; 0 before the first apply.
	PolicyRevision(ctx context.Context) (int64, error)
}

// ResultBatch is one host's results evaluated against policy set
// Revision: what an agent's results message or one server-side
// evaluation carries. Removed names policies whose current result must
// go (the agent no longer evaluates them).
type ResultBatch struct {
	HostID   int64
	Revision int64
	Results  []policy.Result
	Removed  []string
	// EvaluatedAt, when set, is when the host's agent finished the
	// evaluation the batch reports: the host's PoliciesCheckedAt moves
	// to it (never back).
	EvaluatedAt time.Time
}

// Transition is a change of one host's status for one policy. From is ""
// for the first result the host had for the policy.
type Transition struct {
	ID       int64             `json:"id"`
	HostID   int64             `json:"host_id"`
	PolicyID string            `json:"policy_id"`
	From     policy.Status     `json:"from_status,omitempty"`
	To       policy.Status     `json:"to_status"`
	At       time.Time         `json:"at"`
	Evidence []policy.Evidence `json:"evidence,omitempty"`
	// Parameters are the values the result that made the change was
	// evaluated with (see EncodeParameters); nil when it had none.
	Parameters map[string]string `json:"parameters,omitempty"`
}

// HostResult is a host's current result for one policy as read back:
// Status is StatusExempt while an active exemption matches, and
// UnderlyingStatus then keeps what the check said.
type HostResult struct {
	HostID           int64
	Hostname         string
	PolicyID         string
	Status           policy.Status
	UnderlyingStatus policy.Status
	Evidence         []policy.Evidence
	// Parameters are the parameter values the result was evaluated with
	// (see EncodeParameters); nil when the policy declares none.
	Parameters map[string]string
	Error      string
	CheckedAt  time.Time
	// LastCheckedAt is when the result was last confirmed: CheckedAt, or
	// the host's last completed evaluation (PoliciesCheckedAt) when that
	// is later and the policy is one agents evaluate.
	LastCheckedAt time.Time
	Duration      time.Duration
	// Since is when the host entered the underlying status: "failing
	// since" for a failure.
	Since          time.Time
	PolicyRevision int64
	// Exemption is the matching exemption (the lowest id when several
	// match); nil when none.
	Exemption *Exemption
}

// ResultQuery selects one policy's results, ordered by host id.
type ResultQuery struct {
	PolicyID string
	// Status keeps results whose reported status (exempt included) is
	// this one; "" keeps all.
	Status      policy.Status
	At          time.Time // exemptions are active at At; zero: now
	AfterHostID int64
	Limit       int
}

// PolicyCounts is how many hosts report each status for a policy;
// exempt results count only as Exempt.
type PolicyCounts struct {
	PolicyID      string
	Pass          int64
	Fail          int64
	NotApplicable int64
	Error         int64
	Exempt        int64
}

// Total is the number of hosts with a result.
func (c PolicyCounts) Total() int64 {
	return c.Pass + c.Fail + c.NotApplicable + c.Error + c.Exempt
}

// TransitionQuery selects status changes, newest first by (At, ID).
type TransitionQuery struct {
	PolicyID string // "": every policy
	HostID   int64  // 0: every host
	Since    time.Time
	AfterAt  time.Time
	AfterID  int64
	Limit    int
}

// Results holds each host's current result per policy and the history of
// status changes.
type Results interface {
	// ApplyResults commits every batch in one transaction and returns the
	// transitions it recorded. A result replaces the host's current one
	// unless it is older (CheckedAt before the stored one). A status
	// change records a Transition and moves Since; the same result twice
	// records nothing. Results evaluated against a revision older than
	// the policy's last change, and results for policies that no longer
	// exist, are dropped. An unknown host fails the whole call with
	// ErrNotFound; so does an invalid result, before any database work.
	ApplyResults(ctx context.Context, batches []ResultBatch) ([]Transition, error)
	PolicyResults(ctx context.Context, q ResultQuery) ([]HostResult, error)
	// HostResults returns the host's current results ordered by policy
	// id; ErrNotFound for an unknown host.
	HostResults(ctx context.Context, hostID int64, at time.Time) ([]HostResult, error)
	// Compliance counts results per policy, ordered by policy id; policies
	// without results are left out.
	Compliance(ctx context.Context, at time.Time) ([]PolicyCounts, error)
	// PolicyCompliance counts one policy's results as Compliance does,
	// reading only that policy's counts; a policy without results (or
	// unknown) has all counts zero.
	PolicyCompliance(ctx context.Context, policyID string, at time.Time) (PolicyCounts, error)
	ListTransitions(ctx context.Context, q TransitionQuery) ([]Transition, error)
}

// Exemption excuses a host, or every host whose labels include Labels,
// from a policy until ExpiresAt. Exactly one of HostID and Labels is set.
type Exemption struct {
	ID        int64             `json:"id"`
	PolicyID  string            `json:"policy_id"`
	HostID    int64             `json:"host_id,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Reason    string            `json:"reason"`
	Owner     string            `json:"owner"`
	ExpiresAt time.Time         `json:"expires_at"`
	CreatedAt time.Time         `json:"created_at"`
	CreatedBy string            `json:"created_by"`
	RevokedAt time.Time         `json:"revoked_at,omitzero"`
	RevokedBy string            `json:"revoked_by,omitempty"`
}

// Active reports whether e applies at t.
func (e Exemption) Active(t time.Time) bool {
	return e.RevokedAt.IsZero() && t.Before(e.ExpiresAt)
}

// Validate checks what every exemption needs, whatever the clock says.
func (e Exemption) Validate() error {
	var errs []error
	if e.PolicyID == "" {
		errs = append(errs, errors.New("policy_id is required"))
	}
	if (e.HostID != 0) == (len(e.Labels) > 0) {
		errs = append(errs, errors.New("give either host_id or labels, not both and not neither"))
	}
	if e.HostID < 0 {
		errs = append(errs, errors.New("host_id must be positive"))
	}
	for k := range e.Labels {
		if k == "" {
			errs = append(errs, errors.New("label keys must not be empty"))
			break
		}
	}
	if e.Reason == "" {
		errs = append(errs, errors.New("reason is required"))
	}
	if e.Owner == "" {
		errs = append(errs, errors.New("owner is required"))
	}
	if e.ExpiresAt.IsZero() {
		errs = append(errs, errors.New("expires_at is required"))
	}
	return errors.Join(errs...)
}

// ExemptionQuery selects exemptions ordered by id.
type ExemptionQuery struct {
	// All includes revoked and expired exemptions; otherwise only those
	// active at At (zero: now).
	All      bool
	PolicyID string
	At       time.Time
	AfterID  int64
	Limit    int
}

// Exemptions holds exemptions and the host labels they can match.
type Exemptions interface {
	// AddExemption stores e (CreatedAt zero: now) and audits it, and
	// returns its id. ErrNotFound when the policy or host does not exist.
	AddExemption(ctx context.Context, e Exemption) (int64, error)
	// GetExemption returns ErrNotFound for an unknown id.
	GetExemption(ctx context.Context, id int64) (Exemption, error)
	ListExemptions(ctx context.Context, q ExemptionQuery) ([]Exemption, error)
	// RevokeExemption ends an exemption now and audits it; ErrNotFound for
	// an unknown id, ErrConflict for one already revoked.
	RevokeExemption(ctx context.Context, id int64, actor string, at time.Time) error
	// SetHostLabels replaces the host's labels and audits the change;
	// ErrNotFound for an unknown host.
	SetHostLabels(ctx context.Context, hostID int64, labels map[string]string, actor string) error
	// HostLabels returns ErrNotFound for an unknown host.
	HostLabels(ctx context.Context, hostID int64) (map[string]string, error)
	// HostsLabels is HostLabels for many hosts in one statement: each
	// host of hostIDs that exists is in the map, with an empty map when
	// it has no labels; an unknown host is absent.
	HostsLabels(ctx context.Context, hostIDs []int64) (map[int64]map[string]string, error)
}

// Audit actions.
const (
	AuditPolicyApplied    = "policy_applied"
	AuditPolicyDeleted    = "policy_deleted"
	AuditExemptionAdded   = "exemption_added"
	AuditExemptionRevoked = "exemption_revoked"
	AuditHostLabelsSet    = "host_labels_set"
)

// AuditEntry is one audited change. Detail is a JSON object that depends
// on Action.
type AuditEntry struct {
	ID      int64           `json:"id"`
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Subject string          `json:"subject"`
	Detail  json.RawMessage `json:"detail"`
}

// AuditQuery selects audit entries, newest first by id.
type AuditQuery struct {
	Action  string // "": every action
	AfterID int64  // 0: from the newest
	Limit   int
}

// Audit reads the audit log the other interfaces write, and names the
// actors who write it.
type Audit interface {
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// AdminTokenName returns the name of the live admin token with this
	// hash; ErrNotFound when there is none.
	AdminTokenName(ctx context.Context, hash string) (string, error)
	// AppendAudit records a change made outside the store, such as a
	// configuration reload (At zero: now; Detail nil: {}).
	AppendAudit(ctx context.Context, e AuditEntry) error
}

// Result limits: what one check may store, so one odd agent report cannot
// bloat the tables.
const (
	MaxEvidenceBytes = 64 << 10
	MaxErrorBytes    = 4 << 10
	// MaxParameters and MaxParameterBytes bound the parameter values
	// stored with a result: entries, and bytes of their JSON encoding.
	MaxParameters     = 64
	MaxParameterBytes = 4 << 10
)

// ParametersCutKey is the entry EncodeParameters adds to parameters it
// had to cut: no parameter can be called this (names match
// ^[a-z][a-z0-9_]*$), and its value says how many were left out.
const ParametersCutKey = "..."

// CheckResults refuses, before any database work, results no database
// state could make valid, and returns the batches with times in UTC at
// microsecond precision (the finest both backends keep, so both compare
// the same instants).
func CheckResults(batches []ResultBatch) ([]ResultBatch, error) {
	out := make([]ResultBatch, len(batches))
	for i, b := range batches {
		if b.HostID <= 0 {
			return nil, fmt.Errorf("batch %d: host id %d", i, b.HostID)
		}
		if b.Revision < 0 {
			return nil, fmt.Errorf("batch %d: revision %d", i, b.Revision)
		}
		b.Results = append([]policy.Result(nil), b.Results...)
		for j, r := range b.Results {
			switch r.Status {
			case policy.StatusPass, policy.StatusFail, policy.StatusNotApplicable, policy.StatusError:
			default:
				return nil, fmt.Errorf("batch %d result %d: invalid status %q", i, j, r.Status)
			}
			if r.PolicyID == "" {
				return nil, fmt.Errorf("batch %d result %d: no policy id", i, j)
			}
			if r.CheckedAt.IsZero() {
				return nil, fmt.Errorf("batch %d result %d: no checked_at", i, j)
			}
			b.Results[j].CheckedAt = r.CheckedAt.UTC().Truncate(time.Microsecond)
		}
		if !b.EvaluatedAt.IsZero() {
			b.EvaluatedAt = b.EvaluatedAt.UTC().Truncate(time.Microsecond)
		}
		out[i] = b
	}
	return out, nil
}

// EncodeEvidence is the evidence column's JSON (an array, never null),
// replaced by one explanatory item when it exceeds MaxEvidenceBytes.
func EncodeEvidence(ev []policy.Evidence) string {
	if ev == nil {
		ev = []policy.Evidence{}
	}
	raw, err := json.Marshal(ev)
	if err != nil || len(raw) > MaxEvidenceBytes {
		raw, _ = json.Marshal([]policy.Evidence{{Check: "check", Detail: fmt.Sprintf(
			"evidence of %d items exceeded %d bytes and was not stored", len(ev), MaxEvidenceBytes)}})
	}
	return string(raw)
}

// DecodeEvidence reads what EncodeEvidence wrote; NULL or garbage reads as
// none.
func DecodeEvidence(s string) []policy.Evidence {
	var ev []policy.Evidence
	if s == "" || json.Unmarshal([]byte(s), &ev) != nil || len(ev) == 0 {
		return nil
	}
	return ev
}

// EncodeParameters is the parameters column's JSON object, "" (stored as
// NULL) when there are none. Parameters over MaxParameters entries or
// MaxParameterBytes encoded are cut, not refused (the result itself is
// still worth keeping): entries are kept in name order while they fit,
// with room for one ParametersCutKey entry saying how many were left out.
func EncodeParameters(params map[string]string) string {
	if len(params) == 0 {
		return ""
	}
	raw, err := json.Marshal(params)
	if err == nil && len(params) <= MaxParameters && len(raw) <= MaxParameterBytes {
		return string(raw)
	}
	names := slices.Sorted(maps.Keys(params))
	kept := make(map[string]string, MaxParameters)
	cutNote := func(left int) string {
		return fmt.Sprintf("%d of %d parameters not stored (at most %d entries, %d bytes)",
			left, len(params), MaxParameters, MaxParameterBytes)
	}
	// The note's size, with the widest count it can hold, is reserved
	// up front; each entry costs its encoded name and value, a colon and
	// a comma.
	noteKey, _ := json.Marshal(ParametersCutKey)
	noteVal, _ := json.Marshal(cutNote(len(params)))
	budget := MaxParameterBytes - 2 - len(noteKey) - len(noteVal) - 1
	for _, name := range names {
		if len(kept) == MaxParameters-1 {
			break
		}
		k, _ := json.Marshal(name)
		v, _ := json.Marshal(params[name])
		cost := len(k) + len(v) + 2
		if cost > budget {
			continue // a long value is left out; shorter ones after it may fit
		}
		budget -= cost
		kept[name] = params[name]
	}
	kept[ParametersCutKey] = cutNote(len(params) - len(kept))
	raw, _ = json.Marshal(kept) // strings only: cannot fail
	return string(raw)
}

// DecodeParameters reads what EncodeParameters wrote; NULL, garbage or an
// empty object read as none.
func DecodeParameters(s string) map[string]string {
	var m map[string]string
	if s == "" || json.Unmarshal([]byte(s), &m) != nil || len(m) == 0 {
		return nil
	}
	return m
}

// CutError makes a result's error text fit its column (FitText, at most
// MaxErrorBytes).
func CutError(s string) string { return FitText(s, MaxErrorBytes) }

// FitText makes text fit a text column in either database: no NUL bytes
// and valid UTF-8 (PostgreSQL text refuses both), at most max bytes, cut
// on a rune boundary.
func FitText(s string, max int) string {
	s = strings.ReplaceAll(s, "\x00", "")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// CurrentResult is the stored state a new result is compared with.
type CurrentResult struct {
	Status    policy.Status
	CheckedAt time.Time
	Since     time.Time
}

// NextResult decides what a new result r does to a host's current result
// cur (nil: none yet), so both backends apply the same rules: write it or
// not, the Since it then has, and whether it records a transition.
func NextResult(cur *CurrentResult, r policy.Result) (write bool, since time.Time, transition bool) {
	switch {
	case cur == nil:
		return true, r.CheckedAt, true
	case r.CheckedAt.Before(cur.CheckedAt):
		// An older result arriving late (a spooled agent message, a slow
		// evaluation) never overwrites a newer one.
		return false, cur.Since, false
	case r.Status == cur.Status && r.CheckedAt.Equal(cur.CheckedAt):
		return false, cur.Since, false // the same result again
	case r.Status == cur.Status:
		return true, cur.Since, false
	default:
		return true, r.CheckedAt, true
	}
}

// ApplyAuditDetail is the detail of an apply's audit entry: the revision
// and the ids added and updated, and for a replace or a signed apply also
// the ids deleted and the signature's key and serial.
func ApplyAuditDetail(a PolicyApply, res PolicyApplyResult) map[string]any {
	d := map[string]any{"revision": res.Revision, "added": nonNil(res.Added), "updated": nonNil(res.Updated)}
	if a.Replace {
		d["deleted"] = nonNil(res.Deleted)
	}
	if a.Signature != nil {
		if st, err := policysign.ParseStatement(a.Signature.Statement); err == nil {
			d["signed_by"], d["signed_serial"] = st.KeyID, st.Serial
		}
	}
	return d
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// EncodePolicy is a policy's stored body: its JSON, compared byte for byte
// to tell an unchanged policy from a changed one.
func EncodePolicy(p policy.Policy) (string, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode policy %s: %w", p.ID, err)
	}
	return string(raw), nil
}

// CheckSpecs refuses an apply with an empty or repeated id.
func CheckSpecs(specs []PolicySpec) error {
	seen := make(map[string]bool, len(specs))
	for i, s := range specs {
		id := s.Policy.ID
		if id == "" {
			return fmt.Errorf("policy %d has no id", i)
		}
		if seen[id] {
			return fmt.Errorf("policy %s given twice", id)
		}
		seen[id] = true
	}
	return nil
}
