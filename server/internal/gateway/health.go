package gateway

import (
	"sync"

	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/shared/wire"
)

// connHealth turns one connection's heartbeat health reports into the
// fleet-wide agent health series. Reports are counted only once the store
// applied their heartbeat: a heartbeat whose sequence number was applied
// before is acked again but not counted again, so replays never inflate
// the counters. Nothing is labelled by host.
//
// The spool depth is a level, not an increment: the connection keeps the
// value its last applied heartbeat reported and adds the difference to
// steward_agent_spooled_messages, so the gauge is the sum over connected
// agents; end takes the connection's share out when it closes.
//
// applied runs on an ingest writer goroutine, end on the connection's, so
// the level is kept under a lock.
type connHealth struct {
	mu      sync.Mutex
	spooled uint64 // this connection's share of the spooled gauge
	ended   bool
}

// applied records the health of a heartbeat the store just applied. A
// heartbeat committed after its connection ended still adds its
// increments (they happened) but no longer touches the spool gauge.
func (h *connHealth) applied(m *metrics.Metrics, r *wire.Health) {
	if m == nil || r == nil {
		return
	}
	inventory := m.AgentScanDuration.WithLabelValues("inventory")
	for _, s := range r.InventoryScanSeconds {
		inventory.Observe(s)
	}
	policy := m.AgentScanDuration.WithLabelValues("policy")
	for _, s := range r.PolicyScanSeconds {
		policy.Observe(s)
	}
	m.AgentCheckErrors.Add(float64(r.CheckErrors))
	m.AgentDropped.Add(float64(r.Dropped))
	m.AgentReconnects.Add(float64(r.Reconnects))
	m.AgentHealthReports.Inc()

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return
	}
	m.AgentSpooled.Add(float64(r.Spooled) - float64(h.spooled))
	h.spooled = r.Spooled
}

// end removes the connection's last reported spool depth from the gauge;
// later reports leave the gauge alone. It is idempotent.
func (h *connHealth) end(m *metrics.Metrics) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return
	}
	h.ended = true
	if m != nil {
		m.AgentSpooled.Sub(float64(h.spooled))
	}
	h.spooled = 0
}
