package runner

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

func TestHealthTakeResetsIncrements(t *testing.T) {
	var h health
	h.welcome()
	h.welcome()
	h.inventoryScan(2345 * time.Millisecond)
	h.policyScan(412*time.Millisecond+400*time.Microsecond, []policy.Result{
		{Status: policy.StatusPass}, {Status: policy.StatusError}, {Status: policy.StatusError}, {Status: policy.StatusFail},
	})
	h.drop(2)
	got := h.take(5)
	want := &wire.Health{InventoryScanSeconds: []float64{2.345}, PolicyScanSeconds: []float64{0.412},
		CheckErrors: 2, Dropped: 2, Reconnects: 1, Spooled: 5}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("take = %+v, want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("report does not validate: %v", err)
	}
	// The next report holds only what happened since, and the level.
	if got := h.take(1); !reflect.DeepEqual(got, &wire.Health{Spooled: 1}) {
		t.Errorf("second take = %+v, want only spooled 1", got)
	}
	// A third welcome is one more reconnect, never the first again.
	h.welcome()
	if got := h.take(0); got.Reconnects != 1 {
		t.Errorf("reconnects = %d after a third welcome, want 1", got.Reconnects)
	}
}

func TestHealthKeepsLatestScansAndClamps(t *testing.T) {
	var h health
	for i := range wire.MaxHealthScans + 8 {
		h.inventoryScan(time.Duration(i) * time.Second)
	}
	h.policyScan(-time.Second, nil) // a clock step backwards
	h.policyScan(48*time.Hour, nil) // more than the server accepts
	h.policyScan(time.Microsecond, nil)
	r := h.take(0)
	if len(r.InventoryScanSeconds) != wire.MaxHealthScans || r.InventoryScanSeconds[0] != 8 ||
		r.InventoryScanSeconds[wire.MaxHealthScans-1] != float64(wire.MaxHealthScans+7) {
		t.Errorf("inventory scans = %v, want the latest %d (8 to %d)", r.InventoryScanSeconds, wire.MaxHealthScans, wire.MaxHealthScans+7)
	}
	if want := []float64{0, wire.MaxScanSeconds, 0}; !slices.Equal(r.PolicyScanSeconds, want) {
		t.Errorf("policy scans = %v, want %v", r.PolicyScanSeconds, want)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("clamped report does not validate: %v", err)
	}
}

func TestHealthCountsSaturate(t *testing.T) {
	var h health
	h.drop(wire.MaxHealthCount - 1)
	h.drop(5)
	h.drop(-3) // ignored
	errs := make([]policy.Result, 4096)
	for i := range errs {
		errs[i].Status = policy.StatusError
	}
	for range wire.MaxHealthCount/len(errs) + 1 {
		h.policyScan(time.Millisecond, errs)
	}
	r := h.take(wire.MaxHealthCount + 10)
	if r.Dropped != wire.MaxHealthCount || r.CheckErrors != wire.MaxHealthCount || r.Spooled != wire.MaxHealthCount {
		t.Errorf("report = dropped %d, check errors %d, spooled %d; want each at %d", r.Dropped, r.CheckErrors, r.Spooled, wire.MaxHealthCount)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("saturated report does not validate: %v", err)
	}
}

func TestHealthRestorePutsIncrementsBack(t *testing.T) {
	var h health
	h.welcome()
	h.welcome()
	h.inventoryScan(time.Second)
	h.drop(1)
	lost := h.take(3)
	// Meanwhile more happened; the restored scans are the older ones.
	h.inventoryScan(2 * time.Second)
	h.drop(2)
	h.restore(lost)
	got := h.take(0)
	want := &wire.Health{InventoryScanSeconds: []float64{1, 2}, Dropped: 3, Reconnects: 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after restore: %+v, want %+v", got, want)
	}
}

// readHealth reads the connection's messages and hands each heartbeat's
// health to stop, in order, until stop says enough; other messages go to
// other.
func readHealth(t *testing.T, fc *fakeConn, other func(received), stop func(hb received, h *wire.Health) bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		m := fc.next(t)
		if m.env.Type != wire.TypeHeartbeat {
			other(m)
			continue
		}
		var hb wire.Heartbeat
		if err := wire.DecodePayload(m.env, &hb); err != nil {
			t.Fatal(err)
		}
		if hb.Health == nil {
			t.Fatalf("heartbeat %d carries no health", m.env.Seq)
		}
		if err := hb.Health.Validate(); err != nil {
			t.Fatalf("heartbeat %d: the server would refuse its health: %v", m.env.Seq, err)
		}
		if stop(m, hb.Health) {
			return
		}
	}
	t.Fatal("heartbeats never showed what the test waits for")
}

// sum adds up the increments of several reports.
func sum(into *wire.Health, h *wire.Health) {
	into.InventoryScanSeconds = append(into.InventoryScanSeconds, h.InventoryScanSeconds...)
	into.PolicyScanSeconds = append(into.PolicyScanSeconds, h.PolicyScanSeconds...)
	into.CheckErrors += h.CheckErrors
	into.Dropped += h.Dropped
	into.Reconnects += h.Reconnects
}

// slowCollect makes every collection take d on clock.
func slowCollect(f *feed, clock *fakeClock, d time.Duration) func(context.Context) inventory.Document {
	return func(ctx context.Context) inventory.Document {
		doc := f.collect(ctx)
		clock.advance(d)
		return doc
	}
}

// TestHeartbeatReportsHealth follows one connection: the collection's and
// the evaluation's durations, the check that ended in error, and the
// unacknowledged messages reach the server in heartbeats, each once.
func TestHeartbeatReportsHealth(t *testing.T) {
	fs := newFakeServer(t)
	f := newFeed()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	a := newPolicyAgent(t, fs, f, fixtureRoot(t))
	a.cfg.HeartbeatInterval = 10 * time.Millisecond
	a.cfg.Collect = slowCollect(f, clock, 2500*time.Millisecond)
	a.start(t, withClock(clock))
	fc := fs.accept(t)
	fc.handshake(t, 0)
	// Commands are not allowed on this agent: the second policy's check
	// ends in error.
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 1, Policies: []policy.Policy{
		{ID: "motd-present", Title: "Banner", Severity: policy.SeverityLow,
			Check: policy.Check{File: &policy.FileCheck{Path: "/etc/motd", Exists: new(true)}}},
		{ID: "uptime-runs", Title: "uptime runs", Severity: policy.SeverityLow,
			Check: policy.Check{Command: &policy.CommandCheck{Run: []string{"uptime"}}}},
	}})
	f.give(t, doc(software))

	// Read until the first heartbeat created after the results were sent:
	// by then both scans are reported, and that heartbeat finds the
	// inventory, the results and every earlier heartbeat unacknowledged.
	var total wire.Health
	var inv, res received
	heartbeats := 0
	var seen []uint64
	readHealth(t, fc, func(m received) {
		switch m.env.Type {
		case wire.TypeInventory:
			inv = m
		case wire.TypeResults:
			res = m
		default:
			t.Fatalf("unexpected %s", m.env.Type)
		}
	}, func(m received, h *wire.Health) bool {
		sum(&total, h)
		seen = append(seen, m.env.Seq)
		defer func() { heartbeats++ }()
		if res.env.Seq == 0 {
			return false
		}
		if h.Spooled != uint64(heartbeats+2) {
			t.Errorf("heartbeat after the results reports %d spooled, want %d (inventory, results and %d heartbeats unacked)",
				h.Spooled, heartbeats+2, heartbeats)
		}
		return true
	})
	want := wire.Health{InventoryScanSeconds: []float64{2.5}, PolicyScanSeconds: []float64{0}, CheckErrors: 1}
	if !reflect.DeepEqual(total, want) {
		t.Errorf("health reported so far adds up to %+v, want %+v", total, want)
	}
	if inv.env.Seq == 0 {
		t.Fatal("no inventory before the results")
	}

	// Acknowledge everything seen: the spool empties, so the j-th
	// heartbeat created after the acks were taken reports j spooled (the
	// heartbeats before it). Nothing more happened, so no increments.
	fc.ack(t, inv.env.Seq, false)
	fc.ack(t, res.env.Seq, false)
	for _, seq := range seen {
		fc.ack(t, seq, false)
	}
	after := 0
	readHealth(t, fc, func(m received) { t.Fatalf("unexpected %s", m.env.Type) }, func(m received, h *wire.Health) bool {
		if !reflect.DeepEqual(*h, wire.Health{Spooled: h.Spooled}) {
			t.Fatalf("heartbeat %d reports increments nothing caused: %+v", m.env.Seq, h)
		}
		after++
		return h.Spooled == uint64(after-1)
	})
}

// TestHeartbeatReportsDropsAndReconnects: what a connection left
// unacknowledged when it ended, and the reconnect, are reported by the
// next connection's first heartbeat, with the scan the first one never
// reported.
func TestHeartbeatReportsDropsAndReconnects(t *testing.T) {
	fs := newFakeServer(t)
	f := newFeed()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	a := newTestAgent(t, fs, f)
	// The server's welcome sets the heartbeat interval: none on the first
	// connection, the shortest the agent takes from a server on the second.
	a.cfg.HeartbeatInterval = 0
	a.cfg.Collect = slowCollect(f, clock, 1500*time.Millisecond)
	a.start(t, withClock(clock))
	welcome := func(fc *fakeConn, every time.Duration) {
		fc.hello(t)
		fc.send(t, wire.TypeWelcome, 0, wire.Welcome{ProtocolVersion: 1, HostID: 1, ServerTime: time.Now(),
			InventoryInterval: wire.Duration(time.Hour), HeartbeatInterval: wire.Duration(every)})
	}

	first := fs.accept(t)
	welcome(first, time.Hour)
	f.give(t, doc(map[string]string{"os": `{"name":"debian"}`}))
	first.inventory(t)
	// The inventory stays unacknowledged; the server goes away.
	first.ws.Close()

	second := fs.accept(t)
	welcome(second, minServerInterval)
	readHealth(t, second, func(m received) { t.Fatalf("unexpected %s", m.env.Type) }, func(m received, h *wire.Health) bool {
		want := wire.Health{InventoryScanSeconds: []float64{1.5}, Dropped: 1, Reconnects: 1}
		if !reflect.DeepEqual(*h, want) {
			t.Errorf("first heartbeat of the second connection: %+v, want %+v", h, want)
		}
		return true
	})
}
