package apitest

import (
	"context"
	"fmt"

	"github.com/steward-project/steward/server/internal/store"
)

// PolicySignature implements api.Store.
func (s *Store) PolicySignature(context.Context) (store.PolicySignature, error) {
	err := s.enter("PolicySignature")
	defer s.mu.Unlock()
	if err != nil {
		return store.PolicySignature{}, err
	}
	if s.c.signature == nil {
		return store.PolicySignature{}, fmt.Errorf("policy signature: %w", store.ErrNotFound)
	}
	return *s.c.signature, nil
}

// PolicyRefusal implements api.Store.
func (s *Store) PolicyRefusal(_ context.Context, hostID int64) (*store.PolicyRefusal, error) {
	err := s.enter("PolicyRefusal")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if _, ok := s.hosts[hostID]; !ok {
		return nil, fmt.Errorf("host %d: %w", hostID, store.ErrNotFound)
	}
	if r := s.c.refusals[hostID]; r != nil {
		c := *r
		return &c, nil
	}
	return nil, nil
}

// PolicyRefusals implements api.Store.
func (s *Store) PolicyRefusals(_ context.Context, hostIDs []int64) (map[int64]*store.PolicyRefusal, error) {
	err := s.enter("PolicyRefusals")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := map[int64]*store.PolicyRefusal{}
	for _, id := range hostIDs {
		if _, ok := s.hosts[id]; !ok {
			continue
		}
		out[id] = nil
		if r := s.c.refusals[id]; r != nil {
			c := *r
			out[id] = &c
		}
	}
	return out, nil
}

// SetPolicyRefusal implements api.Store.
func (s *Store) SetPolicyRefusal(_ context.Context, hostID int64, r *store.PolicyRefusal) error {
	err := s.enter("SetPolicyRefusal")
	defer s.mu.Unlock()
	if err != nil {
		return err
	}
	if _, ok := s.hosts[hostID]; !ok {
		return fmt.Errorf("host %d: %w", hostID, store.ErrNotFound)
	}
	if s.c.refusals == nil {
		s.c.refusals = map[int64]*store.PolicyRefusal{}
	}
	if r == nil {
		delete(s.c.refusals, hostID)
		return nil
	}
	c := *r
	s.c.refusals[hostID] = &c
	return nil
}
