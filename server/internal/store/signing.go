package store

import (
	"context"
	"time"

	"github.com/steward-project/steward/shared/policysign"
)

// PolicySignature is the admin's signature recorded with the policy set
// at Revision. It covers the set only while the set is still at that
// revision: any later apply or delete leaves the set unsigned.
type PolicySignature struct {
	Revision  int64
	Signature policysign.Signature
}

// PolicyRefusal is an agent's report that it refuses the policy set at
// Revision (see wire.PolicyRefusal).
type PolicyRefusal struct {
	Revision int64     `json:"revision"`
	Code     string    `json:"code"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// PolicySigning keeps the signature of the current policy set (written by
// ApplyPolicies with PolicyApply.Signature) and each host's current
// refusal.
type PolicySigning interface {
	// PolicySignature returns the newest recorded signature;
	// ErrNotFound when no set was ever signed.
	PolicySignature(ctx context.Context) (PolicySignature, error)
	// PolicyRefusal returns the host's current refusal, nil when it has
	// none; ErrNotFound for an unknown host.
	PolicyRefusal(ctx context.Context, hostID int64) (*PolicyRefusal, error)
	// PolicyRefusals is PolicyRefusal for many hosts in one statement:
	// each host of hostIDs that exists is in the map, with nil when it
	// has no refusal; an unknown host is absent.
	PolicyRefusals(ctx context.Context, hostIDs []int64) (map[int64]*PolicyRefusal, error)
	// SetPolicyRefusal records the host's current refusal, replacing the
	// previous one; nil clears it. ErrNotFound for an unknown host.
	SetPolicyRefusal(ctx context.Context, hostID int64, r *PolicyRefusal) error
}
