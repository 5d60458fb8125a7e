package apitypes

import "time"

// Alert is one alert episode as the API shows it. DedupKey is the
// identity every notification about it carries.
type Alert struct {
	ID          int64             `json:"id"`
	DedupKey    string            `json:"dedup_key"`
	Rule        string            `json:"rule"`
	HostID      int64             `json:"host_id"`
	Subject     string            `json:"subject"`
	Severity    string            `json:"severity"`
	State       string            `json:"state"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartedAt   time.Time         `json:"started_at"`
	AckedAt     time.Time         `json:"acked_at,omitzero"`
	AckedBy     string            `json:"acked_by,omitempty"`
	AckComment  string            `json:"ack_comment,omitempty"`
	ResolvedAt  time.Time         `json:"resolved_at,omitzero"`
	Muted       bool              `json:"muted"`
	Notified    bool              `json:"notified"`
}

// AlertList is one page of alerts, newest first.
type AlertList struct {
	Alerts     []Alert `json:"alerts"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// AlertDetail is one alert with every notification about it, oldest
// first.
type AlertDetail struct {
	Alert
	Notifications []Notification `json:"notifications"`
}

// AlertAck is the optional body of POST /alerts/{id}/ack.
type AlertAck struct {
	Comment string `json:"comment,omitempty"`
}
