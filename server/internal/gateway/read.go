package gateway

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/netpoll"
	"github.com/steward-project/steward/server/internal/wsframe"
	"github.com/steward-project/steward/shared/wire"
)

// Reading agents from read loops (package netpoll) rather than from a
// goroutine per connection. After its welcome, a plain TCP connection is
// read by one of a few loops shared by the process: a message then costs
// no goroutine wake-up and no read that finds the socket empty, and an
// idle connection keeps no goroutine stack. The loop parses frames itself
// (frames.go); gorilla's connection still does every write.
//
// A loop must not wait on one connection, so a message that would (a
// full in-flight window, or policy results, which commit before the next
// message is read) pauses its connection: a goroutine hands it on,
// waiting as a reader goroutine would, reads what came after it, and
// gives the connection back to the loop. Ingest's queue is everyone's:
// a loop that finds it full waits for room (conn.submit), and its other
// connections' bytes wait in their sockets meanwhile. Over TLS, and off
// Linux, a goroutine reads each connection (conn.readLoop).

var (
	loopsOnce   sync.Once
	sharedLoops *netpoll.Loops
)

// goroutineReads has a goroutine read every connection, loops or not:
// the tests of both paths set it (TestMain).
var goroutineReads bool

// readLoops returns the loops that will read c after its welcome, or nil
// when a goroutine of its own must.
func (c *conn) readLoops() *netpoll.Loops {
	if goroutineReads || c.cork.raw == nil {
		return nil
	}
	loopsOnce.Do(func() {
		var err error
		sharedLoops, err = netpoll.Start()
		if err != nil && !errors.Is(err, netpoll.ErrUnsupported) {
			c.g.cfg.Logger.Warn("agent connections are read by a goroutine each: no read loops", "err", err)
		}
	})
	return sharedLoops
}

// helloBuffer is what the hello is read with; a larger hello takes
// several reads.
const helloBuffer = 4096

// readHelloRaw reads the hello from the socket through c's own parser,
// for a connection a loop will read: the library's buffered reader
// cannot be handed over, and nothing is in it, since the library refuses
// an upgrade whose request came with bytes after it. Whatever follows
// the hello in the same read is kept for the loop (c.held).
func (c *conn) readHelloRaw() (wire.Hello, error) {
	nc := c.cork.Conn
	nc.SetReadDeadline(time.Now().Add(c.g.cfg.HelloTimeout))
	defer nc.SetReadDeadline(time.Time{})
	buf := make([]byte, helloBuffer)
	for {
		n, rerr := nc.Read(buf)
		rest, env, got, err := c.nextMessage(buf[:n])
		if err != nil {
			return wire.Hello{}, err
		}
		if got {
			c.held = slices.Clone(rest)
			return helloOf(env)
		}
		if rerr != nil {
			return wire.Hello{}, rerr
		}
	}
}

// nextMessage parses b up to the end of the next message, acting on the
// control frames before it, and returns the message's envelope (got) and
// the bytes after it; without a whole message in b, it keeps what it
// has of one and returns got false.
func (c *conn) nextMessage(b []byte) (rest []byte, env wire.Envelope, got bool, err error) {
	for len(b) > 0 {
		used, f, done, err := c.rd.feed(b)
		b = b[used:]
		switch {
		case err != nil:
			return nil, env, false, err
		case !done:
		case f.op >= wsframe.OpClose:
			if err := c.control(f); err != nil {
				return nil, env, false, err
			}
		case f.op != wsframe.OpText:
			return nil, env, false, errBinary
		default:
			env, err := c.decode(f.data)
			return b, env, err == nil, err
		}
	}
	return nil, env, false, nil
}

var errBinary = fmt.Errorf("%w: binary frame", wire.ErrMalformed)

// control acts on a control frame from the agent: a ping is answered
// through the writer, a close frame ends reading (the teardown answers
// it), a pong only shows the agent is there, as any read does.
func (c *conn) control(f clientFrame) error {
	switch f.op {
	case wsframe.OpPing:
		c.enqueue(outItem{kind: outPong, frame: slices.Clone(f.data)})
	case wsframe.OpClose:
		code, err := closeCode(f.data)
		if err != nil {
			return err
		}
		return &websocket.CloseError{Code: code}
	}
	return nil
}

// startLoop has a loop read c from now on, after what the hello's read
// brought with it.
func (c *conn) startLoop(loops *netpoll.Loops) {
	c.pc = loops.Add(c.cork.raw, c)
	c.g.live.watch(c)
	// The kernel drops a closed socket from the epoll set without an
	// event: closing it must tell the loop.
	if !c.cork.atClose(func() { c.pc.End(net.ErrClosed) }) {
		c.pc.End(net.ErrClosed)
	}
	if held := c.held; len(held) > 0 {
		c.held = nil
		c.lastRead.Store(busy)
		if err := c.consume(held, true); err != nil {
			c.pc.End(err)
		}
		c.lastRead.Store(c.g.live.now())
	}
	c.pc.Resume()
}

// Read is given what c's loop read off the socket (netpoll.Handler).
func (c *conn) Read(b []byte) error {
	err := c.consume(b, false)
	if err != netpoll.ErrPause {
		c.lastRead.Store(c.g.live.now())
	}
	return err
}

// consume parses b and acts on every frame it completes. With wait false
// (the loop), a message that would wait pauses the connection: the rest
// of b is kept, a goroutine hands the message on (resume), and consume
// returns netpoll.ErrPause.
func (c *conn) consume(b []byte, wait bool) error {
	for len(b) > 0 {
		rest, env, got, err := c.nextMessage(b)
		if err != nil || !got {
			return err
		}
		b = rest
		in, err := c.prepare(env)
		if err != nil {
			return err
		}
		handled, err := c.submit(in, wait)
		if err != nil {
			return err
		}
		if !handled {
			c.held = slices.Clone(b)
			c.lastRead.Store(busy) // not waiting on the agent
			go c.resume(in)
			return netpoll.ErrPause
		}
	}
	return nil
}

// resume hands on, off the loop, a message that had to wait, and what
// was read after it; then the loop reads c again.
func (c *conn) resume(in inbound) {
	_, err := c.submit(in, true)
	if err == nil {
		held := c.held
		c.held = nil
		err = c.consume(held, true)
	}
	c.lastRead.Store(c.g.live.now())
	if err != nil {
		c.pc.End(err)
	}
	c.pc.Resume()
}

// Ended is told why c's loop reads it no more (netpoll.Handler); the
// teardown, which waits for the writer, runs on a goroutine of its own.
func (c *conn) Ended(why error) {
	go func() {
		c.g.live.forget(c)
		c.rd.reset()
		c.reject(c.logger(), why)
		c.end(true)
	}()
}
