package transport

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/shared/wire"
)

// wait bounds how long a test waits for something that should happen
// promptly; it only turns a hang into a failure, it measures nothing.
const wait = 10 * time.Second

var upgrader = websocket.Upgrader{EnableCompression: true}

// serveWS starts a server whose /agent/v1/ws upgrades and hands the
// connection to fn; it returns a client for it.
func serveWS(t *testing.T, fn func(ws *websocket.Conn, r *http.Request)) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		defer ws.Close()
		fn(ws, r)
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func recv(t *testing.T, c *Conn) (wire.Envelope, bool) {
	t.Helper()
	select {
	case env, ok := <-c.Incoming():
		return env, ok
	case <-time.After(wait):
		t.Fatal("nothing received")
		return wire.Envelope{}, false
	}
}

func TestDialRefused(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		header    string
		wantIs    error
		wantRetry time.Duration
	}{
		{"unknown key", http.StatusUnauthorized, "", ErrNodeKeyRejected, 0},
		{"database down", http.StatusServiceUnavailable, "30", nil, 30 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(`{"error":"nope"}`))
			}))
			defer srv.Close()
			c, err := NewClient(srv.URL, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			conn, err := c.Dial(context.Background(), testKey, time.Minute)
			if err == nil {
				conn.Close()
				t.Fatal("Dial succeeded, want refusal")
			}
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != tc.status || se.Op != "dial" {
				t.Fatalf("err = %v, want *StatusError with status %d", err, tc.status)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tc.wantIs)
			}
			if got := RetryAfter(err); got != tc.wantRetry {
				t.Errorf("RetryAfter = %v, want %v", got, tc.wantRetry)
			}
		})
	}
}

func TestConnRoundTripAndClose(t *testing.T) {
	type seen struct {
		auth, ext string
		msg       string
		closeCode int
	}
	got := make(chan seen, 1)
	c := serveWS(t, func(ws *websocket.Conn, r *http.Request) {
		s := seen{auth: r.Header.Get("Authorization"), ext: r.Header.Get("Sec-WebSocket-Extensions")}
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Errorf("server read: %v", err)
		}
		s.msg = string(msg)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ack","seq":3,"payload":{}}`)); err != nil {
			t.Errorf("server write: %v", err)
		}
		_, _, err = ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			s.closeCode = ce.Code
		}
		got <- s
	})
	conn, err := c.Dial(context.Background(), testKey, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// A large message exercises the compressed path as well.
	big := `{"type":"heartbeat","seq":3,"payload":{"time":"2026-01-01T00:00:00Z","pad":"` + strings.Repeat("x", 4*compressMin) + `"}}`
	if err := conn.Send(context.Background(), []byte(big)); err != nil {
		t.Fatal(err)
	}
	env, ok := recv(t, conn)
	if !ok || env.Type != wire.TypeAck || env.Seq != 3 {
		t.Fatalf("received %+v (open %v), want ack 3", env, ok)
	}
	conn.Close()
	if err := conn.Send(context.Background(), []byte("{}")); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: err = %v, want ErrClosed", err)
	}

	var s seen
	select {
	case s = <-got:
	case <-time.After(wait):
		t.Fatal("server saw nothing")
	}
	if s.auth != "Bearer "+testKey {
		t.Errorf("Authorization = %q", s.auth)
	}
	if !strings.Contains(s.ext, "permessage-deflate") {
		t.Errorf("client did not offer compression; Sec-WebSocket-Extensions = %q", s.ext)
	}
	if s.msg != big {
		t.Errorf("server got a %d-byte message, want the %d bytes sent", len(s.msg), len(big))
	}
	if s.closeCode != websocket.CloseNormalClosure {
		t.Errorf("close code = %d, want %d (normal closure)", s.closeCode, websocket.CloseNormalClosure)
	}
}

func TestConnStopsOn(t *testing.T) {
	cases := []struct {
		name    string
		idle    time.Duration
		server  func(ws *websocket.Conn)
		wantErr func(error) bool
	}{
		{
			name:   "silent server",
			idle:   50 * time.Millisecond,
			server: func(ws *websocket.Conn) { _, _, _ = ws.ReadMessage() },
			wantErr: func(err error) bool {
				var ne interface{ Timeout() bool }
				return errors.As(err, &ne) && ne.Timeout()
			},
		},
		{
			name: "malformed message",
			idle: time.Minute,
			server: func(ws *websocket.Conn) {
				_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"surprise"}`))
				_, _, _ = ws.ReadMessage()
			},
			wantErr: func(err error) bool { return errors.Is(err, wire.ErrMalformed) },
		},
		{
			name: "oversized message",
			idle: time.Minute,
			server: func(ws *websocket.Conn) {
				ws.EnableWriteCompression(false)
				_ = ws.WriteMessage(websocket.TextMessage, make([]byte, wire.MaxMessageBytes+1))
				_, _, _ = ws.ReadMessage()
			},
			wantErr: func(err error) bool { return errors.Is(err, websocket.ErrReadLimit) },
		},
		{
			// A compressed message under the wire limit that inflates to
			// eight times the limit (the 10 MiB policy_set a server could
			// send): the agent stops inflating at the limit.
			name: "compression bomb",
			idle: time.Minute,
			server: func(ws *websocket.Conn) {
				ws.EnableWriteCompression(true)
				_ = ws.WriteMessage(websocket.TextMessage, make([]byte, 8*wire.MaxMessageBytes))
				_, _, _ = ws.ReadMessage()
			},
			wantErr: func(err error) bool { return errors.Is(err, websocket.ErrReadLimit) },
		},
		{
			name: "server close",
			idle: time.Minute,
			server: func(ws *websocket.Conn) {
				_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"))
				_, _, _ = ws.ReadMessage()
			},
			wantErr: func(err error) bool { return websocket.IsCloseError(errors.Unwrap(err), websocket.CloseGoingAway) },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := serveWS(t, func(ws *websocket.Conn, _ *http.Request) { tc.server(ws) })
			conn, err := c.Dial(context.Background(), testKey, tc.idle)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if env, ok := recv(t, conn); ok {
				t.Fatalf("received %+v, want the connection to stop", env)
			}
			if err := conn.Err(); !tc.wantErr(err) {
				t.Errorf("Err() = %v", err)
			}
		})
	}
}

func TestConnAnswersPingsAndStaysUp(t *testing.T) {
	pongs := make(chan string, 3)
	c := serveWS(t, func(ws *websocket.Conn, _ *http.Request) {
		ws.SetPongHandler(func(data string) error { pongs <- data; return nil })
		for _, p := range []string{"a", "b", "c"} {
			if err := ws.WriteControl(websocket.PingMessage, []byte(p), time.Now().Add(wait)); err != nil {
				t.Errorf("ping: %v", err)
			}
		}
		// Pong handlers run inside reads.
		_ = ws.SetReadDeadline(time.Now().Add(wait))
		_, _, _ = ws.ReadMessage()
	})
	conn, err := c.Dial(context.Background(), testKey, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, want := range []string{"a", "b", "c"} {
		select {
		case got := <-pongs:
			if got != want {
				t.Errorf("pong %q, want %q", got, want)
			}
		case <-time.After(wait):
			t.Fatalf("no pong for ping %q", want)
		}
	}
	if err := conn.Err(); err != nil {
		t.Errorf("connection stopped after pings: %v", err)
	}
}

func TestDialTLSUsesClientTransport(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		defer ws.Close()
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ack","seq":1,"payload":{}}`))
		_, _, _ = ws.ReadMessage()
	}))
	defer srv.Close()
	// srv.Client trusts the test certificate only through its Transport's
	// TLS config; the dial must pick that up to reach wss://.
	c, err := NewClient(srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.WSURL(), "wss://") {
		t.Fatalf("ws url %q, want wss", c.WSURL())
	}
	conn, err := c.Dial(context.Background(), testKey, time.Minute)
	if err != nil {
		t.Fatalf("Dial over TLS: %v", err)
	}
	defer conn.Close()
	if env, ok := recv(t, conn); !ok || env.Type != wire.TypeAck {
		t.Fatalf("received %+v (open %v), want ack", env, ok)
	}
}
