package compliance

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// Store is what the evaluator reads and writes.
type Store interface {
	PolicyRevision(ctx context.Context) (int64, error)
	ListPolicies(ctx context.Context, afterID string, limit int) ([]store.StoredPolicy, error)
	GetHost(ctx context.Context, id int64) (store.Host, error)
	ListHosts(ctx context.Context, p store.HostPage) ([]store.Host, error)
	Inventory(ctx context.Context, hostID int64) (store.InventoryDoc, error)
	ApplyResults(ctx context.Context, batches []store.ResultBatch) ([]store.Transition, error)
}

// Config tunes an Evaluator. Zero values pick the defaults.
type Config struct {
	Logger *slog.Logger
	// Chunk is how many hosts one ApplyResults transaction carries
	// (default 100): large enough to amortize a commit, small enough that
	// a fleet-wide evaluation never holds much memory or a long lock.
	Chunk int
	// Retry is the pause after a failed round before trying again
	// (default 5 s); the work is kept.
	Retry time.Duration
	// Evaluated, when set, is called after each chunk is committed with
	// the number of policy evaluations it held and the transitions it
	// recorded (for metrics, and for alerting later).
	Evaluated func(evaluations int, transitions []store.Transition)
	// Answers, when set, receives the answers to the expr leaves of
	// policies agents evaluate (answers.go).
	Answers AnswerSink
}

// Evaluator keeps expr-only policy results current, and the answers to
// the expr leaves of other policies that connected agents evaluate (the
// agent links no expression engine). HostsChanged, HostConnected and
// PoliciesChanged only note the work and return at once, so ingest's
// batch writer and API handlers never wait for an evaluation; one
// goroutine (Run) does the work in chunks, coalescing what piles up.
type Evaluator struct {
	st  Store
	cfg Config

	mu        sync.Mutex
	hosts     map[int64]bool
	connected map[int64]bool // hosts whose answers are to be sent afresh
	sink      AnswerSink
	all       bool
	wake      chan struct{}

	// The expr-only policies of revision rev, reloaded when it moves, and
	// the mixed ones, whose expr leaves the server answers.
	rev      int64
	policies []policy.Policy
	mixed    []policy.Policy
	loaded   bool
	// sent holds a digest of the answers each connected host got last.
	sent map[int64][sha256.Size]byte
}

// New returns an Evaluator; start it with Run.
func New(st Store, cfg Config) *Evaluator {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Chunk <= 0 {
		cfg.Chunk = 100
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 5 * time.Second
	}
	return &Evaluator{st: st, cfg: cfg, hosts: map[int64]bool{}, connected: map[int64]bool{}, sink: cfg.Answers,
		wake: make(chan struct{}, 1), sent: map[int64][sha256.Size]byte{}}
}

// HostsChanged asks for the hosts' results to be evaluated again.
func (e *Evaluator) HostsChanged(ids ...int64) {
	if len(ids) == 0 {
		return
	}
	e.mu.Lock()
	for _, id := range ids {
		e.hosts[id] = true
	}
	e.mu.Unlock()
	e.signal()
}

// PoliciesChanged asks for every host to be evaluated again.
func (e *Evaluator) PoliciesChanged() {
	e.mu.Lock()
	e.all = true
	e.mu.Unlock()
	e.signal()
}

// Committed is an ingest post-commit hook: hosts whose inventory sections
// changed are evaluated again. Heartbeats, duplicates and inventories
// sent as hashes alone change nothing a policy can see.
func (e *Evaluator) Committed(msgs []store.Message, results []store.Result) {
	var ids []int64
	for i, m := range msgs {
		if m.Type != wire.TypeInventory || m.Inventory == nil || (i < len(results) && results[i].Duplicate) {
			continue
		}
		if len(m.Inventory.Sections) > 0 || len(m.Inventory.Removed) > 0 {
			ids = append(ids, m.HostID)
		}
	}
	e.HostsChanged(ids...)
}

func (e *Evaluator) signal() {
	select {
	case e.wake <- struct{}{}:
	default: // a wake-up is already pending; it will see this work too
	}
}

// take returns and clears the pending work.
func (e *Evaluator) take() (bool, []int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	all, ids := e.all, slices.Sorted(maps.Keys(e.hosts))
	e.all = false
	clear(e.hosts)
	return all, ids
}

// putBack restores work a failed round did not finish.
func (e *Evaluator) putBack(all bool, ids, connected []int64) {
	e.mu.Lock()
	e.all = e.all || all
	for _, id := range ids {
		e.hosts[id] = true
	}
	for _, id := range connected {
		e.connected[id] = true
	}
	e.mu.Unlock()
}

// allPending reports whether a fleet-wide evaluation was asked for since
// the last take: the running walk is then out of date.
func (e *Evaluator) allPending() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.all
}

// Run evaluates what is asked until ctx ends. A policy set applied while
// the server was down is evaluated at once: Run starts with a fleet-wide
// round.
func (e *Evaluator) Run(ctx context.Context) {
	e.PoliciesChanged()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		}
		all, ids := e.take()
		connected := e.takeConnected()
		if err := e.round(ctx, all, ids, connected); err != nil {
			if ctx.Err() != nil {
				return
			}
			e.cfg.Logger.Error("policy evaluation failed; retrying", "err", err, "retry_in", e.cfg.Retry)
			e.putBack(all, ids, connected)
			select {
			case <-ctx.Done():
				return
			case <-time.After(e.cfg.Retry):
				e.signal()
			}
		}
	}
}

// round evaluates every host (all) or the given ones, and sends the
// connected ones their answers.
func (e *Evaluator) round(ctx context.Context, all bool, ids, connected []int64) error {
	if err := e.loadPolicies(ctx); err != nil {
		return err
	}
	if len(e.policies) == 0 && len(e.mixed) == 0 {
		return nil
	}
	if err := e.answerConnected(ctx, connected); err != nil {
		return err
	}
	if all {
		return e.walkFleet(ctx)
	}
	for chunk := range slices.Chunk(ids, e.cfg.Chunk) {
		hosts := make([]store.Host, 0, len(chunk))
		for _, id := range chunk {
			h, err := e.st.GetHost(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("evaluate host %d: %w", id, err)
			}
			if !h.RetiredAt.IsZero() {
				continue // retired hosts have no current results
			}
			hosts = append(hosts, h)
		}
		if err := e.evaluate(ctx, hosts); err != nil {
			return err
		}
	}
	return nil
}

// walkFleet evaluates every host a page at a time. A newer fleet-wide
// request stops it: the next round starts over with the newer policies.
func (e *Evaluator) walkFleet(ctx context.Context) error {
	page := store.HostPage{Limit: e.cfg.Chunk}
	for {
		hosts, err := e.st.ListHosts(ctx, page)
		if err != nil {
			return fmt.Errorf("evaluate fleet: %w", err)
		}
		if err := e.evaluate(ctx, hosts); err != nil {
			return err
		}
		if len(hosts) < page.Limit || e.allPending() {
			return nil
		}
		last := hosts[len(hosts)-1]
		page.AfterHostname, page.AfterID = last.Hostname, last.ID
	}
}

// loadPolicies reloads the expr-only policies when the revision moved.
func (e *Evaluator) loadPolicies(ctx context.Context) error {
	rev, err := e.st.PolicyRevision(ctx)
	if err != nil {
		return fmt.Errorf("load policies: %w", err)
	}
	if e.loaded && rev == e.rev {
		return nil
	}
	stored, err := e.st.ListPolicies(ctx, "", 0)
	if err != nil {
		return fmt.Errorf("load policies: %w", err)
	}
	// The list may be newer than rev; results then carry the older
	// revision and the store drops those of policies that changed, and
	// the change's own PoliciesChanged brings a round with the new set.
	e.policies, e.mixed = e.policies[:0], e.mixed[:0]
	for _, p := range stored {
		switch {
		case p.ExprOnly:
			e.policies = append(e.policies, p.Policy)
		case mixed(p.Policy):
			e.mixed = append(e.mixed, p.Policy)
		}
	}
	e.rev, e.loaded = rev, true
	e.cfg.Logger.Debug("loaded expr-only policies", "revision", rev, "policies", len(e.policies), "mixed", len(e.mixed))
	return nil
}

// evaluate runs every expr-only policy on each host that has inventory
// and commits the results as one transaction.
func (e *Evaluator) evaluate(ctx context.Context, hosts []store.Host) error {
	batches := make([]store.ResultBatch, 0, len(hosts))
	evaluations := 0
	for _, h := range hosts {
		if sink := e.answerSink(); len(e.policies) == 0 && (sink == nil || !sink.IsConnected(h.ID)) {
			continue // only answers are due, and nobody would get them
		}
		stored, err := e.st.Inventory(ctx, h.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("evaluate host %d: %w", h.ID, err)
		}
		if len(stored.Sections) == 0 {
			continue // nothing reported yet: every expression would be an error
		}
		doc := inventory.Document{CollectedAt: stored.CollectedAt, Sections: stored.Sections, Errors: stored.Errors}
		env := policy.InventoryEnv(doc, platform(h.OS))
		if len(e.mixed) > 0 {
			e.sendAnswers(ctx, h, env, false)
		}
		if len(e.policies) == 0 {
			continue
		}
		rb := store.ResultBatch{HostID: h.ID, Revision: e.rev, Results: make([]policy.Result, 0, len(e.policies))}
		for _, p := range e.policies {
			rb.Results = append(rb.Results, policy.Evaluate(ctx, p, env))
		}
		evaluations += len(rb.Results)
		batches = append(batches, rb)
	}
	if len(batches) == 0 {
		return nil
	}
	ts, err := e.st.ApplyResults(ctx, batches)
	if errors.Is(err, store.ErrNotFound) {
		// A host vanished between the read and the write; the rest of the
		// chunk is retried on its own the next time those hosts change.
		e.cfg.Logger.Warn("policy results not stored: host gone", "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("store policy results: %w", err)
	}
	if e.cfg.Evaluated != nil {
		e.cfg.Evaluated(evaluations, ts)
	}
	return nil
}

// platform maps the OS an agent reports in its hello to a policy
// platform; "" lets the inventory's os section decide.
func platform(os string) string {
	switch os {
	case "linux", "windows", "darwin":
		return os
	}
	return ""
}
