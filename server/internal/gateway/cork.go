package gateway

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// corkLimit is the most bytes a corked socket gathers before it sends
// them anyway.
const corkLimit = 64 << 10

// corkBuffers holds the gathering buffers of the connections writing at
// the moment; an idle connection holds none.
var corkBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 4096)
	return &b
}}

// corkConn is the socket under an agent's WebSocket. While the
// connection's writer holds it corked, the frames the WebSocket library
// writes are gathered in memory; the first write after uncork sends them
// together with its own bytes. A batch of acks then costs one system call
// (and over TLS one record) instead of one each.
//
// Every socket write still happens inside a write of the library, under
// the library's own write lock: frames other goroutines write (a pong, a
// close frame) keep their place in the byte stream.
type corkConn struct {
	net.Conn

	mu       sync.Mutex
	corked   bool
	pending  *[]byte // gathered bytes, from corkBuffers
	deadline time.Time
	// deadlineSet says deadline was asked for while corked and is not
	// applied to the socket yet.
	deadlineSet bool
	// applied is the write deadline the socket has. A later one within
	// slack of it is not applied (see applyDeadline).
	applied time.Time
	slack   time.Duration
}

// applyDeadline gives the socket write deadline t, unless the socket's
// deadline is already at most slack earlier than t. The library asks
// for a deadline before every frame, and each change of a socket's
// deadline is timer work in the runtime: with slack at half the write
// wait, a connection that writes every second changes it about once in
// five writes, and a frame still gets at least half the wait. An
// earlier deadline, or none, is always applied. Called with mu held.
func (c *corkConn) applyDeadline(t time.Time) error {
	if !t.IsZero() && !c.applied.IsZero() && !t.Before(c.applied) && t.Sub(c.applied) < c.slack {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	c.applied = t
	return nil
}

// cork starts gathering writes.
func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork stops gathering: the next write sends what was gathered first.
func (c *corkConn) uncork() {
	c.mu.Lock()
	c.corked = false
	c.mu.Unlock()
}

// unsent stops gathering and drops what no write has sent, reporting how
// many bytes that was. Bytes are left only when the library refused the
// batch's last write, so the connection is failing anyway.
func (c *corkConn) unsent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if c.pending == nil {
		return 0
	}
	n := len(*c.pending)
	putCork(c.pending)
	c.pending = nil
	return n
}

// SetWriteDeadline is asked for before every frame; while corked it is
// only noted, and applied once when the gathered bytes are sent.
func (c *corkConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.deadline, c.deadlineSet = t, true
		return nil
	}
	c.deadlineSet = false
	return c.applyDeadline(t)
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	held := 0
	if c.pending != nil {
		held = len(*c.pending)
	}
	if c.corked && held+len(p) <= corkLimit {
		if c.pending == nil {
			c.pending = corkBuffers.Get().(*[]byte)
		}
		*c.pending = append(*c.pending, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	buf := c.pending
	c.pending = nil
	if c.deadlineSet {
		c.deadlineSet = false
		if err := c.applyDeadline(c.deadline); err != nil {
			c.mu.Unlock()
			putCork(buf)
			return 0, err
		}
	}
	c.mu.Unlock()

	if buf == nil {
		return c.Conn.Write(p)
	}
	defer putCork(buf)
	if len(p) > corkLimit {
		// A large frame is not copied: two writes.
		if _, err := c.Conn.Write(*buf); err != nil {
			return 0, err
		}
		return c.Conn.Write(p)
	}
	*buf = append(*buf, p...)
	if _, err := c.Conn.Write(*buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

func putCork(b *[]byte) {
	if b == nil || cap(*b) > 2*corkLimit {
		return
	}
	*b = (*b)[:0]
	corkBuffers.Put(b)
}

// corkingWriter hands the WebSocket library a corkConn in place of the
// socket it hijacks from the HTTP server.
type corkingWriter struct {
	http.ResponseWriter
	conn *corkConn
}

func (w corkingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn.Conn = nc
	return w.conn, brw, nil
}
