package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func resultView(r store.HostResult) apitypes.Result {
	v := apitypes.Result{HostID: r.HostID, Hostname: r.Hostname, PolicyID: r.PolicyID, Status: r.Status,
		UnderlyingStatus: r.UnderlyingStatus, Since: utc(r.Since), CheckedAt: utc(r.CheckedAt),
		LastCheckedAt: utc(later(r.LastCheckedAt, r.CheckedAt)), DurationNS: int64(r.Duration), Evidence: r.Evidence, Parameters: r.Parameters, Error: r.Error,
		PolicyRevision: r.PolicyRevision}
	if v.Evidence == nil {
		v.Evidence = []policy.Evidence{}
	}
	if e := r.Exemption; e != nil {
		v.Exemption = &apitypes.ExemptionRef{ID: e.ID, Reason: e.Reason, Owner: e.Owner, ExpiresAt: utc(e.ExpiresAt)}
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
	limit, after, err := readPage[resultCursor](q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rq := store.ResultQuery{Status: policy.Status(q.Get("status")), Limit: limit + 1, At: s.now()}
	if rq.Status != "" && !slices.Contains(statuses, rq.Status) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("status must be one of pass, fail, not_applicable, error, exempt; got %q", rq.Status))
		return
	}
	rq.AfterHostID = after.HostID
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
	out := apitypes.ResultList{PolicyID: rq.PolicyID, Results: make([]apitypes.Result, 0, min(len(rows), limit))}
	rows, out.NextCursor = nextPage(rows, limit, func(last store.HostResult) resultCursor { return resultCursor{HostID: last.HostID} })
	for _, row := range rows {
		out.Results = append(out.Results, resultView(row))
	}
	writeJSON(w, http.StatusOK, out)
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
	limit, after, err := readPage[transitionCursor](q)
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
	tq.AfterAt, tq.AfterID = after.At, after.ID
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
	out := apitypes.TransitionList{Transitions: make([]apitypes.Transition, 0, min(len(rows), limit))}
	rows, out.NextCursor = nextPage(rows, limit, func(last store.Transition) transitionCursor { return transitionCursor{At: last.At.UTC(), ID: last.ID} })
	for _, t := range rows {
		ev := t.Evidence
		if ev == nil {
			ev = []policy.Evidence{}
		}
		out.Transitions = append(out.Transitions, apitypes.Transition{ID: t.ID, HostID: t.HostID, PolicyID: t.PolicyID,
			From: t.From, To: t.To, At: utc(t.At), Evidence: ev, Parameters: t.Parameters})
	}
	writeJSON(w, http.StatusOK, out)
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
	out := apitypes.HostPolicies{HostID: id, Revision: rev, Policies: make([]apitypes.HostPolicy, 0, len(policies))}
	for _, p := range policies {
		hp := apitypes.HostPolicy{PolicyID: p.Policy.ID, Title: p.Policy.Title, Severity: p.Policy.Severity}
		if res, ok := byPolicy[p.Policy.ID]; ok {
			v := resultView(res)
			hp.Status, hp.UnderlyingStatus, hp.Since, hp.CheckedAt = v.Status, v.UnderlyingStatus, v.Since, v.CheckedAt
			hp.LastCheckedAt = v.LastCheckedAt
			hp.Evidence, hp.Parameters, hp.Error, hp.Exemption = v.Evidence, v.Parameters, v.Error, v.Exemption
		}
		out.Policies = append(out.Policies, hp)
	}
	writeJSON(w, http.StatusOK, out)
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
	out := apitypes.Compliance{Revision: rev, Policies: make([]apitypes.PolicyCompliance, 0, len(policies))}
	for _, p := range policies {
		c := countsView(counts[p.Policy.ID])
		out.Policies = append(out.Policies, apitypes.PolicyCompliance{PolicyID: p.Policy.ID, Title: p.Policy.Title,
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
