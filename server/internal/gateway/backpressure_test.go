package gateway

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/wire"
)

// gatedSink holds every commit until its gate is closed.
type gatedSink struct {
	*fakeStore
	gate chan struct{}
}

func (s *gatedSink) ApplyBatch(ctx context.Context, msgs []store.Message) ([]store.Result, error) {
	<-s.gate
	return s.fakeStore.ApplyBatch(ctx, msgs)
}

// countingSubmitter counts the messages the gateway handed to ingest.
type countingSubmitter struct {
	Submitter
	n atomic.Int64
}

func (c *countingSubmitter) Submit(ctx context.Context, msg store.Message, done ingest.Done) error {
	err := c.Submitter.Submit(ctx, msg, done)
	if err == nil {
		c.n.Add(1)
	}
	return err
}

// logBuffer is a slog destination that tests can read while the server
// writes to it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// stallListener wraps the server's sockets so that a test can make them
// behave as towards a peer that stopped reading: once stalled is set, a
// write takes nothing and blocks until its deadline passes or the socket
// is closed, as it does when the peer's receive window stays shut. Real
// kernel buffers would do the same after some tens of kilobytes, but how
// many depends on the kernel and its load.
type stallListener struct {
	net.Listener
	stalled *atomic.Bool

	mu    sync.Mutex
	conns []*stallConn
}

func (l *stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	sc := &stallConn{Conn: c, stalled: l.stalled, closed: make(chan struct{})}
	l.mu.Lock()
	l.conns = append(l.conns, sc)
	l.mu.Unlock()
	return sc, nil
}

// closeAll closes every accepted socket, ending writes still stalled.
func (l *stallListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

type stallConn struct {
	net.Conn
	stalled *atomic.Bool

	mu       sync.Mutex
	deadline time.Time
	once     sync.Once
	closed   chan struct{}
}

func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *stallConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *stallConn) Write(p []byte) (int, error) {
	if !c.stalled.Load() {
		return c.Conn.Write(p)
	}
	c.mu.Lock()
	d := c.deadline
	c.mu.Unlock()
	var expired <-chan time.Time
	if !d.IsZero() {
		timer := time.NewTimer(time.Until(d))
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	case <-expired:
		return 0, os.ErrDeadlineExceeded
	}
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

type backpressureHarness struct {
	*harness
	sub  *countingSubmitter
	logs *logBuffer
	// stalled makes the server's sockets stop delivering (stallListener).
	stalled *atomic.Bool
}

// newBackpressureHarness is newHarness with a commit gate (nil: commits
// run at once), sockets that can be stalled and the log kept; tune
// adjusts the gateway's config.
func newBackpressureHarness(t *testing.T, gate chan struct{}, tune func(*Config)) *backpressureHarness {
	t.Helper()
	st := newFakeStore()
	var sink ingest.Sink = st
	if gate != nil {
		sink = &gatedSink{fakeStore: st, gate: gate}
	}
	b := ingest.New(sink, ingest.Config{})
	sub := &countingSubmitter{Submitter: b}
	logs := &logBuffer{}
	cfg := Config{Store: st, Ingest: sub, HeartbeatInterval: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if tune != nil {
		tune(&cfg)
	}
	gw := New(cfg)
	mux := http.NewServeMux()
	gw.Register(mux)
	srv := httptest.NewUnstartedServer(mux)
	stalled := &atomic.Bool{}
	ln := &stallListener{Listener: srv.Listener, stalled: stalled}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		if gate != nil {
			select {
			case <-gate:
			default:
				close(gate)
			}
		}
		if stalled.Load() {
			ln.closeAll()
		}
		gw.Shutdown(context.Background())
		srv.Close()
		b.Stop()
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return &backpressureHarness{harness: &harness{t: t, st: st, gw: gw, srv: srv}, sub: sub, logs: logs, stalled: stalled}
}

// waitFor polls cond every 10 ms; the bound turns a hang into a failure
// and measures nothing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAckBurstKeepsConnection: an agent that sends far more messages
// than the send queue holds before it reads anything gets every ack,
// in order, when ingest commits them all at once, and stays connected.
func TestAckBurstKeepsConnection(t *testing.T) {
	const burst = 1000
	gate := make(chan struct{})
	// A window as large as the burst: here the server must take it all.
	h := newBackpressureHarness(t, gate, func(c *Config) { c.Window.Messages = burst })
	ws, _ := h.connect(h.nodeKey())
	for seq := uint64(1); seq <= burst; seq++ {
		h.send(ws, wire.TypeHeartbeat, seq, wire.Heartbeat{Time: time.Now()})
	}
	// Every message is queued behind the held commit: releasing it acks
	// them in batches of hundreds within microseconds.
	waitFor(t, "all messages submitted", func() bool { return h.sub.n.Load() == burst })
	close(gate)
	for want := uint64(1); want <= burst; want++ {
		env := h.read(ws)
		if env.Type != wire.TypeAck || env.Seq != want {
			t.Fatalf("got %s seq %d, want ack %d", env.Type, env.Seq, want)
		}
	}
	h.send(ws, wire.TypeHeartbeat, burst+1, wire.Heartbeat{Time: time.Now()})
	if env := h.read(ws); env.Type != wire.TypeAck || env.Seq != burst+1 {
		t.Fatalf("after the burst: got %s seq %d, want ack %d", env.Type, env.Seq, burst+1)
	}
	if n := h.gw.Connected(); n != 1 {
		t.Errorf("Connected() = %d after the burst, want 1", n)
	}
	if strings.Contains(h.logs.String(), "not reading") {
		t.Errorf("a reading agent was taken for a slow reader:\n%s", h.logs)
	}
}

// TestNonReadingAgentIsDropped: an agent that keeps sending but never
// reads stops taking the server's writes; its acks fill their queue and
// it is dropped as a slow reader, without waiting for the write deadline.
func TestNonReadingAgentIsDropped(t *testing.T) {
	m := metrics.New("test")
	h := newBackpressureHarness(t, nil, func(c *Config) {
		c.AckQueue = 256
		c.WriteWait = time.Hour // only the queue bound can drop it
		c.Metrics = m
	})
	ws, _ := h.connect(h.nodeKey())
	h.stalled.Store(true) // from here on the agent reads nothing
	dropped := func() bool { return h.gw.Connected() == 0 }
	// Bounded: far more acks than the queue holds.
	for seq := uint64(1); seq <= 100_000 && !dropped(); seq++ {
		b, _ := wire.Encode(wire.TypeHeartbeat, seq, wire.Heartbeat{Time: time.Now()})
		ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
			break // the server closed the socket
		}
	}
	waitFor(t, "the agent dropped", dropped)
	if !strings.Contains(h.logs.String(), "agent not reading") {
		t.Errorf("no slow-reader warning in the log:\n%s", h.logs)
	}
	waitFor(t, "the drop counted", func() bool {
		return testutil.ToFloat64(m.AgentDisconnects.WithLabelValues("slow_reader")) == 1
	})
	// The socket is closed: the agent's reads end.
	ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, _, err := ws.ReadMessage()
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open: %v", err)
	}
}

// TestWriteFailureIsLogged: when a write to an agent fails (here: it
// stopped reading and the write deadline passed), the server says so at
// warn level before closing the connection.
func TestWriteFailureIsLogged(t *testing.T) {
	m := metrics.New("test")
	h := newBackpressureHarness(t, nil, func(c *Config) {
		c.WriteWait = 100 * time.Millisecond
		c.Metrics = m
	})
	ws, _ := h.connect(h.nodeKey())
	h.stalled.Store(true)
	h.send(ws, wire.TypeHeartbeat, 1, wire.Heartbeat{Time: time.Now()})
	waitFor(t, "the agent dropped", func() bool { return h.gw.Connected() == 0 })
	waitFor(t, "the failure counted", func() bool {
		return testutil.ToFloat64(m.AgentDisconnects.WithLabelValues("write_failed")) == 1
	})
	out := h.logs.String()
	found := false
	for line := range strings.Lines(out) {
		if strings.Contains(line, "write failed") {
			found = true
			if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "host_id=1") {
				t.Errorf("write failure not a warning naming the host: %s", line)
			}
		}
	}
	if !found {
		t.Errorf("no write failure in the log:\n%s", out)
	}
	if strings.Contains(out, "agent not reading") {
		t.Errorf("dropped by the queue bound, not the write deadline:\n%s", out)
	}
}

func TestRateLimitedLog(t *testing.T) {
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	now := time.Unix(1000, 0)
	r := &rateLimitedLog{now: func() time.Time { return now }}
	for range 5 {
		r.warn(log, "write failed")
	}
	now = now.Add(logEvery)
	r.warn(log, "write failed")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), logs)
	}
	if strings.Contains(lines[0], "suppressed") || !strings.Contains(lines[1], "suppressed_since_last=4") {
		t.Errorf("suppressed count not reported on the next line:\n%s", logs)
	}
}
