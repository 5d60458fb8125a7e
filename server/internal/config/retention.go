package config

import (
	"fmt"
	"time"
)

// day is 24 hours; retention periods are written in hours (9600h is 400
// days) because Go durations have no day unit.
const day = 24 * time.Hour

// Retention says how long the history tables keep rows; 0 keeps them
// forever. Older rows are deleted by a background job in small batches.
type Retention struct {
	// Changes is for inventory changes (host_changes), by first_seen.
	Changes time.Duration `yaml:"changes"`
	// Transitions is for policy status changes (result_transitions), by at.
	Transitions time.Duration `yaml:"transitions"`
	// Alerts is for resolved alerts, by resolved_at; their notifications
	// go with them.
	Alerts time.Duration `yaml:"alerts"`
	// Notifications is for outbox rows that were delivered, gave up or
	// were skipped, by created_at. Pending ones are never deleted.
	Notifications time.Duration `yaml:"notifications"`
	// Audit is for the audit log, by at.
	Audit time.Duration `yaml:"audit"`
	// Interval is how often the job runs; default 1h.
	Interval time.Duration `yaml:"interval"`
}

// DefaultRetention returns the retention section's defaults.
func DefaultRetention() Retention {
	return Retention{
		Changes:       400 * day,
		Transitions:   400 * day,
		Alerts:        90 * day,
		Notifications: 90 * day,
		Audit:         400 * day,
		Interval:      time.Hour,
	}
}

// minRetention keeps a typo such as "24m" from emptying a table: no
// history is kept for less than a day.
const minRetention = day

func (c Config) validateRetention() error {
	r := c.Retention
	for _, v := range []struct {
		key string
		d   time.Duration
	}{{"changes", r.Changes}, {"transitions", r.Transitions}, {"alerts", r.Alerts},
		{"notifications", r.Notifications}, {"audit", r.Audit}} {
		if v.d != 0 && v.d < minRetention {
			return fmt.Errorf("retention.%s %v: must be 0 (keep forever) or at least 24h", v.key, v.d)
		}
	}
	if r.Interval < time.Minute {
		return fmt.Errorf("retention.interval %v: must be at least 1m", r.Interval)
	}
	return nil
}
