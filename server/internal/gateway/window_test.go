package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/wire"
)

func TestWindowBoundsMessagesAndBytes(t *testing.T) {
	w := newWindow(WindowConfig{Messages: 3, Bytes: 100, Wait: time.Hour})
	ctx := context.Background()
	for range 3 {
		if err := w.acquire(ctx, 10); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.acquire(cctx, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("fourth message: %v, want to wait (context.Canceled)", err)
	}
	got := make(chan error)
	go func() { got <- w.acquire(ctx, 10) }()
	w.release(10)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// By bytes: 20 held, 81 more would pass 100.
	w.release(10)
	if err := w.acquire(cctx, 81); !errors.Is(err, context.Canceled) {
		t.Fatalf("past the byte bound: %v, want to wait", err)
	}
	// An empty window takes one message of any size.
	w.release(10)
	w.release(10)
	if err := w.acquire(ctx, 1<<30); err != nil {
		t.Fatalf("one large message into an empty window: %v", err)
	}
	stuck := newWindow(WindowConfig{Messages: 1, Wait: time.Nanosecond})
	stuck.acquire(ctx, 1)
	if err := stuck.acquire(ctx, 1); !errors.Is(err, errWindowStuck) {
		t.Fatalf("window full past Wait: %v, want errWindowStuck", err)
	}
}

// holdSink holds every commit that includes host hold until gate is
// closed; the other hosts' commits run at once.
type holdSink struct {
	*fakeStore
	hold int64
	gate chan struct{}
}

func (s *holdSink) ApplyBatch(ctx context.Context, msgs []store.Message) ([]store.Result, error) {
	for _, m := range msgs {
		if m.HostID == s.hold {
			select {
			case <-s.gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			break
		}
	}
	return s.fakeStore.ApplyBatch(ctx, msgs)
}

// hostSubmitter counts, per host, the messages handed to ingest.
type hostSubmitter struct {
	Submitter
	mu sync.Mutex
	n  map[int64]int
	// cond, when set, is signalled after every count (reached).
	cond *sync.Cond
}

func (h *hostSubmitter) Submit(ctx context.Context, msg store.Message, done ingest.Done) error {
	err := h.Submitter.Submit(ctx, msg, done)
	if err == nil {
		h.add(msg.HostID)
	}
	return err
}

func (h *hostSubmitter) add(host int64) {
	h.mu.Lock()
	h.n[host]++
	if h.cond != nil {
		h.cond.Broadcast()
	}
	h.mu.Unlock()
}

// reached waits until n of host's messages were handed to ingest, and
// fails t if that has not happened within a minute: a server that stopped
// reading short of the window would otherwise hang the test.
func (h *hostSubmitter) reached(t *testing.T, host int64, n int) {
	t.Helper()
	given := false
	up := time.AfterFunc(time.Minute, func() {
		h.mu.Lock()
		given = true
		h.cond.Broadcast()
		h.mu.Unlock()
	})
	defer up.Stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.n[host] < n && !given {
		h.cond.Wait()
	}
	if h.n[host] < n {
		t.Fatalf("only %d of host %d's messages handed to ingest after a minute, want %d", h.n[host], host, n)
	}
}

func (h *hostSubmitter) count(host int64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[host]
}

// TestAgentIgnoringWindowIsSlowedThenClosed: an agent that never reads
// and keeps sending heartbeats while its commits are slow gets exactly
// its window's worth handed to ingest and no more, however much it
// writes; another agent is served meanwhile; once the window has stayed
// full for its Wait, the first agent is told the server is unavailable
// and closed.
func TestAgentIgnoringWindowIsSlowedThenClosed(t *testing.T) {
	const window = 8
	st := newFakeStore()
	sink := &holdSink{fakeStore: st, hold: 1, gate: make(chan struct{})}
	// Two writers: host 1 commits on one, host 2 on the other.
	b := ingest.New(sink, ingest.Config{Writers: 2})
	sub := &hostSubmitter{Submitter: b, n: map[int64]int{}}
	sub.cond = sync.NewCond(&sub.mu)
	logs := &logBuffer{}
	gw := New(Config{Store: st, Ingest: sub, HeartbeatInterval: 5 * time.Second, RetryAfter: 7 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Window: WindowConfig{Messages: window, Wait: 2 * time.Second}})
	mux := http.NewServeMux()
	gw.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		close(sink.gate)
		gw.Shutdown(context.Background())
		srv.Close()
		b.Stop()
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	h := &harness{t: t, st: st, gw: gw, srv: srv}

	flooder, _ := h.connect(h.nodeKey()) // host 1
	other, _ := h.connect(h.nodeKey())   // host 2
	written := atomic.Int64{}
	far := make(chan struct{})
	go func() {
		// Never reads; writes until the server closes the socket.
		for seq := uint64(1); ; seq++ {
			b, _ := wire.Encode(wire.TypeHeartbeat, seq, wire.Heartbeat{Time: time.Now()})
			if flooder.WriteMessage(websocket.TextMessage, b) != nil {
				return
			}
			if written.Add(1) == window+100 {
				close(far)
			}
		}
	}()
	<-far
	// The server reads the window's worth; the frames past it wait unread
	// in the socket (the client's writes fill socket buffers, which tells
	// nothing of how far the server has read: wait for that).
	sub.reached(t, 1, window)
	if n := sub.count(1); n != window {
		t.Errorf("%d of the flooding agent's messages handed to ingest, want its window of %d", n, window)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		h.send(other, wire.TypeHeartbeat, seq, wire.Heartbeat{Time: time.Now()})
		if env := h.read(other); env.Type != wire.TypeAck || env.Seq != seq {
			t.Fatalf("other agent: got %s seq %d, want ack %d", env.Type, env.Seq, seq)
		}
	}
	e := h.expectError(flooder, wire.CodeUnavailable)
	if time.Duration(e.RetryAfter) != 7*time.Second {
		t.Errorf("retry_after %v, want the configured 7s", time.Duration(e.RetryAfter))
	}
	if n := sub.count(1); n != window {
		t.Errorf("%d messages handed to ingest by the time the agent was closed, want %d", n, window)
	}
	if !strings.Contains(logs.String(), "past its in-flight window") {
		t.Errorf("closing not logged:\n%s", logs)
	}
	// The other agent is still served.
	h.send(other, wire.TypeHeartbeat, 4, wire.Heartbeat{Time: time.Now()})
	if env := h.read(other); env.Type != wire.TypeAck || env.Seq != 4 {
		t.Fatalf("other agent after the close: got %s seq %d, want ack 4", env.Type, env.Seq)
	}
}

// TestWindowPacesAFastAgent: an agent that sends far more than its
// window without waiting for acks, while commits keep up, is only paced:
// every message is acked in order and the connection stays.
func TestWindowPacesAFastAgent(t *testing.T) {
	const burst = 500
	h := newBackpressureHarness(t, nil, func(c *Config) { c.Window = WindowConfig{Messages: 4, Wait: time.Hour} })
	ws, _ := h.connect(h.nodeKey())
	sent := make(chan error, 1)
	go func() {
		for seq := uint64(1); seq <= burst; seq++ {
			b, _ := wire.Encode(wire.TypeHeartbeat, seq, wire.Heartbeat{Time: time.Now()})
			if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for want := uint64(1); want <= burst; want++ {
		env := h.read(ws)
		if env.Type != wire.TypeAck || env.Seq != want {
			t.Fatalf("got %s seq %d, want ack %d", env.Type, env.Seq, want)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if n := h.gw.Connected(); n != 1 {
		t.Errorf("Connected() = %d, want 1", n)
	}
}
