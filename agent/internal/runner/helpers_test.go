package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/agent/internal/state"
	"github.com/steward-project/steward/shared/inventory"
)

// feed is a Collect function the test drives: each collection blocks until
// the test hands it a document, so the test decides exactly what every
// inventory contains and when it is collected.
type feed struct{ docs chan inventory.Document }

func newFeed() *feed { return &feed{docs: make(chan inventory.Document)} }

func (f *feed) collect(ctx context.Context) inventory.Document {
	select {
	case d := <-f.docs:
		return d
	case <-ctx.Done():
		return inventory.Document{}
	}
}

func (f *feed) give(t *testing.T, d inventory.Document) {
	t.Helper()
	select {
	case f.docs <- d:
	case <-time.After(wait):
		t.Fatal("agent did not collect")
	}
}

// doc builds a document from section name → canonical JSON.
func doc(sections map[string]string) inventory.Document {
	d := inventory.Document{
		CollectedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Sections:    map[string]json.RawMessage{},
	}
	for name, data := range sections {
		d.Sections[name] = json.RawMessage(data)
	}
	return d
}

func hashesOf(sections map[string]string) map[string]string {
	h := map[string]string{}
	for name, data := range sections {
		h[name] = inventory.Hash([]byte(data))
	}
	return h
}

// syncBuffer collects log output from the agent's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// sleepRec replaces the backoff sleep: it records each wait and how many
// dials the server had seen when the wait began, then returns at once.
type sleepRec struct {
	fs *fakeServer

	mu     sync.Mutex
	waits  []time.Duration
	dialed []int
}

func (r *sleepRec) sleep(ctx context.Context, d time.Duration) error {
	_, dials := r.fs.counts()
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.dialed = append(r.dialed, dials)
	r.mu.Unlock()
	// A token pause keeps an agent facing a refusing server from spinning
	// a core while the test waits for it.
	return sleepCtx(ctx, time.Millisecond)
}

func (r *sleepRec) snapshot() ([]time.Duration, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.waits...), append([]int(nil), r.dialed...)
}

type testAgent struct {
	cfg    Config
	sleeps *sleepRec
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// newTestAgent prepares an agent for fs with a fresh state dir, a feed
// collector, heartbeats off and an inventory interval so short that a new
// collection starts as soon as the previous inventory is acked.
func newTestAgent(t *testing.T, fs *fakeServer, f *feed) *testAgent {
	t.Helper()
	logs := &syncBuffer{}
	return &testAgent{
		cfg: Config{
			ServerURL:         fs.srv.URL,
			EnrollSecret:      fs.secret,
			StateDir:          filepath.Join(t.TempDir(), "state"),
			AgentVersion:      "1.2.3-test",
			Hostname:          "test-host",
			Collect:           f.collect,
			InventoryInterval: time.Millisecond,
			HeartbeatInterval: time.Hour,
			Logger:            slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			HTTPClient:        fs.srv.Client(),
		},
		sleeps: &sleepRec{fs: fs},
		logs:   logs,
	}
}

// start runs the agent with recorded sleeps and a random source fixed at
// the middle of every range; opts change further hooks.
func (a *testAgent) start(t *testing.T, opts ...func(*hooks)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.done = make(chan error, 1)
	h := hooks{now: time.Now, sleep: a.sleeps.sleep, rand: func() float64 { return 0.5 }}
	for _, o := range opts {
		o(&h)
	}
	go func() { a.done <- run(ctx, a.cfg, h) }()
	t.Cleanup(func() { a.stop(t) })
}

// stop cancels the agent and returns what Run returned.
func (a *testAgent) stop(t *testing.T) error {
	t.Helper()
	if a.cancel == nil {
		return nil
	}
	a.cancel()
	a.cancel = nil
	select {
	case err := <-a.done:
		return err
	case <-time.After(wait):
		t.Fatal("Run did not return after cancel")
		return nil
	}
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func withClock(c *fakeClock) func(*hooks) {
	return func(h *hooks) { h.now = c.now }
}

// withRealSleep makes backoff waits real (and cancellable).
func withRealSleep(h *hooks) { h.sleep = sleepCtx }

// waitFor polls cond until it holds, failing the test after the usual
// bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// savedState reads state.json the way a restarted agent would.
func savedState(t *testing.T, dir string) state.State {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, state.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	var st state.State
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st
}
