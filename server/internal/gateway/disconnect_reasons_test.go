package gateway

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/metrics"
)

// TestDisconnectReasons: each way a connection ends is counted once in
// steward_agent_disconnects_total under its reason, and every reason
// counted is one of the series exported from the start.
func TestDisconnectReasons(t *testing.T) {
	st := newFakeStore()
	m := metrics.New("test")
	b := ingest.New(st, ingest.Config{})
	gw := New(Config{Store: st, Ingest: b, Metrics: m, RetryAfter: time.Second, HeartbeatInterval: 5 * time.Second,
		HelloTimeout: 200 * time.Millisecond})
	h := serve(t, st, b, gw)
	counts := func() map[string]float64 {
		out := map[string]float64{}
		for _, r := range metrics.DisconnectReasons {
			if v := testutil.ToFloat64(m.AgentDisconnects.WithLabelValues(r)); v != 0 {
				out[r] = v
			}
		}
		return out
	}
	expect := func(want map[string]float64) {
		t.Helper()
		waitFor(t, fmt.Sprintf("disconnects %v", want), func() bool { return fmt.Sprint(counts()) == fmt.Sprint(want) })
		// Every reason counted is a pre-registered one: nothing else was counted.
		if n := testutil.CollectAndCount(m.AgentDisconnects); n != len(metrics.DisconnectReasons) {
			t.Fatalf("%d disconnect series, want the %d reasons", n, len(metrics.DisconnectReasons))
		}
	}

	// The agent closes with a close frame.
	ws, _ := h.connect(h.nodeKey())
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	expect(map[string]float64{"agent_closed": 1})

	// The TCP connection drops without one.
	ws, _ = h.connect(h.nodeKey())
	ws.NetConn().Close()
	expect(map[string]float64{"agent_closed": 1, "connection_lost": 1})

	// No hello within the hello timeout.
	ws, _, err := h.dial(h.nodeKey())
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	expect(map[string]float64{"agent_closed": 1, "connection_lost": 1, "timeout": 1})

	// Garbage instead of a message.
	ws, _ = h.connect(h.nodeKey())
	ws.WriteMessage(websocket.TextMessage, []byte("not json"))
	expect(map[string]float64{"agent_closed": 1, "connection_lost": 1, "timeout": 1, "rejected": 1})

	// The same host connects again: the older connection is replaced.
	key := h.nodeKey()
	h.connect(key)
	h.connect(key)
	expect(map[string]float64{"agent_closed": 1, "connection_lost": 1, "timeout": 1, "rejected": 1, "replaced": 1})

	// Shutdown ends the newer one.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gw.Shutdown(ctx)
	expect(map[string]float64{"agent_closed": 1, "connection_lost": 1, "timeout": 1, "rejected": 1, "replaced": 1, "shutdown": 1})
}
