// Package wsread reads one WebSocket message with a bound on its size
// after decompression. The WebSocket library's own read limit counts the
// bytes on the wire, which permessage-deflate lets a peer multiply by a
// thousand: a few hundred kilobytes of compressed zeros would otherwise
// become gigabytes in memory. Both the server and the agent read every
// message through Read.
package wsread

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// closeWait bounds the write of the close frame sent on an oversized
// message.
const closeWait = time.Second

// Read reads the next message of ws, holding at most limit bytes of it
// after decompression. A message over the limit is not kept: the peer is
// sent close code 1009 (message too big) and the error wraps
// websocket.ErrReadLimit, as the library's own limit does.
func Read(ws *websocket.Conn, limit int64) (messageType int, data []byte, err error) {
	typ, r, err := ws.NextReader()
	if err != nil {
		return typ, nil, err
	}
	var buf bytes.Buffer
	if err := readAll(ws, r, limit, &buf); err != nil {
		return typ, nil, err
	}
	return typ, buf.Bytes(), nil
}

// Pool lends the buffers messages are read into, for a reader that is
// done with each message before the next (it copies what it keeps). A
// buffer is taken once a message has begun, so an idle connection holds
// none, and one is reused rather than grown from empty per message.
type Pool struct{ p sync.Pool }

// maxPooled is the largest buffer kept for reuse; an inventory's buffer
// is left to the collector instead of being held by the pool.
const maxPooled = 64 << 10

// Read is the package's Read into a buffer from the pool: the message is
// buf.Bytes(). Give buf back with Put when done with it.
func (p *Pool) Read(ws *websocket.Conn, limit int64) (messageType int, buf *bytes.Buffer, err error) {
	typ, r, err := ws.NextReader()
	if err != nil {
		return typ, nil, err
	}
	buf, _ = p.p.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	if err := readAll(ws, r, limit, buf); err != nil {
		p.Put(buf)
		return typ, nil, err
	}
	return typ, buf, nil
}

// Put returns buf to the pool.
func (p *Pool) Put(buf *bytes.Buffer) {
	if buf.Cap() > maxPooled {
		return
	}
	buf.Reset()
	p.p.Put(buf)
}

// readAll reads the message r into buf, within limit.
func readAll(ws *websocket.Conn, r io.Reader, limit int64, buf *bytes.Buffer) error {
	buf.Reset()
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return err
	}
	if n > limit {
		// WriteControl may run beside the connection's writer.
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseMessageTooBig, "message too large"),
			time.Now().Add(closeWait))
		return fmt.Errorf("%w: over %d bytes after decompression", websocket.ErrReadLimit, limit)
	}
	return nil
}
