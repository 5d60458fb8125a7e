package apitypes

import (
	"encoding/json"
	"time"
)

// Change is one recorded inventory change. OldValue is empty for
// something that appeared, NewValue for something that went; Details,
// when present, is a JSON object that depends on Kind.
type Change struct {
	ID        int64           `json:"id"`
	HostID    int64           `json:"host_id"`
	Kind      string          `json:"kind"`
	Subject   string          `json:"subject"`
	OldValue  string          `json:"old_value"`
	NewValue  string          `json:"new_value"`
	Details   json.RawMessage `json:"details,omitempty"`
	FirstSeen time.Time       `json:"first_seen"`
	Seq       uint64          `json:"seq"`
}

// ChangeList is one page of changes, newest first. NextCursor is absent on
// the last page.
type ChangeList struct {
	Changes    []Change `json:"changes"`
	NextCursor string   `json:"next_cursor,omitempty"`
}
