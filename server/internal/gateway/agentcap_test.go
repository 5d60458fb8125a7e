package gateway

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/limits"
	"github.com/steward-project/steward/server/internal/metrics"
)

// TestAgentsOverTheirShareAreRefused: with a share of 3, the fourth agent
// is answered 503 with the gateway's Retry-After and a closed connection;
// requests with a bad node key give their place back; once an agent
// leaves, the next one gets in.
func TestAgentsOverTheirShareAreRefused(t *testing.T) {
	st := newFakeStore()
	b := ingest.New(st, ingest.Config{})
	share := limits.NewShare(3)
	m := metrics.New("test")
	gw := New(Config{Store: st, Ingest: b, RetryAfter: 7 * time.Second, Agents: share, Metrics: m})
	h := serve(t, st, b, gw)
	keys := make([]string, 4)
	for i := range keys {
		keys[i] = h.nodeKey()
	}

	// Unknown node keys hold a place only while they are looked up.
	for range 10 {
		_, resp, err := h.dial("not-a-node-key")
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("dial with an unknown key: %v %v, want 401", resp, err)
		}
	}
	first, _ := h.connect(keys[0])
	h.connect(keys[1])
	h.connect(keys[2])
	if n := share.Held(); n != 3 {
		t.Fatalf("share holds %d with three agents connected", n)
	}

	_, resp, err := h.dial(keys[3])
	if err == nil || resp == nil {
		t.Fatalf("fourth agent over a share of 3: connected (%v)", err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "7" || !resp.Close {
		t.Errorf("fourth agent: %s, Retry-After %q, connection closed %v; want 503, 7, true",
			resp.Status, resp.Header.Get("Retry-After"), resp.Close)
	}
	if v := testutil.ToFloat64(m.HTTPRefused.WithLabelValues(limits.ReasonAgentCap)); v != 1 {
		t.Errorf("agent_cap refusals counted %v, want 1", v)
	}

	// An agent leaves; its place is given back when its connection is
	// torn down, and the waiting agent gets in on one of its retries.
	first.Close()
	for i := 0; ; i++ {
		ws, resp, err := h.dial(keys[3])
		if err == nil {
			ws.Close()
			break
		}
		if resp == nil || resp.StatusCode != http.StatusServiceUnavailable || i == 10000 {
			t.Fatalf("fourth agent after one left: %v %v", resp, err)
		}
	}
}
