package limits

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hang turns a hung test into a failure; it measures nothing.
const hang = 10 * time.Second

type testListener struct {
	*Listener
	accepted chan net.Conn
	mu       sync.Mutex
	refused  []string
	counts   [2]int
}

func listen(t *testing.T, cfg ListenerConfig) *testListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := &testListener{accepted: make(chan net.Conn, 100)}
	cfg.Refused = func(reason string) {
		tl.mu.Lock()
		tl.refused = append(tl.refused, reason)
		tl.mu.Unlock()
	}
	cfg.Counted = func(a, u int) {
		tl.mu.Lock()
		tl.counts = [2]int{a, u}
		tl.mu.Unlock()
	}
	tl.Listener = NewListener(ln, cfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			tl.accepted <- c
		}
	}()
	t.Cleanup(func() {
		tl.Close()
		<-done
		close(tl.accepted)
		for c := range tl.accepted {
			c.Close()
		}
	})
	return tl
}

func (tl *testListener) reasons() []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return slices.Clone(tl.refused)
}

func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: hang}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// admitted dials from src and waits for the listener to hand the
// connection out.
func (tl *testListener) admitted(t *testing.T, src string) net.Conn {
	t.Helper()
	dialFrom(t, src, tl.Addr().String())
	select {
	case c := <-tl.accepted:
		return c
	case <-time.After(hang):
		t.Fatalf("a connection from %s was not handed out", src)
		return nil
	}
}

// refusedWith dials from src and reads what the server says before it
// closes the connection.
func (tl *testListener) refusedWith(t *testing.T, src string) *http.Response {
	t.Helper()
	c := dialFrom(t, src, tl.Addr().String())
	c.SetReadDeadline(time.Now().Add(hang))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("connection from %s: no refusal read: %v", src, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the refused connection was not closed: %v", err)
	}
	resp.Header.Set("X-Body", string(body))
	return resp
}

// TestListenerCaps: past its address's cap of unauthenticated
// connections, or the global cap, a connection is answered 503 with
// Retry-After and closed; authenticating or closing a connection makes
// room.
func TestListenerCaps(t *testing.T) {
	tl := listen(t, ListenerConfig{MaxConns: 3, MaxUnauthPerIP: 2, RetryAfter: 7 * time.Second})
	a1 := tl.admitted(t, "127.0.0.2")
	tl.admitted(t, "127.0.0.2")
	resp := tl.refusedWith(t, "127.0.0.2")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "7" || resp.Header.Get("X-Body") == "" {
		t.Fatalf("third unauthenticated connection from one address: %v %v", resp.Status, resp.Header)
	}
	if r := tl.reasons(); !slices.Equal(r, []string{ReasonIPCap}) {
		t.Errorf("refusals %v, want [ip_cap]", r)
	}
	// Authenticated, a1 no longer counts against its address.
	Authenticated(ConnContext(context.Background(), a1))
	if open, unauth := tl.Counts(); open != 2 || unauth != 1 {
		t.Errorf("counts %d open, %d unauthenticated; want 2, 1", open, unauth)
	}
	tl.admitted(t, "127.0.0.2")
	// Three open: the global cap refuses any address.
	if resp := tl.refusedWith(t, "127.0.0.3"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("over the global cap: %v", resp.Status)
	}
	if r := tl.reasons(); !slices.Equal(r, []string{ReasonIPCap, ReasonConnCap}) {
		t.Errorf("refusals %v, want [ip_cap conn_cap]", r)
	}
	tl.mu.Lock()
	counts := tl.counts
	tl.mu.Unlock()
	if counts != [2]int{1, 2} {
		t.Errorf("Counted saw %v, want 1 authenticated and 2 not", counts)
	}
	a1.Close()
	a1.Close() // twice: counted once
	tl.admitted(t, "127.0.0.3")
	if open, unauth := tl.Counts(); open != 3 || unauth != 3 {
		t.Errorf("counts %d open, %d unauthenticated; want 3, 3", open, unauth)
	}
}

// TestListenerTrustedProxyAndTLS: a trusted proxy is exempt from the
// per-address cap; with NoAnswer a refused connection is closed without
// a word (a TLS client could not read plain HTTP).
func TestListenerTrustedProxyAndTLS(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.4/32")}
	tl := listen(t, ListenerConfig{MaxConns: 3, MaxUnauthPerIP: 1, TrustedProxies: trusted, NoAnswer: true})
	tl.admitted(t, "127.0.0.4")
	tl.admitted(t, "127.0.0.4")
	tl.admitted(t, "127.0.0.5")
	c := dialFrom(t, "127.0.0.5", tl.Addr().String())
	c.SetReadDeadline(time.Now().Add(hang))
	if n, err := c.Read(make([]byte, 10)); n != 0 || (err != io.EOF && !isReset(err)) {
		t.Errorf("refused connection read %d bytes, %v; want a plain close", n, err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// TestConnContextThroughTLS: handlers find the connection below a TLS
// layer.
func TestConnContextThroughTLS(t *testing.T) {
	tl := listen(t, ListenerConfig{MaxConns: 10, MaxUnauthPerIP: 10})
	c := tl.admitted(t, "127.0.0.2")
	ctx := ConnContext(context.Background(), tls.Server(c, &tls.Config{}))
	Authenticated(ctx)
	if _, unauth := tl.Counts(); unauth != 0 {
		t.Errorf("%d unauthenticated after Authenticated through TLS, want 0", unauth)
	}
	// A context without a connection is left alone.
	Authenticated(ConnContext(context.Background(), &net.TCPConn{}))
}

// TestListenerConcurrent opens and closes connections from many
// goroutines, for the race detector, and checks the counts return to 0.
func TestListenerConcurrent(t *testing.T) {
	tl := listen(t, ListenerConfig{MaxConns: 20, MaxUnauthPerIP: 10})
	var wg sync.WaitGroup
	go func() {
		for c := range tl.accepted {
			go func() {
				Authenticated(ConnContext(context.Background(), c))
				c.Close()
			}()
		}
	}()
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}[i]
			for range 50 {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: hang}
				c, err := d.Dial("tcp", tl.Addr().String())
				if err != nil {
					t.Error(err)
					return
				}
				c.SetReadDeadline(time.Now().Add(hang))
				io.Copy(io.Discard, c) // until the server closes it
				c.Close()
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(hang)
	for {
		open, unauth := tl.Counts()
		if open == 0 && unauth == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts did not return to 0: %d open, %d unauthenticated", open, unauth)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConnKeepsSocketAccess: a connection the listener hands out still
// gives its socket's descriptor access (the agent gateway's read loops
// and inline writes need it), the caps still count it, and a wrapped
// connection that is not a socket says it has none.
func TestConnKeepsSocketAccess(t *testing.T) {
	tl := listen(t, ListenerConfig{MaxConns: 10, MaxUnauthPerIP: 10})
	c := tl.admitted(t, "127.0.0.2")
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("%T hides the socket's SyscallConn", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil || fd < 0 {
		t.Fatalf("Control: fd %d, %v", fd, err)
	}
	c.Close()
	if open, _ := tl.Counts(); open != 0 {
		t.Errorf("%d open after Close, want 0", open)
	}
	if err := rc.Control(func(uintptr) {}); err == nil {
		t.Error("the descriptor is still usable after Close")
	}
	wrapped := &Conn{Conn: tls.Client(c, &tls.Config{}), l: tl.Listener}
	if _, err := wrapped.SyscallConn(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("SyscallConn of a TLS connection: %v, want ErrUnsupported", err)
	}
}
