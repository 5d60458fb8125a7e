package loadgen

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steward-project/steward/server/internal/wsframe"
	"github.com/steward-project/steward/shared/wire"
)

// The simulated fleet speaks WebSocket (RFC 6455, with RFC 7692
// permessage-deflate) through this client rather than gorilla's, for two
// things a load generator needs and a general client does not do: the
// policy set the server compresses once and sends every agent is inflated
// once per run (inflateCache), not once per simulated agent, and write
// deadlines are refreshed lazily instead of on every frame.

const (
	// wsReadBufferSize is the read buffer of a connection read by a
	// goroutine of its own (over TLS, or off Linux), and of every
	// connection until its welcome: 10,000 such connections hold 10 MiB.
	// A read loop drops it and reads the socket into its own buffer.
	wsReadBufferSize = 1024
	// maxFrameHeader is a client frame's longest header: two bytes, an
	// 8-byte length and the 4-byte mask key.
	maxFrameHeader = 14
	// keepBufferMax is the largest buffer put back in a pool, so that one
	// huge message does not stay in memory for the rest of the run.
	keepBufferMax = 256 << 10
	// inflateCacheMin is the smallest compressed message the shared cache
	// takes: policy sets are well above it; smaller compressed frames are
	// cheap to inflate and may be one agent's own.
	inflateCacheMin = 4 << 10
	// inflateCacheEntries bounds the cache: a push sends one set per
	// revision (per tailoring), and only the latest ones are in flight.
	inflateCacheEntries = 8
	// wsGUID is what RFC 6455 appends to the key for Sec-WebSocket-Accept.
	wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	// offerDeflate asks for compression without context takeover either
	// way, as the server (gorilla) supports it: each message on its own.
	offerDeflate = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
)

// Frame opcodes.
const (
	opContinuation = wsframe.OpContinuation
	opText         = wsframe.OpText
	opBinary       = wsframe.OpBinary
	opClose        = wsframe.OpClose
	opPing         = wsframe.OpPing
	opPong         = wsframe.OpPong
)

// Close codes the client sends or reports.
const (
	closeNormal        = 1000
	closeProtocolError = 1002
	closeNoStatus      = 1005 // a close frame without a code
	closeAbnormal      = 1006 // the connection ended without a close frame
	closeTooBig        = 1009
)

var (
	// errBadHandshake is a 101 answer that does not complete the upgrade.
	errBadHandshake = errors.New("bad websocket handshake")
	// errProtocol is a frame or compressed payload RFC 6455 or 7692 forbids.
	errProtocol = wsframe.ErrProtocol
	// errTooBig is a message above the read limit.
	errTooBig = wsframe.ErrTooBig
	// errCloseSent refuses frames after our close frame.
	errCloseSent = errors.New("websocket close frame already sent")
)

// wsCloseError is how a connection ended from the server's side: the code
// of its close frame, closeNoStatus for one without, closeAbnormal when
// the connection ended with no close frame at all.
type wsCloseError struct{ code int }

// Error says how the server ended the connection; reason() labels it.
func (e *wsCloseError) Error() string {
	return fmt.Sprintf("websocket closed by server (%d)", e.code)
}

// wsDialer opens simulated agents' connections.
type wsDialer struct {
	tcp      *net.Dialer // its LocalAddr is the source address (--source-ips)
	tls      *tls.Config // for wss; nil: the system's roots
	compress bool        // offer permessage-deflate, as agents do
	// timeout bounds TCP connect, TLS and upgrade together.
	timeout time.Duration
	// headOnly, when set, sees the first headBytes of every uncompressed
	// message; when it returns true, the rest of the message is read off
	// the socket and dropped, and ReadMessage returns only that head.
	headOnly func(head []byte) bool
}

// dial connects to rawURL (ws or wss) and upgrades with hdr's headers
// added. A refused upgrade returns an httpStatusError.
func (d *wsDialer) dial(ctx context.Context, rawURL string, hdr http.Header) (*wsConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("websocket url: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("websocket url %q: scheme is not ws or wss", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "wss" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	if d.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.timeout)
		defer cancel()
	}
	nc, err := d.tcp.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// The rest runs on the connection: its deadline is the context's, and
	// the context's end fails whatever read or write is blocked.
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	c, err := d.upgrade(ctx, nc, u, hdr)
	if !stop() && ctx.Err() != nil {
		err = fmt.Errorf("websocket handshake: %w", ctx.Err())
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

// upgrade runs TLS for wss, then the HTTP/1.1 upgrade, on nc.
func (d *wsDialer) upgrade(ctx context.Context, nc net.Conn, u *url.URL, hdr http.Header) (*wsConn, error) {
	conn := nc
	if u.Scheme == "wss" {
		cfg := d.tls.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	var nonce [16]byte
	binary.LittleEndian.PutUint64(nonce[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(nonce[8:], rand.Uint64())
	key := base64.StdEncoding.EncodeToString(nonce[:])

	req := make([]byte, 0, 512)
	req = append(req, "GET "...)
	req = append(req, u.RequestURI()...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, u.Host...)
	req = append(req, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	req = append(req, key...)
	req = append(req, "\r\nSec-WebSocket-Version: 13\r\n"...)
	for name, values := range hdr {
		for _, v := range values {
			if strings.ContainsAny(name, "\r\n: ") || strings.ContainsAny(v, "\r\n") {
				return nil, fmt.Errorf("websocket header %q: invalid characters", name)
			}
			req = append(req, name...)
			req = append(req, ": "...)
			req = append(req, v...)
			req = append(req, "\r\n"...)
		}
	}
	if d.compress {
		req = append(req, "Sec-WebSocket-Extensions: "+offerDeflate+"\r\n"...)
	}
	req = append(req, "\r\n"...)
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}

	// The reader outlives the response: bytes the server sent right after
	// it are the first frames.
	br := bufio.NewReaderSize(conn, wsReadBufferSize)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("websocket upgrade: %w", httpStatusError{resp.StatusCode})
	}
	switch {
	case !hasToken(resp.Header, "Upgrade", "websocket"):
		return nil, fmt.Errorf("%w: no Upgrade: websocket", errBadHandshake)
	case !hasToken(resp.Header, "Connection", "upgrade"):
		return nil, fmt.Errorf("%w: no Connection: upgrade", errBadHandshake)
	case resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key):
		return nil, fmt.Errorf("%w: wrong Sec-WebSocket-Accept", errBadHandshake)
	case resp.Header.Get("Sec-WebSocket-Protocol") != "":
		return nil, fmt.Errorf("%w: a subprotocol was not asked for", errBadHandshake)
	}
	deflate, err := d.accepted(resp.Header)
	if err != nil {
		return nil, err
	}
	c := &wsConn{nc: conn, br: br, deflate: deflate, limit: wire.MaxMessageBytes, headOnly: d.headOnly}
	c.p.c = c
	return c, nil
}

// accepted reads the answer's extensions: compression is on when the
// server accepted permessage-deflate without its context takeover, which
// inflating each message on its own needs. Anything not offered, or
// offered otherwise, fails the handshake.
func (d *wsDialer) accepted(h http.Header) (bool, error) {
	deflate := false
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		for ext := range strings.SplitSeq(v, ",") {
			params := strings.Split(ext, ";")
			name := strings.TrimSpace(params[0])
			if name == "" && len(params) == 1 {
				continue
			}
			if !strings.EqualFold(name, "permessage-deflate") || !d.compress || deflate {
				return false, fmt.Errorf("%w: extension %q was not offered", errBadHandshake, name)
			}
			noTakeover := false
			for _, p := range params[1:] {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				switch strings.ToLower(strings.TrimSpace(k)) {
				case "server_no_context_takeover":
					noTakeover = true
				case "client_no_context_takeover":
				case "server_max_window_bits":
					// A smaller window than the inflater's 32 KiB is fine.
					bits, err := strconv.Atoi(strings.Trim(strings.TrimSpace(val), `"`))
					if err != nil || bits < 8 || bits > 15 {
						return false, fmt.Errorf("%w: server_max_window_bits %q", errBadHandshake, val)
					}
				default:
					return false, fmt.Errorf("%w: permessage-deflate parameter %q was not offered", errBadHandshake, k)
				}
			}
			if !noTakeover {
				return false, fmt.Errorf("%w: permessage-deflate with server context takeover", errBadHandshake)
			}
			deflate = true
		}
	}
	return deflate, nil
}

// hasToken reports whether header name lists token (case-insensitive).
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// acceptKey is the Sec-WebSocket-Accept the server must answer key with.
func acceptKey(key string) string {
	sum := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// wsConn is one simulated agent's connection. One goroutine reads; any
// may write, under the write lock.
type wsConn struct {
	nc       net.Conn
	br       *bufio.Reader
	deflate  bool // permessage-deflate negotiated
	limit    int  // largest message read, compressed or not
	headOnly func(head []byte) bool

	// The reader's own.
	p       frameParser
	ctl     [125]byte // a control frame's payload
	out     *[]byte   // pooled buffer behind the message Inflate returned
	readErr error     // the read that ended the connection, returned again

	wmu       sync.Mutex
	wdeadline time.Time // the write deadline last set
	closeSent bool
	writeErr  error // a failed write leaves a partial frame: no more frames
	closeOnce sync.Once
	// onClose, when set, is told of Close: a read loop then stops reading.
	onClose func()
}

// SetReadDeadline bounds the reads, as net.Conn's does.
func (c *wsConn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// Close closes the TCP connection; calls after the first do nothing.
func (c *wsConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		err = c.nc.Close()
		if c.onClose != nil {
			c.onClose()
		}
	})
	return err
}

// ReadMessage returns the next data message, still compressed when
// deflated is true (see Inflate and inflateCache). The payload is in a
// buffer the connection reuses: it is valid until the next ReadMessage
// and must not be kept. Pings are answered and pongs dropped on the way;
// a close frame is answered and returned as a *wsCloseError. Once it
// failed, ReadMessage returns the same error again.
func (c *wsConn) ReadMessage() (payload []byte, deflated bool, err error) {
	if c.readErr != nil {
		return nil, false, c.readErr
	}
	c.release()
	for {
		if c.br.Buffered() == 0 {
			if _, err := c.br.Peek(1); err != nil {
				return nil, false, c.readFailed(ended(err))
			}
		}
		b, _ := c.br.Peek(c.br.Buffered())
		used, payload, deflated, done, err := c.p.feed(b)
		c.br.Discard(used)
		if err != nil {
			return nil, false, c.readFailed(err)
		}
		if done {
			return payload, deflated, nil
		}
	}
}

// readFailed ends reading with err, which ReadMessage returns from then
// on, and tells the server why with a close frame when it sent something
// RFC 6455 forbids or a message too big.
func (c *wsConn) readFailed(err error) error {
	c.readErr = err
	c.p.reset()
	c.release()
	switch {
	case errors.Is(err, errProtocol):
		c.WriteClose(closeProtocolError)
	case errors.Is(err, errTooBig):
		c.WriteClose(closeTooBig)
	}
	return err
}

// ReadInflated returns the next data message decompressed, in a buffer
// valid until the next read.
func (c *wsConn) ReadInflated() ([]byte, error) {
	p, deflated, err := c.ReadMessage()
	if err != nil || !deflated {
		return p, err
	}
	return c.Inflate(p)
}

// Inflate decompresses a payload ReadMessage returned deflated, into a
// buffer the connection reuses: valid until the next ReadMessage.
func (c *wsConn) Inflate(payload []byte) ([]byte, error) {
	if c.out == nil {
		c.out = getBuffer()
	}
	out, err := wsframe.InflateAppend((*c.out)[:0], payload, c.limit)
	*c.out = out
	return out, err
}

// release pools the buffer of the message Inflate returned last.
func (c *wsConn) release() {
	if c.out != nil {
		putBuffer(c.out)
		c.out = nil
	}
}

// ended reports a connection that ended in the middle of the stream as
// one closed without a close frame.
func ended(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &wsCloseError{code: closeAbnormal}
	}
	return err
}

// control answers a ping or close frame whose payload is p, and drops a
// pong.
func (c *wsConn) control(f wsframe.Header, p []byte) error {
	switch f.Op {
	case opPing:
		err := c.writeFrame(opPong, p)
		if errors.Is(err, errCloseSent) {
			return nil // closing: the server is about to answer
		}
		return err
	case opPong:
		return nil
	}
	code := closeNoStatus
	switch {
	case len(p) == 1:
		return fmt.Errorf("%w: close frame of one byte", errProtocol)
	case len(p) >= 2:
		code = int(binary.BigEndian.Uint16(p))
		if !wsframe.ValidCloseCode(code) {
			return fmt.Errorf("%w: close code %d", errProtocol, code)
		}
		p = p[:2]
	}
	// Echo the code, unless our own close frame went first.
	c.writeFrame(opClose, p)
	return &wsCloseError{code: code}
}

// frameBuf is a pooled buffer a client frame is built in: maxFrameHeader
// bytes of room for the header, then the payload. It is also where a
// flate.Writer writes a compressed payload.
type frameBuf struct{ b []byte }

// Write appends p: the flate.Writer's output lands after the header room.
func (f *frameBuf) Write(p []byte) (int, error) {
	f.b = append(f.b, p...)
	return len(p), nil
}

// frameBufs serve every connection: a buffer is held only while a frame
// is built and written, not per idle agent.
var frameBufs = sync.Pool{New: func() any { return &frameBuf{b: make([]byte, 0, 1024)} }}

// getFrameBuf returns an empty frame buffer, header room reserved.
func getFrameBuf() *frameBuf {
	fb := frameBufs.Get().(*frameBuf)
	fb.b = fb.b[:maxFrameHeader]
	return fb
}

// putFrameBuf pools fb unless one large message made it too big to keep.
func putFrameBuf(fb *frameBuf) {
	if cap(fb.b) <= keepBufferMax {
		frameBufs.Put(fb)
	}
}

// deflaters hold flate writers at gorilla's default level (BestSpeed):
// each is large, and only needed while a message is compressed.
var deflaters = sync.Pool{New: func() any {
	w, err := flate.NewWriter(nil, flate.BestSpeed)
	if err != nil {
		panic(err) // only for an invalid level
	}
	return w
}}

// WriteMessage sends b as one text frame, compressed when permessage-deflate
// was negotiated and b is at least compressMin bytes, as the agent does.
func (c *wsConn) WriteMessage(b []byte) error {
	fb := getFrameBuf()
	defer putFrameBuf(fb)
	rsv1 := c.deflate && len(b) >= compressMin
	if rsv1 {
		fw := deflaters.Get().(*flate.Writer)
		fw.Reset(fb)
		_, err := fw.Write(b)
		if err == nil {
			err = fw.Flush()
		}
		fw.Reset(nil)
		deflaters.Put(fw)
		if err != nil {
			return fmt.Errorf("deflate: %w", err)
		}
		if !bytes.HasSuffix(fb.b[maxFrameHeader:], wsframe.SyncMarker) {
			return errors.New("deflate: flush without a sync marker")
		}
		fb.b = fb.b[:len(fb.b)-len(wsframe.SyncMarker)]
	} else {
		fb.b = append(fb.b, b...)
	}
	return c.send(fb, opText, rsv1)
}

// WriteClose sends a close frame with code; shutdown then waits for the
// server's. It returns errCloseSent when a close frame already went out.
func (c *wsConn) WriteClose(code int) error {
	var p [2]byte
	binary.BigEndian.PutUint16(p[:], uint16(code))
	return c.writeFrame(opClose, p[:])
}

// writeFrame sends a frame with payload p, uncompressed.
func (c *wsConn) writeFrame(op byte, p []byte) error {
	fb := getFrameBuf()
	defer putFrameBuf(fb)
	fb.b = append(fb.b, p...)
	return c.send(fb, op, false)
}

// send masks the payload fb holds, puts the header in front of it and
// writes the frame with one write.
func (c *wsConn) send(fb *frameBuf, op byte, rsv1 bool) error {
	p := fb.b[maxFrameHeader:]
	start := maxFrameHeader - 4
	key := rand.Uint32()
	binary.LittleEndian.PutUint32(fb.b[start:], key)
	wsframe.Mask(p, key, 0)
	switch n := len(p); {
	case n <= 125:
		start -= 2
		fb.b[start+1] = 0x80 | byte(n)
	case n <= 0xffff:
		start -= 4
		fb.b[start+1] = 0x80 | 126
		binary.BigEndian.PutUint16(fb.b[start+2:], uint16(n))
	default:
		start -= 10
		fb.b[start+1] = 0x80 | 127
		binary.BigEndian.PutUint64(fb.b[start+2:], uint64(n))
	}
	fb.b[start] = 0x80 | op
	if rsv1 {
		fb.b[start] |= 0x40
	}
	return c.write(fb.b[start:], op == opClose)
}

// write writes one whole frame under the write lock. The write deadline
// is moved to writeWait ahead only when less than half of that is left:
// each SetWriteDeadline costs timer work, and the fleet writes thousands
// of frames a second.
func (c *wsConn) write(frame []byte, closing bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.writeErr != nil {
		return c.writeErr
	}
	if c.closeSent {
		return errCloseSent
	}
	if now := time.Now(); c.wdeadline.Sub(now) < writeWait/2 {
		c.wdeadline = now.Add(writeWait)
		if err := c.nc.SetWriteDeadline(c.wdeadline); err != nil {
			c.writeErr = fmt.Errorf("websocket write: %w", err)
			return c.writeErr
		}
	}
	if closing {
		c.closeSent = true
	}
	if _, err := c.nc.Write(frame); err != nil {
		c.writeErr = fmt.Errorf("websocket write: %w", err)
		return c.writeErr
	}
	return nil
}

// msgBuffers hold the buffers messages are read into, so that a
// connection holds none while it waits for the next message.
var msgBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 512)
	return &b
}}

// getBuffer returns an empty pooled message buffer.
func getBuffer() *[]byte {
	b := msgBuffers.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

// putBuffer pools b unless one large message made it too big to keep.
func putBuffer(b *[]byte) {
	if cap(*b) <= keepBufferMax {
		msgBuffers.Put(b)
	}
}

// inflateHead returns the first n bytes of payload's message (all of it
// if shorter), and inflates no more than the inflater must to get them.
func inflateHead(payload []byte, n int) ([]byte, error) {
	in := wsframe.GetInflater(payload)
	defer in.Release()
	head := make([]byte, n)
	got := 0
	for got < n {
		m, err := in.Read(head[got:])
		got += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return head[:got], nil
}

// inflateCache shares among every connection of a run what large
// compressed messages inflate to. The server compresses a policy set once
// and sends each agent the same bytes, so the compressed payload itself is
// the key, compared in full: a hit is the same message by construction.
// Real agents each inflate their own copy on their own machine; the
// simulation inflates it once per process: readers that miss while the
// first is inflating wait for its result instead of inflating too.
type inflateCache struct {
	// full keeps whole messages, and policy sets decoded, for a run that
	// answers sets with results; otherwise only heads are inflated.
	full  bool
	mu    sync.RWMutex
	m     map[string]*inflated
	order []string // the keys, oldest first
	// hits counts messages served from the cache, inflations those it
	// inflated (misses).
	hits, inflations atomic.Int64
}

// inflated is what the readers of one compressed message share; none of
// them may modify it.
type inflated struct {
	// ready is closed once the fields below are set (or err is).
	ready chan struct{}
	err   error
	head  []byte        // the message's first headBytes (all of it if shorter)
	msg   []byte        // the whole message when full and it is no policy set
	set   *policySetIDs // the policy set decoded, when full and it is one
}

// newInflateCache returns an empty cache; full as in inflateCache.
func newInflateCache(full bool) *inflateCache {
	return &inflateCache{full: full, m: make(map[string]*inflated)}
}

// get returns what payload, a compressed message, inflates to.
func (c *inflateCache) get(payload []byte) (*inflated, error) {
	c.mu.RLock()
	e := c.m[string(payload)]
	c.mu.RUnlock()
	if e == nil {
		c.mu.Lock()
		if e = c.m[string(payload)]; e == nil {
			return c.fill(payload)
		}
		c.mu.Unlock()
	}
	<-e.ready
	if e.err != nil {
		return nil, e.err
	}
	c.hits.Add(1)
	return e, nil
}

// fill inflates payload for the readers that want it; it is called with
// c.mu held and releases it. A message that does not inflate leaves the
// cache again, so the error is not kept for later copies.
func (c *inflateCache) fill(payload []byte) (*inflated, error) {
	key := string(payload)
	e := &inflated{ready: make(chan struct{})}
	if len(c.order) == inflateCacheEntries {
		delete(c.m, c.order[0])
		c.order = append(c.order[:0], c.order[1:]...)
	}
	c.m[key] = e
	c.order = append(c.order, key)
	c.mu.Unlock()
	v, err := c.inflate(payload)
	if err != nil {
		e.err = err
		c.mu.Lock()
		if c.m[key] == e {
			delete(c.m, key)
			c.order = slices.DeleteFunc(c.order, func(k string) bool { return k == key })
		}
		c.mu.Unlock()
	} else {
		e.head, e.msg, e.set = v.head, v.msg, v.set
	}
	close(e.ready)
	c.inflations.Add(1)
	return e, err
}

// inflate builds the entry of payload.
func (c *inflateCache) inflate(payload []byte) (*inflated, error) {
	if !c.full {
		head, err := inflateHead(payload, headBytes)
		if err != nil {
			return nil, err
		}
		return &inflated{head: head}, nil
	}
	msg, err := wsframe.InflateAppend(nil, payload, wire.MaxMessageBytes)
	if err != nil {
		return nil, err
	}
	head := slices.Clone(msg[:min(len(msg), headBytes)])
	if env, err := wire.Decode(msg); err == nil && env.Type == wire.TypePolicySet {
		if set, err := decodePolicySet(env); err == nil {
			return &inflated{head: head, set: &set}, nil
		}
	}
	return &inflated{head: head, msg: msg}, nil
}
