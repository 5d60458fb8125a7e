package gateway

import (
	"context"
	"fmt"
	"maps"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// TailoringStore is what the gateway needs to send the server-side
// tailorings with the policy set. Config.Policies may implement it (the
// server's store does); without it sets go out without tailorings.
type TailoringStore interface {
	ListTailorings(ctx context.Context) ([]store.StoredTailoring, error)
}

// LabelStore is what the gateway needs to tell an agent its host's
// labels in the welcome: the labels of many hosts at once, since a
// reconnecting fleet's welcomes read theirs together (gatherer). Hosts
// that do not exist are left out. Config.Policies may implement it (the
// server's store does); without it welcomes carry no labels.
type LabelStore interface {
	HostsLabels(ctx context.Context, hostIDs []int64) (map[int64]map[string]string, error)
}

// readTailorings reads the tailorings agents receive, in the order they
// apply.
func (g *Gateway) readTailorings(ctx context.Context) ([]policy.LabelTailoring, error) {
	ts, ok := g.cfg.Policies.(TailoringStore)
	if !ok {
		return nil, nil
	}
	stored, err := ts.ListTailorings(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tailorings: %w", err)
	}
	if len(stored) == 0 {
		return nil, nil
	}
	out := make([]policy.LabelTailoring, len(stored))
	for i, t := range stored {
		out[i] = t.Tailoring
	}
	policy.SortTailorings(out) // the store's order already; the wire's promise does not depend on it
	return out, nil
}

// hostLabels reads the labels of c's host; nil when the store keeps no
// labels.
func (c *conn) hostLabels(ctx context.Context) (map[string]string, error) {
	if c.g.labelReads == nil {
		return nil, nil
	}
	labels, err := c.g.labelReads.call(ctx, c.host.ID)
	if err != nil {
		return nil, fmt.Errorf("host labels: %w", err)
	}
	return labels, nil
}

// withLabels returns the welcome frame with labels added. The caller
// holds the label lock (policySet.mu) and read labels after the last
// label change it saw, so a change committed later is pushed to the
// connection afterwards (HostLabelsChanged takes the same lock).
func withLabels(frame []byte, labels map[string]string) ([]byte, error) {
	if len(labels) == 0 {
		return frame, nil
	}
	env, err := wire.Decode(frame)
	if err != nil {
		return nil, err
	}
	var w wire.Welcome
	if err := wire.DecodePayload(env, &w); err != nil {
		return nil, err
	}
	w.Labels = labels
	return wire.Encode(wire.TypeWelcome, 0, w)
}

// takeLabels records that c's agent takes labels messages, until c is
// torn down. The caller holds ps.mu.
func (ps *policySet) takeLabels(c *conn) {
	if ps.labelled == nil {
		ps.labelled = map[*conn]bool{}
	}
	ps.labelled[c] = true
	context.AfterFunc(c.ctx, func() {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		delete(ps.labelled, c)
	})
}

// HostLabelsChanged tells hostID's agent, when it is connected here and
// takes labels messages, the labels an admin just gave its host, so that
// it picks the tailorings that now select it. Older agents, which would
// close on a message they do not know, are sent nothing: they ignore
// tailorings anyway. The API calls it after the labels are committed.
func (g *Gateway) HostLabelsChanged(hostID int64, labels map[string]string) {
	ps := &g.policies
	// Under the label lock, a connection is either welcomed with labels
	// read after the change or attached before this looks for it.
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.labelChanges++
	g.mu.Lock()
	c := g.conns[hostID]
	g.mu.Unlock()
	if c == nil || !ps.labelled[c] {
		return
	}
	l := maps.Clone(labels)
	if l == nil {
		l = map[string]string{}
	}
	frame, err := wire.Encode(wire.TypeLabels, 0, wire.Labels{Labels: l})
	if err != nil {
		g.cfg.Logger.Error("encode labels", "host_id", hostID, "err", err)
		return
	}
	c.send(frame)
}
