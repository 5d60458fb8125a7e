package api

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/store"
)

// credentialName is what a token or secret may be called: short, and
// safe to show in a terminal or a log.
var credentialName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

func checkCredentialName(name string) error {
	if !credentialName.MatchString(name) {
		return fmt.Errorf("name %q: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
	}
	return nil
}

func (s *server) checkExpiry(at time.Time) error {
	if !at.IsZero() && !at.After(s.now()) {
		return fmt.Errorf("expires_at %s is not in the future", at.UTC().Format(time.RFC3339))
	}
	return nil
}

// wantRevoked reads the revoked=true|false query flag.
func wantRevoked(w http.ResponseWriter, r *http.Request) (bool, bool) {
	switch v := r.URL.Query().Get("revoked"); v {
	case "", "false":
		return false, true
	case "true":
		return true, true
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("revoked must be true or false, got %q", v))
		return false, false
	}
}

func (s *server) listTokens(w http.ResponseWriter, r *http.Request) {
	revoked, ok := wantRevoked(w, r)
	if !ok {
		return
	}
	ts, err := s.store.ListAPITokens(r.Context(), revoked)
	if err != nil {
		s.storeFailed(w, r, "list tokens", err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.TokenList{Tokens: convertAll(ts, func(t store.APIToken) apitypes.Token { return apitypes.Token(t) })})
}

func (s *server) createToken(w http.ResponseWriter, r *http.Request) {
	var in apitypes.NewToken
	if !decodeBody(w, r, &in) {
		return
	}
	if in.Role == "" {
		in.Role = store.RoleAdmin
	}
	errs := []error{checkCredentialName(in.Name), s.checkExpiry(in.ExpiresAt)}
	if in.Role != store.RoleAdmin && in.Role != store.RoleViewer {
		errs = append(errs, fmt.Errorf("role %q: want admin or viewer", in.Role))
	}
	if err := errors.Join(errs...); err != nil {
		writeError(w, http.StatusBadRequest, strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	secret := auth.NewSecret()
	t, err := s.store.CreateAPIToken(r.Context(), store.NewAPIToken{Name: in.Name, Hash: auth.Hash(secret), Role: in.Role,
		ExpiresAt: in.ExpiresAt.UTC(), Actor: actor, At: s.now()})
	if errors.Is(err, store.ErrConflict) {
		writeError(w, http.StatusConflict, fmt.Sprintf("a live token is already named %q: revoke it first or pick another name", in.Name))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "create token", err)
		return
	}
	s.log.Info("API token created", "name", t.Name, "role", t.Role, "actor", actor)
	writeJSON(w, http.StatusCreated, apitypes.NewTokenResult{Token: secret, Detail: apitypes.Token(t)})
}

func (s *server) revokeToken(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	t, err := s.store.RevokeAPIToken(r.Context(), name, actor, s.now())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no live token named %q", name))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "revoke token", err)
		return
	}
	s.log.Info("API token revoked", "name", t.Name, "actor", actor)
	writeJSON(w, http.StatusOK, t)
}

func (s *server) listEnrollSecrets(w http.ResponseWriter, r *http.Request) {
	revoked, ok := wantRevoked(w, r)
	if !ok {
		return
	}
	es, err := s.store.ListEnrollSecrets(r.Context(), revoked)
	if err != nil {
		s.storeFailed(w, r, "list enroll secrets", err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.EnrollSecretList{Secrets: convertAll(es, func(e store.EnrollSecret) apitypes.EnrollSecret { return apitypes.EnrollSecret(e) })})
}

func (s *server) createEnrollSecret(w http.ResponseWriter, r *http.Request) {
	var in apitypes.NewEnrollSecret
	if !decodeBody(w, r, &in) {
		return
	}
	errs := []error{checkCredentialName(in.Name), s.checkExpiry(in.ExpiresAt)}
	if in.MaxUses < 0 {
		errs = append(errs, fmt.Errorf("max_uses %d: want a positive number, or 0 for no limit", in.MaxUses))
	}
	if err := errors.Join(errs...); err != nil {
		writeError(w, http.StatusBadRequest, strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	secret := auth.NewSecret()
	e, err := s.store.CreateEnrollSecret(r.Context(), store.NewEnrollSecret{Name: in.Name, Hash: auth.Hash(secret),
		ExpiresAt: in.ExpiresAt.UTC(), MaxUses: in.MaxUses, Actor: actor, At: s.now()})
	if errors.Is(err, store.ErrConflict) {
		writeError(w, http.StatusConflict, fmt.Sprintf("a live enroll secret is already named %q: revoke it first or pick another name", in.Name))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "create enroll secret", err)
		return
	}
	s.log.Info("enroll secret created", "name", e.Name, "actor", actor)
	writeJSON(w, http.StatusCreated, apitypes.NewEnrollSecretResult{Secret: secret, Detail: apitypes.EnrollSecret(e)})
}

func (s *server) revokeEnrollSecret(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	e, err := s.store.RevokeEnrollSecret(r.Context(), name, actor, s.now())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no live enroll secret named %q", name))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "revoke enroll secret", err)
		return
	}
	s.log.Info("enroll secret revoked", "name", e.Name, "actor", actor)
	writeJSON(w, http.StatusOK, e)
}

func (s *server) retireHost(w http.ResponseWriter, r *http.Request) {
	id, ok := hostID(w, r)
	if !ok {
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	h, err := s.store.RetireHost(r.Context(), id, actor, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("host %d not found", id))
		return
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, fmt.Sprintf("host %d is already retired", id))
		return
	case err != nil:
		s.storeFailed(w, r, "retire host", err)
		return
	}
	s.log.Info("host retired", "host_id", id, "actor", actor)
	s.gone(id)
	s.exempted() // its alerts resolve: the engine reconciles
	writeJSON(w, http.StatusOK, s.hostView(h, s.now()))
}

func (s *server) deleteHost(w http.ResponseWriter, r *http.Request) {
	id, ok := hostID(w, r)
	if !ok {
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	err := s.store.DeleteHost(r.Context(), id, actor, s.now())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("host %d not found", id))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "delete host", err)
		return
	}
	s.log.Info("host deleted", "host_id", id, "actor", actor)
	s.gone(id)
	s.exempted()
	writeJSON(w, http.StatusOK, apitypes.HostDeleted{ID: id, Deleted: true})
}

// convertAll maps a store list to its API form; never nil, so an empty
// list encodes as [].
func convertAll[S, A any](in []S, f func(S) A) []A {
	out := make([]A, 0, len(in))
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}
