package apitest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// compliance is the fake's policy, result, exemption and audit state,
// kept by the same rules as the real backends (store.NextResult and
// friends), so API tests see what a real store would answer.
type compliance struct {
	rev         int64
	policies    map[string]store.StoredPolicy
	current     map[resultKey]*current
	transitions []store.Transition
	exemptions  []store.Exemption
	labels      map[int64]map[string]string
	audit       []store.AuditEntry
	tokenNames  map[string]string // hash -> name
	signature   *store.PolicySignature
	refusals    map[int64]*store.PolicyRefusal
}

type resultKey struct {
	host   int64
	policy string
}

type current struct {
	r        policy.Result
	since    time.Time
	revision int64
}

func (s *Store) initCompliance() {
	s.c = compliance{policies: map[string]store.StoredPolicy{}, current: map[resultKey]*current{},
		labels: map[int64]map[string]string{}, tokenNames: map[string]string{}}
}

func (s *Store) addAudit(at time.Time, actor, action, subject string, detail any) {
	raw, _ := json.Marshal(detail) // plain values
	s.c.audit = append(s.c.audit, store.AuditEntry{ID: int64(len(s.c.audit) + 1), At: at.UTC(), Actor: actor,
		Action: action, Subject: subject, Detail: raw})
}

func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.UTC()
}

// ApplyPolicies implements api.Store.
func (s *Store) ApplyPolicies(_ context.Context, a store.PolicyApply) (store.PolicyApplyResult, error) {
	err := s.enter("ApplyPolicies")
	defer s.mu.Unlock()
	if err != nil {
		return store.PolicyApplyResult{}, err
	}
	if err := store.CheckSpecs(a.Policies); err != nil {
		return store.PolicyApplyResult{}, err
	}
	res := store.PolicyApplyResult{Revision: s.c.rev}
	bodies := map[string]string{}
	for _, spec := range a.Policies {
		id := spec.Policy.ID
		bodies[id], _ = store.EncodePolicy(spec.Policy)
		old, ok := s.c.policies[id]
		oldBody, _ := store.EncodePolicy(old.Policy)
		switch {
		case !ok:
			res.Added = append(res.Added, id)
		case oldBody == bodies[id] && old.ExprOnly == spec.ExprOnly:
			res.Unchanged = append(res.Unchanged, id)
		default:
			res.Updated = append(res.Updated, id)
		}
	}
	if a.Replace {
		for _, id := range slices.Sorted(maps.Keys(s.c.policies)) {
			if _, ok := bodies[id]; !ok {
				res.Deleted = append(res.Deleted, id)
			}
		}
	}
	slices.Sort(res.Added)
	slices.Sort(res.Updated)
	slices.Sort(res.Unchanged)
	if len(res.Added)+len(res.Updated)+len(res.Deleted) == 0 && a.Signature == nil {
		return res, nil
	}
	res.Revision++
	if a.DryRun {
		return res, nil
	}
	s.c.rev = res.Revision
	at := nowOr(a.At)
	for _, spec := range a.Policies {
		id := spec.Policy.ID
		if slices.Contains(res.Unchanged, id) {
			continue
		}
		created := at
		if old, ok := s.c.policies[id]; ok {
			created = old.CreatedAt
		}
		s.c.policies[id] = store.StoredPolicy{Policy: spec.Policy, ExprOnly: spec.ExprOnly, CreatedAt: created,
			UpdatedAt: at, UpdatedRevision: res.Revision}
	}
	for _, id := range res.Deleted {
		delete(s.c.policies, id)
		maps.DeleteFunc(s.c.current, func(k resultKey, _ *current) bool { return k.policy == id })
		s.c.transitions = slices.DeleteFunc(s.c.transitions, func(t store.Transition) bool { return t.PolicyID == id })
	}
	if a.Signature != nil {
		s.c.signature = &store.PolicySignature{Revision: res.Revision, Signature: *a.Signature}
	}
	s.addAudit(at, a.Actor, store.AuditPolicyApplied, "", store.ApplyAuditDetail(a, res))
	return res, nil
}

// DeletePolicy implements api.Store.
func (s *Store) DeletePolicy(_ context.Context, id, actor string, at time.Time) (int64, error) {
	err := s.enter("DeletePolicy")
	defer s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	p, ok := s.c.policies[id]
	if !ok {
		return 0, fmt.Errorf("policy %s: %w", id, store.ErrNotFound)
	}
	delete(s.c.policies, id)
	maps.DeleteFunc(s.c.current, func(k resultKey, _ *current) bool { return k.policy == id })
	s.c.transitions = slices.DeleteFunc(s.c.transitions, func(t store.Transition) bool { return t.PolicyID == id })
	s.c.rev++
	s.addAudit(nowOr(at), actor, store.AuditPolicyDeleted, id, map[string]any{"revision": s.c.rev, "policy_id": id, "title": p.Policy.Title})
	return s.c.rev, nil
}

// GetPolicy implements api.Store.
func (s *Store) GetPolicy(_ context.Context, id string) (store.StoredPolicy, error) {
	err := s.enter("GetPolicy")
	defer s.mu.Unlock()
	if err != nil {
		return store.StoredPolicy{}, err
	}
	p, ok := s.c.policies[id]
	if !ok {
		return p, fmt.Errorf("policy %s: %w", id, store.ErrNotFound)
	}
	return p, nil
}

// ListPolicies implements api.Store.
func (s *Store) ListPolicies(_ context.Context, afterID string, limit int) ([]store.StoredPolicy, error) {
	err := s.enter("ListPolicies")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := []store.StoredPolicy{}
	for _, id := range slices.Sorted(maps.Keys(s.c.policies)) {
		if id <= afterID {
			continue
		}
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, s.c.policies[id])
	}
	return out, nil
}

// PolicyRevision implements api.Store.
func (s *Store) PolicyRevision(context.Context) (int64, error) {
	err := s.enter("PolicyRevision")
	defer s.mu.Unlock()
	return s.c.rev, err
}

// ApplyResults implements api.Store.
func (s *Store) ApplyResults(_ context.Context, batches []store.ResultBatch) ([]store.Transition, error) {
	err := s.enter("ApplyResults")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	batches, err = store.CheckResults(batches)
	if err != nil {
		return nil, err
	}
	for _, b := range batches {
		if _, ok := s.hosts[b.HostID]; !ok {
			return nil, fmt.Errorf("host %d: %w", b.HostID, store.ErrNotFound)
		}
	}
	out := []store.Transition{}
	for _, b := range batches {
		if h := s.hosts[b.HostID]; b.EvaluatedAt.After(h.PoliciesCheckedAt) {
			h.PoliciesCheckedAt = b.EvaluatedAt
			s.hosts[b.HostID] = h
		}
		for _, id := range b.Removed {
			delete(s.c.current, resultKey{b.HostID, id})
		}
		for _, r := range b.Results {
			p, ok := s.c.policies[r.PolicyID]
			if !ok || b.Revision < p.UpdatedRevision {
				continue
			}
			k := resultKey{b.HostID, r.PolicyID}
			var cur *store.CurrentResult
			if c := s.c.current[k]; c != nil {
				cur = &store.CurrentResult{Status: c.r.Status, CheckedAt: c.r.CheckedAt, Since: c.since}
			}
			write, since, transition := store.NextResult(cur, r)
			if !write {
				continue
			}
			// Stored as the backends store them: cut to the limits.
			r.Parameters = store.DecodeParameters(store.EncodeParameters(r.Parameters))
			s.c.current[k] = &current{r: r, since: since, revision: b.Revision}
			if transition {
				t := store.Transition{ID: int64(len(s.c.transitions) + 1), HostID: b.HostID, PolicyID: r.PolicyID,
					To: r.Status, At: r.CheckedAt, Evidence: r.Evidence, Parameters: r.Parameters}
				if cur != nil {
					t.From = cur.Status
				}
				s.c.transitions = append(s.c.transitions, t)
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// exemptionFor returns the lowest-id exemption active at at that matches.
func (s *Store) exemptionFor(host int64, policyID string, at time.Time) *store.Exemption {
	for _, e := range s.c.exemptions {
		if e.PolicyID != policyID || !e.Active(at) {
			continue
		}
		if e.HostID == host {
			return &e
		}
		if e.HostID == 0 && len(e.Labels) > 0 {
			hl := s.c.labels[host]
			matched := true
			for k, v := range e.Labels {
				if got, ok := hl[k]; !ok || got != v {
					matched = false
				}
			}
			if matched {
				return &e
			}
		}
	}
	return nil
}

func (s *Store) hostResult(k resultKey, c *current, at time.Time) store.HostResult {
	r := store.HostResult{HostID: k.host, Hostname: s.hosts[k.host].Hostname, PolicyID: k.policy,
		Status: c.r.Status, Evidence: c.r.Evidence, Parameters: c.r.Parameters, Error: c.r.Error, CheckedAt: c.r.CheckedAt,
		Duration: c.r.Duration, Since: c.since, PolicyRevision: c.revision, LastCheckedAt: c.r.CheckedAt}
	// As the stores do: the host's last evaluation confirms the results of
	// the policies agents evaluate.
	if checked := s.hosts[k.host].PoliciesCheckedAt; checked.After(r.LastCheckedAt) && !s.c.policies[k.policy].ExprOnly {
		r.LastCheckedAt = checked
	}
	if e := s.exemptionFor(k.host, k.policy, nowOr(at)); e != nil {
		r.UnderlyingStatus, r.Status, r.Exemption = r.Status, policy.StatusExempt, e
	}
	return r
}

// PolicyResults implements api.Store.
func (s *Store) PolicyResults(_ context.Context, q store.ResultQuery) ([]store.HostResult, error) {
	err := s.enter("PolicyResults")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		return nil, errors.New("policy results: limit must be positive")
	}
	var keys []resultKey
	for k := range s.c.current {
		if k.policy == q.PolicyID && k.host > q.AfterHostID {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b resultKey) int { return cmp.Compare(a.host, b.host) })
	out := []store.HostResult{}
	for _, k := range keys {
		r := s.hostResult(k, s.c.current[k], q.At)
		if q.Status != "" && r.Status != q.Status {
			continue
		}
		if len(out) == q.Limit {
			break
		}
		out = append(out, r)
	}
	return out, nil
}

// HostResults implements api.Store.
func (s *Store) HostResults(_ context.Context, hostID int64, at time.Time) ([]store.HostResult, error) {
	err := s.enter("HostResults")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if _, ok := s.hosts[hostID]; !ok {
		return nil, fmt.Errorf("host %d: %w", hostID, store.ErrNotFound)
	}
	out := []store.HostResult{}
	for k, c := range s.c.current {
		if k.host == hostID {
			out = append(out, s.hostResult(k, c, at))
		}
	}
	slices.SortFunc(out, func(a, b store.HostResult) int { return cmp.Compare(a.PolicyID, b.PolicyID) })
	return out, nil
}

// Compliance implements api.Store.
func (s *Store) Compliance(_ context.Context, at time.Time) ([]store.PolicyCounts, error) {
	err := s.enter("Compliance")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	t := &store.CountTally{}
	for k, c := range s.c.current {
		t.Add(k.policy, s.hostResult(k, c, at).Status, 1)
	}
	return t.Sorted(), nil
}

// PolicyCompliance implements api.Store.
func (s *Store) PolicyCompliance(_ context.Context, policyID string, at time.Time) (store.PolicyCounts, error) {
	err := s.enter("PolicyCompliance")
	defer s.mu.Unlock()
	if err != nil {
		return store.PolicyCounts{}, err
	}
	t := &store.CountTally{}
	for k, c := range s.c.current {
		if k.policy == policyID {
			t.Add(k.policy, s.hostResult(k, c, at).Status, 1)
		}
	}
	return t.Of(policyID), nil
}

// ListTransitions implements api.Store.
func (s *Store) ListTransitions(_ context.Context, q store.TransitionQuery) ([]store.Transition, error) {
	err := s.enter("ListTransitions")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		return nil, errors.New("list transitions: limit must be positive")
	}
	order := func(a, b store.Transition) int { return cmp.Or(b.At.Compare(a.At), cmp.Compare(b.ID, a.ID)) }
	after := store.Transition{At: q.AfterAt, ID: q.AfterID}
	out := []store.Transition{}
	for _, t := range slices.SortedFunc(slices.Values(s.c.transitions), order) {
		switch {
		case q.PolicyID != "" && t.PolicyID != q.PolicyID,
			q.HostID != 0 && t.HostID != q.HostID,
			!q.Since.IsZero() && t.At.Before(q.Since),
			q.AfterID != 0 && order(after, t) >= 0:
			continue
		}
		if len(out) == q.Limit {
			break
		}
		out = append(out, t)
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// AppendAudit implements api.Store.
func (s *Store) AppendAudit(_ context.Context, e store.AuditEntry) error {
	err := s.enter("AppendAudit")
	defer s.mu.Unlock()
	if err != nil {
		return err
	}
	detail := e.Detail
	if len(detail) == 0 {
		detail = json.RawMessage(`{}`)
	}
	s.addAudit(nowOr(e.At), e.Actor, e.Action, e.Subject, detail)
	return nil
}
