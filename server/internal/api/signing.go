package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policysign"
)

// maxPolicySetBody bounds the body of PUT /policies: a whole set (agents
// take at most policy.MaxSetBytes of it; expr-only policies come on top)
// and its signature.
const maxPolicySetBody = 2*policy.MaxSetBytes + 64<<10

// signatureInfo describes the signature recorded for revision rev, nil
// when the set at rev is unsigned.
func (s *server) signatureInfo(r *http.Request, rev int64) (*apitypes.SignatureInfo, error) {
	sig, err := s.store.PolicySignature(r.Context())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if sig.Revision != rev {
		return nil, nil
	}
	st, err := policysign.ParseStatement(sig.Signature.Statement)
	if err != nil {
		return nil, nil // stored after checking; unreadable only if corrupt
	}
	return &apitypes.SignatureInfo{KeyID: st.KeyID, Serial: st.Serial, SignedAt: utc(st.SignedAt), ExpiresAt: utc(st.ExpiresAt)}, nil
}

// refusalView reads host id's current refusal for the host view.
func (s *server) refusalView(r *http.Request, id int64) (*apitypes.PolicyRefusal, error) {
	ref, err := s.store.PolicyRefusal(r.Context(), id)
	if err != nil || ref == nil {
		return nil, err
	}
	return &apitypes.PolicyRefusal{Revision: ref.Revision, Code: ref.Code, Reason: ref.Reason, At: utc(ref.At)}, nil
}

// setTooLarge answers 413, and reports true, when the set agents would
// receive after applying specs (with replace: specs alone; otherwise
// specs over the stored set) is over policy.MaxSetBytes, which agents
// refuse. Two applies racing can still pass together; agents then refuse
// the set and report it (see policy_refusal).
func (s *server) setTooLarge(w http.ResponseWriter, r *http.Request, specs []store.PolicySpec, replace bool) bool {
	next := map[string]store.PolicySpec{}
	if !replace {
		stored, err := s.store.ListPolicies(r.Context(), "", 0)
		if err != nil {
			s.storeFailed(w, r, "list policies", err)
			return true
		}
		for _, p := range stored {
			next[p.Policy.ID] = store.PolicySpec{Policy: p.Policy, ExprOnly: p.ExprOnly}
		}
	}
	for _, sp := range specs {
		next[sp.Policy.ID] = sp
	}
	agents := make([]policy.Policy, 0, len(next))
	for _, sp := range next {
		if !sp.ExprOnly {
			agents = append(agents, sp.Policy)
		}
	}
	if err := policy.SetTooLarge(agents); err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "nothing applied: after this apply "+err.Error()+
			" (agents refuse a larger set)")
		return true
	}
	return false
}

// replacePolicies makes the body's policies the whole set: policies not
// in it are deleted. With a signature, it must describe exactly the
// policies agents will receive (the statement's digest and count); the
// server cannot check who signed, agents that pin the key do. A signed
// replace always makes a new revision, so that agents get the signature.
func (s *server) replacePolicies(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	validateOnly := false
	if v := q.Get("validate_only"); v != "" {
		var err error
		if validateOnly, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("validate_only must be true or false, got %q", v))
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPolicySetBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("policy set request larger than %d bytes", maxPolicySetBody))
		return
	}
	var in apitypes.PolicySetReplace
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("policy set: %v", err))
		return
	}
	if len(in.Policies) == 0 {
		writeError(w, http.StatusBadRequest, "policy set: policies is required")
		return
	}
	var ps []policy.Policy
	if !bytes.Equal(bytes.TrimSpace(in.Policies), []byte("[]")) {
		ps, err = policy.Parse("policy set", append(append([]byte(`{"policies":`), in.Policies...), '}'))
		var ve *policy.ValidationError
		if errors.As(err, &ve) {
			writeJSON(w, http.StatusBadRequest, apitypes.Error{
				Error:    fmt.Sprintf("policy set rejected, nothing applied: %d problem(s)", len(ve.Problems)),
				Problems: ve.Problems,
			})
			return
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("policy set rejected, nothing applied: %v", err))
			return
		}
	}
	specs := make([]store.PolicySpec, len(ps))
	for i, p := range ps {
		specs[i] = store.PolicySpec{Policy: p, ExprOnly: policy.ExprOnly(p)}
	}
	if in.Signature != nil {
		// The signature covers the tailorings the set holds as well, so
		// that an unsigned override cannot weaken a signed policy.
		stored, err := s.store.ListTailorings(r.Context())
		if err != nil {
			s.storeFailed(w, r, "list tailorings", err)
			return
		}
		ts := make([]policy.LabelTailoring, len(stored))
		for i, t := range stored {
			ts[i] = t.Tailoring
		}
		if _, err := policysign.CheckSetContent(in.Signature, policysign.AgentPolicies(ps), ts); err != nil {
			writeError(w, http.StatusBadRequest, "signature refused, nothing applied: "+err.Error())
			return
		}
	}
	if s.setTooLarge(w, r, specs, true) {
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	res, err := s.store.ApplyPolicies(r.Context(), store.PolicyApply{Policies: specs, Actor: actor, At: s.now(),
		DryRun: validateOnly, Replace: true, Signature: in.Signature})
	if err != nil {
		s.storeFailed(w, r, "replace policies", err)
		return
	}
	if !validateOnly && res.Revision > 0 && (len(res.Added)+len(res.Updated)+len(res.Deleted) > 0 || in.Signature != nil) {
		s.log.Info("policy set replaced", "revision", res.Revision, "added", res.Added, "updated", res.Updated,
			"deleted", res.Deleted, "signed", in.Signature != nil, "actor", actor)
		s.changed(res.Revision)
	}
	writeJSON(w, http.StatusOK, apitypes.ApplyResult{
		Revision: res.Revision, ValidateOnly: validateOnly,
		Applied: append(nonNilSlice(res.Added), res.Updated...), Added: nonNilSlice(res.Added),
		Updated: nonNilSlice(res.Updated), Unchanged: nonNilSlice(res.Unchanged), Deleted: nonNilSlice(res.Deleted),
	})
}
