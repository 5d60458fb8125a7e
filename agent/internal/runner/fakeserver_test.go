package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/shared/wire"
)

// wait bounds how long a test waits for the agent to do something it
// should do promptly; it turns a hang into a failure and measures nothing.
const wait = 10 * time.Second

// fakeServer speaks the real agent protocol over a real HTTP server and
// WebSocket, and lets the test drive each connection by hand.
type fakeServer struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	conns  chan *fakeConn

	mu             sync.Mutex
	keys           map[string]int64 // node key → host id
	nextHost       int64
	enrollCalls    int
	refuseEnrolls  int   // refuse this many upcoming enrolls with 401
	dialCalls      int   // WebSocket requests, refused or not
	dialStatus     []int // statuses for upcoming dials, consumed in order
	dialRetryAfter string
	all            []*fakeConn
}

type ctxKey struct{}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	fs := &fakeServer{
		t:      t,
		secret: "test-secret",
		conns:  make(chan *fakeConn, 64),
		keys:   map[string]int64{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /agent/v1/enroll", fs.enroll)
	mux.HandleFunc("GET /agent/v1/ws", fs.ws)
	fs.srv = httptest.NewUnstartedServer(mux)
	fs.srv.Listener = countingListener{fs.srv.Listener}
	fs.srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, ctxKey{}, c)
	}
	fs.srv.Start()
	t.Cleanup(fs.srv.Close)
	// Runs before srv.Close, which waits for every handler to return.
	t.Cleanup(func() {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		for _, fc := range fs.all {
			_ = fc.ws.Close()
		}
	})
	return fs
}

func (fs *fakeServer) enroll(w http.ResponseWriter, r *http.Request) {
	var req struct {
		EnrollSecret string `json:"enroll_secret"`
		Hostname     string `json:"hostname"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Hostname == "" {
		http.Error(w, `{"error":"malformed"}`, http.StatusBadRequest)
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.enrollCalls++
	if req.EnrollSecret != fs.secret || fs.refuseEnrolls > 0 {
		if fs.refuseEnrolls > 0 {
			fs.refuseEnrolls--
		}
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"unknown enroll secret"}`))
		return
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	key := hex.EncodeToString(b)
	fs.nextHost++
	fs.keys[key] = fs.nextHost
	_ = json.NewEncoder(w).Encode(map[string]any{"host_id": fs.nextHost, "node_key": key})
}

func (fs *fakeServer) ws(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	fs.mu.Lock()
	fs.dialCalls++
	status := 0
	if len(fs.dialStatus) > 0 {
		status, fs.dialStatus = fs.dialStatus[0], fs.dialStatus[1:]
	} else if _, ok := fs.keys[key]; !ok {
		status = http.StatusUnauthorized
	}
	retry := fs.dialRetryAfter
	fs.mu.Unlock()
	if status != 0 {
		if retry != "" {
			w.Header().Set("Retry-After", retry)
		}
		http.Error(w, `{"error":"refused"}`, status)
		return
	}
	up := websocket.Upgrader{EnableCompression: true}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		fs.t.Errorf("upgrade: %v", err)
		return
	}
	fc := &fakeConn{
		ws:      ws,
		key:     key,
		counter: r.Context().Value(ctxKey{}).(*countingConn),
		msgs:    make(chan received, 64),
		done:    make(chan struct{}),
	}
	fs.mu.Lock()
	fs.all = append(fs.all, fc)
	fs.mu.Unlock()
	go fc.readLoop()
	fs.conns <- fc
	<-fc.done
}

// accept returns the agent's next WebSocket connection.
func (fs *fakeServer) accept(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case fc := <-fs.conns:
		return fc
	case <-time.After(wait):
		t.Fatal("agent did not connect")
		return nil
	}
}

// forget drops every node key, like a server whose database was reset.
func (fs *fakeServer) forget() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.keys = map[string]int64{}
}

func (fs *fakeServer) counts() (enrolls, dials int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.enrollCalls, fs.dialCalls
}

// received is one message as the server read it, with the bytes it took
// on the wire (frame headers and masking included, after compression).
type received struct {
	env       wire.Envelope
	wireBytes int64
	closeCode int // set when the agent closed the connection
}

type fakeConn struct {
	ws      *websocket.Conn
	key     string
	counter *countingConn
	msgs    chan received
	done    chan struct{} // closed when readLoop ends
}

func (fc *fakeConn) readLoop() {
	defer close(fc.done)
	defer close(fc.msgs)
	before := fc.counter.read.Load()
	for {
		_, data, err := fc.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				fc.msgs <- received{closeCode: ce.Code}
			}
			return
		}
		// The agent sends nothing while the test inspects a message it
		// waits on (one inventory in flight, heartbeats off), so the bytes
		// read since the previous message are this message's alone.
		now := fc.counter.read.Load()
		env, err := wire.Decode(data)
		if err != nil {
			panic("agent sent a malformed message: " + err.Error())
		}
		fc.msgs <- received{env: env, wireBytes: now - before}
		before = now
	}
}

// next returns the next message the agent sent.
func (fc *fakeConn) next(t *testing.T) received {
	t.Helper()
	select {
	case m, ok := <-fc.msgs:
		if !ok {
			t.Fatal("connection ended while waiting for a message")
		}
		return m
	case <-time.After(wait):
		t.Fatal("agent sent nothing")
		return received{}
	}
}

func (fc *fakeConn) hello(t *testing.T) wire.Hello {
	t.Helper()
	m := fc.next(t)
	if m.env.Type != wire.TypeHello || m.env.Seq != 0 {
		t.Fatalf("first message %+v, want hello without seq", m.env)
	}
	var h wire.Hello
	if err := wire.DecodePayload(m.env, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func (fc *fakeConn) send(t *testing.T, typ string, seq uint64, payload any) {
	t.Helper()
	msg, err := wire.Encode(typ, seq, payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := fc.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
		t.Fatalf("server write: %v", err)
	}
}

// handshake reads hello and answers welcome with lastSeq.
func (fc *fakeConn) handshake(t *testing.T, lastSeq uint64) wire.Hello {
	t.Helper()
	h := fc.hello(t)
	fc.send(t, wire.TypeWelcome, 0, wire.Welcome{
		ProtocolVersion:   1,
		HostID:            1,
		ServerTime:        time.Now(),
		InventoryInterval: wire.Duration(time.Hour),
		HeartbeatInterval: wire.Duration(30 * time.Second),
		LastSeq:           lastSeq,
	})
	return h
}

// inventory returns the next inventory, skipping heartbeats.
func (fc *fakeConn) inventory(t *testing.T) (received, wire.Inventory) {
	t.Helper()
	for {
		m := fc.next(t)
		if m.env.Type == wire.TypeHeartbeat {
			continue
		}
		if m.env.Type != wire.TypeInventory {
			t.Fatalf("got %+v, want inventory", m.env)
		}
		var inv wire.Inventory
		if err := wire.DecodePayload(m.env, &inv); err != nil {
			t.Fatal(err)
		}
		if err := inv.Validate(); err != nil {
			t.Fatalf("agent sent an invalid inventory: %v", err)
		}
		return m, inv
	}
}

func (fc *fakeConn) ack(t *testing.T, seq uint64, resync bool) {
	t.Helper()
	fc.send(t, wire.TypeAck, seq, wire.Ack{Resync: resync})
}

// closeCode waits for the agent to close the connection and returns the
// close code it sent (0 when it dropped the connection without one).
func (fc *fakeConn) closeCode(t *testing.T) int {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case m, ok := <-fc.msgs:
			if !ok {
				return 0
			}
			if m.closeCode != 0 {
				return m.closeCode
			}
		case <-deadline:
			t.Fatal("agent did not close the connection")
			return 0
		}
	}
}

// countingListener counts the bytes the server reads on each connection.
type countingListener struct{ net.Listener }

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c}, nil
}

type countingConn struct {
	net.Conn
	read atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}
