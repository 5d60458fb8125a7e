package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/shared/wire"
	"github.com/steward-project/steward/shared/wsread"
)

const (
	// writeTimeout bounds one message write; generous because a full
	// software section can be a few hundred KiB on a slow uplink.
	writeTimeout = time.Minute
	// closeGrace is how long Close waits for the server to answer the
	// close frame before dropping the TCP connection.
	closeGrace = time.Second
	// compressMin is the size from which a message is deflated: below it
	// the saving is a few bytes and not worth the CPU.
	compressMin = 1024
)

// ErrClosed is returned by Send once the connection has stopped.
var ErrClosed = errors.New("connection closed")

// Conn is an open agent WebSocket. One reader goroutine decodes incoming
// envelopes onto Incoming; one writer goroutine owns every data and close
// frame. The only other write is gorilla's pong reply from the reader's
// ping handler, through WriteControl, which the library documents as safe
// alongside the writer.
type Conn struct {
	ws   *websocket.Conn
	in   chan wire.Envelope
	out  chan []byte
	idle atomic.Int64 // read idle timeout in nanoseconds

	closing    chan struct{} // closed by Close: writer sends a close frame
	closeOnce  sync.Once
	readerDone chan struct{}
	writerDone chan struct{}

	mu  sync.Mutex
	err error
}

// Dial opens the WebSocket with the node key. A 401 yields a *StatusError
// wrapping ErrNodeKeyRejected; a 503 carries Retry-After. idle is how long
// the connection may receive nothing (no message, no ping) before it is
// considered dead; SetIdleTimeout changes it later.
func (c *Client) Dial(ctx context.Context, nodeKey string, idle time.Duration) (*Conn, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+nodeKey)
	ws, resp, err := c.dialer.DialContext(ctx, c.wsURL, h)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
			return nil, statusError("dial", resp, body, ErrNodeKeyRejected)
		}
		return nil, fmt.Errorf("dial: %w", explainTLS(err))
	}
	return newConn(ws, idle), nil
}

func newConn(ws *websocket.Conn, idle time.Duration) *Conn {
	c := &Conn{
		ws:         ws,
		in:         make(chan wire.Envelope, 8),
		out:        make(chan []byte, 8),
		closing:    make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	c.idle.Store(int64(idle))
	ws.SetReadLimit(wire.MaxMessageBytes)
	c.touch()
	ws.SetPingHandler(func(data string) error {
		c.touch()
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeTimeout))
		var ne net.Error
		if errors.Is(err, websocket.ErrCloseSent) || (errors.As(err, &ne) && ne.Timeout()) {
			return nil
		}
		return err
	})
	ws.SetPongHandler(func(string) error { c.touch(); return nil })
	go c.readLoop()
	go c.writeLoop()
	return c
}

// touch pushes the read deadline out by the idle timeout. net.Conn
// deadlines may be set from any goroutine.
func (c *Conn) touch() {
	_ = c.ws.SetReadDeadline(time.Now().Add(time.Duration(c.idle.Load())))
}

// SetIdleTimeout changes how long the connection may stay silent, counted
// from now and from every later message or ping.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	c.idle.Store(int64(d))
	c.touch()
}

// Incoming delivers the server's messages; it is closed when the
// connection stops, and Err then says why.
func (c *Conn) Incoming() <-chan wire.Envelope { return c.in }

// Err returns why the connection stopped, or nil while it runs.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

// Send queues one encoded envelope for the writer. It returns once the
// message is queued, not written; ErrClosed when the connection stopped.
func (c *Conn) Send(ctx context.Context, msg []byte) error {
	select {
	case <-c.writerDone:
		return ErrClosed
	case <-c.closing:
		return ErrClosed
	default:
	}
	select {
	case c.out <- msg:
		return nil
	case <-c.writerDone:
		return ErrClosed
	case <-c.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close sends a normal-closure close frame, waits briefly for the server to
// answer it, and releases the connection. It is idempotent and returns
// once both goroutines have stopped.
func (c *Conn) Close() {
	c.closeOnce.Do(func() { close(c.closing) })
	<-c.writerDone
	<-c.readerDone
}

func (c *Conn) readLoop() {
	defer close(c.readerDone)
	defer close(c.in)
	for {
		// Bounded after decompression, not only on the wire.
		_, data, err := wsread.Read(c.ws, wire.MaxMessageBytes)
		if err != nil {
			c.fail(fmt.Errorf("read: %w", err))
			return
		}
		c.touch()
		env, err := wire.Decode(data)
		if err != nil {
			c.fail(fmt.Errorf("read: %w", err))
			// The writer notices readerDone and closes the socket.
			return
		}
		select {
		case c.in <- env:
		case <-c.closing:
			// Nobody consumes any more; keep reading only to see the
			// server's answer to our close frame.
		}
	}
}

func (c *Conn) writeLoop() {
	defer close(c.writerDone)
	defer c.ws.Close()
	for {
		select {
		case msg := <-c.out:
			_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
			c.ws.EnableWriteCompression(len(msg) >= compressMin)
			if err := c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				c.fail(fmt.Errorf("write: %w", err))
				return
			}
		case <-c.closing:
			c.fail(ErrClosed)
			frame := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			_ = c.ws.SetWriteDeadline(time.Now().Add(closeGrace))
			if c.ws.WriteMessage(websocket.CloseMessage, frame) == nil {
				select {
				case <-c.readerDone:
				case <-time.After(closeGrace):
				}
			}
			return
		case <-c.readerDone:
			return
		}
	}
}
