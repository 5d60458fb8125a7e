package loadgen

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/gateway"
	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/store"
)

const testSecret = "fleet-secret"

// fakeHost is what the fake store knows about one enrolled host.
type fakeHost struct {
	store.Host
	hellos   []store.HelloInfo
	applied  []store.Message // in commit order
	dups     int
	connects int
}

// fakeStore is an in-memory gateway.Store and ingest.Sink that keeps every
// applied message so tests can compare it with the loadgen's report.
type fakeStore struct {
	mu      sync.Mutex
	secrets map[string]int64
	hosts   map[int64]*fakeHost
	keys    map[string]int64
	refuse  string // message type ApplyBatch fails on, as if the database went away
	// firstHeartbeat is closed once a heartbeat has been applied.
	firstHeartbeat chan struct{}
	heartbeatOnce  sync.Once
}

var errFakeDown = errors.New("fake database down")

func newFakeStore() *fakeStore {
	return &fakeStore{secrets: map[string]int64{auth.Hash(testSecret): 1}, hosts: map[int64]*fakeHost{}, keys: map[string]int64{},
		firstHeartbeat: make(chan struct{})}
}

func (f *fakeStore) EnrollSecretID(_ context.Context, hash string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.secrets[hash]
	if !ok {
		return 0, store.ErrNotFound
	}
	return id, nil
}

func (f *fakeStore) EnrollHost(_ context.Context, h store.NewHost) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := int64(len(f.hosts) + 1)
	f.hosts[id] = &fakeHost{Host: store.Host{ID: id, Hostname: h.Hostname, EnrolledAt: h.EnrolledAt}}
	f.keys[h.NodeKeyHash] = id
	return id, nil
}

func (f *fakeStore) HostsByNodeKeys(_ context.Context, hashes []string) (map[string]store.Host, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]store.Host{}
	for _, hash := range hashes {
		if id, ok := f.keys[hash]; ok {
			out[hash] = f.hosts[id].Host
		}
	}
	return out, nil
}

func (f *fakeStore) HostsConnected(_ context.Context, cs []store.Connect) ([]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	missing := make([]bool, len(cs))
	for i, c := range cs {
		h, ok := f.hosts[c.HostID]
		if !ok {
			missing[i] = true
			continue
		}
		h.hellos = append(h.hellos, c.Info)
		h.connects++
		h.ConnectedAt = c.At
	}
	return missing, nil
}

func (f *fakeStore) HostsDisconnected(_ context.Context, ds []store.Disconnect) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range ds {
		f.hosts[d.HostID].DisconnectedAt = d.At
	}
	return nil
}

func (f *fakeStore) ApplyBatch(_ context.Context, msgs []store.Message) ([]store.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range msgs {
		if f.refuse != "" && m.Type == f.refuse {
			return nil, errFakeDown
		}
	}
	res := make([]store.Result, len(msgs))
	for i, m := range msgs {
		h := f.hosts[m.HostID]
		if m.Seq <= h.LastSeq {
			res[i].Duplicate = true
			h.dups++
			continue
		}
		h.LastSeq = m.Seq
		h.applied = append(h.applied, m)
		if m.Type == "heartbeat" {
			f.heartbeatOnce.Do(func() { close(f.firstHeartbeat) })
		}
	}
	return res, nil
}

// hostname is what host id enrolled as.
func (f *fakeStore) hostname(id int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h := f.hosts[id]; h != nil {
		return h.Hostname
	}
	return ""
}

// snapshot copies the hosts so a test reads them without racing the server.
func (f *fakeStore) snapshot() map[int64]fakeHost {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[int64]fakeHost, len(f.hosts))
	for id, h := range f.hosts {
		c := *h
		c.hellos = append([]store.HelloInfo(nil), h.hellos...)
		c.applied = append([]store.Message(nil), h.applied...)
		out[id] = c
	}
	return out
}

// testServer is the real gateway, ingest batcher and metrics on an
// httptest server, with the fake store behind them.
type testServer struct {
	url      string
	store    *fakeStore
	policies *fakePolicyStore
	gw       *gateway.Gateway
	metrics  *metrics.Metrics
	logs     *syncBuffer
	mu       sync.Mutex
	remotes  map[string]int // source IPs of WebSocket requests
	// onResults, when set before the run, gets the transitions of every
	// results message the gateway committed: the alerting engine's hook.
	onResults func([]store.Transition)
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ts := &testServer{store: newFakeStore(), policies: &fakePolicyStore{}, logs: &syncBuffer{}, remotes: map[string]int{}}
	log := slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := metrics.New("test")
	ts.metrics = m
	batcher := ingest.New(ts.store, ingest.Config{Logger: log, Metrics: m})
	ts.gw = gateway.New(gateway.Config{Store: ts.store, Ingest: batcher, Policies: ts.policies, Logger: log, Metrics: m,
		ResultsApplied: func(tr []store.Transition) {
			ts.mu.Lock()
			hook := ts.onResults
			ts.mu.Unlock()
			if hook != nil {
				hook(tr)
			}
		}})
	mux := http.NewServeMux()
	ts.gw.Register(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/agent/v1/ws" {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			ts.mu.Lock()
			ts.remotes[host]++
			ts.mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	}))
	ts.url = srv.URL
	t.Cleanup(func() {
		ts.gw.Shutdown(context.Background())
		srv.Close()
		batcher.Stop()
	})
	return ts
}

// pushPolicies makes ids the policy set under a new revision, once all
// agents are connected, and sends it to them as the API does after an
// apply. It returns the revision.
func (ts *testServer) pushPolicies(t *testing.T, agents int, ids ...string) int64 {
	t.Helper()
	for i := 0; ts.gw.Connected() < agents; i++ {
		if i == 3000 {
			t.Errorf("only %d of %d agents connected", ts.gw.Connected(), agents)
			return 0
		}
		time.Sleep(10 * time.Millisecond)
	}
	rev := ts.policies.setPolicies(ids...)
	ts.gw.PoliciesChanged(context.Background())
	return rev
}

// waitResults waits until n results messages were applied.
func (ts *testServer) waitResults(t *testing.T, n int) {
	t.Helper()
	for i := 0; len(ts.policies.resultBatches()) < n; i++ {
		if i == 3000 {
			t.Errorf("%d results messages applied, want %d", len(ts.policies.resultBatches()), n)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitIdle waits until the gateway has let go of every connection, so the
// store's disconnect records are complete.
func (ts *testServer) waitIdle(t *testing.T) {
	t.Helper()
	for i := 0; ts.gw.Connected() > 0; i++ {
		if i == 1000 {
			t.Fatalf("gateway still has %d connections after the run ended", ts.gw.Connected())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Disconnections are recorded in batches, a moment after the last
	// connection went.
	if err := ts.gw.FlushDisconnections(t.Context()); err != nil {
		t.Fatalf("record disconnections: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testConfig is a small, quick run against ts.
func testConfig(ts *testServer, agents int) Config {
	return Config{
		Server:         ts.url,
		Agents:         agents,
		Duration:       1500 * time.Millisecond,
		EnrollSecret:   testSecret,
		Packages:       150,
		Heartbeat:      100 * time.Millisecond,
		InventoryEvery: 400 * time.Millisecond,
		Concurrency:    6,
		ConnectTimeout: time.Minute,
	}
}
