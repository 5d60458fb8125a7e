package store

import (
	"context"
	"time"
)

// HostCount is how many hosts share an OS, platform, OS version and
// online state.
type HostCount struct {
	OS        string
	Platform  string
	OSVersion string
	Online    bool
	Count     int64
}

// VersionCount is how many hosts run one agent version.
type VersionCount struct {
	Version string
	Count   int64
}

// FleetCounts is the fleet summarized for metrics: never a row per host.
type FleetCounts struct {
	Hosts         []HostCount
	AgentVersions []VersionCount
}

// Fleet summarizes hosts for the fleet metrics.
type Fleet interface {
	// FleetCounts counts hosts by OS, platform, OS version and whether
	// their last message came at or after onlineSince, and by agent
	// version, ordered by those fields.
	FleetCounts(ctx context.Context, onlineSince time.Time) (FleetCounts, error)
	// FoldResultCounts compacts the bookkeeping behind Compliance's
	// counts, where a backend keeps any (the fleet metrics loop calls it
	// every cycle). Counts are correct whether or not it runs; it keeps
	// reading them cheap.
	FoldResultCounts(ctx context.Context) error
}
