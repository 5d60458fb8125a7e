package config

import (
	"fmt"
	"time"
)

// Ingest bounds the agent data the server holds before it is committed,
// and how long a commit may take.
type Ingest struct {
	// QueueMiB bounds the agent messages queued for commit, all agents
	// together; past it the server stops reading from agents until
	// commits free room.
	QueueMiB int `yaml:"queue_mib"`
	// BatchMiB bounds the messages of one transaction.
	BatchMiB int `yaml:"batch_mib"`
	// CommitDelay is how long a batch writer that found no more queued
	// messages waits for some before committing (group commit); 0
	// commits at once.
	CommitDelay time.Duration `yaml:"commit_delay"`
	// CommitTimeout bounds one transaction; one that runs out counts as
	// the database being unavailable.
	CommitTimeout time.Duration `yaml:"commit_timeout"`
	// WindowMessages and WindowMiB bound what one agent connection may
	// have in flight (read and not yet committed); past them the server
	// stops reading from that agent until its commits free room.
	WindowMessages int `yaml:"window_messages"`
	WindowMiB      int `yaml:"window_mib"`
	// WindowWait is how long an agent's window may stay full before its
	// connection is closed.
	WindowWait time.Duration `yaml:"window_wait"`
	// ShutdownTimeout bounds a graceful stop: closing connections and
	// committing what is queued. What is not committed by then is not
	// acknowledged, so agents send it again.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// DefaultIngest returns the ingest section's defaults.
func DefaultIngest() Ingest {
	return Ingest{
		QueueMiB:        256,
		BatchMiB:        16,
		CommitDelay:     10 * time.Millisecond,
		CommitTimeout:   30 * time.Second,
		WindowMessages:  64,
		WindowMiB:       16,
		WindowWait:      time.Minute,
		ShutdownTimeout: 15 * time.Second,
	}
}

func (c Config) validateIngest() error {
	in := c.Ingest
	for _, v := range []struct {
		key string
		n   int
	}{{"queue_mib", in.QueueMiB}, {"batch_mib", in.BatchMiB}, {"window_messages", in.WindowMessages}, {"window_mib", in.WindowMiB}} {
		if v.n < 1 {
			return fmt.Errorf("ingest.%s %d: must be at least 1", v.key, v.n)
		}
	}
	for _, v := range []struct {
		key string
		d   time.Duration
	}{{"commit_timeout", in.CommitTimeout}, {"window_wait", in.WindowWait}, {"shutdown_timeout", in.ShutdownTimeout}} {
		if v.d < time.Second {
			return fmt.Errorf("ingest.%s %v: must be at least 1s", v.key, v.d)
		}
	}
	if in.CommitDelay < 0 || in.CommitDelay > time.Second {
		return fmt.Errorf("ingest.commit_delay %v: must be between 0 and 1s", in.CommitDelay)
	}
	if in.BatchMiB > in.QueueMiB {
		return fmt.Errorf("ingest.batch_mib %d: must not exceed queue_mib %d", in.BatchMiB, in.QueueMiB)
	}
	return nil
}
