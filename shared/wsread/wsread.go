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
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return typ, nil, err
	}
	if n > limit {
		// WriteControl may run beside the connection's writer.
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseMessageTooBig, "message too large"),
			time.Now().Add(closeWait))
		return typ, nil, fmt.Errorf("%w: over %d bytes after decompression", websocket.ErrReadLimit, limit)
	}
	return typ, buf.Bytes(), nil
}
