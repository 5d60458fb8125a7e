package apitypes

import (
	"encoding/json"
	"time"
)

// Exemption is an exemption as the API shows it. Active is whether it
// applies now: not revoked and not expired.
type Exemption struct {
	ID        int64             `json:"id"`
	PolicyID  string            `json:"policy_id"`
	HostID    int64             `json:"host_id,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Reason    string            `json:"reason"`
	Owner     string            `json:"owner"`
	ExpiresAt time.Time         `json:"expires_at"`
	CreatedAt time.Time         `json:"created_at"`
	CreatedBy string            `json:"created_by"`
	RevokedAt time.Time         `json:"revoked_at,omitzero"`
	RevokedBy string            `json:"revoked_by,omitempty"`
	Active    bool              `json:"active"`
}

// ExemptionList is one page of exemptions, by id.
type ExemptionList struct {
	Exemptions []Exemption `json:"exemptions"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// NewExemption is the body of POST /exemptions: a host id or labels.
type NewExemption struct {
	PolicyID  string            `json:"policy_id"`
	HostID    int64             `json:"host_id,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Reason    string            `json:"reason"`
	Owner     string            `json:"owner"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// Labels is the body of PUT and the answer of GET /hosts/{id}/labels.
type Labels struct {
	HostID int64             `json:"host_id,omitempty"`
	Labels map[string]string `json:"labels"`
}

// AuditEntry is one audited change; Detail depends on Action.
type AuditEntry struct {
	ID      int64           `json:"id"`
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Subject string          `json:"subject"`
	Detail  json.RawMessage `json:"detail"`
}

// AuditList is one page of the audit log, newest first.
type AuditList struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor,omitempty"`
}
