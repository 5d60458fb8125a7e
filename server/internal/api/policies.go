package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// MaxPolicyFileBytes bounds a policy file upload. The baseline pack is a
// few dozen KiB; a file a hundred times larger is a mistake.
const MaxPolicyFileBytes = 4 << 20

// PolicyCounts is how many hosts report each status for a policy.
type PolicyCounts struct {
	Pass          int64 `json:"pass"`
	Fail          int64 `json:"fail"`
	NotApplicable int64 `json:"not_applicable"`
	Error         int64 `json:"error"`
	Exempt        int64 `json:"exempt"`
	Total         int64 `json:"total"`
}

func countsView(c store.PolicyCounts) PolicyCounts {
	return PolicyCounts{Pass: c.Pass, Fail: c.Fail, NotApplicable: c.NotApplicable, Error: c.Error,
		Exempt: c.Exempt, Total: c.Total()}
}

// Policy is one policy of the set with its result counts. Policy (the
// whole validated policy, check tree included) is set when one policy is
// shown, not in lists.
type Policy struct {
	ID              string         `json:"id"`
	Title           string         `json:"title"`
	Severity        string         `json:"severity"`
	Platforms       []string       `json:"platforms"`
	Tags            []string       `json:"tags"`
	ExprOnly        bool           `json:"expr_only"`
	UpdatedRevision int64          `json:"updated_revision"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
	Counts          PolicyCounts   `json:"counts"`
	Policy          *policy.Policy `json:"policy,omitempty"`
}

// PolicyList is one page of the policy set, by id, with the set's
// revision.
//
// Signature describes the admin's signature of the set at Revision; it is
// absent while the set is unsigned.
type PolicyList struct {
	Revision   int64          `json:"revision"`
	Signature  *SignatureInfo `json:"signature,omitempty"`
	Policies   []Policy       `json:"policies"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// ApplyResult is what POST /policies did, or with validate_only would do.
// Applied is Added and Updated together.
type ApplyResult struct {
	Revision     int64    `json:"revision"`
	ValidateOnly bool     `json:"validate_only"`
	Applied      []string `json:"applied"`
	Added        []string `json:"added"`
	Updated      []string `json:"updated"`
	Unchanged    []string `json:"unchanged"`
	// Deleted lists, for PUT /policies, the policies the new set leaves
	// out; POST deletes none.
	Deleted []string `json:"deleted,omitempty"`
}

// DeleteResult answers DELETE /policies/{id}.
type DeleteResult struct {
	Revision int64  `json:"revision"`
	Deleted  string `json:"deleted"`
}

// policyCursor is the keyset of the last policy on a page.
type policyCursor struct {
	ID string `json:"id"`
}

func (c policyCursor) valid() bool { return c.ID != "" }

func policyView(p store.StoredPolicy, counts store.PolicyCounts) Policy {
	return Policy{ID: p.Policy.ID, Title: p.Policy.Title, Severity: p.Policy.Severity,
		Platforms: nonNilSlice(p.Policy.Platforms), Tags: nonNilSlice(p.Policy.Tags), ExprOnly: p.ExprOnly,
		UpdatedRevision: p.UpdatedRevision, CreatedAt: utc(p.CreatedAt), UpdatedAt: utc(p.UpdatedAt),
		Counts: countsView(counts)}
}

func nonNilSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// policyFileTypes are the Content-Types a policy file may come as; none
// at all is accepted too, and Parse tells YAML from JSON by content.
var policyFileTypes = []string{"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "application/json"}

// applyPolicies validates a policy file and, unless validate_only, adds
// its policies and replaces those with the same ids. Policies not in the
// file are kept: a file is applied, not synchronized.
func (s *server) applyPolicies(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	validateOnly := false
	if v := q.Get("validate_only"); v != "" {
		var err error
		if validateOnly, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("validate_only must be true or false, got %q", v))
			return
		}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !slices.Contains(policyFileTypes, mt) {
			writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf(
				"Content-Type %q: send a policy file as %s", ct, strings.Join(policyFileTypes, ", ")))
			return
		}
	}
	name := policyFileName(q.Get("filename"))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPolicyFileBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("policy file larger than %d bytes", MaxPolicyFileBytes))
		return
	}
	ps, err := policy.Parse(name, body)
	var ve *policy.ValidationError
	if errors.As(err, &ve) {
		writeJSON(w, http.StatusBadRequest, Error{
			Error:    fmt.Sprintf("%s rejected, nothing applied: %d problem(s)", name, len(ve.Problems)),
			Problems: ve.Problems,
		})
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s rejected, nothing applied: %v", name, err))
		return
	}
	if len(ps) == 0 {
		writeError(w, http.StatusBadRequest, name+" holds no policies")
		return
	}
	specs := make([]store.PolicySpec, len(ps))
	for i, p := range ps {
		specs[i] = store.PolicySpec{Policy: p, ExprOnly: policy.ExprOnly(p)}
	}
	if s.setTooLarge(w, r, specs, false) {
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	res, err := s.store.ApplyPolicies(r.Context(), store.PolicyApply{Policies: specs, Actor: actor, At: s.now(), DryRun: validateOnly})
	if err != nil {
		s.storeFailed(w, r, "apply policies", err)
		return
	}
	changed := len(res.Added)+len(res.Updated) > 0
	if changed && !validateOnly {
		s.log.Info("policies applied", "revision", res.Revision, "added", res.Added, "updated", res.Updated, "actor", actor)
		s.changed(res.Revision)
	}
	writeJSON(w, http.StatusOK, ApplyResult{
		Revision: res.Revision, ValidateOnly: validateOnly,
		Applied: append(nonNilSlice(res.Added), res.Updated...), Added: nonNilSlice(res.Added),
		Updated: nonNilSlice(res.Updated), Unchanged: nonNilSlice(res.Unchanged),
	})
}

// policyFileName is the name problems are reported under: the client's
// file name without its directories, or "request body".
func policyFileName(s string) string {
	s = path.Base(strings.ReplaceAll(strings.TrimSpace(s), `\`, "/"))
	if s == "" || s == "." || s == "/" || len(s) > 255 || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' }) {
		return "request body"
	}
	return s
}

// actor names who makes a change, for the audit log: the name of the
// admin token the request carries. authenticate checked the token just
// before; a token revoked in between is refused here.
func (s *server) actor(w http.ResponseWriter, r *http.Request) (string, bool) {
	token, _ := bearerToken(r.Header.Get("Authorization"))
	name, err := s.store.AdminTokenName(r.Context(), auth.Hash(token))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusUnauthorized, "invalid or revoked admin token")
		return "", false
	}
	if err != nil {
		s.storeFailed(w, r, "name admin token", err)
		return "", false
	}
	return name, true
}

// listPolicies serves the policy set a page at a time, each policy with
// its counts.
func (s *server) listPolicies(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var after policyCursor
	if c := q.Get("cursor"); c != "" {
		if err := decodeCursor(c, &after); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	// The revision is read first: a set that changes while the page is
	// read then reports an older revision, never a newer one it lacks.
	rev, err := s.store.PolicyRevision(r.Context())
	if err != nil {
		s.storeFailed(w, r, "policy revision", err)
		return
	}
	rows, err := s.store.ListPolicies(r.Context(), after.ID, limit+1)
	if err != nil {
		s.storeFailed(w, r, "list policies", err)
		return
	}
	counts, err := s.countsByPolicy(r)
	if err != nil {
		s.storeFailed(w, r, "compliance", err)
		return
	}
	sig, err := s.signatureInfo(r, rev)
	if err != nil {
		s.storeFailed(w, r, "policy signature", err)
		return
	}
	out := PolicyList{Revision: rev, Signature: sig, Policies: make([]Policy, 0, min(len(rows), limit))}
	if len(rows) > limit {
		rows = rows[:limit]
		out.NextCursor = encodeCursor(policyCursor{ID: rows[len(rows)-1].Policy.ID})
	}
	for _, p := range rows {
		out.Policies = append(out.Policies, policyView(p, counts[p.Policy.ID]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) countsByPolicy(r *http.Request) (map[string]store.PolicyCounts, error) {
	cs, err := s.store.Compliance(r.Context(), s.now())
	if err != nil {
		return nil, err
	}
	m := make(map[string]store.PolicyCounts, len(cs))
	for _, c := range cs {
		m[c.PolicyID] = c
	}
	return m, nil
}

// lookupPolicy reads the {id} policy, answering 404 or 503 itself.
func (s *server) lookupPolicy(w http.ResponseWriter, r *http.Request) (store.StoredPolicy, bool) {
	id := r.PathValue("id")
	p, err := s.store.GetPolicy(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("policy %q not found", id))
		return p, false
	}
	if err != nil {
		s.storeFailed(w, r, "get policy", err)
		return p, false
	}
	return p, true
}

func (s *server) getPolicy(w http.ResponseWriter, r *http.Request) {
	p, ok := s.lookupPolicy(w, r)
	if !ok {
		return
	}
	counts, err := s.countsByPolicy(r)
	if err != nil {
		s.storeFailed(w, r, "compliance", err)
		return
	}
	v := policyView(p, counts[p.Policy.ID])
	v.Policy = &p.Policy
	writeJSON(w, http.StatusOK, v)
}

// deletePolicy removes a policy with its results and history.
func (s *server) deletePolicy(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	rev, err := s.store.DeletePolicy(r.Context(), id, actor, s.now())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("policy %q not found", id))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "delete policy", err)
		return
	}
	s.log.Info("policy deleted", "policy_id", id, "revision", rev, "actor", actor)
	s.changed(rev)
	writeJSON(w, http.StatusOK, DeleteResult{Revision: rev, Deleted: id})
}
