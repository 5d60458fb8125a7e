package apitypes

import (
	"encoding/json"
	"time"

	"github.com/steward-project/steward/shared/policysign"
)

// PolicySetReplace is the body of PUT /policies: the whole policy set, as
// a policy file's "policies" list, and optionally the admin's signature
// over the policies agents evaluate (see docs/policies.md).
type PolicySetReplace struct {
	Policies  json.RawMessage       `json:"policies"`
	Signature *policysign.Signature `json:"signature,omitempty"`
}

// SignatureInfo describes the signature of the current policy set: the
// key that made it, its serial and when it was made and expires.
type SignatureInfo struct {
	KeyID     string    `json:"key_id"`
	Serial    uint64    `json:"serial"`
	SignedAt  time.Time `json:"signed_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// PolicyRefusal is a host's agent's refusal of the policy set at
// Revision, as the agent reported it.
type PolicyRefusal struct {
	Revision int64     `json:"revision"`
	Code     string    `json:"code"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}
