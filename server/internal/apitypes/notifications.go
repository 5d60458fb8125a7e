package apitypes

import "time"

// Notification is one outbox row: one event of one alert for one
// receiver. It names the receiver only; nothing of its configuration
// (URLs, keys, passwords) is stored with it or shown.
type Notification struct {
	ID       int64  `json:"id"`
	AlertID  int64  `json:"alert_id"`
	Receiver string `json:"receiver"`
	Event    string `json:"event"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// At is when the event happened: the alert's start, ack or resolve.
	At            time.Time `json:"at"`
	CreatedAt     time.Time `json:"created_at"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	SentAt        time.Time `json:"sent_at,omitzero"`
	LastStatus    int       `json:"last_status,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
}

// NotificationList is one page of outbox rows, newest first.
type NotificationList struct {
	Notifications []Notification `json:"notifications"`
	NextCursor    string         `json:"next_cursor,omitempty"`
}
