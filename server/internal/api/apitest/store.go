package apitest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/store"
)

// Store is an in-memory api.Store. It keeps the ordering and keyset rules
// of the real backends, so paging bugs show up against it too.
type Store struct {
	mu          sync.Mutex
	hosts       map[int64]store.Host
	inventories map[int64]store.InventoryDoc
	software    []store.SoftwareHit
	changes     []store.Change
	tokens      map[string]bool // hash -> live
	cred        credentials
	failAll     error
	failing     map[string]error // method name -> injected error
	calls       int
	c           compliance
	tailorings  map[string]store.StoredTailoring
}

var _ api.Store = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store {
	s := &Store{
		hosts:       map[int64]store.Host{},
		inventories: map[int64]store.InventoryDoc{},
		tokens:      map[string]bool{},
		failing:     map[string]error{},
	}
	s.initCompliance()
	return s
}

// AddToken makes token a live admin token named "admin".
func (s *Store) AddToken(token string) { s.AddNamedToken(token, "admin") }

// AddNamedToken makes token a live admin token with a name, which the
// audit log records as the actor.
func (s *Store) AddNamedToken(token, name string) { s.AddRoleToken(token, name, store.RoleAdmin) }

// AddRoleToken makes token a live token with a name and a role.
func (s *Store) AddRoleToken(token, name, role string) {
	sum := sha256.Sum256([]byte(token))
	h := hex.EncodeToString(sum[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[h] = true
	s.c.tokenNames[h] = name
	s.cred.add(h, store.APIToken{Name: name, Role: role, CreatedAt: time.Now().UTC()})
}

// AddHost stores h, replacing any host with the same ID.
func (s *Store) AddHost(h store.Host) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hosts[h.ID] = h
}

// SetInventory stores doc as the current inventory of doc.HostID.
func (s *Store) SetInventory(doc store.InventoryDoc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inventories[doc.HostID] = doc
}

// AddSoftware records one installed package on one host.
func (s *Store) AddSoftware(hit store.SoftwareHit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.software = append(s.software, hit)
}

// AddChange records one change; give each a distinct ID.
func (s *Store) AddChange(c store.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes = append(s.changes, c)
}

// FailWith makes later calls of the named methods (all methods when none
// is named) return err; a nil err heals them.
func (s *Store) FailWith(err error, methods ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(methods) == 0 {
		s.failAll = err
		clear(s.failing)
		return
	}
	for _, m := range methods {
		s.failing[m] = err
	}
}

// Calls reports how many store methods were called.
func (s *Store) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// enter counts a call of method and returns the injected failure, if any.
// The caller holds s.mu afterwards and must unlock it.
func (s *Store) enter(method string) error {
	s.mu.Lock()
	s.calls++
	if err := s.failing[method]; err != nil {
		return err
	}
	return s.failAll
}

// GetHost implements api.Store.
func (s *Store) GetHost(_ context.Context, id int64) (store.Host, error) {
	err := s.enter("GetHost")
	defer s.mu.Unlock()
	if err != nil {
		return store.Host{}, err
	}
	h, ok := s.hosts[id]
	if !ok {
		return store.Host{}, fmt.Errorf("host %d: %w", id, store.ErrNotFound)
	}
	return h, nil
}

// ListHosts implements api.Store: hosts ordered by (hostname, id), after
// the given key.
func (s *Store) ListHosts(_ context.Context, p store.HostPage) ([]store.Host, error) {
	err := s.enter("ListHosts")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if p.Limit <= 0 {
		return nil, errors.New("list hosts: limit must be positive")
	}
	all := make([]store.Host, 0, len(s.hosts))
	for _, h := range s.hosts {
		all = append(all, h)
	}
	slices.SortFunc(all, func(a, b store.Host) int {
		return cmp.Or(cmp.Compare(a.Hostname, b.Hostname), cmp.Compare(a.ID, b.ID))
	})
	var out []store.Host
	for _, h := range all {
		if p.AfterID != 0 && cmp.Or(cmp.Compare(h.Hostname, p.AfterHostname), cmp.Compare(h.ID, p.AfterID)) <= 0 {
			continue
		}
		if p.Duplicates && len(h.PossibleDuplicates) == 0 || !p.Retired && !h.RetiredAt.IsZero() {
			continue
		}
		if len(out) == p.Limit {
			break
		}
		out = append(out, h)
	}
	return out, nil
}

// Inventory implements api.Store.
func (s *Store) Inventory(_ context.Context, hostID int64) (store.InventoryDoc, error) {
	err := s.enter("Inventory")
	defer s.mu.Unlock()
	if err != nil {
		return store.InventoryDoc{}, err
	}
	if _, ok := s.hosts[hostID]; !ok {
		return store.InventoryDoc{}, fmt.Errorf("inventory of host %d: %w", hostID, store.ErrNotFound)
	}
	doc, ok := s.inventories[hostID]
	if !ok {
		// A known host without inventory has empty maps, as the contract says.
		return store.InventoryDoc{HostID: hostID, Sections: map[string]json.RawMessage{}, Hashes: map[string]string{}}, nil
	}
	return doc, nil
}

// SearchSoftware implements api.Store: name and version matches
// ordered by (software id, host id), after the given key.
func (s *Store) SearchSoftware(_ context.Context, q store.SoftwareQuery) ([]store.SoftwareHit, error) {
	err := s.enter("SearchSoftware")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		return nil, errors.New("search software: limit must be positive")
	}
	var match []store.SoftwareHit
	for _, h := range s.software {
		if q.MatchesName(h.Name) && q.Version.Matches(h.Source, h.Version) {
			match = append(match, h)
		}
	}
	slices.SortFunc(match, func(a, b store.SoftwareHit) int {
		return cmp.Or(cmp.Compare(a.SoftwareID, b.SoftwareID), cmp.Compare(a.HostID, b.HostID))
	})
	var out []store.SoftwareHit
	for _, h := range match {
		if cmp.Or(cmp.Compare(h.SoftwareID, q.AfterSoftwareID), cmp.Compare(h.HostID, q.AfterHostID)) <= 0 {
			continue
		}
		if len(out) == q.Limit {
			break
		}
		out = append(out, h)
	}
	return out, nil
}

// SoftwareVersions implements api.Store: hosts per (name, version,
// source) of the matching hits. Every host of the fake is live.
func (s *Store) SoftwareVersions(_ context.Context, q store.SoftwareQuery) ([]store.SoftwareVersion, error) {
	err := s.enter("SoftwareVersions")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var catalog []store.SoftwareHit
	hosts := map[int64]int64{}
	seen := map[[2]int64]bool{}
	for _, h := range s.software {
		if !q.MatchesName(h.Name) || !q.Version.Matches(h.Source, h.Version) {
			continue
		}
		if hosts[h.SoftwareID] == 0 {
			catalog = append(catalog, h)
		}
		if k := [2]int64{h.SoftwareID, h.HostID}; !seen[k] {
			seen[k] = true
			hosts[h.SoftwareID]++
		}
	}
	return store.GroupVersions(catalog, hosts), nil
}

// ListChanges implements api.Store: changes matching every filter, ordered
// by (first seen, id) descending, after the given key; ErrNotFound for an
// unknown host.
func (s *Store) ListChanges(_ context.Context, q store.ChangeQuery) ([]store.Change, error) {
	err := s.enter("ListChanges")
	defer s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		return nil, errors.New("list changes: limit must be positive")
	}
	if _, ok := s.hosts[q.HostID]; q.HostID != 0 && !ok {
		return nil, fmt.Errorf("changes of host %d: %w", q.HostID, store.ErrNotFound)
	}
	order := func(a, b store.Change) int {
		return cmp.Or(b.FirstSeen.Compare(a.FirstSeen), cmp.Compare(b.ID, a.ID))
	}
	all := slices.SortedFunc(slices.Values(s.changes), order)
	after := store.Change{FirstSeen: q.AfterFirstSeen, ID: q.AfterID}
	out := []store.Change{}
	for _, c := range all {
		switch {
		case q.HostID != 0 && c.HostID != q.HostID,
			len(q.Kinds) > 0 && !slices.Contains(q.Kinds, c.Kind),
			q.Subject != "" && c.Subject != q.Subject,
			!q.Since.IsZero() && c.FirstSeen.Before(q.Since),
			!q.Until.IsZero() && !c.FirstSeen.Before(q.Until),
			q.AfterID != 0 && order(after, c) >= 0:
			continue
		}
		if len(out) == q.Limit {
			break
		}
		out = append(out, c)
	}
	return out, nil
}

// Token is the admin token NewServer's store accepts.
const Token = "test-admin-token"

// Now is the fixed clock NewServer's API uses.
var Now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// NewServer starts an httptest server running the real API over st, with
// Token accepted and the clock fixed at Now. It is closed when t ends.
func NewServer(t testing.TB, st *Store) *httptest.Server {
	t.Helper()
	st.AddToken(Token)
	srv := httptest.NewServer(api.New(api.Config{
		Store: st,
		Now:   func() time.Time { return Now },
	}))
	t.Cleanup(srv.Close)
	return srv
}
