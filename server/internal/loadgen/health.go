package loadgen

import (
	"math"
	"math/rand/v2"

	"github.com/steward-project/steward/shared/wire"
)

// Simulated scan durations: log-normal, so most scans take about the
// median and a few take several times longer, as on a real fleet.
const (
	// simInventoryMedian and simPolicyMedian are the median durations in
	// seconds of a simulated inventory collection and policy evaluation.
	simInventoryMedian = 2.0
	simPolicyMedian    = 0.3
	// simSpread is the log-normal's sigma: about one scan in six takes
	// more than 1.6 times the median.
	simSpread = 0.5
	// simCheckErrorRate is the chance that a simulated evaluation has one
	// check ending in error.
	simCheckErrorRate = 0.05
)

// simHealth is the health block a simulated agent puts in its heartbeats,
// built the way the agent builds its own: increments since the previous
// heartbeat, reset when the next one is created. Only the agent's writer
// goroutine uses it.
//
// Scans are simulated (the load generator collects and evaluates
// nothing): every inventory the agent sends stands for one collection and
// one evaluation after it, as the agent evaluates after each collection,
// and every results message for one evaluation. Their durations are drawn
// at random, and each evaluation has one check in error with a small
// probability. Drops and the spool depth are real: messages skipped
// because maxPending were unacknowledged, and the unacknowledged messages
// when the heartbeat is created. Simulated agents never reconnect, so they
// report no reconnects.
type simHealth struct {
	inventoryScans []float64
	policyScans    []float64
	checkErrors    uint64
	dropped        uint64
}

// inventorySent notes the simulated collection (and the evaluation after
// it) behind an inventory message.
func (h *simHealth) inventorySent() {
	h.inventoryScans = addScan(h.inventoryScans, simInventoryMedian)
	h.evaluated()
}

// evaluated notes one simulated policy evaluation.
func (h *simHealth) evaluated() {
	h.policyScans = addScan(h.policyScans, simPolicyMedian)
	if rand.Float64() < simCheckErrorRate {
		h.checkErrors++
	}
}

// skipped notes a message dropped because too many were unacknowledged.
func (h *simHealth) skipped() { h.dropped++ }

// take returns the report for a heartbeat, with spooled unacknowledged
// messages, and starts the next increments from zero.
func (h *simHealth) take(spooled int) *wire.Health {
	r := &wire.Health{
		InventoryScanSeconds: h.inventoryScans,
		PolicyScanSeconds:    h.policyScans,
		CheckErrors:          min(h.checkErrors, wire.MaxHealthCount),
		Dropped:              min(h.dropped, wire.MaxHealthCount),
		Spooled:              min(uint64(max(spooled, 0)), wire.MaxHealthCount),
	}
	*h = simHealth{}
	return r
}

// restore puts back the increments of a heartbeat that was not sent.
func (h *simHealth) restore(r *wire.Health) {
	h.inventoryScans = keepLatestScans(append(r.InventoryScanSeconds, h.inventoryScans...))
	h.policyScans = keepLatestScans(append(r.PolicyScanSeconds, h.policyScans...))
	h.checkErrors += r.CheckErrors
	h.dropped += r.Dropped
}

// addScan appends one duration drawn around median, in milliseconds, and
// keeps the most recent wire.MaxHealthScans, as the agent does.
func addScan(list []float64, median float64) []float64 {
	s := median * math.Exp(simSpread*rand.NormFloat64())
	s = min(math.Round(s*1000)/1000, wire.MaxScanSeconds)
	return keepLatestScans(append(list, s))
}

func keepLatestScans(list []float64) []float64 {
	if n := len(list) - wire.MaxHealthScans; n > 0 {
		return append([]float64(nil), list[n:]...)
	}
	return list
}
