package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/wire"
)

// TestAcksGoOutInline: on a plain socket, the ack of a lone message is
// written by the goroutine that commits it, and it reaches the agent as
// a frame the WebSocket library reads like any other, in order with the
// frames writer goroutines send at the same time.
func TestAcksGoOutInline(t *testing.T) {
	h := newHarness(t)
	ws, _ := h.connect(h.nodeKey())
	c := h.onlyConn()

	const n = 200
	other, err := wire.Encode(wire.TypeError, 0, wire.Error{Code: "x", Message: "a frame of a writer goroutine"})
	if err != nil {
		t.Fatal(err)
	}
	// Each heartbeat is sent with a frame of the server's own, queued
	// while its commit runs, so the two race to the socket.
	kick := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range kick {
			c.send(other)
		}
	}()
	others := 0
	for seq := uint64(1); seq <= n; seq++ {
		h.send(ws, wire.TypeHeartbeat, seq, wire.Heartbeat{Time: time.Now()})
		kick <- struct{}{}
		for {
			env := h.read(ws)
			if env.Type == wire.TypeError {
				others++
				continue
			}
			if env.Type != wire.TypeAck || env.Seq != seq {
				t.Fatalf("got %s seq %d, want ack %d", env.Type, env.Seq, seq)
			}
			break
		}
	}
	close(kick)
	wg.Wait()
	for others < n {
		if env := h.read(ws); env.Type != wire.TypeError {
			t.Fatalf("got %s seq %d after the last ack, want the other frames", env.Type, env.Seq)
		}
		others++
	}
	if got := h.gw.acksInline.Load(); got == 0 {
		t.Fatalf("no ack was written inline, of %d", n)
	}
}

// tcpPair returns both ends of a loopback TCP connection with small
// socket buffers, so that a few kilobytes fill them.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { cc.Close(); sc.Close() })
	server, client = sc.(*net.TCPConn), cc.(*net.TCPConn)
	if err := server.SetWriteBuffer(4096); err != nil {
		t.Fatal(err)
	}
	if err := client.SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	return server, client
}

// socketCork returns a corkConn over sock, as a hijacked agent socket
// has, with its descriptor for tryWrite.
func socketCork(t *testing.T, sock *net.TCPConn) *corkConn {
	t.Helper()
	cc := newCorkConn(5 * time.Second)
	cc.Conn = sock
	raw, err := sock.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	cc.raw = raw
	return cc
}

// TestTryWriteLeavesTheRestFirst: when the socket is full, tryWrite
// keeps what it could not send and never waits; those bytes go out
// before anything written later, through a write of the library or
// through flush, so the peer reads every byte once and in order.
func TestTryWriteLeavesTheRestFirst(t *testing.T) {
	server, client := tcpPair(t)
	cc := socketCork(t, server)

	var want bytes.Buffer
	next := uint64(0)
	// chunk returns 1 KiB of numbered words, so that bytes out of order
	// or twice do not compare equal.
	chunk := func() []byte {
		b := make([]byte, 0, 1024)
		for len(b) < 1024 {
			b = binary.BigEndian.AppendUint64(b, next)
			next++
		}
		return b
	}
	// fill writes until the socket leaves some of a write behind.
	fill := func() {
		t.Helper()
		for range 100_000 {
			b := chunk()
			left, err := cc.tryWrite(b)
			if err != nil {
				t.Fatal(err)
			}
			want.Write(b)
			if left {
				if _, err := cc.tryWrite(chunk()); !errors.Is(err, errNoInline) {
					t.Fatalf("tryWrite with bytes left: %v, want errNoInline", err)
				}
				return
			}
		}
		t.Fatal("the socket never filled")
	}
	// drain reads everything want holds so far, while send writes.
	drain := func(send func() error) {
		t.Helper()
		errc := make(chan error, 1)
		go func() { errc <- send() }()
		got := make([]byte, want.Len())
		if _, err := io.ReadFull(client, got); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatal("the peer read the bytes out of order or twice")
		}
		want.Reset()
	}

	// A later write of the library sends what was left first.
	fill()
	tail := chunk()
	want.Write(tail)
	drain(func() error { _, err := cc.Write(tail); return err })

	// flush sends it by itself; a second flush has nothing to send.
	fill()
	drain(cc.flush)
	if err := cc.flush(); err != nil {
		t.Fatal(err)
	}

	// Once the peer has read, tryWrite sends whole writes again.
	b := chunk()
	left, err := cc.tryWrite(b)
	if err != nil || left {
		t.Fatalf("tryWrite on a drained socket: left %v, err %v", left, err)
	}
	got := make([]byte, len(b))
	if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("read %v after a whole write: %v", err, got[:8])
	}
}

// TestTryWriteOnClosedSocket: a socket closed under the connection is an
// error for tryWrite, not a silent loss; a write in progress or a
// connection without a descriptor means nothing is tried.
func TestTryWriteOnClosedSocket(t *testing.T) {
	server, _ := tcpPair(t)
	cc := socketCork(t, server)
	server.Close()
	if _, err := cc.tryWrite([]byte("ack")); err == nil || errors.Is(err, errNoInline) {
		t.Fatalf("tryWrite on a closed socket: %v", err)
	}
	// Nor while another write holds the socket.
	cc.wmu.Lock()
	if _, err := cc.tryWrite([]byte("ack")); !errors.Is(err, errNoInline) {
		t.Fatalf("tryWrite beside another write: %v", err)
	}
	cc.wmu.Unlock()
	// Without a descriptor (TLS) nothing is tried.
	if _, err := (&corkConn{}).tryWrite([]byte("ack")); !errors.Is(err, errNoInline) {
		t.Fatalf("tryWrite without a descriptor: %v", err)
	}
}

// TestTakeAcksLeavesOtherItems: takeAcks takes a queue of acks alone, up
// to its bound; over it, or with a frame queued, it takes nothing, and release keeps the writer
// while anything is queued.
func TestTakeAcksLeavesOtherItems(t *testing.T) {
	var o outbox
	if ok, start := o.push(outItem{kind: outAck, seq: 1}, 10); !ok || !start {
		t.Fatalf("first push: ok %v start %v", ok, start)
	}
	o.push(outItem{kind: outAck, seq: 2}, 10)
	if got := o.takeAcks(nil, 1); len(got) != 0 {
		t.Fatalf("takeAcks over its bound took %+v", got)
	}
	got := o.takeAcks(nil, 2)
	if len(got) != 2 || got[0].seq != 1 || got[1].seq != 2 {
		t.Fatalf("takeAcks = %+v", got)
	}
	if !o.release() || o.writing {
		t.Fatal("release of an empty queue kept the writer")
	}
	o.push(outItem{kind: outAck, seq: 3}, 10)
	o.push(outItem{kind: outFrame, frame: []byte("f")}, 10)
	if got := o.takeAcks(nil, 10); len(got) != 0 {
		t.Fatalf("takeAcks with a frame queued took %+v", got)
	}
	if o.release() || !o.writing {
		t.Fatal("release with items queued let the writer go")
	}
	if got := o.take(nil, false); len(got) != 2 || got[0].seq != 3 || got[1].kind != outFrame {
		t.Fatalf("take = %+v", got)
	}
}
