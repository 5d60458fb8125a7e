package gateway

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
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
// Every socket write happens under wmu: inside a write of the library
// (under the library's own write lock as well), or in tryWrite, which
// the library does not see. Frames other goroutines write (a pong, a
// close frame) keep their place in the byte stream, and bytes tryWrite
// could not send go out before anything written after them.
type corkConn struct {
	net.Conn
	// raw is the socket's descriptor access for tryWrite; nil when the
	// connection is not a plain socket (TLS), and tryWrite is not used.
	raw syscall.RawConn

	wmu      sync.Mutex // held across every write to the socket
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
	wait    time.Duration // a write's deadline from now (tryWrite)
	// onClose, when set, is called once the socket is closed: the read
	// loop reading it must be told (read.go). closed says Close ran.
	onClose func()
	closed  bool
}

// newCorkConn returns the corkConn of a connection whose frame writes
// are bounded by wait.
func newCorkConn(wait time.Duration) *corkConn {
	return &corkConn{wait: wait, slack: wait / 2}
}

// errNoInline says tryWrite cannot be used on the connection now; the
// caller hands its bytes to a writer goroutine instead.
var errNoInline = errors.New("socket not writable from here")

// tryWrite sends b with one non-blocking write, in the calling goroutine,
// without the WebSocket library: b must be whole frames, and the caller
// must own the connection's writes (outbox). What the socket does not
// take at once stays gathered, to go out before any later write; left
// says so, and the caller must then start a writer, which sends it with
// the usual deadline (flush). errNoInline means nothing was tried; so
// when another write is in progress, such as a pong the reader writes
// to a peer that sends pings and does not read: the caller never waits
// on a peer.
func (c *corkConn) tryWrite(b []byte) (left bool, err error) {
	if c.raw == nil || !c.wmu.TryLock() {
		return false, errNoInline
	}
	defer c.wmu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked || c.pending != nil {
		return false, errNoInline
	}
	// The descriptor refuses writes once its deadline has passed, as an
	// idle connection's has: give it the writer's deadline.
	c.deadlineSet = false
	if err := c.applyDeadline(time.Now().Add(c.wait)); err != nil {
		return false, err
	}
	n := 0
	var werr error
	err = c.raw.Write(func(fd uintptr) bool {
		n, werr = rawWrite(fd, b)
		return true // one attempt: a full socket is the writer's to wait on
	})
	if err == nil && werr != nil && !wouldBlock(werr) {
		err = werr
	}
	if err != nil {
		return false, err
	}
	n = max(n, 0)
	if n == len(b) {
		return false, nil
	}
	c.pending = corkBuffers.Get().(*[]byte)
	*c.pending = append(*c.pending, b[n:]...)
	return true, nil
}

// flush sends what tryWrite left, if anything, with the deadline of a
// write; it waits as long as that. The writer calls it first, before it
// corks the socket for a batch.
func (c *corkConn) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	buf := c.pending
	c.pending = nil
	var err error
	if buf != nil {
		c.deadlineSet = false
		err = c.applyDeadline(time.Now().Add(c.wait))
	}
	c.mu.Unlock()
	if buf == nil || err != nil {
		putCork(buf)
		return err
	}
	defer putCork(buf)
	_, err = c.Conn.Write(*buf)
	return err
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

// Close closes the socket and tells its read loop, if it has one.
func (c *corkConn) Close() error {
	err := c.Conn.Close()
	c.mu.Lock()
	c.closed = true
	f := c.onClose
	c.mu.Unlock()
	if f != nil {
		f()
	}
	return err
}

// atClose has f called when the socket is closed, and reports false,
// without keeping f, when it is closed already.
func (c *corkConn) atClose(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.onClose = f
	return true
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
	c.wmu.Lock()
	defer c.wmu.Unlock()
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
	if sc, ok := nc.(syscall.Conn); ok && inlineWrites {
		if raw, err := sc.SyscallConn(); err == nil {
			w.conn.raw = raw
		}
	}
	return w.conn, brw, nil
}
