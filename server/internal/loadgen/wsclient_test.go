package loadgen

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/wsframe"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// countingListener counts the bytes its connections read, to see what
// went over the wire.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

// Accept wraps each connection to count what it reads.
func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.n}, nil
}

// countingConn adds what it reads to n.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

// Read counts the bytes read.
func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// gorillaServer serves a gorilla WebSocket endpoint, handle called for each
// connection, and returns its ws:// URL and the bytes it read.
func gorillaServer(t *testing.T, up websocket.Upgrader, handle func(ws *websocket.Conn, r *http.Request)) (string, *atomic.Int64) {
	t.Helper()
	read := &atomic.Int64{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		handle(ws, r)
	}))
	srv.Listener = countingListener{srv.Listener, read}
	srv.Start()
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/agent/v1/ws", read
}

// testDialer is a dialer as the runner builds them, without TLS.
func testDialer(compress bool) *wsDialer {
	return &wsDialer{tcp: &net.Dialer{}, compress: compress, timeout: 5 * time.Second}
}

// dialTest dials url with a node key, closing the connection at the end.
func dialTest(t *testing.T, d *wsDialer, url string) *wsConn {
	t.Helper()
	c, err := d.dial(t.Context(), url, http.Header{"Authorization": {"Bearer test-key"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// compressible is n bytes of JSON-like text, as inventories are.
func compressible(n int) []byte {
	var b []byte
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, `{"name":"package-%d","version":"1.%d.%d","arch":"amd64"},`, i, i%7, i%13)
	}
	return b[:n]
}

// bigPolicySet is a policy_set frame whose titles do not compress well,
// so that its compressed form is above inflateCacheMin.
func bigPolicySet(t *testing.T, revision uint64, n int) []byte {
	t.Helper()
	set := wire.PolicySet{Revision: revision}
	for i := range n {
		sum := sha256.Sum256(fmt.Appendf(nil, "%d/%d", revision, i))
		set.Policies = append(set.Policies, policy.Policy{ID: fmt.Sprintf("p%d", i), Title: hex.EncodeToString(sum[:]), Severity: "low",
			Check: policy.Check{File: &policy.FileCheck{Path: "/etc/x", Exists: new(bool)}}})
	}
	b, err := wire.Encode(wire.TypePolicySet, 0, set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The example of RFC 6455, section 1.3.
func TestAcceptKey(t *testing.T) {
	if got := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("accept key %q", got)
	}
}

func TestWSHandshakeWithGorilla(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			hdrs := make(chan http.Header, 1)
			url, _ := gorillaServer(t, websocket.Upgrader{EnableCompression: true}, func(ws *websocket.Conn, r *http.Request) {
				hdrs <- r.Header.Clone()
				ws.ReadMessage()
			})
			c := dialTest(t, testDialer(compress), url)
			if c.deflate != compress {
				t.Errorf("compression negotiated %v, want %v", c.deflate, compress)
			}
			h := <-hdrs
			if h.Get("Authorization") != "Bearer test-key" || h.Get("Sec-WebSocket-Version") != "13" {
				t.Errorf("request headers %v", h)
			}
			if offered := h.Get("Sec-WebSocket-Extensions") != ""; offered != compress {
				t.Errorf("extensions offered %q with compress %v", h.Get("Sec-WebSocket-Extensions"), compress)
			}
		})
	}
}

// Messages go both ways intact, compressed or not, small or large; with
// compression the client's large message is sent deflated.
func TestWSEchoWithGorilla(t *testing.T) {
	for _, compress := range []bool{false, true} {
		for _, size := range []int{10, 5000, 3 << 19} {
			t.Run(fmt.Sprintf("compress=%v/size=%d", compress, size), func(t *testing.T) {
				url, read := gorillaServer(t, websocket.Upgrader{EnableCompression: true}, func(ws *websocket.Conn, _ *http.Request) {
					for {
						typ, data, err := ws.ReadMessage()
						if err != nil {
							return
						}
						ws.EnableWriteCompression(true)
						if ws.WriteMessage(typ, data) != nil {
							return
						}
					}
				})
				c := dialTest(t, testDialer(compress), url)
				msg := compressible(size)
				for range 2 {
					if err := c.WriteMessage(msg); err != nil {
						t.Fatalf("write: %v", err)
					}
					p, deflated, err := c.ReadMessage()
					if err != nil {
						t.Fatalf("read: %v", err)
					}
					if deflated != compress {
						t.Errorf("echo deflated %v, want %v", deflated, compress)
					}
					if deflated {
						if p, err = c.Inflate(p); err != nil {
							t.Fatalf("inflate: %v", err)
						}
					}
					if !bytes.Equal(p, msg) {
						t.Fatalf("echo of %d bytes came back as %d different bytes", len(msg), len(p))
					}
				}
				if compress && size > 1<<20 && read.Load() > int64(size)/4 {
					t.Errorf("server read %d bytes for two compressed messages of %d", read.Load(), size)
				}
				if !compress && read.Load() < 2*int64(size) {
					t.Errorf("server read %d bytes for two messages of %d", read.Load(), size)
				}
			})
		}
	}
}

// A message written in several frames, with a ping between two of them,
// arrives whole; the ping is answered with its payload.
func TestWSFragmentedWithGorilla(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			msg := compressible(200_000)
			pongs := make(chan string, 1)
			url, _ := gorillaServer(t, websocket.Upgrader{EnableCompression: true, WriteBufferSize: 512}, func(ws *websocket.Conn, _ *http.Request) {
				ws.SetPongHandler(func(s string) error { pongs <- s; return nil })
				done := make(chan struct{})
				go func() {
					defer close(done)
					for {
						if _, _, err := ws.NextReader(); err != nil {
							return
						}
					}
				}()
				// Open until the client goes, for the pong to be read.
				defer func() { <-done }()
				ws.EnableWriteCompression(true)
				w, err := ws.NextWriter(websocket.TextMessage)
				if err != nil {
					return
				}
				for i := 0; i < len(msg); i += 1000 {
					w.Write(msg[i:min(i+1000, len(msg))])
					if i == 50_000 {
						ws.WriteControl(websocket.PingMessage, []byte("mid-message"), time.Now().Add(time.Second))
					}
				}
				w.Close()
			})
			c := dialTest(t, testDialer(compress), url)
			p, err := c.ReadInflated()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(p, msg) {
				t.Fatalf("fragmented message of %d bytes read as %d different bytes", len(msg), len(p))
			}
			select {
			case s := <-pongs:
				if s != "mid-message" {
					t.Errorf("pong payload %q", s)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no pong")
			}
		})
	}
}

func TestWSPingWithGorilla(t *testing.T) {
	pongs := make(chan string, 1)
	url, _ := gorillaServer(t, websocket.Upgrader{EnableCompression: true}, func(ws *websocket.Conn, _ *http.Request) {
		ws.SetPongHandler(func(s string) error { pongs <- s; return nil })
		ws.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second))
		ws.WriteMessage(websocket.TextMessage, []byte("after the ping"))
		ws.ReadMessage()
	})
	c := dialTest(t, testDialer(true), url)
	p, err := c.ReadInflated()
	if err != nil || string(p) != "after the ping" {
		t.Fatalf("read %q, %v", p, err)
	}
	select {
	case s := <-pongs:
		if s != "are you there" {
			t.Errorf("pong payload %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
}

// A close frame ends reading with its code, and is answered with the same.
func TestWSCloseCodeWithGorilla(t *testing.T) {
	echoed := make(chan error, 1)
	url, _ := gorillaServer(t, websocket.Upgrader{}, func(ws *websocket.Conn, _ *http.Request) {
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "go away"), time.Now().Add(time.Second))
		_, _, err := ws.ReadMessage()
		echoed <- err
	})
	c := dialTest(t, testDialer(false), url)
	_, _, err := c.ReadMessage()
	if got := reason(err); got != "closed by server (4001)" {
		t.Fatalf("reason %q (%v)", got, err)
	}
	if _, _, again := c.ReadMessage(); again != err {
		t.Errorf("second read: %v", again)
	}
	var ce *websocket.CloseError
	if err := <-echoed; !errors.As(err, &ce) || ce.Code != 4001 {
		t.Errorf("server read %v, want our close frame with 4001", err)
	}
	if err := c.WriteClose(closeNormal); !errors.Is(err, errCloseSent) {
		t.Errorf("close after the echo: %v", err)
	}
}

// A message above wire.MaxMessageBytes fails the read, as sent or once
// inflated.
func TestWSReadLimitWithGorilla(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			url, _ := gorillaServer(t, websocket.Upgrader{EnableCompression: true}, func(ws *websocket.Conn, _ *http.Request) {
				ws.EnableWriteCompression(true)
				ws.WriteMessage(websocket.TextMessage, make([]byte, wire.MaxMessageBytes+1))
				ws.ReadMessage()
			})
			c := dialTest(t, testDialer(compress), url)
			_, err := c.ReadInflated()
			if !errors.Is(err, errTooBig) || reason(err) != "message over the size limit" {
				t.Fatalf("read: %v", err)
			}
		})
	}
}

// headOnly drops the rest of an uncompressed policy set, even one sent in
// several frames, and the next message reads whole.
func TestWSHeadOnlyWithGorilla(t *testing.T) {
	set := bigPolicySet(t, 42, 500)
	url, _ := gorillaServer(t, websocket.Upgrader{WriteBufferSize: 512}, func(ws *websocket.Conn, _ *http.Request) {
		w, err := ws.NextWriter(websocket.TextMessage)
		if err != nil {
			return
		}
		w.Write(set)
		w.Close()
		ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"check_now"}`))
		ws.ReadMessage()
	})
	d := testDialer(false)
	d.headOnly = headOnly
	c := dialTest(t, d, url)
	p, err := c.ReadInflated()
	if err != nil || !bytes.Equal(p, set[:headBytes]) {
		t.Fatalf("read %q, %v; want the set's first %d bytes", p, err, headBytes)
	}
	if p, err = c.ReadInflated(); err != nil || string(p) != `{"type":"check_now"}` {
		t.Fatalf("next read %q, %v", p, err)
	}
}

// Writes refresh the write deadline only when half of writeWait is gone.
func TestWSWriteDeadlineRefreshedLazily(t *testing.T) {
	url, _ := gorillaServer(t, websocket.Upgrader{}, func(ws *websocket.Conn, _ *http.Request) {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	})
	c := dialTest(t, testDialer(false), url)
	if err := c.WriteMessage([]byte("one")); err != nil {
		t.Fatal(err)
	}
	first := c.wdeadline
	if err := c.WriteMessage([]byte("two")); err != nil {
		t.Fatal(err)
	}
	if !c.wdeadline.Equal(first) {
		t.Errorf("deadline moved from %v to %v on the next write", first, c.wdeadline)
	}
	c.wdeadline = time.Now().Add(writeWait/2 - time.Second)
	if err := c.WriteMessage([]byte("three")); err != nil {
		t.Fatal(err)
	}
	if time.Until(c.wdeadline) < writeWait-time.Second {
		t.Errorf("deadline %v not refreshed with less than half of writeWait left", c.wdeadline)
	}
}

// rawServer accepts connections and answers each upgrade request with
// answer(request), written in one write, then keeps the connection open
// and hands it to the test.
func rawServer(t *testing.T, answer func(r *http.Request) []byte) (string, chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 4)
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, nc := range open {
			nc.Close()
		}
	})
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, nc)
			mu.Unlock()
			br := bufio.NewReader(nc)
			r, err := http.ReadRequest(br)
			if err != nil {
				nc.Close()
				continue
			}
			nc.Write(answer(r))
			conns <- &bufferedConn{nc, br}
		}
	}()
	return "ws://" + ln.Addr().String() + "/agent/v1/ws", conns
}

// bufferedConn reads through the bufio.Reader the request was read with.
type bufferedConn struct {
	net.Conn
	br *bufio.Reader
}

// Read takes what the bufio.Reader holds first.
func (c *bufferedConn) Read(p []byte) (int, error) { return c.br.Read(p) }

// switching is a valid 101 answer to r, with extra header lines.
func switching(r *http.Request, extra string) string {
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		acceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n" + extra + "\r\n"
}

// serverFrame is one frame as a server would send it, with first as its
// first byte (FIN, RSV, opcode), masked if asked (which servers must not).
func serverFrame(first byte, payload []byte, masked bool) []byte {
	b := []byte{first, 0}
	switch n := len(payload); {
	case n <= 125:
		b[1] = byte(n)
	case n <= 0xffff:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	b[1] |= 0x80
	key := [4]byte{1, 2, 3, 4}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// readClientFrame reads one frame the client sent, checking it is masked.
func readClientFrame(t *testing.T, r io.Reader) (first byte, payload []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatalf("read client frame: %v", err)
	}
	if h[1]&0x80 == 0 {
		t.Fatal("client frame not masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		io.ReadFull(r, l[:])
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		io.ReadFull(r, l[:])
		n = binary.BigEndian.Uint64(l[:])
	}
	var key [4]byte
	io.ReadFull(r, key[:])
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		t.Fatalf("read client frame payload: %v", err)
	}
	for i := range payload {
		payload[i] ^= key[i%4]
	}
	return h[0], payload
}

func TestWSUpgradeRequest(t *testing.T) {
	reqs := make(chan *http.Request, 1)
	url, _ := rawServer(t, func(r *http.Request) []byte {
		reqs <- r
		return []byte(switching(r, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"))
	})
	c := dialTest(t, testDialer(true), url)
	if !c.deflate {
		t.Error("compression accepted by the server is not on")
	}
	r := <-reqs
	key, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key"))
	switch {
	case r.Method != http.MethodGet || r.URL.Path != "/agent/v1/ws" || r.Proto != "HTTP/1.1" || !strings.HasPrefix(url, "ws://"+r.Host):
		t.Errorf("request %s %s %s, host %q", r.Method, r.URL, r.Proto, r.Host)
	case err != nil || len(key) != 16:
		t.Errorf("key %q", r.Header.Get("Sec-WebSocket-Key"))
	case r.Header.Get("Upgrade") != "websocket" || r.Header.Get("Connection") != "Upgrade" || r.Header.Get("Sec-WebSocket-Version") != "13":
		t.Errorf("upgrade headers %v", r.Header)
	case r.Header.Get("Authorization") != "Bearer test-key":
		t.Errorf("authorization %q", r.Header.Get("Authorization"))
	case r.Header.Get("Sec-WebSocket-Extensions") != offerDeflate:
		t.Errorf("extensions %q", r.Header.Get("Sec-WebSocket-Extensions"))
	}
}

// Answers that do not complete the upgrade fail the dial with the
// labels the failure table shows.
func TestWSUpgradeRefused(t *testing.T) {
	for _, tc := range []struct {
		name     string
		compress bool
		answer   func(r *http.Request) string
		want     string
	}{
		{"status", true, func(*http.Request) string {
			return "HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nunauthorized"
		}, "http 401"},
		{"accept", false, func(r *http.Request) string {
			return strings.Replace(switching(r, ""), acceptKey(r.Header.Get("Sec-WebSocket-Key")), acceptKey("other"), 1)
		}, "bad websocket handshake"},
		{"no upgrade", false, func(r *http.Request) string {
			return strings.Replace(switching(r, ""), "Upgrade: websocket\r\n", "", 1)
		}, "bad websocket handshake"},
		{"extension not offered", false, func(r *http.Request) string {
			return switching(r, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n")
		}, "bad websocket handshake"},
		{"unknown extension", true, func(r *http.Request) string {
			return switching(r, "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n")
		}, "bad websocket handshake"},
		{"server context takeover", true, func(r *http.Request) string {
			return switching(r, "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n")
		}, "bad websocket handshake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := rawServer(t, func(r *http.Request) []byte { return []byte(tc.answer(r)) })
			c, err := testDialer(tc.compress).dial(t.Context(), url, nil)
			if err == nil {
				c.Close()
				t.Fatal("dial succeeded")
			}
			if got := reason(err); got != tc.want {
				t.Errorf("reason %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

// Frames sent in the same write as the 101 answer are read, and a ping
// among them is answered with a masked pong carrying its payload.
func TestWSFramesRightAfterUpgrade(t *testing.T) {
	url, conns := rawServer(t, func(r *http.Request) []byte {
		b := []byte(switching(r, ""))
		b = append(b, serverFrame(0x81, []byte("first"), false)...)
		b = append(b, serverFrame(0x89, []byte("ping!"), false)...)
		b = append(b, serverFrame(0x01, []byte("sec"), false)...)
		b = append(b, serverFrame(0x80, []byte("ond"), false)...)
		return b
	})
	c := dialTest(t, testDialer(false), url)
	for _, want := range []string{"first", "second"} {
		p, err := c.ReadInflated()
		if err != nil || string(p) != want {
			t.Fatalf("read %q, %v; want %q", p, err, want)
		}
	}
	nc := <-conns
	if first, p := readClientFrame(t, nc); first != 0x8a || string(p) != "ping!" {
		t.Errorf("answer to the ping: first byte %#x, payload %q", first, p)
	}
	big := compressible(70_000)
	if err := c.WriteMessage(big); err != nil {
		t.Fatal(err)
	}
	if first, p := readClientFrame(t, nc); first != 0x81 || !bytes.Equal(p, big) {
		t.Errorf("message: first byte %#x, %d bytes", first, len(p))
	}
}

// Frames RFC 6455 forbids from a server end the connection with a
// protocol error, and a close frame with 1002.
func TestWSBadFramesRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"masked", serverFrame(0x81, []byte("hidden"), true)},
		{"rsv2", serverFrame(0xa1, []byte("x"), false)},
		{"rsv1 without deflate", serverFrame(0xc1, []byte("x"), false)},
		{"lone continuation", serverFrame(0x80, []byte("x"), false)},
		{"reserved opcode", serverFrame(0x83, []byte("x"), false)},
		{"fragmented ping", serverFrame(0x09, []byte("x"), false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, conns := rawServer(t, func(r *http.Request) []byte {
				return append([]byte(switching(r, "")), tc.frame...)
			})
			c := dialTest(t, testDialer(false), url)
			_, _, err := c.ReadMessage()
			if !errors.Is(err, errProtocol) || reason(err) != "websocket protocol error" {
				t.Fatalf("read: %v", err)
			}
			first, p := readClientFrame(t, <-conns)
			if first != 0x88 || len(p) != 2 || binary.BigEndian.Uint16(p) != closeProtocolError {
				t.Errorf("close frame: first byte %#x, payload %x", first, p)
			}
		})
	}
}

// deflated compresses b as a permessage-deflate sender does.
func deflated(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	w.Write(b)
	w.Flush()
	return bytes.TrimSuffix(buf.Bytes(), wsframe.SyncMarker)
}

// One compressed policy set read 50 times, over 10 connections, is
// inflated once; another set gets its own entry.
func TestInflateCache(t *testing.T) {
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprintf("full=%v", full), func(t *testing.T) {
			sets := [][]byte{bigPolicySet(t, 7, 300), bigPolicySet(t, 8, 300)}
			prepared := make([]*websocket.PreparedMessage, len(sets))
			for i, s := range sets {
				var err error
				if prepared[i], err = websocket.NewPreparedMessage(websocket.TextMessage, s); err != nil {
					t.Fatal(err)
				}
			}
			url, _ := gorillaServer(t, websocket.Upgrader{EnableCompression: true}, func(ws *websocket.Conn, _ *http.Request) {
				for range 5 {
					ws.WritePreparedMessage(prepared[0])
				}
				ws.WritePreparedMessage(prepared[1])
				ws.ReadMessage()
			})
			cache := newInflateCache(full)
			check := func(c *wsConn, set []byte, revision uint64) {
				t.Helper()
				p, deflated, err := c.ReadMessage()
				if err != nil || !deflated || len(p) < inflateCacheMin {
					t.Fatalf("read %d bytes, deflated %v, %v; want a compressed set of %d bytes or more", len(p), deflated, err, inflateCacheMin)
				}
				e, err := cache.get(p)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(e.head, set[:headBytes]) {
					t.Fatalf("head %q, want %q", e.head, set[:headBytes])
				}
				if full && (e.set == nil || e.set.Revision != revision || len(e.set.IDs) != 300) {
					t.Fatalf("decoded set %+v", e.set)
				}
			}
			var conns []*wsConn
			for range 10 {
				c := dialTest(t, testDialer(true), url)
				conns = append(conns, c)
				for range 5 {
					check(c, sets[0], 7)
				}
			}
			if n, h := cache.inflations.Load(), cache.hits.Load(); n != 1 || h != 49 {
				t.Errorf("%d inflations and %d hits for one set read 50 times, want 1 and 49", n, h)
			}
			for _, c := range conns {
				check(c, sets[1], 8)
			}
			if n, h := cache.inflations.Load(), cache.hits.Load(); n != 2 || h != 58 {
				t.Errorf("%d inflations and %d hits after a second set read 10 times, want 2 and 58", n, h)
			}
		})
	}
}

// The cache keeps the latest inflateCacheEntries payloads.
func TestInflateCacheBounded(t *testing.T) {
	cache := newInflateCache(false)
	var payloads [][]byte
	for i := range inflateCacheEntries + 3 {
		payloads = append(payloads, deflated(t, bigPolicySet(t, uint64(i), 10)))
		if _, err := cache.get(payloads[i]); err != nil {
			t.Fatal(err)
		}
	}
	if len(cache.m) != inflateCacheEntries || len(cache.order) != inflateCacheEntries {
		t.Fatalf("%d entries, %d keys; want %d", len(cache.m), len(cache.order), inflateCacheEntries)
	}
	e, err := cache.get(payloads[len(payloads)-1])
	if err != nil || cache.hits.Load() != 1 {
		t.Fatalf("latest payload: hits %d, %v", cache.hits.Load(), err)
	}
	if rev, ok := policySetRevision(e.head); !ok || rev != uint64(len(payloads)-1) {
		t.Errorf("head %q", e.head)
	}
	if _, err := cache.get(payloads[0]); err != nil || cache.inflations.Load() != int64(len(payloads)+1) {
		t.Errorf("evicted payload: inflations %d, %v", cache.inflations.Load(), err)
	}
	if _, err := cache.get([]byte("not deflate at all, and long enough to look like something")); !errors.Is(err, errProtocol) {
		t.Errorf("corrupt payload: %v", err)
	}
}

// Readers that miss the cache together inflate the payload once: the
// others wait for it. A payload that does not inflate fails every reader
// and is not kept.
func TestInflateCacheConcurrentMisses(t *testing.T) {
	cache := newInflateCache(true)
	payload := deflated(t, bigPolicySet(t, 3, 200))
	corrupt := []byte("not deflate at all, and long enough to look like something")
	const readers = 32
	start := make(chan struct{})
	errs := make(chan error, 2*readers)
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			<-start
			e, err := cache.get(payload)
			if err == nil && (e.set == nil || e.set.Revision != 3) {
				err = fmt.Errorf("entry %+v", e)
			}
			errs <- err
		})
		wg.Go(func() {
			<-start
			if _, err := cache.get(corrupt); !errors.Is(err, errProtocol) {
				errs <- fmt.Errorf("corrupt payload: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The set is inflated once and the other readers are hits; a failed
	// inflation counts no hit.
	if h := cache.hits.Load(); h != readers-1 {
		t.Errorf("%d hits for one set read by %d readers together, want %d", h, readers, readers-1)
	}
	if _, ok := cache.m[string(corrupt)]; ok || len(cache.m) != 1 || len(cache.order) != 1 {
		t.Errorf("cache keeps %d entries (%d keys), the corrupt one %v; want the set alone", len(cache.m), len(cache.order), ok)
	}
	n := cache.inflations.Load()
	e, err := cache.get(payload)
	if err != nil || e.set == nil || cache.inflations.Load() != n {
		t.Errorf("the set again: %v, inflations %d then %d", err, n, cache.inflations.Load())
	}
}
