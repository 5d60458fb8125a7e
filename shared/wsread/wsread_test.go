package wsread

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// pair connects a client and a server WebSocket with permessage-deflate
// negotiated, as agents and the server do, and returns the server side
// once its handler has it.
func pair(t *testing.T) (client, server *websocket.Conn, wire *countingConn) {
	t.Helper()
	got := make(chan *websocket.Conn, 1)
	up := websocket.Upgrader{EnableCompression: true}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		got <- ws
	}))
	t.Cleanup(srv.Close)
	var counted *countingConn
	d := websocket.Dialer{EnableCompression: true, NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		counted = &countingConn{Conn: c}
		return counted, err
	}}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := <-got
	t.Cleanup(func() { s.Close() })
	return c, s, counted
}

// countingConn counts the bytes the client writes to the socket.
type countingConn struct {
	net.Conn
	written int
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written += n
	return n, err
}

func TestRead(t *testing.T) {
	const limit = 1 << 20
	client, server, wire := pair(t)
	// The wire limit alone would let the bomb through: it is tiny
	// compressed.
	server.SetReadLimit(limit)

	ok := bytes.Repeat([]byte("a"), limit)
	if err := client.WriteMessage(websocket.TextMessage, ok); err != nil {
		t.Fatal(err)
	}
	typ, got, err := Read(server, limit)
	if err != nil || typ != websocket.TextMessage || !bytes.Equal(got, ok) {
		t.Fatalf("a message of exactly the limit: type %d, %d bytes, %v", typ, len(got), err)
	}

	before := wire.written
	bomb := make([]byte, 16*limit) // zeros: compresses a thousandfold
	if err := client.WriteMessage(websocket.TextMessage, bomb); err != nil {
		t.Fatal(err)
	}
	if onWire := wire.written - before; onWire >= limit {
		t.Fatalf("the bomb took %d bytes on the wire; the test needs it under the wire limit %d", onWire, limit)
	}
	_, got, err = Read(server, limit)
	if !errors.Is(err, websocket.ErrReadLimit) || got != nil {
		t.Fatalf("bomb: %d bytes, %v; want nothing and ErrReadLimit", len(got), err)
	}
	// The peer is told why: close code 1009.
	_, _, err = client.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("client read %v, want close 1009", err)
	}
}

// The pool reuses buffers, keeps the same limit as Read, and leaves
// buffers too large to keep to the collector.
func TestPoolRead(t *testing.T) {
	const limit = 1 << 20
	client, server, _ := pair(t)
	server.SetReadLimit(limit)
	var p Pool
	for i, msg := range []string{"first message", "second", strings.Repeat("b", maxPooled+1)} {
		if err := client.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		typ, buf, err := p.Read(server, limit)
		if err != nil || typ != websocket.TextMessage || buf.String() != msg {
			t.Fatalf("message %d: type %d, %q, %v", i, typ, buf, err)
		}
		p.Put(buf)
		if buf.Len() != 0 && buf.Cap() <= maxPooled {
			t.Errorf("message %d: a pooled buffer was not reset", i)
		}
	}
	if err := client.WriteMessage(websocket.TextMessage, make([]byte, 4*limit)); err != nil {
		t.Fatal(err)
	}
	if _, buf, err := p.Read(server, limit); !errors.Is(err, websocket.ErrReadLimit) || buf != nil {
		t.Fatalf("over the limit: %v, %v; want no buffer and ErrReadLimit", buf, err)
	}
}
