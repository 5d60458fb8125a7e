package apitest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// PutTailoring implements api.Store.
func (s *Store) PutTailoring(_ context.Context, p store.TailoringPut) (int64, bool, error) {
	err := s.enter("PutTailoring")
	defer s.mu.Unlock()
	if err != nil {
		return 0, false, err
	}
	old, exists := s.tailorings[p.Tailoring.Name]
	if exists && reflect.DeepEqual(old.Tailoring, p.Tailoring) {
		return s.c.rev, false, nil
	}
	if s.tailorings == nil {
		s.tailorings = map[string]store.StoredTailoring{}
	}
	s.c.rev++
	at := nowOr(p.At)
	s.tailorings[p.Tailoring.Name] = store.StoredTailoring{Tailoring: p.Tailoring, UpdatedAt: at, UpdatedBy: p.Actor, UpdatedRevision: s.c.rev}
	s.addAudit(at, p.Actor, store.AuditTailoringApplied, p.Tailoring.Name,
		map[string]any{"revision": s.c.rev, "selector": p.Tailoring.Selector, "values": p.Tailoring.Values})
	return s.c.rev, !exists, nil
}

// DeleteTailoring implements api.Store.
func (s *Store) DeleteTailoring(_ context.Context, name, actor string, at time.Time) (int64, error) {
	err := s.enter("DeleteTailoring")
	defer s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if _, ok := s.tailorings[name]; !ok {
		return 0, fmt.Errorf("tailoring %s: %w", name, store.ErrNotFound)
	}
	delete(s.tailorings, name)
	s.c.rev++
	s.addAudit(nowOr(at), actor, store.AuditTailoringDeleted, name, map[string]any{"revision": s.c.rev})
	return s.c.rev, nil
}

// GetTailoring implements api.Store.
func (s *Store) GetTailoring(_ context.Context, name string) (store.StoredTailoring, error) {
	err := s.enter("GetTailoring")
	defer s.mu.Unlock()
	if err != nil {
		return store.StoredTailoring{}, err
	}
	t, ok := s.tailorings[name]
	if !ok {
		return t, fmt.Errorf("get tailoring %s: %w", name, store.ErrNotFound)
	}
	return t, nil
}

// ListTailorings implements api.Store.
func (s *Store) ListTailorings(context.Context) ([]store.StoredTailoring, error) {
	err := s.enter("ListTailorings")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make([]store.StoredTailoring, 0, len(s.tailorings))
	for _, t := range s.tailorings {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b store.StoredTailoring) int { return strings.Compare(a.Tailoring.Name, b.Tailoring.Name) })
	return out, nil
}
