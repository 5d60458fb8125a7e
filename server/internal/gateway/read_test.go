package gateway

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/limits"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/wsframe"
	"github.com/steward-project/steward/shared/wire"
)

// clientFrameBytes builds one masked frame as an agent sends it: op is
// the opcode, fin the FIN bit, rsv1 the compression bit.
func clientFrameBytes(op byte, fin, rsv1 bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	key := uint32(0x9e3779b9)
	b = binary.LittleEndian.AppendUint32(b, key)
	start := len(b)
	b = append(b, payload...)
	wsframe.Mask(b[start:], key, 0)
	return b
}

// deflated compresses p as permessage-deflate sends it: raw deflate,
// flushed, without the trailing sync marker.
func deflated(t *testing.T, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(p)
	fw.Flush()
	return bytes.TrimSuffix(buf.Bytes(), wsframe.SyncMarker)
}

func encodeTest(t *testing.T, typ string, seq uint64, payload any) []byte {
	t.Helper()
	b, err := wire.Encode(typ, seq, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawAgent is an agent connection whose frames the test writes byte by
// byte, after the library did the upgrade.
type rawAgent struct {
	h      *harness
	ws     *websocket.Conn
	nc     net.Conn
	hostID int64 // from the welcome (welcomedRawAgent)
}

func (h *harness) rawAgent() *rawAgent {
	h.t.Helper()
	ws, _, err := h.dial(h.nodeKey())
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { ws.Close() })
	return &rawAgent{h: h, ws: ws, nc: ws.NetConn()}
}

// welcomedRawAgent is rawAgent with its hello sent, as one masked frame,
// and the welcome read.
func (h *harness) welcomedRawAgent() *rawAgent {
	h.t.Helper()
	a := h.rawAgent()
	hello, err := wire.Encode(wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{1}, AgentVersion: "test", OS: "linux", Arch: "amd64", Hostname: "web-1"})
	if err != nil {
		h.t.Fatal(err)
	}
	a.write(clientFrameBytes(wsframe.OpText, true, false, hello))
	env := h.read(a.ws)
	var w wire.Welcome
	if env.Type != wire.TypeWelcome || wire.DecodePayload(env, &w) != nil {
		h.t.Fatalf("got %s, want welcome", env.Type)
	}
	a.hostID = w.HostID
	return a
}

func (a *rawAgent) write(b []byte) {
	a.h.t.Helper()
	if _, err := a.nc.Write(b); err != nil {
		a.h.t.Fatal(err)
	}
}

func (a *rawAgent) expectAck(seq uint64) {
	a.h.t.Helper()
	env := a.h.read(a.ws)
	if env.Type != wire.TypeAck || env.Seq != seq {
		a.h.t.Fatalf("got %s seq %d, want ack %d", env.Type, env.Seq, seq)
	}
}

// expectClose reads until the server's close frame and returns its code.
func (a *rawAgent) expectClose() int {
	a.h.t.Helper()
	a.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := a.ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		if err != nil {
			a.h.t.Fatalf("connection ended without a close frame: %v", err)
		}
	}
}

// TestReadsFramesHoweverTheyArrive: messages reach ingest whatever their
// framing and however the socket splits them: a heartbeat that arrives
// in the same write as the hello, one written a byte at a time, one in
// three fragments with a ping between them (answered), compressed whole
// and compressed in fragments. On Linux the connection is read by a
// read loop, unless the suite runs with goroutine reads; either way the
// bytes are the same.
func TestReadsFramesHoweverTheyArrive(t *testing.T) {
	h := newHarness(t)
	a := h.rawAgent()
	hello := encodeTest(t, wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{1}, AgentVersion: "test", OS: "linux", Arch: "amd64", Hostname: "web-1"})
	hb := func(seq uint64) []byte {
		return encodeTest(t, wire.TypeHeartbeat, seq, wire.Heartbeat{Time: time.Now()})
	}
	a.write(append(clientFrameBytes(wsframe.OpText, true, false, hello), clientFrameBytes(wsframe.OpText, true, false, hb(1))...))
	if env := h.read(a.ws); env.Type != wire.TypeWelcome {
		t.Fatalf("got %s, want welcome", env.Type)
	}
	a.expectAck(1)
	if !goroutineReads && runtime.GOOS == "linux" {
		if sharedLoops == nil || sharedLoops.Len() == 0 {
			t.Fatal("no read loop holds the connection")
		}
	}

	for _, c := range clientFrameBytes(wsframe.OpText, true, false, hb(2)) {
		a.write([]byte{c})
	}
	a.expectAck(2)

	pinged := make(chan string, 1)
	a.ws.SetPongHandler(func(data string) error { pinged <- data; return nil })
	m := hb(3)
	a.write(clientFrameBytes(wsframe.OpText, false, false, m[:10]))
	a.write(clientFrameBytes(wsframe.OpContinuation, false, false, m[10:20]))
	a.write(clientFrameBytes(wsframe.OpPing, true, false, []byte("still there?")))
	a.write(clientFrameBytes(wsframe.OpContinuation, true, false, m[20:]))
	a.expectAck(3) // reading the ack runs the pong handler first
	select {
	case got := <-pinged:
		if got != "still there?" {
			t.Errorf("pong %q, want the ping's data", got)
		}
	default:
		t.Error("the ping was not answered before the ack")
	}

	a.write(clientFrameBytes(wsframe.OpText, true, true, deflated(t, hb(4))))
	a.expectAck(4)
	z := deflated(t, hb(5))
	a.write(clientFrameBytes(wsframe.OpText, false, true, z[:len(z)/2]))
	a.write(clientFrameBytes(wsframe.OpContinuation, true, false, z[len(z)/2:]))
	a.expectAck(5)
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	if n := len(h.st.applied); n != 5 {
		t.Errorf("%d heartbeats applied, want 5", n)
	}
}

// TestBadFramesCloseTheConnection: frames RFC 6455 forbids end the
// connection with close code 1002, a message over the limit on the wire
// or once inflated with 1009, a binary message with bad_message; an
// agent's close frame ends it as closed by the agent.
func TestBadFramesCloseTheConnection(t *testing.T) {
	h := newHarness(t)
	unmasked := func(op byte, p []byte) []byte { return append([]byte{0x80 | op, byte(len(p))}, p...) }
	bomb := deflated(t, bytes.Repeat([]byte{' '}, wire.MaxMessageBytes+1))
	huge := clientFrameBytes(wsframe.OpText, true, false, nil)
	huge[1] = 0x80 | 127
	huge = append(huge[:2], append(binary.BigEndian.AppendUint64(nil, wire.MaxMessageBytes+1), huge[2:]...)...)
	for _, tc := range []struct {
		name  string
		frame []byte
		code  int
	}{
		{"unmasked", unmasked(wsframe.OpText, []byte("{}")), websocket.CloseProtocolError},
		{"reserved opcode", clientFrameBytes(0x3, true, false, nil), websocket.CloseProtocolError},
		{"stray continuation", clientFrameBytes(wsframe.OpContinuation, true, false, []byte("x")), websocket.CloseProtocolError},
		{"fragmented ping", clientFrameBytes(wsframe.OpPing, false, false, nil), websocket.CloseProtocolError},
		{"too large on the wire", huge, websocket.CloseMessageTooBig},
		{"too large inflated", clientFrameBytes(wsframe.OpText, true, true, bomb), websocket.CloseMessageTooBig},
		{"agent closes", clientFrameBytes(wsframe.OpClose, true, false, binary.BigEndian.AppendUint16(nil, 1000)), websocket.CloseNormalClosure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.welcomedRawAgent()
			a.write(tc.frame)
			if code := a.expectClose(); code != tc.code {
				t.Errorf("close code %d, want %d", code, tc.code)
			}
		})
	}
	t.Run("binary", func(t *testing.T) {
		a := h.welcomedRawAgent()
		a.write(clientFrameBytes(wsframe.OpBinary, true, false, []byte("{}")))
		if e := h.expectError(a.ws, wire.CodeBadMessage); !strings.Contains(e.Message, "binary") {
			t.Errorf("error %q does not say binary", e.Message)
		}
	})
	waitFor(t, "every connection ended", func() bool { return h.gw.Connected() == 0 })
	if !goroutineReads && runtime.GOOS == "linux" {
		waitFor(t, "the loops let go of every connection", func() bool { return sharedLoops.Len() == 0 })
	}
}

// TestPausedConnectionKeepsWhatFollows: a message that must wait for room
// in the window pauses its connection (on a read loop, a goroutine
// waits for it); the messages that came in the same read are handed on
// after it, in order, once commits free room, and the connection is read
// again afterwards.
func TestPausedConnectionKeepsWhatFollows(t *testing.T) {
	st := newFakeStore()
	gate := make(chan struct{})
	b := ingest.New(&gatedSink{fakeStore: st, gate: gate}, ingest.Config{})
	gw := New(Config{Store: st, Ingest: b, HeartbeatInterval: 5 * time.Second, Window: WindowConfig{Messages: 1}})
	h := serve(t, st, b, gw)
	a := h.welcomedRawAgent()
	var burst []byte
	for seq := uint64(1); seq <= 4; seq++ {
		burst = append(burst, clientFrameBytes(wsframe.OpText, true, false, encodeTest(t, wire.TypeHeartbeat, seq, wire.Heartbeat{Time: time.Now()}))...)
	}
	a.write(burst)
	close(gate)
	for seq := uint64(1); seq <= 4; seq++ {
		a.expectAck(seq)
	}
	a.write(clientFrameBytes(wsframe.OpText, true, false, encodeTest(t, wire.TypeHeartbeat, 5, wire.Heartbeat{Time: time.Now()})))
	a.expectAck(5)
}

// TestBehindTheConnectionCaps: behind the server's capping listener, as
// in production, a connection still reaches its socket's descriptor: a
// read loop reads it (on Linux, unless the suite runs with goroutine
// reads) and acks can be written without a writer goroutine (on Unix).
func TestBehindTheConnectionCaps(t *testing.T) {
	st := newFakeStore()
	b := ingest.New(st, ingest.Config{})
	gw := New(Config{Store: st, Ingest: b, HeartbeatInterval: 5 * time.Second})
	mux := http.NewServeMux()
	gw.Register(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = limits.NewListener(srv.Listener, limits.ListenerConfig{MaxConns: 100, MaxUnauthPerIP: 100})
	srv.Config.ConnContext = limits.ConnContext
	srv.Start()
	t.Cleanup(func() {
		gw.Shutdown(context.Background())
		srv.Close()
		b.Stop()
	})
	h := &harness{t: t, st: st, gw: gw, srv: srv}
	ws, w := h.connect(h.nodeKey())
	h.send(ws, wire.TypeHeartbeat, 1, wire.Heartbeat{Time: time.Now()})
	if env := h.read(ws); env.Type != wire.TypeAck || env.Seq != 1 {
		t.Fatalf("got %s seq %d, want ack 1", env.Type, env.Seq)
	}
	gw.mu.Lock()
	c := gw.conns[w.HostID]
	gw.mu.Unlock()
	if c == nil {
		t.Fatal("the agent's connection is not attached")
	}
	if inlineWrites && c.cork.raw == nil {
		t.Error("no descriptor access behind the listener: every ack needs a writer goroutine")
	}
	if wantLoop := !goroutineReads && runtime.GOOS == "linux"; (c.pc != nil) != wantLoop {
		t.Errorf("read by a loop: %v, want %v", c.pc != nil, wantLoop)
	}
}

// TestShutdownWhileIngestIsFull: with the database hung and ingest's
// queue full, the connection's reader (a loop, or a goroutine) waits for
// room in the queue; a shutdown still ends the connection, telling the
// agent, and Shutdown returns without its deadline passing.
func TestShutdownWhileIngestIsFull(t *testing.T) {
	st := newFakeStore()
	gate := make(chan struct{})
	b := ingest.New(&gatedSink{fakeStore: st, gate: gate}, ingest.Config{Writers: 1, QueueLen: 1, MaxBatch: 1})
	sub := &countingSubmitter{Submitter: b}
	gw := New(Config{Store: st, Ingest: sub, HeartbeatInterval: 5 * time.Second})
	h := serve(t, st, b, gw)
	defer close(gate)
	a := h.welcomedRawAgent()
	// 1 is committing (hung), 2 fills the queue, 3 waits for room.
	var burst []byte
	for seq := uint64(1); seq <= 4; seq++ {
		burst = append(burst, clientFrameBytes(wsframe.OpText, true, false, encodeTest(t, wire.TypeHeartbeat, seq, wire.Heartbeat{Time: time.Now()}))...)
	}
	a.write(burst)
	waitFor(t, "two heartbeats handed to ingest", func() bool { return sub.n.Load() == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- gw.Shutdown(ctx) }()
	h.expectError(a.ws, wire.CodeShutdown)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown with ingest full: %v", err)
	}
}

// slowRefusals is a SigningStore whose reads of stored refusals wait,
// once hung is set, until released, as a database under load would.
type slowRefusals struct {
	*fakePolicies
	hung    atomic.Bool
	release chan struct{}
	reading chan int64 // each host whose refusal is being read
	gaveUp  atomic.Bool

	mu     sync.Mutex
	stored map[int64]*store.PolicyRefusal
}

func (s *slowRefusals) PolicySignature(context.Context) (store.PolicySignature, error) {
	return store.PolicySignature{}, store.ErrNotFound
}

func (s *slowRefusals) PolicyRefusals(ctx context.Context, hostIDs []int64) (map[int64]*store.PolicyRefusal, error) {
	for _, id := range hostIDs {
		s.reading <- id
	}
	if s.hung.Load() {
		select {
		case <-s.release:
		case <-ctx.Done():
			s.gaveUp.Store(true)
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]*store.PolicyRefusal{}
	for _, id := range hostIDs {
		out[id] = s.stored[id]
	}
	return out, nil
}

func (s *slowRefusals) SetPolicyRefusal(_ context.Context, hostID int64, r *store.PolicyRefusal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stored[hostID] = r
	return nil
}

// TestRefusalReadWaitsOffTheLoop: the first heartbeat of a connection
// reads its host's stored policy refusal. While that read waits on a
// hung database, the heartbeats of the other agents, read by the same
// loops, are still acked (theirs were read before the database hung);
// the waiting heartbeat is acked once the read returns, with its refusal
// recorded, and later heartbeats that repeat it read nothing. Reading in
// the loop, one slow read would hold up every agent on it.
func TestRefusalReadWaitsOffTheLoop(t *testing.T) {
	st := newFakeStore()
	b := ingest.New(st, ingest.Config{})
	sp := &slowRefusals{fakePolicies: &fakePolicies{revision: 1}, release: make(chan struct{}),
		reading: make(chan int64, 64), stored: map[int64]*store.PolicyRefusal{}}
	gw := New(Config{Store: st, Ingest: b, Policies: sp, HeartbeatInterval: 5 * time.Second})
	h := serve(t, st, b, gw)
	released := false
	defer func() {
		if !released {
			close(sp.release)
		}
	}()

	hb := func(a *rawAgent, seq uint64, refusal *wire.PolicyRefusal) {
		a.write(clientFrameBytes(wsframe.OpText, true, false,
			encodeTest(t, wire.TypeHeartbeat, seq, wire.Heartbeat{Time: time.Now(), PolicyRefusal: refusal})))
	}
	skipSet := func(a *rawAgent) {
		t.Helper()
		if env := h.read(a.ws); env.Type != wire.TypePolicySet {
			t.Fatalf("got %s, want the policy set after the welcome", env.Type)
		}
	}
	slow := h.welcomedRawAgent()
	skipSet(slow)
	// As many others as there are loops, and one more: at least one
	// shares the slow agent's loop.
	others := make([]*rawAgent, runtime.GOMAXPROCS(0)+1)
	for i := range others {
		others[i] = h.welcomedRawAgent()
		skipSet(others[i])
		hb(others[i], 1, nil)
		others[i].expectAck(1)
	}
	for len(sp.reading) > 0 {
		<-sp.reading // the others' first reads
	}
	sp.hung.Store(true)
	refusal := &wire.PolicyRefusal{Revision: 1, Code: "unsigned", Reason: "the set is not signed", At: time.Now().UTC()}
	hb(slow, 1, refusal)
	if id := <-sp.reading; id != slow.hostID {
		t.Fatalf("host %d's refusal read, want the slow agent's %d", id, slow.hostID)
	}
	for _, a := range others {
		hb(a, 2, nil)
	}
	for _, a := range others {
		a.expectAck(2)
	}
	if sp.gaveUp.Load() {
		t.Fatal("the other agents were acked only after the hung read gave up")
	}
	close(sp.release)
	released = true
	slow.expectAck(1)
	sp.mu.Lock()
	got := sp.stored[slow.hostID]
	sp.mu.Unlock()
	if got == nil || got.Code != "unsigned" || got.Revision != 1 {
		t.Fatalf("stored refusal %+v, want the heartbeat's", got)
	}
	// What is stored is known now: the next heartbeats cost no read.
	for _, a := range others {
		hb(a, 3, nil)
		a.expectAck(3)
	}
	hb(slow, 2, refusal)
	slow.expectAck(2)
	select {
	case id := <-sp.reading:
		t.Errorf("host %d's refusal read again though nothing changed", id)
	default:
	}
}
