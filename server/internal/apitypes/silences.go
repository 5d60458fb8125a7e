package apitypes

import (
	"encoding/json"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/match"
)

// Silence states: pending until it starts, active until it ends or is
// expired, then expired.
const (
	SilencePending = "pending"
	SilenceActive  = "active"
	SilenceExpired = "expired"
)

// Silence is a silence as the API shows it.
type Silence struct {
	ID        int64           `json:"id"`
	Matchers  []match.Matcher `json:"matchers"`
	Comment   string          `json:"comment"`
	CreatedBy string          `json:"created_by"`
	CreatedAt time.Time       `json:"created_at"`
	StartsAt  time.Time       `json:"starts_at"`
	EndsAt    time.Time       `json:"ends_at"`
	ExpiredAt time.Time       `json:"expired_at,omitzero"`
	ExpiredBy string          `json:"expired_by,omitempty"`
	State     string          `json:"state"`
}

// SilenceList is one page of silences, newest first.
type SilenceList struct {
	Silences   []Silence `json:"silences"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// NewSilence is the body of POST /silences. Each matcher is a string
// ("rule=host-offline", "hostname=~db-.*") or an object {name, op,
// value}. Exactly one of EndsAt and Duration is given; StartsAt defaults
// to now.
type NewSilence struct {
	Matchers []json.RawMessage `json:"matchers"`
	Comment  string            `json:"comment"`
	StartsAt time.Time         `json:"starts_at,omitzero"`
	EndsAt   time.Time         `json:"ends_at,omitzero"`
	// Duration is a Go duration ("90m", "2h") or whole days ("7d").
	Duration string `json:"duration,omitempty"`
}
