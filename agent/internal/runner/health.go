package runner

import (
	"math"
	"time"

	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// maxPendingHeartbeats bounds the heartbeats a session waits to see
// acknowledged. The server acks each one after its commit, so a few are
// pending at most; past the bound the oldest is given up on (and counted
// as dropped) rather than letting a server that never acks grow memory.
const maxPendingHeartbeats = 64

// health gathers what the agent reports about itself in heartbeats
// (wire.Health): increments since the previous heartbeat the agent
// created, reset when the next one is built. It lives as long as Run and
// is used only by Run's goroutine: sessions run one after another on it,
// and scans running in the background hand their durations over through
// the session's channels, so it needs no lock.
//
// The increments are kept in memory only: those not yet reported when the
// agent stops are lost, and so are those of a heartbeat the server never
// applies (its connection ended first; it is counted as dropped in the
// next one). Counts saturate at wire.MaxHealthCount so that a report is
// never refused by the server.
type health struct {
	inventoryScans []float64
	policyScans    []float64
	checkErrors    uint64
	dropped        uint64
	reconnects     uint64
	// welcomed is set once a connection of this Run was welcomed: every
	// later welcome is a reconnect.
	welcomed bool
}

// welcome notes a welcomed connection; all but the first of a Run count as
// reconnects.
func (h *health) welcome() {
	if h.welcomed {
		h.reconnects = addCount(h.reconnects, 1)
	}
	h.welcomed = true
}

// inventoryScan notes a completed inventory collection.
func (h *health) inventoryScan(d time.Duration) {
	h.inventoryScans = appendScan(h.inventoryScans, d)
}

// policyScan notes a completed evaluation of a non-empty policy set and
// the checks in it that ended in error.
func (h *health) policyScan(d time.Duration, results []policy.Result) {
	h.policyScans = appendScan(h.policyScans, d)
	n := 0
	for _, r := range results {
		if r.Status == policy.StatusError {
			n++
		}
	}
	h.checkErrors = addCount(h.checkErrors, uint64(n))
}

// drop notes n data messages given up on without an ack.
func (h *health) drop(n int) {
	h.dropped = addCount(h.dropped, uint64(max(n, 0)))
}

// take returns the report for the heartbeat being created, with spooled as
// the level of unacknowledged messages, and starts the next increments
// from zero.
func (h *health) take(spooled int) *wire.Health {
	r := &wire.Health{
		InventoryScanSeconds: h.inventoryScans,
		PolicyScanSeconds:    h.policyScans,
		CheckErrors:          h.checkErrors,
		Dropped:              h.dropped,
		Reconnects:           h.reconnects,
		Spooled:              min(uint64(max(spooled, 0)), wire.MaxHealthCount),
	}
	h.inventoryScans, h.policyScans = nil, nil
	h.checkErrors, h.dropped, h.reconnects = 0, 0, 0
	return r
}

// restore adds back the increments of a report that never left the agent
// (the connection closed before the heartbeat could be queued), so that
// they go out with the next heartbeat instead of being lost. The report's
// scans are older than any noted since, so they go first.
func (h *health) restore(r *wire.Health) {
	h.inventoryScans = keepLatest(append(r.InventoryScanSeconds, h.inventoryScans...))
	h.policyScans = keepLatest(append(r.PolicyScanSeconds, h.policyScans...))
	h.checkErrors = addCount(h.checkErrors, r.CheckErrors)
	h.dropped = addCount(h.dropped, r.Dropped)
	h.reconnects = addCount(h.reconnects, r.Reconnects)
}

// appendScan adds one duration in seconds, rounded to the millisecond (the
// histogram's finest bucket is 10 ms; more digits only cost bytes) and
// clamped to what the server accepts, keeping the most recent
// wire.MaxHealthScans.
func appendScan(list []float64, d time.Duration) []float64 {
	s := math.Round(d.Seconds()*1000) / 1000
	s = min(max(s, 0), wire.MaxScanSeconds)
	return keepLatest(append(list, s))
}

func keepLatest(list []float64) []float64 {
	if n := len(list) - wire.MaxHealthScans; n > 0 {
		// A fresh slice: the caller may still hold the old one.
		return append([]float64(nil), list[n:]...)
	}
	return list
}

// addCount adds and saturates at wire.MaxHealthCount.
func addCount(a, b uint64) uint64 {
	if b > wire.MaxHealthCount || a+b > wire.MaxHealthCount {
		return wire.MaxHealthCount
	}
	return a + b
}
