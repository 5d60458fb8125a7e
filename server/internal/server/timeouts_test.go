package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// guard turns a hang into a failure; it measures nothing.
const guard = 10 * time.Second

// TestSlowBodyIsCut sends headers promising a 1,000-byte body and then
// only ten bytes: the handler's read must fail and the connection end,
// rather than the socket being held for as long as the client likes.
func TestSlowBodyIsCut(t *testing.T) {
	readErr := make(chan error, 1)
	srv := httptest.NewServer(limitRequestRead(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		if err != nil {
			http.Error(w, "request body too slow", http.StatusRequestTimeout)
		}
	}), 100*time.Millisecond))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /agent/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n0123456789")
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("the handler read a body the client never finished sending")
		}
	case <-time.After(guard):
		t.Fatal("the slow body was still being read: no read deadline")
	}
	c.SetReadDeadline(time.Now().Add(guard))
	if _, err := io.ReadAll(bufio.NewReader(c)); err != nil {
		t.Errorf("the connection did not end after the cut request: %v", err)
	}
}

// TestUpgradeKeepsNoDeadline checks that a WebSocket connection outlives
// the request read deadline: it waits three times the deadline (the one
// place a test has to let time pass, to show that a deadline did not
// fire) and still echoes a message.
func TestUpgradeKeepsNoDeadline(t *testing.T) {
	const d = 100 * time.Millisecond
	up := websocket.Upgrader{}
	srv := httptest.NewServer(limitRequestRead(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		typ, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		ws.WriteMessage(typ, msg)
	}), d))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	time.Sleep(3 * d)
	if err := ws.WriteMessage(websocket.TextMessage, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(guard))
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "still here" {
		t.Errorf("echo after %v: %q, %v", 3*d, msg, err)
	}
}

func TestIsUpgrade(t *testing.T) {
	for _, c := range []struct {
		conn, upgrade string
		want          bool
	}{
		{"Upgrade", "websocket", true},
		{"keep-alive, Upgrade", "WebSocket", true},
		{"keep-alive", "websocket", false},
		{"Upgrade", "h2c", false},
		{"", "", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/agent/v1/ws", nil)
		if c.conn != "" {
			r.Header.Set("Connection", c.conn)
		}
		if c.upgrade != "" {
			r.Header.Set("Upgrade", c.upgrade)
		}
		if got := isUpgrade(r); got != c.want {
			t.Errorf("Connection %q Upgrade %q: %v, want %v", c.conn, c.upgrade, got, c.want)
		}
	}
}
