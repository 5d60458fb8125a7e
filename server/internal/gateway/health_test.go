package gateway

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/postgres"
	"github.com/steward-project/steward/server/internal/store/sqlite"
	"github.com/steward-project/steward/shared/wire"
)

// TestMain lets the health tests use a PostgreSQL database of their own;
// the shared cluster starts on first use only. STEWARD_GATEWAY_READS=goroutine
// runs the suite with every connection read by a goroutine of its own,
// the path of TLS connections and of systems without read loops.
func TestMain(m *testing.M) {
	switch r := os.Getenv("STEWARD_GATEWAY_READS"); r {
	case "", "loops":
	case "goroutine":
		goroutineReads = true
	default:
		fmt.Fprintf(os.Stderr, "STEWARD_GATEWAY_READS=%q: want loops or goroutine\n", r)
		os.Exit(2)
	}
	pgtest.Main(m)
}

// backends open each real store for a test: the embedded one and
// PostgreSQL, both migrated and holding enroll secret "s3cret".
var backends = []struct {
	name string
	open func(t *testing.T, log *slog.Logger) store.Store
}{
	{"sqlite", func(t *testing.T, log *slog.Logger) store.Store {
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), log)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}},
	{"postgres", func(t *testing.T, log *slog.Logger) store.Store {
		st, err := postgres.Open(t.Context(), pgtest.NewDatabase(t), log)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}},
}

// newStoreHarness serves the gateway over a real store with real ingest
// and metrics.
func newStoreHarness(t *testing.T, open func(*testing.T, *slog.Logger) store.Store) (*harness, *metrics.Metrics) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	st := open(t, log)
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Bootstrap(t.Context(), store.Credential{Name: "admin", Hash: auth.Hash("admin-token")},
		store.Credential{Name: "enroll", Hash: auth.Hash("s3cret")}); err != nil {
		t.Fatal(err)
	}
	m := metrics.New("test")
	b := ingest.New(st, ingest.Config{Logger: log, Metrics: m})
	gw := New(Config{Store: st, Ingest: b, Logger: log, Metrics: m})
	return serve(t, nil, b, gw), m
}

// heartbeat sends a heartbeat and waits for its ack.
func (h *harness) heartbeat(ws *websocket.Conn, seq uint64, health *wire.Health) {
	h.t.Helper()
	h.send(ws, wire.TypeHeartbeat, seq, wire.Heartbeat{Time: time.Now().UTC(), Health: health})
	if env := h.read(ws); env.Type != wire.TypeAck || env.Seq != seq {
		h.t.Fatalf("got %s %d, want ack %d", env.Type, env.Seq, seq)
	}
}

// healthSeries is what the agent health series hold at one moment.
type healthSeries struct {
	reports, checkErrors, dropped, reconnects, spooled float64
	inventoryScans, policyScans                        uint64
	inventorySum, policySum                            float64
}

func readHealthSeries(t *testing.T, m *metrics.Metrics) healthSeries {
	t.Helper()
	s := healthSeries{
		reports:     testutil.ToFloat64(m.AgentHealthReports),
		checkErrors: testutil.ToFloat64(m.AgentCheckErrors),
		dropped:     testutil.ToFloat64(m.AgentDropped),
		reconnects:  testutil.ToFloat64(m.AgentReconnects),
		spooled:     testutil.ToFloat64(m.AgentSpooled),
	}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "steward_agent_scan_duration_seconds" {
			continue
		}
		for _, metric := range f.GetMetric() {
			h := metric.GetHistogram()
			switch metric.GetLabel()[0].GetValue() {
			case "inventory":
				s.inventoryScans, s.inventorySum = h.GetSampleCount(), h.GetSampleSum()
			case "policy":
				s.policyScans, s.policySum = h.GetSampleCount(), h.GetSampleSum()
			}
		}
	}
	return s
}

// waitSeries polls the series until they are want: the gauge follows a
// connection's end, which the test sees only from the server's side.
func waitSeries(t *testing.T, m *metrics.Metrics, what string, want healthSeries) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := readHealthSeries(t, m)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: series are %+v, want %+v", what, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHeartbeatHealthCountedOnce: the health of each applied heartbeat is
// added to the fleet-wide series once; a replayed sequence number, on the
// same connection or after a reconnect, is acked but counted no more; the
// spool gauge is the sum of connected agents' last reports.
func TestHeartbeatHealthCountedOnce(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			h, m := newStoreHarness(t, be.open)
			webKey := h.nodeKey()
			web, _ := h.connect(webKey)
			db, _ := h.connect(h.nodeKey())

			h.heartbeat(web, 1, &wire.Health{InventoryScanSeconds: []float64{2.5}, PolicyScanSeconds: []float64{0.25, 0.5},
				CheckErrors: 3, Dropped: 1, Reconnects: 2, Spooled: 4})
			h.heartbeat(db, 1, &wire.Health{Spooled: 6})
			want := healthSeries{reports: 2, checkErrors: 3, dropped: 1, reconnects: 2, spooled: 10,
				inventoryScans: 1, inventorySum: 2.5, policyScans: 2, policySum: 0.75}
			waitSeries(t, m, "two agents' first reports", want)

			// The same sequence number again: acked, not counted.
			h.heartbeat(web, 1, &wire.Health{InventoryScanSeconds: []float64{2.5}, CheckErrors: 3, Dropped: 1, Reconnects: 2, Spooled: 40})
			waitSeries(t, m, "after a replayed heartbeat", want)

			// The next one adds its increments; its spool level replaces
			// the previous one in the sum.
			h.heartbeat(web, 2, &wire.Health{PolicyScanSeconds: []float64{1}, CheckErrors: 1, Spooled: 1})
			want.reports, want.checkErrors, want.spooled, want.policyScans, want.policySum = 3, 4, 7, 3, 1.75
			waitSeries(t, m, "after web's second report", want)

			// A heartbeat without health (an older agent) is applied and
			// changes none of the series.
			h.heartbeat(web, 3, nil)
			waitSeries(t, m, "after a heartbeat without health", want)

			// web reconnects and replays heartbeat 2: not counted, and the
			// new connection holds no spool share until it reports.
			web.Close()
			want.spooled = 6
			waitSeries(t, m, "after web disconnected", want)
			web, w := h.connect(webKey)
			if w.LastSeq != 3 {
				t.Fatalf("welcome last_seq %d, want 3", w.LastSeq)
			}
			h.heartbeat(web, 2, &wire.Health{PolicyScanSeconds: []float64{1}, CheckErrors: 1, Spooled: 1})
			waitSeries(t, m, "after a replay on a new connection", want)
			h.heartbeat(web, 4, &wire.Health{Reconnects: 1, Spooled: 2})
			want.reports, want.reconnects, want.spooled = 4, 3, 8
			waitSeries(t, m, "after the reconnected agent's report", want)

			db.Close()
			web.Close()
			want.spooled = 0
			waitSeries(t, m, "after every agent disconnected", want)
		})
	}
}

// TestHeartbeatHealthOutOfBounds: a heartbeat whose health breaks the
// bounds is malformed: the connection closes with bad_message and nothing
// of it is counted, the heartbeat included.
func TestHeartbeatHealthOutOfBounds(t *testing.T) {
	h, m := newStoreHarness(t, backends[0].open)
	key := h.nodeKey()
	for _, tc := range []struct{ name, health string }{
		{"too many scans", `{"inventory_scan_seconds":[` + strings.Repeat("1,", wire.MaxHealthScans) + `1]}`},
		{"negative duration", `{"policy_scan_seconds":[-0.5]}`},
		{"duration over a day", `{"policy_scan_seconds":[86401]}`},
		{"absurd count", `{"dropped":1048577}`},
		{"negative count", `{"check_errors":-1}`},
		{"NaN", `{"inventory_scan_seconds":[NaN]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, _ := h.connect(key)
			frame := fmt.Sprintf(`{"type":"heartbeat","seq":1,"payload":{"time":"2026-11-25T12:00:00Z","health":%s}}`, tc.health)
			if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
				t.Fatal(err)
			}
			h.expectError(ws, wire.CodeBadMessage)
		})
	}
	if got := readHealthSeries(t, m); got != (healthSeries{}) {
		t.Errorf("refused heartbeats were counted: %+v", got)
	}
	if v := testutil.ToFloat64(m.MessagesRejected.WithLabelValues("malformed")); v != 6 {
		t.Errorf("malformed rejections = %v, want 6", v)
	}
	// Nothing was applied: the next connection is told last_seq 0.
	ws, w := h.connect(key)
	if w.LastSeq != 0 {
		t.Errorf("last_seq %d after refused heartbeats, want 0", w.LastSeq)
	}
	h.heartbeat(ws, 1, &wire.Health{Spooled: wire.MaxHealthCount})
	waitSeries(t, m, "a report at the bound", healthSeries{reports: 1, spooled: wire.MaxHealthCount})
}
