package gateway

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

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

// policySet is what the gateway knows of the policy set agents receive:
// the encoded frame of the latest revision read (published, readable
// without a lock), the reload that keeps it current (broadcast.go) and
// the connections that take labels messages.
type policySet struct {
	// mu orders welcomes against label changes (labels.go); policy
	// changes never take it.
	mu sync.Mutex
	// labelled holds the live connections whose agents take labels
	// messages (labels.go).
	labelled map[*conn]bool
	// labelChanges counts HostLabelsChanged calls, so that a welcome
	// which read its host's labels without holding mu (a database read
	// per connection must not queue every connecting agent behind the
	// others) knows whether a change may have slipped in meanwhile.
	labelChanges uint64

	// current is the latest set read, nil until the first read ends.
	current atomic.Pointer[encodedSet]
	reload  reloader
}

// encodedSet is one revision's policy_set frame, encoded once for every
// agent. Expr-only policies are left out: the server evaluates those
// itself against stored inventory, so agents never report them twice.
type encodedSet struct {
	revision int64
	frame    []byte
	// prepared is frame as the writers send it, compressed once for all
	// connections rather than by each.
	prepared *websocket.PreparedMessage
}

// encodePolicySet reads the set as it is now and encodes its frame.
func (g *Gateway) encodePolicySet(ctx context.Context) (*encodedSet, error) {
	set, err := g.readPolicySet(ctx)
	if err != nil {
		return nil, err
	}
	frame, err := wire.Encode(wire.TypePolicySet, 0, set)
	if err != nil {
		return nil, fmt.Errorf("encode policy set: %w", err)
	}
	prepared, err := websocket.NewPreparedMessage(websocket.TextMessage, frame)
	if err != nil {
		return nil, fmt.Errorf("prepare policy set: %w", err)
	}
	return &encodedSet{revision: int64(set.Revision), frame: frame, prepared: prepared}, nil
}

// PoliciesChanged has the policy set read again and sent to every
// connected agent, and returns at once: the read and the sends happen on
// the gateway's reload goroutine (broadcast.go), which folds changes that
// arrive meanwhile into one more read. The API calls it after an apply or
// delete; ctx is not used, since the work outlives the caller.
func (g *Gateway) PoliciesChanged(ctx context.Context) {
	if g.cfg.Policies == nil {
		return
	}
	g.requestReload()
}

// welcome makes c the host's live connection, then queues the welcome and
// the policy set when the agent holds another revision.
//
// Registering first means the host counts as connected before the agent
// can see its welcome. c's policy lock, held from before it is registered
// until the set is queued, keeps a broadcast from reaching the agent
// before its welcome; the broadcast publishes its set before it looks for
// connections, so a connection registered too late to be found reads
// that set (or a newer one) here. A change is therefore either in the set
// sent here or broadcast to c afterwards, and c's last sent revision
// keeps an older set from following a newer one.
//
// The welcome also carries the host's labels, read under the policy set's
// label lock, so that a label change is either in it or pushed to c
// afterwards when its agent takes labels messages (takesLabels, from its
// hello).
func (c *conn) welcome(welcome []byte, agentRevision uint64, takesLabels bool) error {
	if c.g.cfg.Policies == nil {
		c.g.attach(c)
		c.send(welcome)
		return nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	if _, err := c.g.firstPolicySet(ctx); err != nil {
		return err
	}
	ps := &c.g.policies
	ps.mu.Lock()
	seen := ps.labelChanges
	ps.mu.Unlock()
	labels, err := c.hostLabels(ctx)
	if err != nil {
		return err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.labelChanges != seen {
		// Some host's labels changed while these were read: read them
		// again under the lock, which orders this welcome against the
		// change's push.
		if labels, err = c.hostLabels(ctx); err != nil {
			return err
		}
	}
	if welcome, err = withLabels(welcome, labels); err != nil {
		return err
	}
	c.policy.mu.Lock()
	c.g.attach(c)
	if takesLabels {
		ps.takeLabels(c)
	}
	c.send(welcome)
	set := ps.current.Load()
	if uint64(set.revision) != agentRevision {
		c.sendPolicySet(set, nil)
	}
	c.policy.sent, c.policy.welcomed = set.revision, true
	c.policy.mu.Unlock()
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
	c.sendAck(seq, false, false)
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
