package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/shared/wire"
)

// Defaults of WindowConfig.
const (
	DefaultWindowMessages = 64
	DefaultWindowBytes    = 16 << 20
	DefaultWindowWait     = time.Minute
)

// WindowConfig bounds one connection's in-flight window: the data
// messages (inventories and heartbeats) the server read and handed to
// ingest whose commit has not ended yet. A connection whose window is
// full is not read from until a commit frees room, so the agent's sends
// back up in TCP; the agent needs no message to learn it must wait. An
// agent that follows the protocol keeps one inventory and a few
// heartbeats in flight and never meets the bound.
type WindowConfig struct {
	// Messages and Bytes are the bounds (defaults DefaultWindowMessages
	// and DefaultWindowBytes). One message is always let in, however
	// large, when the window is empty.
	Messages int
	Bytes    int64
	// Wait is how long the reader waits for room before it gives up on
	// the agent (default DefaultWindowWait): the agent is told the server
	// is unavailable and the connection closes.
	Wait time.Duration
}

func (c *WindowConfig) setDefaults() {
	if c.Messages <= 0 {
		c.Messages = DefaultWindowMessages
	}
	if c.Bytes <= 0 {
		c.Bytes = DefaultWindowBytes
	}
	if c.Wait <= 0 {
		c.Wait = DefaultWindowWait
	}
}

// errWindowStuck is acquire's error when the window stayed full for the
// whole of WindowConfig.Wait.
var errWindowStuck = errors.New("in-flight window stayed full")

// window counts one connection's messages in flight. The reader takes
// room, the ingest callbacks give it back.
type window struct {
	cfg   WindowConfig
	mu    sync.Mutex
	msgs  int
	bytes int64
	// freed is closed, and replaced, when room is given back while the
	// reader waits for it (waiting); nil when nobody waits.
	freed   chan struct{}
	waiting bool
}

func newWindow(cfg WindowConfig) *window {
	cfg.setDefaults()
	return &window{cfg: cfg}
}

// acquire takes room for a message of n bytes, waiting while the window
// is full: until room is given back, ctx ends, or cfg.Wait passes
// (errWindowStuck).
func (w *window) acquire(ctx context.Context, n int64) error {
	var expired <-chan time.Time
	for {
		w.mu.Lock()
		if w.take(n) {
			w.mu.Unlock()
			return nil
		}
		if w.freed == nil {
			w.freed = make(chan struct{})
		}
		freed := w.freed
		w.waiting = true
		w.mu.Unlock()
		if expired == nil {
			t := time.NewTimer(w.cfg.Wait)
			defer t.Stop()
			expired = t.C
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		case <-expired:
			return errWindowStuck
		}
	}
}

// tryAcquire takes room for a message of n bytes if there is room now.
func (w *window) tryAcquire(n int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.take(n)
}

// take takes room for n bytes if there is room; mu is held.
func (w *window) take(n int64) bool {
	if w.msgs == 0 || w.msgs < w.cfg.Messages && w.bytes+n <= w.cfg.Bytes {
		w.msgs++
		w.bytes += n
		return true
	}
	return false
}

// release gives back the room of one message of n bytes and returns how
// many messages are still in flight.
func (w *window) release(n int64) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs--
	w.bytes -= n
	if w.waiting {
		close(w.freed)
		w.freed, w.waiting = nil, false
	}
	return w.msgs
}

// windowStuck ends the connection of an agent whose window stayed full:
// it keeps sending faster than its messages commit. It is told to come
// back later, like an agent of a server whose database is down; what it
// did not get acked it sends again then.
func (c *conn) windowStuck(err error) {
	if c.ctx.Err() != nil {
		return // torn down while waiting
	}
	c.g.cfg.Logger.Warn("agent keeps sending past its in-flight window; closing connection",
		"host_id", c.host.ID, "remote", c.remote, "window_messages", c.g.cfg.Window.Messages, "err", err)
	if m := c.g.cfg.Metrics; m != nil {
		m.MessagesRejected.WithLabelValues("window").Inc()
	}
	c.fail(errorFrame(wire.CodeUnavailable, "too many messages awaiting their ack", c.g.cfg.RetryAfter).as(metrics.DisconnectWindow))
}
