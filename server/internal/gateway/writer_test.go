package gateway

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/shared/wire"
)

func TestAppendAckMatchesEncode(t *testing.T) {
	for _, seq := range []uint64{1, 9, 10, 4096, wire.MaxSeq} {
		for _, resync := range []bool{false, true} {
			want, err := wire.Encode(wire.TypeAck, seq, wire.Ack{Resync: resync})
			if err != nil {
				t.Fatal(err)
			}
			if got := appendAck(nil, seq, resync); string(got) != string(want) {
				t.Errorf("appendAck(%d, %v) = %s, want %s", seq, resync, got, want)
			}
		}
	}
}

// recordingListener keeps every write the server makes to its sockets
// after the test starts recording.
type recordingListener struct {
	net.Listener
	mu        sync.Mutex
	recording bool
	writes    [][]byte
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return &recordingConn{Conn: c, l: l}, nil
}

func (l *recordingListener) record() {
	l.mu.Lock()
	l.recording, l.writes = true, nil
	l.mu.Unlock()
}

func (l *recordingListener) recorded() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writes
}

type recordingConn struct {
	net.Conn
	l *recordingListener
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	if c.l.recording {
		c.l.writes = append(c.l.writes, append([]byte(nil), p...))
	}
	c.l.mu.Unlock()
	return c.Conn.Write(p)
}

// frame is one server-to-client WebSocket frame as it went on the wire.
type frame struct {
	compressed bool
	opcode     byte
	payload    []byte
}

// parseFrames splits the bytes of one socket write into frames (the
// server's frames are not masked).
func parseFrames(t *testing.T, b []byte) []frame {
	t.Helper()
	var out []frame
	for len(b) > 0 {
		if len(b) < 2 {
			t.Fatalf("truncated frame header: %x", b)
		}
		f := frame{compressed: b[0]&0x40 != 0, opcode: b[0] & 0x0f}
		n, hdr := int(b[1]&0x7f), 2
		switch n {
		case 126:
			n, hdr = int(b[2])<<8|int(b[3]), 4
		case 127:
			n, hdr = 0, 10
			for _, c := range b[2:10] {
				n = n<<8 | int(c)
			}
		}
		if len(b) < hdr+n {
			t.Fatalf("frame of %d bytes cut short in a write of %d", n, len(b))
		}
		f.payload = b[hdr : hdr+n]
		out = append(out, f)
		b = b[hdr+n:]
	}
	return out
}

func newRecordingHarness(t *testing.T, gate chan struct{}) (*harness, *recordingListener, *countingSubmitter) {
	t.Helper()
	st := newFakeStore()
	var sink ingest.Sink = st
	if gate != nil {
		sink = &gatedSink{fakeStore: st, gate: gate}
	}
	b := ingest.New(sink, ingest.Config{})
	sub := &countingSubmitter{Submitter: b}
	gw := New(Config{Store: st, Ingest: sub, HeartbeatInterval: 5 * time.Second})
	mux := http.NewServeMux()
	gw.Register(mux)
	srv := httptest.NewUnstartedServer(mux)
	ln := &recordingListener{Listener: srv.Listener}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		if gate != nil {
			select {
			case <-gate:
			default:
				close(gate)
			}
		}
		gw.Shutdown(context.Background())
		srv.Close()
		b.Stop()
	})
	h := &harness{t: t, st: st, gw: gw, srv: srv}
	return h, ln, sub
}

// onlyConn returns the gateway's one connection.
func (h *harness) onlyConn() *conn {
	h.t.Helper()
	h.gw.mu.Lock()
	defer h.gw.mu.Unlock()
	if len(h.gw.conns) != 1 {
		h.t.Fatalf("%d connections, want 1", len(h.gw.conns))
	}
	for _, c := range h.gw.conns {
		return c
	}
	return nil
}

// TestAcksOfOneCommitLeaveTogether: the acks of a committed batch reach
// the socket in one write, each still its own uncompressed ack frame, in
// order.
func TestAcksOfOneCommitLeaveTogether(t *testing.T) {
	const n = 50
	gate := make(chan struct{})
	h, ln, sub := newRecordingHarness(t, gate)
	ws, _ := h.connect(h.nodeKey())
	for seq := uint64(1); seq <= n; seq++ {
		h.send(ws, wire.TypeHeartbeat, seq, wire.Heartbeat{Time: time.Now()})
	}
	waitFor(t, "all messages submitted", func() bool { return sub.n.Load() == n })
	ln.record()
	close(gate)
	for want := uint64(1); want <= n; want++ {
		env := h.read(ws)
		if env.Type != wire.TypeAck || env.Seq != want {
			t.Fatalf("got %s seq %d, want ack %d", env.Type, env.Seq, want)
		}
	}
	writes := ln.recorded()
	frames := 0
	for _, w := range writes {
		for _, f := range parseFrames(t, w) {
			frames++
			if f.compressed {
				t.Errorf("ack frame sent compressed: %x", w)
			}
			if !strings.HasPrefix(string(f.payload), `{"type":"ack"`) {
				t.Errorf("unexpected frame %q", f.payload)
			}
		}
	}
	if frames != n {
		t.Errorf("%d frames written, want %d acks", frames, n)
	}
	// Commits may split the burst; they do not make a write per ack.
	if len(writes) > n/5 {
		t.Errorf("%d socket writes for %d acks, want them gathered", len(writes), n)
	}
}

// TestLargeFramesStillCompress: a frame past compressAbove goes out
// compressed, and the agent reads it as sent.
func TestLargeFramesStillCompress(t *testing.T) {
	h, ln, _ := newRecordingHarness(t, nil)
	ws, _ := h.connect(h.nodeKey())
	c := h.onlyConn()
	big, err := wire.Encode(wire.TypeError, 0, wire.Error{Code: "x", Message: strings.Repeat("policy ", 1000)})
	if err != nil {
		t.Fatal(err)
	}
	ln.record()
	c.send(big)
	env := h.read(ws)
	if env.Type != wire.TypeError {
		t.Fatalf("got %s, want the large frame", env.Type)
	}
	writes := ln.recorded()
	if len(writes) != 1 {
		t.Fatalf("%d writes, want 1", len(writes))
	}
	fs := parseFrames(t, writes[0])
	if len(fs) != 1 || !fs[0].compressed || len(fs[0].payload) >= len(big) {
		t.Errorf("large frame not compressed: %d frames, %d bytes on the wire for %d", len(fs), len(writes[0]), len(big))
	}
}

// TestIdleConnectionHasNoWriter: once the welcome is written the writer
// goroutine ends; a later ack starts one again.
func TestIdleConnectionHasNoWriter(t *testing.T) {
	h, _, _ := newRecordingHarness(t, nil)
	ws, _ := h.connect(h.nodeKey())
	c := h.onlyConn()
	writing := func() bool {
		c.out.mu.Lock()
		defer c.out.mu.Unlock()
		return c.out.writing
	}
	waitFor(t, "the writer to end after the welcome", func() bool { return !writing() })
	h.send(ws, wire.TypeHeartbeat, 1, wire.Heartbeat{Time: time.Now()})
	if env := h.read(ws); env.Type != wire.TypeAck || env.Seq != 1 {
		t.Fatalf("got %s seq %d, want ack 1", env.Type, env.Seq)
	}
	waitFor(t, "the writer to end after the ack", func() bool { return !writing() })
}

// TestWriteFailureAtShutdownIsLogged: a closing frame that cannot be
// written (the agent stopped reading) is a warning too, not silence.
func TestWriteFailureAtShutdownIsLogged(t *testing.T) {
	h := newBackpressureHarness(t, nil, func(c *Config) {
		c.WriteWait = 100 * time.Millisecond
	})
	h.connect(h.nodeKey())
	h.stalled.Store(true)
	if err := h.gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	found := false
	for line := range strings.Lines(h.logs.String()) {
		if strings.Contains(line, "write failed") {
			found = true
			if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "during_close=true") ||
				!strings.Contains(line, "host_id=1") {
				t.Errorf("not a warning naming the host and the teardown: %s", line)
			}
		}
	}
	if !found {
		t.Errorf("the failed closing frame was not logged:\n%s", h.logs)
	}
}
