package gateway

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// TestMessageBytes: each message's size as read is added to
// steward_agent_message_bytes_total under its type.
func TestMessageBytes(t *testing.T) {
	st := newFakeStore()
	m := metrics.New("test")
	b := ingest.New(st, ingest.Config{})
	gw := New(Config{Store: st, Ingest: b, Metrics: m, RetryAfter: time.Second, HeartbeatInterval: 5 * time.Second})
	h := serve(t, st, b, gw)
	ws, _ := h.connect(h.nodeKey())
	hello, err := wire.Encode(wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{1}, AgentVersion: "test", OS: "linux", Arch: "amd64", Hostname: "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	sec := section(t, "os", inventory.OS{Name: "Debian", Platform: "debian", Arch: "x86_64"})
	inv, err := wire.Encode(wire.TypeInventory, 1, wire.Inventory{CollectedAt: time.Now().UTC(),
		Digest: inventory.Digest(map[string]string{"os": sec.Hash}), Sections: []wire.Section{sec}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := ws.WriteMessage(websocket.TextMessage, inv); err != nil {
			t.Fatal(err)
		}
		if env := h.read(ws); env.Type != wire.TypeAck {
			t.Fatalf("got %s, want ack", env.Type)
		}
	}
	for typ, want := range map[string]int{wire.TypeHello: len(hello), wire.TypeInventory: 2 * len(inv), wire.TypeHeartbeat: 0} {
		if got := testutil.ToFloat64(m.MessageBytes.WithLabelValues(typ)); got != float64(want) {
			t.Errorf("steward_agent_message_bytes_total{type=%q} = %v, want %d", typ, got, want)
		}
	}
}
