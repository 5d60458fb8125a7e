package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// ExemptionRef is the exemption that makes a result exempt.
type ExemptionRef struct {
	ID        int64     `json:"id"`
	Reason    string    `json:"reason"`
	Owner     string    `json:"owner"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Result is a host's current result for one policy. Status is "exempt"
// while an exemption applies, and UnderlyingStatus then says what the
// check found. Since is when the host entered the underlying status.
type Result struct {
	HostID           int64         `json:"host_id"`
	Hostname         string        `json:"hostname"`
	PolicyID         string        `json:"policy_id"`
	Status           policy.Status `json:"status"`
	UnderlyingStatus policy.Status `json:"underlying_status,omitempty"`
	Since            time.Time     `json:"since"`
	CheckedAt        time.Time     `json:"checked_at"`
	// LastCheckedAt is when the result was last confirmed: CheckedAt is
	// when the agent last reported it changed, and agents report when
	// every later evaluation ran.
	LastCheckedAt  time.Time         `json:"last_checked_at"`
	DurationNS     int64             `json:"duration_ns"`
	Evidence       []policy.Evidence `json:"evidence"`
	Error          string            `json:"error,omitempty"`
	PolicyRevision int64             `json:"policy_revision"`
	Exemption      *ExemptionRef     `json:"exemption,omitempty"`
}

// ResultList is one page of a policy's results, by host id.
type ResultList struct {
	PolicyID   string   `json:"policy_id"`
	Results    []Result `json:"results"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func resultView(r store.HostResult) Result {
	v := Result{HostID: r.HostID, Hostname: r.Hostname, PolicyID: r.PolicyID, Status: r.Status,
		UnderlyingStatus: r.UnderlyingStatus, Since: utc(r.Since), CheckedAt: utc(r.CheckedAt),
		LastCheckedAt: utc(later(r.LastCheckedAt, r.CheckedAt)), DurationNS: int64(r.Duration), Evidence: r.Evidence, Error: r.Error, PolicyRevision: r.PolicyRevision}
	if v.Evidence == nil {
		v.Evidence = []policy.Evidence{}
	}
	if e := r.Exemption; e != nil {
		v.Exemption = &ExemptionRef{ID: e.ID, Reason: e.Reason, Owner: e.Owner, ExpiresAt: utc(e.ExpiresAt)}
	}
	return v
}

// resultCursor is the keyset of the last result on a page.
type resultCursor struct {
	HostID int64 `json:"host_id"`
}

func (c resultCursor) valid() bool { return c.HostID > 0 }

// statuses are what ?status= accepts.
var statuses = []policy.Status{policy.StatusPass, policy.StatusFail, policy.StatusNotApplicable, policy.StatusError, policy.StatusExempt}

func (s *server) policyResults(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rq := store.ResultQuery{Status: policy.Status(q.Get("status")), Limit: limit + 1, At: s.now()}
	if rq.Status != "" && !slices.Contains(statuses, rq.Status) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("status must be one of pass, fail, not_applicable, error, exempt; got %q", rq.Status))
		return
	}
	if c := q.Get("cursor"); c != "" {
		var after resultCursor
		if err := decodeCursor(c, &after); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		rq.AfterHostID = after.HostID
	}
	p, ok := s.lookupPolicy(w, r)
	if !ok {
		return
	}
	rq.PolicyID = p.Policy.ID
	rows, err := s.store.PolicyResults(r.Context(), rq)
	if err != nil {
		s.storeFailed(w, r, "policy results", err)
		return
	}
	out := ResultList{PolicyID: rq.PolicyID, Results: make([]Result, 0, min(len(rows), limit))}
	if len(rows) > limit {
		rows = rows[:limit]
		out.NextCursor = encodeCursor(resultCursor{HostID: rows[len(rows)-1].HostID})
	}
	for _, row := range rows {
		out.Results = append(out.Results, resultView(row))
	}
	writeJSON(w, http.StatusOK, out)
}

// Transition is a change of a host's status for a policy; From is absent
// for the host's first result.
type Transition struct {
	ID       int64             `json:"id"`
	HostID   int64             `json:"host_id"`
	PolicyID string            `json:"policy_id"`
	From     policy.Status     `json:"from_status,omitempty"`
	To       policy.Status     `json:"to_status"`
	At       time.Time         `json:"at"`
	Evidence []policy.Evidence `json:"evidence"`
}

// TransitionList is one page of status changes, newest first.
type TransitionList struct {
	Transitions []Transition `json:"transitions"`
	NextCursor  string       `json:"next_cursor,omitempty"`
}

type transitionCursor struct {
	At time.Time `json:"at"`
	ID int64     `json:"id"`
}

func (c transitionCursor) valid() bool { return c.ID > 0 && !c.At.IsZero() }

// policyHistory serves a policy's status changes, newest first:
// optionally one host's, optionally since a time.
func (s *server) policyHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	tq := store.TransitionQuery{Limit: limit + 1}
	if h := q.Get("host_id"); h != "" {
		if tq.HostID, err = strconv.ParseInt(h, 10, 64); err != nil || tq.HostID < 1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("host_id %q is not a positive integer", h))
			return
		}
	}
	if v := q.Get("since"); v != "" {
		if tq.Since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("since must be an RFC 3339 time, got %q", v))
			return
		}
	}
	if c := q.Get("cursor"); c != "" {
		var after transitionCursor
		if err := decodeCursor(c, &after); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		tq.AfterAt, tq.AfterID = after.At, after.ID
	}
	p, ok := s.lookupPolicy(w, r)
	if !ok {
		return
	}
	tq.PolicyID = p.Policy.ID
	rows, err := s.store.ListTransitions(r.Context(), tq)
	if err != nil {
		s.storeFailed(w, r, "list transitions", err)
		return
	}
	out := TransitionList{Transitions: make([]Transition, 0, min(len(rows), limit))}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		out.NextCursor = encodeCursor(transitionCursor{At: last.At.UTC(), ID: last.ID})
	}
	for _, t := range rows {
		ev := t.Evidence
		if ev == nil {
			ev = []policy.Evidence{}
		}
		out.Transitions = append(out.Transitions, Transition{ID: t.ID, HostID: t.HostID, PolicyID: t.PolicyID,
			From: t.From, To: t.To, At: utc(t.At), Evidence: ev})
	}
	writeJSON(w, http.StatusOK, out)
}

// HostPolicy is one policy of the set as it stands on one host. Status
// and the result fields are absent while the host has no result for it.
type HostPolicy struct {
	PolicyID         string            `json:"policy_id"`
	Title            string            `json:"title"`
	Severity         string            `json:"severity"`
	Status           policy.Status     `json:"status,omitempty"`
	UnderlyingStatus policy.Status     `json:"underlying_status,omitempty"`
	Since            time.Time         `json:"since,omitzero"`
	CheckedAt        time.Time         `json:"checked_at,omitzero"`
	LastCheckedAt    time.Time         `json:"last_checked_at,omitzero"`
	Evidence         []policy.Evidence `json:"evidence,omitempty"`
	Error            string            `json:"error,omitempty"`
	Exemption        *ExemptionRef     `json:"exemption,omitempty"`
}

// HostPolicies is every policy of the set on one host, by policy id. It
// is not paged: its length is the policy set's.
type HostPolicies struct {
	HostID   int64        `json:"host_id"`
	Revision int64        `json:"revision"`
	Policies []HostPolicy `json:"policies"`
}

func (s *server) hostPolicies(w http.ResponseWriter, r *http.Request) {
	id, ok := hostID(w, r)
	if !ok {
		return
	}
	results, err := s.store.HostResults(r.Context(), id, s.now())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("host %d not found", id))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "host results", err)
		return
	}
	rev, err := s.store.PolicyRevision(r.Context())
	if err != nil {
		s.storeFailed(w, r, "policy revision", err)
		return
	}
	policies, err := s.store.ListPolicies(r.Context(), "", 0)
	if err != nil {
		s.storeFailed(w, r, "list policies", err)
		return
	}
	byPolicy := make(map[string]store.HostResult, len(results))
	for _, res := range results {
		byPolicy[res.PolicyID] = res
	}
	out := HostPolicies{HostID: id, Revision: rev, Policies: make([]HostPolicy, 0, len(policies))}
	for _, p := range policies {
		hp := HostPolicy{PolicyID: p.Policy.ID, Title: p.Policy.Title, Severity: p.Policy.Severity}
		if res, ok := byPolicy[p.Policy.ID]; ok {
			v := resultView(res)
			hp.Status, hp.UnderlyingStatus, hp.Since, hp.CheckedAt = v.Status, v.UnderlyingStatus, v.Since, v.CheckedAt
			hp.LastCheckedAt = v.LastCheckedAt
			hp.Evidence, hp.Error, hp.Exemption = v.Evidence, v.Error, v.Exemption
		}
		out.Policies = append(out.Policies, hp)
	}
	writeJSON(w, http.StatusOK, out)
}

// PolicyCompliance is one policy's line of the compliance summary.
type PolicyCompliance struct {
	PolicyID string `json:"policy_id"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	PolicyCounts
}

// Compliance is the fleet's compliance: each policy of the set (by id)
// with its counts, and the counts summed over every policy.
type Compliance struct {
	Revision int64              `json:"revision"`
	Policies []PolicyCompliance `json:"policies"`
	Totals   PolicyCounts       `json:"totals"`
}

func (s *server) compliance(w http.ResponseWriter, r *http.Request) {
	rev, err := s.store.PolicyRevision(r.Context())
	if err != nil {
		s.storeFailed(w, r, "policy revision", err)
		return
	}
	policies, err := s.store.ListPolicies(r.Context(), "", 0)
	if err != nil {
		s.storeFailed(w, r, "list policies", err)
		return
	}
	counts, err := s.countsByPolicy(r)
	if err != nil {
		s.storeFailed(w, r, "compliance", err)
		return
	}
	out := Compliance{Revision: rev, Policies: make([]PolicyCompliance, 0, len(policies))}
	for _, p := range policies {
		c := countsView(counts[p.Policy.ID])
		out.Policies = append(out.Policies, PolicyCompliance{PolicyID: p.Policy.ID, Title: p.Policy.Title,
			Severity: p.Policy.Severity, PolicyCounts: c})
		t := &out.Totals
		t.Pass += c.Pass
		t.Fail += c.Fail
		t.NotApplicable += c.NotApplicable
		t.Error += c.Error
		t.Exempt += c.Exempt
		t.Total += c.Total
	}
	writeJSON(w, http.StatusOK, out)
}
