package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/sqlite"
)

// countingStore counts the HostsDisconnected calls that reach inner and
// the disconnections they carried; while fail is set, calls fail instead.
type countingStore struct {
	inner disconnectStore
	mu    sync.Mutex
	calls int
	sizes []int
	fails int
	fail  error
	// failed, when set, is told of every failed call.
	failed chan struct{}
}

func (c *countingStore) HostsDisconnected(ctx context.Context, ds []store.Disconnect) error {
	c.mu.Lock()
	fail := c.fail
	if fail != nil {
		c.fails++
	} else {
		c.calls++
		c.sizes = append(c.sizes, len(ds))
	}
	c.mu.Unlock()
	if fail != nil {
		if c.failed != nil {
			select {
			case c.failed <- struct{}{}:
			default:
			}
		}
		return fail
	}
	return c.inner.HostsDisconnected(ctx, ds)
}

func (c *countingStore) setFail(err error) {
	c.mu.Lock()
	c.fail = err
	c.mu.Unlock()
}

func (c *countingStore) counts() (calls, fails int, sizes []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.fails, append([]int(nil), c.sizes...)
}

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestMassDisconnectRecordedInFewStatements drops 2,000 hosts at once
// into the recorder in front of a real SQLite store: every host ends up
// with its disconnection time, written in batches of at most 1,000, not
// one statement per host.
func TestMassDisconnectRecordedInFewStatements(t *testing.T) {
	st := openSQLite(t)
	ctx := t.Context()
	const hosts = 2000
	ids := make([]int64, hosts)
	for i := range ids {
		id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: fmt.Sprintf("key-%d", i), Hostname: fmt.Sprintf("h-%d", i), EnrolledAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	counting := &countingStore{inner: st}
	r := newDisconnectRecorder(counting, slog.New(slog.DiscardHandler))
	at := time.Now().UTC().Truncate(time.Microsecond)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.add(id, at)
		}()
	}
	wg.Wait()
	if err := r.flush(ctx); err != nil {
		t.Fatal(err)
	}
	calls, _, sizes := counting.counts()
	if calls > 5 {
		t.Errorf("2,000 disconnections took %d store calls (sizes %v), want a handful", calls, sizes)
	}
	sum := 0
	for _, n := range sizes {
		if n > disconnectBatch {
			t.Errorf("a batch of %d, over the bound of %d", n, disconnectBatch)
		}
		sum += n
	}
	if sum != hosts {
		t.Errorf("batches carried %d disconnections, want %d", sum, hosts)
	}
	for _, id := range ids {
		h, err := st.GetHost(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !h.DisconnectedAt.Equal(at) {
			t.Fatalf("host %d: disconnected_at %v, want %v", id, h.DisconnectedAt, at)
		}
	}
	t.Logf("2,000 disconnections in %d store calls of %v", calls, sizes)
}

// TestDisconnectsRetriedAfterStoreFailure: while the store fails, the
// recorder keeps what it was given and tries again, logging a line per
// attempt at most rather than one per host; once the store answers,
// everything is recorded.
func TestDisconnectsRetriedAfterStoreFailure(t *testing.T) {
	fake := newFakeStore()
	for i := range 300 {
		fake.EnrollHost(t.Context(), store.NewHost{NodeKeyHash: fmt.Sprint(i)})
	}
	counting := &countingStore{inner: fake, fail: errDown, failed: make(chan struct{}, 1)}
	var logs syncBuffer
	r := newDisconnectRecorder(counting, slog.New(slog.NewTextHandler(&logs, nil)))
	r.delay, r.minBackoff, r.maxBackoff = time.Millisecond, time.Millisecond, 5*time.Millisecond
	at := time.Now().UTC()
	for id := range int64(300) {
		r.add(id+1, at)
	}
	// Three failed attempts, then the store comes back.
	for range 3 {
		<-counting.failed
	}
	counting.setFail(nil)
	if err := r.flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	calls, fails, sizes := counting.counts()
	if fails < 3 || calls == 0 {
		t.Fatalf("%d failed and %d good calls, want at least 3 and 1", fails, calls)
	}
	fake.mu.Lock()
	for id, h := range fake.hosts {
		if !h.DisconnectedAt.Equal(at) {
			t.Errorf("host %d: disconnected_at %v after the store came back, want %v", id, h.DisconnectedAt, at)
		}
	}
	fake.mu.Unlock()
	if n := strings.Count(logs.String(), "level=WARN"); n == 0 || n > fails {
		t.Errorf("%d warnings for %d failed calls of 300 hosts:\n%s", n, fails, logs.String())
	}
	t.Logf("%d failed calls, then %d calls of %v", fails, calls, sizes)
}

// TestDisconnectsBoundedWhileStoreFails: past its bound the recorder
// drops the oldest disconnections, says so in one line, and records the
// newest once the store answers.
func TestDisconnectsBoundedWhileStoreFails(t *testing.T) {
	fake := newFakeStore()
	for i := range 100 {
		fake.EnrollHost(t.Context(), store.NewHost{NodeKeyHash: fmt.Sprint(i)})
	}
	counting := &countingStore{inner: fake, fail: errDown, failed: make(chan struct{}, 1)}
	var logs syncBuffer
	r := newDisconnectRecorder(counting, slog.New(slog.NewTextHandler(&logs, nil)))
	r.maxPending, r.batch = 40, 10
	r.delay, r.minBackoff, r.maxBackoff = time.Millisecond, time.Millisecond, time.Millisecond
	at := time.Now().UTC()
	// The first attempt fails with a batch in hand.
	r.add(1, at)
	<-counting.failed
	for id := range int64(99) {
		r.add(id+2, at)
	}
	// A failure after the last add has trimmed what waits to the bound.
	select {
	case <-counting.failed:
	default:
	}
	<-counting.failed
	r.mu.Lock()
	pending := r.waiting()
	r.mu.Unlock()
	if pending > 40 {
		t.Errorf("%d pending, over the bound of 40", pending)
	}
	counting.setFail(nil)
	if err := r.flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	recorded := 0
	for id, h := range fake.hosts {
		if !h.DisconnectedAt.IsZero() {
			recorded++
			if id <= 60 {
				t.Errorf("host %d recorded: an older disconnection was kept over a newer one", id)
			}
		}
	}
	fake.mu.Unlock()
	if recorded != 40 {
		t.Errorf("%d hosts recorded, want the newest 40", recorded)
	}
	out := logs.String()
	lines, dropped := 0, 0
	for _, m := range regexp.MustCompile(`not recorded: too many.* dropped=(\d+)`).FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		lines, dropped = lines+1, dropped+n
	}
	if dropped != 60 || lines == 0 || lines > 10 {
		t.Errorf("%d lines telling of %d dropped disconnections, want a few lines and 60:\n%s", lines, dropped, out)
	}
}

// TestShutdownRecordsDisconnections: closing the gateway records every
// connected host's disconnection before Shutdown returns, the 200
// connections that close at once in a call or two.
func TestShutdownRecordsDisconnections(t *testing.T) {
	h := newHarness(t)
	var keys []string
	for range 200 {
		keys = append(keys, h.nodeKey())
	}
	for _, k := range keys {
		h.connect(k)
	}
	if err := h.gw.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	if h.st.disconnectCalls == 0 || h.st.disconnectCalls > 3 {
		t.Errorf("200 disconnections at shutdown took %d store calls, want one to three", h.st.disconnectCalls)
	}
	for id, host := range h.st.hosts {
		if host.DisconnectedAt.IsZero() || host.DisconnectedAt.Before(host.ConnectedAt) {
			t.Errorf("host %d: connected %v, disconnected %v after shutdown", id, host.ConnectedAt, host.DisconnectedAt)
		}
	}
}

// TestShutdownGivesUpOnFailingStore: a store that never answers holds
// Shutdown no longer than its context.
func TestShutdownGivesUpOnFailingStore(t *testing.T) {
	counting := &countingStore{inner: newFakeStore(), fail: errors.New("pool exhausted"), failed: make(chan struct{}, 1)}
	r := newDisconnectRecorder(counting, slog.New(slog.DiscardHandler))
	r.add(1, time.Now())
	<-counting.failed
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r.flush(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("flush with the store down: %v, want the context's error", err)
	}
	r.stop()
	// Stopped, the writer tries once more, drops the batch and ends.
	if err := r.flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}
