package gateway

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/ingest"
)

// newDeadlineHarness is a harness whose hello and pong deadlines are
// short, so that silent peers are dropped quickly.
func newDeadlineHarness(t *testing.T) *harness {
	t.Helper()
	st := newFakeStore()
	b := ingest.New(st, ingest.Config{})
	gw := New(Config{Store: st, Ingest: b, RetryAfter: time.Second, HeartbeatInterval: 5 * time.Second,
		HelloTimeout: 300 * time.Millisecond, PingInterval: 100 * time.Millisecond, PongWait: 300 * time.Millisecond})
	return serve(t, st, b, gw)
}

// closedByServer reads until the connection ends and reports whether the
// server ended it (rather than the client's own generous deadline).
func closedByServer(t *testing.T, ws *websocket.Conn) error {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server kept a silent connection open: %v", err)
			}
			return err
		}
	}
}

func TestSilentPeerSendsNoHello(t *testing.T) {
	h := newDeadlineHarness(t)
	ws, _, err := h.dial(h.nodeKey())
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	closedByServer(t, ws)
	if n := h.gw.Connected(); n != 0 {
		t.Errorf("%d connections registered for a peer that never said hello", n)
	}
}

func TestPeerThatStopsAnsweringPingsIsDropped(t *testing.T) {
	h := newDeadlineHarness(t)
	ws, _ := h.connect(h.nodeKey())
	ws.SetPingHandler(func(string) error { return nil }) // no pong
	closedByServer(t, ws)
	waitFor(t, "the dropped peer to be unregistered", func() bool { return h.gw.Connected() == 0 })
}

func TestPeerThatAnswersPingsStays(t *testing.T) {
	h := newDeadlineHarness(t)
	ws, _ := h.connect(h.nodeKey())
	// The default handler answers each ping. Reading for ten pong
	// deadlines sees pings (handled inside ReadMessage) and no close.
	ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, _, err := ws.ReadMessage()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a peer answering pings was dropped: %v", err)
	}
	if h.gw.Connected() != 1 {
		t.Errorf("connected = %d, want 1", h.gw.Connected())
	}
}
