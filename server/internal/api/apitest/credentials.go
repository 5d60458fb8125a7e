package apitest

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// credentials is the in-memory token, enroll secret and host lifecycle
// state; Store.mu guards it.
type credentials struct {
	nextID  int64
	byHash  map[string]int64 // token hash -> id
	tokens  map[int64]store.APIToken
	secrets []store.EnrollSecret
	audit   []store.AuditEntry
}

func (c *credentials) add(hash string, t store.APIToken) store.APIToken {
	if c.tokens == nil {
		c.byHash, c.tokens = map[string]int64{}, map[int64]store.APIToken{}
	}
	c.nextID++
	t.ID = c.nextID
	c.byHash[hash] = t.ID
	c.tokens[t.ID] = t
	return t
}

func (c *credentials) record(at time.Time, actor, action, subject string) {
	c.audit = append(c.audit, store.AuditEntry{ID: int64(len(c.audit) + 1), At: at, Actor: actor, Action: action, Subject: subject})
}

// CredentialAudit returns the audit entries the credential and host
// lifecycle methods recorded, oldest first.
func (s *Store) CredentialAudit() []store.AuditEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cred.audit)
}

// APITokenByHash implements api.Store.
func (s *Store) APITokenByHash(_ context.Context, hash string, at time.Time) (store.APIToken, error) {
	err := s.enter("APITokenByHash")
	defer s.mu.Unlock()
	if err != nil {
		return store.APIToken{}, err
	}
	id, ok := s.cred.byHash[hash]
	t := s.cred.tokens[id]
	if !ok || !s.tokens[hash] || !t.RevokedAt.IsZero() || !t.ExpiresAt.IsZero() && !t.ExpiresAt.After(at) {
		return store.APIToken{}, store.ErrNotFound
	}
	return t, nil
}

// TouchAPIToken implements api.Store.
func (s *Store) TouchAPIToken(_ context.Context, id int64, at time.Time) error {
	err := s.enter("TouchAPIToken")
	defer s.mu.Unlock()
	if err != nil {
		return err
	}
	t, ok := s.cred.tokens[id]
	if !ok {
		return store.ErrNotFound
	}
	if at.After(t.LastUsedAt) {
		t.LastUsedAt = at
		s.cred.tokens[id] = t
	}
	return nil
}

// CreateAPIToken implements api.Store.
func (s *Store) CreateAPIToken(_ context.Context, n store.NewAPIToken) (store.APIToken, error) {
	err := s.enter("CreateAPIToken")
	defer s.mu.Unlock()
	if err != nil {
		return store.APIToken{}, err
	}
	for _, t := range s.cred.tokens {
		if t.Name == n.Name && t.RevokedAt.IsZero() {
			return store.APIToken{}, store.ErrConflict
		}
	}
	at := cmp.Or(n.At, time.Now()).UTC()
	t := s.cred.add(n.Hash, store.APIToken{Name: n.Name, Role: n.Role, CreatedAt: at, ExpiresAt: n.ExpiresAt})
	s.tokens[n.Hash] = true
	s.c.tokenNames[n.Hash] = n.Name
	s.cred.record(at, n.Actor, store.AuditTokenCreated, n.Name)
	return t, nil
}

// ListAPITokens implements api.Store.
func (s *Store) ListAPITokens(_ context.Context, includeRevoked bool) ([]store.APIToken, error) {
	err := s.enter("ListAPITokens")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := []store.APIToken{}
	for _, t := range s.cred.tokens {
		if includeRevoked || t.RevokedAt.IsZero() {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b store.APIToken) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}

// RevokeAPIToken implements api.Store.
func (s *Store) RevokeAPIToken(_ context.Context, name, actor string, at time.Time) (store.APIToken, error) {
	err := s.enter("RevokeAPIToken")
	defer s.mu.Unlock()
	if err != nil {
		return store.APIToken{}, err
	}
	for id, t := range s.cred.tokens {
		if t.Name == name && t.RevokedAt.IsZero() {
			t.RevokedAt = cmp.Or(at, time.Now()).UTC()
			s.cred.tokens[id] = t
			s.cred.record(t.RevokedAt, actor, store.AuditTokenRevoked, name)
			return t, nil
		}
	}
	return store.APIToken{}, store.ErrNotFound
}

// CreateEnrollSecret implements api.Store.
func (s *Store) CreateEnrollSecret(_ context.Context, n store.NewEnrollSecret) (store.EnrollSecret, error) {
	err := s.enter("CreateEnrollSecret")
	defer s.mu.Unlock()
	if err != nil {
		return store.EnrollSecret{}, err
	}
	for _, e := range s.cred.secrets {
		if e.Name == n.Name && e.RevokedAt.IsZero() {
			return store.EnrollSecret{}, store.ErrConflict
		}
	}
	at := cmp.Or(n.At, time.Now()).UTC()
	s.cred.nextID++
	e := store.EnrollSecret{ID: s.cred.nextID, Name: n.Name, CreatedAt: at, ExpiresAt: n.ExpiresAt, MaxUses: n.MaxUses}
	s.cred.secrets = append(s.cred.secrets, e)
	s.cred.record(at, n.Actor, store.AuditEnrollSecretCreated, n.Name)
	return e, nil
}

// ListEnrollSecrets implements api.Store.
func (s *Store) ListEnrollSecrets(_ context.Context, includeRevoked bool) ([]store.EnrollSecret, error) {
	err := s.enter("ListEnrollSecrets")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := []store.EnrollSecret{}
	for _, e := range s.cred.secrets {
		if includeRevoked || e.RevokedAt.IsZero() {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b store.EnrollSecret) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}

// RevokeEnrollSecret implements api.Store.
func (s *Store) RevokeEnrollSecret(_ context.Context, name, actor string, at time.Time) (store.EnrollSecret, error) {
	err := s.enter("RevokeEnrollSecret")
	defer s.mu.Unlock()
	if err != nil {
		return store.EnrollSecret{}, err
	}
	for i, e := range s.cred.secrets {
		if e.Name == name && e.RevokedAt.IsZero() {
			e.RevokedAt = cmp.Or(at, time.Now()).UTC()
			s.cred.secrets[i] = e
			s.cred.record(e.RevokedAt, actor, store.AuditEnrollSecretRevoked, name)
			return e, nil
		}
	}
	return store.EnrollSecret{}, store.ErrNotFound
}

// RetireHost implements api.Store.
func (s *Store) RetireHost(_ context.Context, id int64, actor string, at time.Time) (store.Host, error) {
	err := s.enter("RetireHost")
	defer s.mu.Unlock()
	if err != nil {
		return store.Host{}, err
	}
	h, ok := s.hosts[id]
	if !ok {
		return store.Host{}, store.ErrNotFound
	}
	if !h.RetiredAt.IsZero() {
		return store.Host{}, store.ErrConflict
	}
	h.RetiredAt = cmp.Or(at, time.Now()).UTC()
	s.hosts[id] = h
	s.cred.record(h.RetiredAt, actor, store.AuditHostRetired, h.Hostname)
	return h, nil
}

// DeleteHost implements api.Store.
func (s *Store) DeleteHost(_ context.Context, id int64, actor string, at time.Time) error {
	err := s.enter("DeleteHost")
	defer s.mu.Unlock()
	if err != nil {
		return err
	}
	h, ok := s.hosts[id]
	if !ok {
		return store.ErrNotFound
	}
	delete(s.hosts, id)
	delete(s.inventories, id)
	s.cred.record(cmp.Or(at, time.Now()).UTC(), actor, store.AuditHostDeleted, h.Hostname)
	return nil
}

// RetiredSince implements api.Store.
func (s *Store) RetiredSince(_ context.Context, since time.Time) ([]int64, error) {
	err := s.enter("RetiredSince")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	ids := []int64{}
	for id, h := range s.hosts {
		if !h.RetiredAt.IsZero() && !h.RetiredAt.Before(since) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}
