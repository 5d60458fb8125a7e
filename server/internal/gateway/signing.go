package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// SigningStore is what the gateway needs for signed policy sets: the
// signature recorded with the set, and each host's refusal as its agent
// reports it. Config.Policies may implement it (the server's store does);
// without it sets go to agents unsigned and refusals are not recorded.
type SigningStore interface {
	PolicySignature(ctx context.Context) (store.PolicySignature, error)
	// PolicyRefusals reads the stored refusals of many hosts at once:
	// the first heartbeats of a reconnecting fleet read theirs together
	// (gatherer). Hosts that do not exist are left out.
	PolicyRefusals(ctx context.Context, hostIDs []int64) (map[int64]*store.PolicyRefusal, error)
	SetPolicyRefusal(ctx context.Context, hostID int64, r *store.PolicyRefusal) error
}

// readPolicySet reads the set agents receive and, when the admin signed
// the set at its current revision, the signature. The revision is read
// before and after: every change moves it in the same transaction as the
// policies, so equal readings mean the policies and signature read in
// between belong to that revision. A set that keeps changing is sent
// without a signature; the change that moved it reloads it again.
func (g *Gateway) readPolicySet(ctx context.Context) (wire.PolicySet, error) {
	st := g.cfg.Policies
	var set wire.PolicySet
	for attempt := 0; ; attempt++ {
		rev, err := st.PolicyRevision(ctx)
		if err != nil {
			return set, fmt.Errorf("policy revision: %w", err)
		}
		stored, err := st.ListPolicies(ctx, "", 0)
		if err != nil {
			return set, fmt.Errorf("list policies: %w", err)
		}
		var sig *store.PolicySignature
		if ss, ok := st.(SigningStore); ok {
			s, err := ss.PolicySignature(ctx)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return set, fmt.Errorf("policy signature: %w", err)
			default:
				sig = &s
			}
		}
		tailorings, err := g.readTailorings(ctx)
		if err != nil {
			return set, err
		}
		after, err := st.PolicyRevision(ctx)
		if err != nil {
			return set, fmt.Errorf("policy revision: %w", err)
		}
		set = wire.PolicySet{Revision: uint64(rev), Policies: []policy.Policy{}, Tailorings: tailorings}
		for _, sp := range stored {
			if !sp.ExprOnly {
				set.Policies = append(set.Policies, sp.Policy)
			}
		}
		if after != rev && attempt < 2 {
			continue
		}
		if after == rev && sig != nil && sig.Revision == rev {
			set.Signature = &sig.Signature
		}
		return set, nil
	}
}

// refusalState is what a connection knows of its host's stored refusal,
// so that only a change is written.
type refusalState struct {
	known bool
	cur   *store.PolicyRefusal
}

// heartbeatRefusal checks a heartbeat's policy refusal (nil: the agent
// refuses no set) and returns it as the store keeps it. A malformed
// refusal makes the heartbeat malformed.
func heartbeatRefusal(r *wire.PolicyRefusal) (*store.PolicyRefusal, error) {
	if r == nil {
		return nil, nil
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &store.PolicyRefusal{Revision: int64(r.Revision), Code: r.Code, Reason: r.Reason, At: r.At.UTC().Truncate(time.Microsecond)}, nil
}

// refusalRecorded says whether next, a heartbeat's refusal, is what the
// connection knows to be stored, so that nothing is to be done: nearly
// every heartbeat repeats it, which costs a comparison. When it says no,
// recordRefusal needs the database, which a read loop must not wait on
// (submit hands the heartbeat to a goroutine then).
func (c *conn) refusalRecorded(next *store.PolicyRefusal) bool {
	if c.g.refusalReads == nil { // no SigningStore: refusals are not kept
		return true
	}
	return c.refusal.known && sameRefusal(c.refusal.cur, next)
}

// recordRefusal records next, a heartbeat's refusal, for which
// refusalRecorded said no: the first heartbeat of a connection reads what
// is stored, and a change is written. A store failure is logged and tried
// again with the next heartbeat.
func (c *conn) recordRefusal(next *store.PolicyRefusal) {
	ss := c.g.cfg.Policies.(SigningStore)
	log := c.g.cfg.Logger.With("host_id", c.host.ID)
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	if !c.refusal.known {
		cur, err := c.g.refusalReads.call(ctx, c.host.ID)
		if err != nil {
			log.Warn("read policy refusal", "err", err)
			return
		}
		c.refusal = refusalState{known: true, cur: cur}
	}
	if sameRefusal(c.refusal.cur, next) {
		return
	}
	if err := ss.SetPolicyRefusal(ctx, c.host.ID, next); err != nil {
		log.Warn("record policy refusal", "err", err)
		c.refusal.known = false
		return
	}
	c.refusal.cur = next
	if next != nil {
		log.Warn("agent refuses the policy set and keeps its previous one",
			"revision", next.Revision, "code", next.Code, "reason", next.Reason)
	} else {
		log.Info("agent accepted a policy set; its refusal is cleared")
	}
}

// sameRefusal compares refusals by what identifies one: the revision,
// the code and the time (the stored reason may be shortened).
func sameRefusal(a, b *store.PolicyRefusal) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Revision == b.Revision && a.Code == b.Code && a.At.Equal(b.At)
}
