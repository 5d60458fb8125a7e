package gateway

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// PolicyStore is what the gateway needs to hand agents their policy set
// and to record the results they send back.
type PolicyStore interface {
	PolicyRevision(ctx context.Context) (int64, error)
	ListPolicies(ctx context.Context, afterID string, limit int) ([]store.StoredPolicy, error)
	ApplyResults(ctx context.Context, batches []store.ResultBatch) ([]store.Transition, error)
}

// policySet is the encoded policy_set frame for the current revision.
// Expr-only policies are left out: the server evaluates those itself
// against stored inventory, so agents never report them twice.
type policySet struct {
	mu       sync.Mutex
	revision int64
	frame    []byte
	loaded   bool
	// labelled holds the live connections whose agents take labels
	// messages (labels.go).
	labelled map[*conn]bool
}

func (g *Gateway) loadPolicySetLocked(ctx context.Context) error {
	set, err := g.readPolicySet(ctx)
	if err != nil {
		return err
	}
	frame, err := wire.Encode(wire.TypePolicySet, 0, set)
	if err != nil {
		return err
	}
	g.policies.revision, g.policies.frame, g.policies.loaded = int64(set.Revision), frame, true
	return nil
}

// PoliciesChanged reloads the policy set and sends it to every connected
// agent. The API calls it after an apply or delete. The lock is held while
// sending (sends only queue), so two quick changes cannot reach an agent
// in the wrong order.
func (g *Gateway) PoliciesChanged(ctx context.Context) {
	if g.cfg.Policies == nil {
		return
	}
	ps := &g.policies
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if err := g.loadPolicySetLocked(ctx); err != nil {
		// Agents get the set when they next connect; the set on the
		// server is what matters and it is committed.
		g.cfg.Logger.Error("reload policy set for agents", "err", err)
		ps.loaded = false
		return
	}
	g.mu.Lock()
	conns := make([]*conn, 0, len(g.conns))
	for _, c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		c.send(ps.frame)
	}
	g.cfg.Logger.Info("policy set sent to agents", "revision", ps.revision, "agents", len(conns))
}

// welcome makes c the host's live connection, then queues the welcome and
// the policy set when the agent holds another revision. Registering first
// means the host counts as connected before the agent can see its
// welcome; holding the policy lock across all three means a policy change
// is either in the set sent here or broadcast to c afterwards, and never
// reaches the agent before its welcome.
//
// The welcome also carries the host's labels, read under the same lock,
// so that a label change is either in it or pushed to c afterwards when
// its agent takes labels messages (takesLabels, from its hello).
func (c *conn) welcome(welcome []byte, agentRevision uint64, takesLabels bool) error {
	if c.g.cfg.Policies == nil {
		c.g.attach(c)
		c.send(welcome)
		return nil
	}
	ps := &c.g.policies
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	if !ps.loaded {
		if err := c.g.loadPolicySetLocked(ctx); err != nil {
			return err
		}
	}
	welcome, err := c.welcomeWithLabels(ctx, welcome)
	if err != nil {
		return err
	}
	c.g.attach(c)
	if takesLabels {
		ps.takeLabels(c)
	}
	c.send(welcome)
	if uint64(ps.revision) != agentRevision {
		c.send(ps.frame)
	}
	c.g.connected(c)
	return nil
}

// validateResults checks what an agent may report: statuses an agent can
// produce (exempt is the server's), policy ids present, evidence within
// the evaluator's caps.
func validateResults(r *wire.Results) error {
	for i, res := range r.Results {
		if res.PolicyID == "" {
			return fmt.Errorf("%w: result %d without policy_id", wire.ErrMalformed, i)
		}
		switch res.Status {
		case policy.StatusPass, policy.StatusFail, policy.StatusNotApplicable, policy.StatusError:
		default:
			return fmt.Errorf("%w: result for %s has status %q", wire.ErrMalformed, res.PolicyID, res.Status)
		}
		size := len(res.Error)
		for _, e := range res.Evidence {
			size += len(e.Check) + len(e.Detail)
		}
		if size > 4*policy.MaxEvidenceBytes {
			return fmt.Errorf("%w: evidence for %s is %d bytes", wire.ErrMalformed, res.PolicyID, size)
		}
	}
	return nil
}

// applyResults commits one results message and returns once it is
// committed, sharing a transaction with other connections' results that
// arrive at the same time (a policy pushed to every agent).
func (c *conn) applyResults(seq uint64, r *wire.Results) error {
	// An agent whose clock runs ahead must not pin "last checked" in the
	// future: the time the message arrived bounds it.
	evaluated := r.EvaluatedAt
	if now := time.Now(); evaluated.After(now) {
		evaluated = now
	}
	err := c.g.results.apply(store.ResultBatch{
		HostID: c.host.ID, Revision: int64(r.Revision), Results: r.Results, Removed: r.Removed,
		EvaluatedAt: evaluated,
	})
	if err != nil {
		return err
	}
	c.sendAck(seq, false)
	return nil
}

// CheckNow asks hostID's agent to evaluate its policies at once and
// reports whether the host has a live connection here.
func (g *Gateway) CheckNow(hostID int64) bool {
	g.mu.Lock()
	c := g.conns[hostID]
	g.mu.Unlock()
	if c == nil {
		return false
	}
	frame, _ := wire.Encode(wire.TypeCheckNow, 0, wire.CheckNow{})
	c.send(frame)
	return true
}
