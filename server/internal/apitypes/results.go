package apitypes

import (
	"time"

	"github.com/steward-project/steward/shared/policy"
)

// ExemptionRef is the exemption that makes a result exempt.
type ExemptionRef struct {
	ID        int64     `json:"id"`
	Reason    string    `json:"reason"`
	Owner     string    `json:"owner"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Result is a host's current result for one policy. Status is "exempt"
// while an exemption applies, and UnderlyingStatus then says what the
// check found. Since is when the host entered the underlying status.
type Result struct {
	HostID           int64         `json:"host_id"`
	Hostname         string        `json:"hostname"`
	PolicyID         string        `json:"policy_id"`
	Status           policy.Status `json:"status"`
	UnderlyingStatus policy.Status `json:"underlying_status,omitempty"`
	Since            time.Time     `json:"since"`
	CheckedAt        time.Time     `json:"checked_at"`
	// LastCheckedAt is when the result was last confirmed: CheckedAt is
	// when the agent last reported it changed, and agents report when
	// every later evaluation ran.
	LastCheckedAt time.Time         `json:"last_checked_at"`
	DurationNS    int64             `json:"duration_ns"`
	Evidence      []policy.Evidence `json:"evidence"`
	// Parameters are the parameter values the check was evaluated with
	// (absent when the policy declares none). The server keeps at most
	// 64 entries and 4 KiB; a cut set has an entry "..." saying how many
	// were left out.
	Parameters     map[string]string `json:"parameters,omitempty"`
	Error          string            `json:"error,omitempty"`
	PolicyRevision int64             `json:"policy_revision"`
	Exemption      *ExemptionRef     `json:"exemption,omitempty"`
}

// ResultList is one page of a policy's results, by host id.
type ResultList struct {
	PolicyID   string   `json:"policy_id"`
	Results    []Result `json:"results"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// Transition is a change of a host's status for a policy; From is absent
// for the host's first result.
type Transition struct {
	ID       int64             `json:"id"`
	HostID   int64             `json:"host_id"`
	PolicyID string            `json:"policy_id"`
	From     policy.Status     `json:"from_status,omitempty"`
	To       policy.Status     `json:"to_status"`
	At       time.Time         `json:"at"`
	Evidence []policy.Evidence `json:"evidence"`
	// Parameters are those of the result that made the change, as in
	// Result.
	Parameters map[string]string `json:"parameters,omitempty"`
}

// TransitionList is one page of status changes, newest first.
type TransitionList struct {
	Transitions []Transition `json:"transitions"`
	NextCursor  string       `json:"next_cursor,omitempty"`
}

// HostPolicy is one policy of the set as it stands on one host. Status
// and the result fields are absent while the host has no result for it.
type HostPolicy struct {
	PolicyID         string            `json:"policy_id"`
	Title            string            `json:"title"`
	Severity         string            `json:"severity"`
	Status           policy.Status     `json:"status,omitempty"`
	UnderlyingStatus policy.Status     `json:"underlying_status,omitempty"`
	Since            time.Time         `json:"since,omitzero"`
	CheckedAt        time.Time         `json:"checked_at,omitzero"`
	LastCheckedAt    time.Time         `json:"last_checked_at,omitzero"`
	Evidence         []policy.Evidence `json:"evidence,omitempty"`
	Parameters       map[string]string `json:"parameters,omitempty"` // as in Result
	Error            string            `json:"error,omitempty"`
	Exemption        *ExemptionRef     `json:"exemption,omitempty"`
}

// HostPolicies is every policy of the set on one host, by policy id. It
// is not paged: its length is the policy set's.
type HostPolicies struct {
	HostID   int64        `json:"host_id"`
	Revision int64        `json:"revision"`
	Policies []HostPolicy `json:"policies"`
}

// PolicyCompliance is one policy's line of the compliance summary.
type PolicyCompliance struct {
	PolicyID string `json:"policy_id"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	PolicyCounts
}

// Compliance is the fleet's compliance: each policy of the set (by id)
// with its counts, and the counts summed over every policy.
type Compliance struct {
	Revision int64              `json:"revision"`
	Policies []PolicyCompliance `json:"policies"`
	Totals   PolicyCounts       `json:"totals"`
}
