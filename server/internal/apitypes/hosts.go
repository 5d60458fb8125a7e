package apitypes

import (
	"encoding/json"
	"time"
)

// Host is one host as the API shows it. LastSeen is absent for a host that
// never connected.
type Host struct {
	ID           int64     `json:"id"`
	Hostname     string    `json:"hostname"`
	OS           string    `json:"os"`
	Platform     string    `json:"platform"`
	OSVersion    string    `json:"os_version"`
	Arch         string    `json:"arch"`
	AgentVersion string    `json:"agent_version"`
	Online       bool      `json:"online"`
	LastSeen     time.Time `json:"last_seen,omitzero"`
	EnrolledAt   time.Time `json:"enrolled_at"`
	// HardwareUUID, MachineID and Serial are absent when the host reported
	// none or a firmware placeholder.
	HardwareUUID string `json:"hardware_uuid,omitempty"`
	MachineID    string `json:"machine_id,omitempty"`
	Serial       string `json:"serial,omitempty"`
	// PossibleDuplicates names other hosts reporting the same hardware
	// UUID or machine id (cloned machines); absent when there are none.
	PossibleDuplicates []int64 `json:"possible_duplicates,omitempty"`
	// RetiredAt is when an admin retired the host; absent for a live one.
	RetiredAt time.Time `json:"retired_at,omitzero"`
	// PoliciesCheckedAt is when the host's agent last finished evaluating
	// its policy set; absent until it reports one.
	PoliciesCheckedAt time.Time `json:"policies_checked_at,omitzero"`
	// PolicyRefusal is set, in GET /hosts/{id} only, while the host's
	// agent refuses the newest policy set it was sent (a signed-set check
	// or validation failed) and keeps evaluating the one before.
	PolicyRefusal *PolicyRefusal `json:"policy_refusal,omitempty"`
}

// HostList is one page of hosts. NextCursor is absent on the last page.
type HostList struct {
	Hosts      []Host `json:"hosts"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Inventory is a host's current inventory: each section's raw JSON as the
// agent sent it, its hash, and why a section is missing where known.
// CollectedAt is absent until the host sent its first inventory.
type Inventory struct {
	HostID      int64                      `json:"host_id"`
	CollectedAt time.Time                  `json:"collected_at,omitzero"`
	Sections    map[string]json.RawMessage `json:"sections"`
	Hashes      map[string]string          `json:"hashes"`
	Errors      map[string]string          `json:"errors"`
}
