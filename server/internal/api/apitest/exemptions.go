package apitest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// AddExemption implements api.Store.
func (s *Store) AddExemption(_ context.Context, e store.Exemption) (int64, error) {
	err := s.enter("AddExemption")
	defer s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if err := e.Validate(); err != nil {
		return 0, err
	}
	if _, ok := s.c.policies[e.PolicyID]; !ok {
		return 0, fmt.Errorf("policy %s: %w", e.PolicyID, store.ErrNotFound)
	}
	if _, ok := s.hosts[e.HostID]; e.HostID != 0 && !ok {
		return 0, fmt.Errorf("host %d: %w", e.HostID, store.ErrNotFound)
	}
	e.ID = int64(len(s.c.exemptions) + 1)
	e.CreatedAt, e.ExpiresAt = nowOr(e.CreatedAt), e.ExpiresAt.UTC()
	s.c.exemptions = append(s.c.exemptions, e)
	s.addAudit(e.CreatedAt, e.CreatedBy, store.AuditExemptionAdded, strconv.FormatInt(e.ID, 10), e)
	return e.ID, nil
}

// GetExemption implements api.Store.
func (s *Store) GetExemption(_ context.Context, id int64) (store.Exemption, error) {
	err := s.enter("GetExemption")
	defer s.mu.Unlock()
	if err != nil {
		return store.Exemption{}, err
	}
	if id < 1 || id > int64(len(s.c.exemptions)) {
		return store.Exemption{}, fmt.Errorf("exemption %d: %w", id, store.ErrNotFound)
	}
	return s.c.exemptions[id-1], nil
}

// ListExemptions implements api.Store.
func (s *Store) ListExemptions(_ context.Context, q store.ExemptionQuery) ([]store.Exemption, error) {
	err := s.enter("ListExemptions")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		return nil, errors.New("list exemptions: limit must be positive")
	}
	out := []store.Exemption{}
	for _, e := range s.c.exemptions {
		if e.ID <= q.AfterID || (!q.All && !e.Active(nowOr(q.At))) || (q.PolicyID != "" && e.PolicyID != q.PolicyID) {
			continue
		}
		if len(out) == q.Limit {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

// RevokeExemption implements api.Store.
func (s *Store) RevokeExemption(_ context.Context, id int64, actor string, at time.Time) error {
	err := s.enter("RevokeExemption")
	defer s.mu.Unlock()
	if err != nil {
		return err
	}
	if id < 1 || id > int64(len(s.c.exemptions)) {
		return fmt.Errorf("exemption %d: %w", id, store.ErrNotFound)
	}
	e := &s.c.exemptions[id-1]
	if !e.RevokedAt.IsZero() {
		return fmt.Errorf("exemption %d: %w", id, store.ErrConflict)
	}
	e.RevokedAt, e.RevokedBy = nowOr(at), actor
	s.addAudit(e.RevokedAt, actor, store.AuditExemptionRevoked, strconv.FormatInt(id, 10), *e)
	return nil
}

// SetHostLabels implements api.Store.
func (s *Store) SetHostLabels(_ context.Context, hostID int64, labels map[string]string, actor string) error {
	err := s.enter("SetHostLabels")
	defer s.mu.Unlock()
	if err != nil {
		return err
	}
	if _, ok := s.hosts[hostID]; !ok {
		return fmt.Errorf("host %d: %w", hostID, store.ErrNotFound)
	}
	old := s.c.labels[hostID]
	if old == nil {
		old = map[string]string{}
	}
	if maps.Equal(old, labels) {
		return nil
	}
	s.c.labels[hostID] = maps.Clone(labels)
	s.addAudit(time.Now(), actor, store.AuditHostLabelsSet, strconv.FormatInt(hostID, 10),
		map[string]any{"host_id": hostID, "labels": labels, "previous": old})
	return nil
}

// HostLabels implements api.Store.
func (s *Store) HostLabels(_ context.Context, hostID int64) (map[string]string, error) {
	err := s.enter("HostLabels")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if _, ok := s.hosts[hostID]; !ok {
		return nil, fmt.Errorf("host %d: %w", hostID, store.ErrNotFound)
	}
	labels := maps.Clone(s.c.labels[hostID])
	if labels == nil {
		labels = map[string]string{}
	}
	return labels, nil
}

// HostsLabels implements api.Store.
func (s *Store) HostsLabels(_ context.Context, hostIDs []int64) (map[int64]map[string]string, error) {
	err := s.enter("HostsLabels")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := map[int64]map[string]string{}
	for _, id := range hostIDs {
		if _, ok := s.hosts[id]; ok {
			labels := maps.Clone(s.c.labels[id])
			if labels == nil {
				labels = map[string]string{}
			}
			out[id] = labels
		}
	}
	return out, nil
}

// ListAudit implements api.Store.
func (s *Store) ListAudit(_ context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	err := s.enter("ListAudit")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		return nil, errors.New("list audit: limit must be positive")
	}
	out := []store.AuditEntry{}
	for i := len(s.c.audit) - 1; i >= 0; i-- {
		a := s.c.audit[i]
		if (q.AfterID > 0 && a.ID >= q.AfterID) || (q.Action != "" && a.Action != q.Action) {
			continue
		}
		if len(out) == q.Limit {
			break
		}
		out = append(out, a)
	}
	return out, nil
}

// AdminTokenName implements api.Store.
func (s *Store) AdminTokenName(_ context.Context, hash string) (string, error) {
	err := s.enter("AdminTokenName")
	defer s.mu.Unlock()
	if err != nil {
		return "", err
	}
	name, ok := s.c.tokenNames[hash]
	if !ok || !s.tokens[hash] {
		return "", store.ErrNotFound
	}
	return name, nil
}
