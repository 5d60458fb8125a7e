package loadgen

import (
	"testing"

	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/shared/wire"
)

// histogramCount returns how many scans of kind the server observed.
func histogramCount(t *testing.T, m *metrics.Metrics, kind string) uint64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "steward_agent_scan_duration_seconds" {
			continue
		}
		for _, metric := range f.GetMetric() {
			if metric.GetLabel()[0].GetValue() == kind {
				return metric.GetHistogram().GetSampleCount()
			}
		}
	}
	t.Fatalf("no steward_agent_scan_duration_seconds{kind=%q}", kind)
	return 0
}

// TestSimulatedHealth: the simulated block is one the server accepts, its
// durations sit around the documented medians, and take starts afresh.
func TestSimulatedHealth(t *testing.T) {
	var h simHealth
	const n = 2000
	var inv, pol []float64
	var errs uint64
	for range n / wire.MaxHealthScans {
		for range wire.MaxHealthScans {
			h.inventorySent()
		}
		h.skipped()
		r := h.take(3)
		if err := r.Validate(); err != nil {
			t.Fatalf("simulated health refused: %v", err)
		}
		if len(r.InventoryScanSeconds) != wire.MaxHealthScans || len(r.PolicyScanSeconds) != wire.MaxHealthScans ||
			r.Dropped != 1 || r.Spooled != 3 || r.Reconnects != 0 {
			t.Fatalf("report %+v", r)
		}
		inv = append(inv, r.InventoryScanSeconds...)
		pol = append(pol, r.PolicyScanSeconds...)
		errs += r.CheckErrors
	}
	if r := h.take(0); r.InventoryScanSeconds != nil || r.CheckErrors != 0 || r.Dropped != 0 {
		t.Errorf("take did not reset: %+v", r)
	}
	// Half the draws fall below the median; with 1,984 draws a share
	// outside [0.4, 0.6] would mean the distribution is not the one
	// documented (it happens by chance far less than once in a billion).
	for _, c := range []struct {
		name   string
		vals   []float64
		median float64
	}{{"inventory", inv, simInventoryMedian}, {"policy", pol, simPolicyMedian}} {
		below := 0
		for _, v := range c.vals {
			if v < 0 {
				t.Fatalf("%s: negative duration %v", c.name, v)
			}
			if v < c.median {
				below++
			}
		}
		if share := float64(below) / float64(len(c.vals)); share < 0.4 || share > 0.6 {
			t.Errorf("%s: %.2f of durations below the median %v, want about half", c.name, share, c.median)
		}
	}
	// About 5 % of evaluations report a check error: 99 expected.
	if errs < 40 || errs > 180 {
		t.Errorf("%d check errors over %d evaluations, want about %.0f", errs, len(pol), simCheckErrorRate*float64(len(pol)))
	}

	// A heartbeat that could not be sent hands its increments on.
	h.inventorySent()
	lost := h.take(0)
	h.skipped()
	h.restore(lost)
	if r := h.take(0); len(r.InventoryScanSeconds) != 1 || len(r.PolicyScanSeconds) != 1 || r.Dropped != 1 {
		t.Errorf("after restore: %+v", r)
	}
}
