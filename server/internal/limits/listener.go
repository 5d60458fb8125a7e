package limits

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// ListenerConfig configures a Listener.
type ListenerConfig struct {
	// MaxConns caps the connections open at once, authenticated or not.
	MaxConns int
	// MaxUnauthPerIP caps the connections of one client address (IPv6:
	// one /64) that no request has authenticated yet.
	MaxUnauthPerIP int
	// TrustedProxies are exempt from MaxUnauthPerIP: every client behind
	// a reverse proxy shares its address.
	TrustedProxies []netip.Prefix
	// RetryAfter is what refused clients are told to wait.
	RetryAfter time.Duration
	// NoAnswer closes refused connections without a word: for a TLS
	// listener, where an answer would take a handshake first.
	NoAnswer bool
	// Refused, when set, is called with the reason of every refusal.
	Refused func(reason string)
	// Counted, when set, is called with the number of authenticated and
	// unauthenticated connections whenever one of them changes.
	Counted func(authenticated, unauthenticated int)
}

// Listener caps the connections a net.Listener hands out. A connection
// over either cap is answered 503 with Retry-After before any of its
// request is read, and closed, so it holds a file descriptor for no
// longer than that write. Connections count as unauthenticated until a
// request on them passes authentication (Authenticated).
type Listener struct {
	net.Listener
	cfg      ListenerConfig
	refusal  []byte
	mu       sync.Mutex
	open     int
	unauth   map[string]int // by address key
	unauthed int            // sum of unauth
}

// NewListener wraps ln.
func NewListener(ln net.Listener, cfg ListenerConfig) *Listener {
	cfg.MaxConns = max(cfg.MaxConns, 1)
	cfg.MaxUnauthPerIP = max(cfg.MaxUnauthPerIP, 1)
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 10 * time.Second
	}
	body := `{"error":"too many connections; retry later"}` + "\n"
	refusal := fmt.Sprintf("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"+
		"Retry-After: %d\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		retryAfterSeconds(cfg.RetryAfter), len(body), body)
	return &Listener{Listener: ln, cfg: cfg, refusal: []byte(refusal), unauth: make(map[string]int)}
}

// Accept returns the next connection within the caps, refusing the
// others as they come.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, exempt := "unknown", false
		if a, ok := peerAddr(c.RemoteAddr().String()); ok {
			key, exempt = addrKey(a), contains(l.cfg.TrustedProxies, a)
		}
		reason := ""
		l.mu.Lock()
		switch {
		case l.open >= l.cfg.MaxConns:
			reason = ReasonConnCap
		case !exempt && l.unauth[key] >= l.cfg.MaxUnauthPerIP:
			reason = ReasonIPCap
		default:
			l.open++
			l.unauth[key]++
			l.unauthed++
			l.counted()
		}
		l.mu.Unlock()
		if reason == "" {
			return &Conn{Conn: c, l: l, key: key}, nil
		}
		l.refuse(c, reason)
	}
}

func (l *Listener) refuse(c net.Conn, reason string) {
	if l.cfg.Refused != nil {
		l.cfg.Refused(reason)
	}
	if !l.cfg.NoAnswer {
		// A new socket's send buffer takes these few hundred bytes at
		// once; the deadline only guards against the unexpected.
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write(l.refusal)
	}
	_ = c.Close()
}

// Counts returns the connections open now and, of them, those not
// authenticated.
func (l *Listener) Counts() (open, unauthenticated int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.unauthed
}

// counted reports the counts; l.mu is held.
func (l *Listener) counted() {
	if l.cfg.Counted != nil {
		l.cfg.Counted(l.open-l.unauthed, l.unauthed)
	}
}

// release forgets c's share of the unauthenticated count (an
// authenticated or closed connection) and, when it closed, of the open
// count. l.mu is held.
func (l *Listener) releaseUnauth(c *Conn) {
	if c.authed || c.closed {
		return
	}
	if n := l.unauth[c.key] - 1; n > 0 {
		l.unauth[c.key] = n
	} else {
		delete(l.unauth, c.key)
	}
	l.unauthed--
}

// Conn is a connection handed out by a Listener.
type Conn struct {
	net.Conn
	l      *Listener
	key    string
	authed bool // guarded by l.mu
	closed bool // guarded by l.mu
}

// Close closes the connection and frees its place under the caps.
func (c *Conn) Close() error {
	l := c.l
	l.mu.Lock()
	if !c.closed {
		l.releaseUnauth(c)
		c.closed = true
		l.open--
		l.counted()
	}
	l.mu.Unlock()
	return c.Conn.Close()
}

// SyscallConn is the socket's own, when c is a plain socket: the agent
// gateway reads and writes through the descriptor (its read loops and
// the acks it writes without a writer goroutine), which a wrapper
// without this method would hide. The caps are unaffected: they count
// connections, and closing still goes through Close.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}

// authenticate moves c from the unauthenticated to the authenticated.
func (c *Conn) authenticate() {
	l := c.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.authed || c.closed {
		return
	}
	l.releaseUnauth(c)
	c.authed = true
	l.counted()
}

type connKey struct{}

// ConnContext is for http.Server.ConnContext: it lets a request's
// handlers find the connection it came on, through TLS too.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	for c != nil {
		if lc, ok := c.(*Conn); ok {
			return context.WithValue(ctx, connKey{}, lc)
		}
		inner, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = inner.NetConn()
	}
	return ctx
}

// Authenticated marks the connection of the request whose context is ctx
// as authenticated: it no longer counts against its address's cap of
// unauthenticated connections. Without such a connection (a server that
// is not behind a Listener) it does nothing.
func Authenticated(ctx context.Context) {
	if c, ok := ctx.Value(connKey{}).(*Conn); ok {
		c.authenticate()
	}
}
