package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/labels"
	"github.com/steward-project/steward/shared/policy"
)

func tailoringView(t store.StoredTailoring) apitypes.Tailoring {
	sel := t.Tailoring.Selector
	if sel == nil {
		sel = map[string]string{}
	}
	return apitypes.Tailoring{Name: t.Tailoring.Name, Selector: sel, Values: t.Tailoring.Values,
		UpdatedAt: t.UpdatedAt, UpdatedBy: t.UpdatedBy, UpdatedRevision: t.UpdatedRevision}
}

// listTailorings serves every tailoring in the order they apply.
func (s *server) listTailorings(w http.ResponseWriter, r *http.Request) {
	rev, err := s.store.PolicyRevision(r.Context())
	if err != nil {
		s.storeFailed(w, r, "policy revision", err)
		return
	}
	rows, err := s.store.ListTailorings(r.Context())
	if err != nil {
		s.storeFailed(w, r, "list tailorings", err)
		return
	}
	out := apitypes.TailoringList{Revision: rev, Tailorings: make([]apitypes.Tailoring, 0, len(rows))}
	for _, t := range rows {
		out.Tailorings = append(out.Tailorings, tailoringView(t))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getTailoring(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	t, err := s.store.GetTailoring(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("tailoring %q not found", name))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "get tailoring", err)
		return
	}
	writeJSON(w, http.StatusOK, tailoringView(t))
}

// putTailoring checks a tailoring against the current policy set, with
// the rules of a tailoring file, and stores it; agents receive it with
// the set.
func (s *server) putTailoring(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var in apitypes.TailoringPut
	if !decodeBody(w, r, &in) {
		return
	}
	if in.Name != "" && in.Name != name {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("body names tailoring %q, path %q", in.Name, name))
		return
	}
	if in.Selector == nil {
		writeError(w, http.StatusBadRequest, `body must hold "selector": an object of labels, {} to select every host`)
		return
	}
	if err := labels.Check(in.Selector); err != nil {
		writeError(w, http.StatusBadRequest, "selector: "+err.Error())
		return
	}
	stored, err := s.store.ListPolicies(r.Context(), "", 0)
	if err != nil {
		s.storeFailed(w, r, "list policies", err)
		return
	}
	policies := make([]policy.Policy, len(stored))
	for i, p := range stored {
		policies[i] = p.Policy
	}
	values, err := policy.ExpandParameters(in.Parameters, in.Values, policies)
	if err == nil {
		err = policy.LabelTailoring{Name: name, Selector: in.Selector, Values: values}.Check(policies)
	}
	var ve *policy.ValidationError
	if errors.As(err, &ve) {
		writeJSON(w, http.StatusBadRequest, apitypes.Error{
			Error:    fmt.Sprintf("tailoring %s rejected, nothing stored: %d problem(s)", name, len(ve.Problems)),
			Problems: ve.Problems,
		})
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	before, err := s.store.PolicyRevision(r.Context())
	if err != nil {
		s.storeFailed(w, r, "policy revision", err)
		return
	}
	t := policy.LabelTailoring{Name: name, Selector: in.Selector, Values: values}
	rev, created, err := s.store.PutTailoring(r.Context(), store.TailoringPut{Tailoring: t, Actor: actor, At: s.now()})
	if err != nil {
		s.storeFailed(w, r, "put tailoring", err)
		return
	}
	changed := rev != before
	if changed {
		s.log.Info("tailoring applied", "name", name, "revision", rev, "created", created, "actor", actor)
		s.changed(rev)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, apitypes.TailoringResult{Revision: rev, Name: name, Created: created, Changed: changed})
}

func (s *server) deleteTailoring(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	rev, err := s.store.DeleteTailoring(r.Context(), name, actor, s.now())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("tailoring %q not found", name))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "delete tailoring", err)
		return
	}
	s.log.Info("tailoring deleted", "name", name, "revision", rev, "actor", actor)
	s.changed(rev)
	writeJSON(w, http.StatusOK, apitypes.TailoringResult{Revision: rev, Name: name, Changed: true})
}
