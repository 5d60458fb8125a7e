package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/netpoll"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/wsframe"
	"github.com/steward-project/steward/shared/wire"
	"github.com/steward-project/steward/shared/wsread"
)

// defaultWriteWait bounds one frame write unless Config.WriteWait says
// otherwise; a peer that cannot take a frame in this time is treated as
// gone.
const defaultWriteWait = 10 * time.Second

// closing is the last frame a connection sends before the close frame.
type closing struct {
	frame     []byte // an error envelope, or nil
	closeCode int
	reason    string
	// cause is why the connection ends, as counted in
	// steward_agent_disconnects_total (metrics.DisconnectReasons).
	cause string
}

// as returns cl with cause set.
func (cl closing) as(cause string) closing {
	cl.cause = cause
	return cl
}

func errorFrame(code, msg string, retry time.Duration) closing {
	b, _ := wire.Encode(wire.TypeError, 0, wire.Error{Code: code, Message: msg, RetryAfter: wire.Duration(retry)})
	cc := websocket.CloseNormalClosure
	switch code {
	case wire.CodeBadMessage, wire.CodeUnsupported, wire.CodeRetired:
		cc = websocket.ClosePolicyViolation
	case wire.CodeUnavailable:
		cc = websocket.CloseTryAgainLater
	case wire.CodeShutdown:
		cc = websocket.CloseGoingAway
	}
	return closing{frame: b, closeCode: cc, reason: code}
}

// conn is one agent's WebSocket. One goroutine reads; a writer goroutine
// runs only while there is something to write (writer.go), so an idle
// connection costs the reader alone. A lone ack is written by the
// goroutine that committed its message (writeAcksInline).
type conn struct {
	g      *Gateway
	ws     *websocket.Conn
	cork   *corkConn // the socket under ws
	host   store.Host
	remote string

	ctx    context.Context // ends when the connection is torn down
	cancel context.CancelFunc
	out    outbox
	once   sync.Once
	final  closing
	wdone  chan struct{} // closed when the teardown writer is done
	// lastRead and lastPing are liveness stamps (liveness.now).
	lastRead atomic.Int64
	lastPing atomic.Int64
	// dropped is set when the server closed the socket itself (a slow
	// reader): the writes that fail then say nothing new.
	dropped atomic.Bool
	// peerGone is set when the reader saw the peer close or drop the
	// connection.
	peerGone atomic.Bool
	// writeErr is set once a write failure was reported; only writers
	// touch it, one at a time.
	writeErr bool
	// health feeds the agent health series from applied heartbeats.
	health connHealth
	// policy is what c was sent of the policy set (broadcast.go).
	policy connPolicy
	// refusal is the host's stored policy set refusal (signing.go).
	refusal refusalState
	// exprAnswers: the agent takes expr_answers (answers.go).
	exprAnswers bool

	// win bounds the messages in flight (window.go).
	win *window
	// The read loop's side (read.go). pc is nil when a goroutine of the
	// connection's own reads it instead. held is what was read past a
	// message that had to wait: it is read once that message is handed on.
	pc   *netpoll.Conn
	rd   msgParser
	held []byte
	// parsing says rd reads c, not the library: from the hello on when a
	// loop will read c.
	parsing bool
}

func newConn(g *Gateway, ws *websocket.Conn, cork *corkConn, host store.Host, remote string, deflate bool) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{g: g, ws: ws, cork: cork, host: host, remote: remote, ctx: ctx, cancel: cancel,
		wdone: make(chan struct{}), win: newWindow(g.cfg.Window), rd: msgParser{deflate: deflate}}
}

// fail starts tearing the connection down, sending c's closing frame first.
// Only the first call's frame is sent.
func (c *conn) fail(cl closing) {
	c.once.Do(func() {
		c.final = cl
		c.cancel()
		// The teardown needs a writer even with nothing queued; a running
		// one sees the context end.
		if c.out.wake() {
			go c.writer(false)
		}
	})
}

// send queues a frame for the writer. An agent whose queue is full is not
// reading; it is dropped rather than allowed to hold server memory.
func (c *conn) send(b []byte) {
	c.enqueue(outItem{kind: outFrame, frame: b})
}

// sendAck queues the ack of seq; more says that other messages of the
// connection are still in flight, so their acks may follow at once. Acks
// have a queue bound of their own (Config.AckQueue), far above what an
// agent keeps in flight, because ingest acks a whole committed batch at
// once.
func (c *conn) sendAck(seq uint64, resync, more bool) {
	c.enqueue(outItem{kind: outAck, seq: seq, resync: resync, more: more})
}

func (c *conn) enqueue(it outItem) {
	if c.ctx.Err() != nil {
		it.slot.release()
		return
	}
	ok, start := c.out.push(it, c.g.cfg.AckQueue)
	if ok {
		switch {
		case !start:
		case it.kind == outAck && !it.more:
			c.writeAcksInline()
		default:
			go c.writer(it.kind == outAck && it.more)
		}
		return
	}
	it.slot.release()
	c.g.cfg.Logger.Warn("agent not reading; closing connection", "host_id", c.host.ID, "remote", c.remote)
	c.dropped.Store(true)
	c.fail(closing{closeCode: websocket.ClosePolicyViolation, reason: "slow_reader", cause: metrics.DisconnectSlowReader})
	// The writer may be stuck in a write the peer will never take, and a
	// close frame would not reach it either: drop the socket now rather
	// than after the write deadline.
	_ = c.ws.NetConn().Close()
}

// expire ends a connection whose peer has been silent past PongWait: the
// reader's wait ends with a timeout, as with a socket read deadline.
func (c *conn) expire() {
	if c.pc != nil {
		c.pc.End(os.ErrDeadlineExceeded)
		return
	}
	_ = c.ws.NetConn().SetReadDeadline(time.Unix(1, 0))
}

// serve reads the agent's hello, welcomes it, and reads its messages:
// from here, or from a read loop (read.go), which then ends it.
func (c *conn) serve() {
	log := c.logger()
	c.ws.SetReadLimit(wire.MaxMessageBytes)
	loops := c.readLoops()
	var hello wire.Hello
	var err error
	if loops != nil {
		c.parsing = true
		hello, err = c.readHelloRaw()
	} else {
		hello, err = c.readHello()
	}
	if err != nil {
		c.reject(log, err)
		c.end(false)
		return
	}
	now := time.Now().UTC()
	info := store.HelloInfo{Hostname: hello.Hostname, OS: hello.OS, Arch: hello.Arch, AgentVersion: hello.AgentVersion}
	if err := c.g.connects.record(c.ctx, store.Connect{HostID: c.host.ID, Info: info, At: now}); err != nil {
		log.Error("record connection", "err", err)
		c.fail(errorFrame(wire.CodeUnavailable, "database unavailable", c.g.cfg.RetryAfter).as(metrics.DisconnectUnavailable))
		c.end(false)
		return
	}
	welcome, _ := wire.Encode(wire.TypeWelcome, 0, wire.Welcome{
		ProtocolVersion:   wire.ProtocolVersion,
		HostID:            c.host.ID,
		ServerTime:        now,
		InventoryInterval: wire.Duration(c.g.cfg.InventoryInterval),
		HeartbeatInterval: wire.Duration(c.g.cfg.HeartbeatInterval),
		LastSeq:           c.host.LastSeq,
	})
	c.exprAnswers = hello.ExprAnswers
	if err := c.welcome(welcome, hello.PolicyRevision, hello.Labels); err != nil {
		log.Error("send policy set", "err", err)
		c.fail(errorFrame(wire.CodeUnavailable, "database unavailable", c.g.cfg.RetryAfter).as(metrics.DisconnectUnavailable))
		c.end(true)
		return
	}
	log.Debug("agent connected", "agent_version", hello.AgentVersion)

	if loops != nil {
		c.startLoop(loops)
		return
	}
	if err := c.readLoop(); err != nil {
		c.reject(log, err)
	}
	c.end(true)
}

func (c *conn) logger() *slog.Logger {
	return c.g.cfg.Logger.With("host_id", c.host.ID, "remote", c.remote)
}

// end finishes the connection once nothing reads it: welcomed says it
// was attached as its host's connection. It waits for the teardown
// writer, then gives back the connection's place.
func (c *conn) end(welcomed bool) {
	if welcomed {
		c.g.detach(c)
		// The agent's last reported spool depth leaves the gauge with it.
		c.health.end(c.g.cfg.Metrics)
	}
	c.fail(closing{closeCode: websocket.CloseNormalClosure, cause: metrics.DisconnectLost})
	<-c.wdone
	// c.final is settled: fail's once has run.
	if m := c.g.cfg.Metrics; m != nil {
		m.AgentDisconnects.WithLabelValues(c.final.cause).Inc()
	}
	c.g.cfg.Agents.Release()
	c.g.wg.Done()
}

// reject logs why a connection ends and picks the frame that tells the agent.
func (c *conn) reject(log interface {
	Warn(string, ...any)
	Debug(string, ...any)
}, err error) {
	m := c.g.cfg.Metrics
	switch {
	case errors.Is(err, wire.ErrMalformed):
		log.Warn("closing agent connection: bad message", "err", err)
		if m != nil {
			m.MessagesRejected.WithLabelValues("malformed").Inc()
		}
		c.fail(errorFrame(wire.CodeBadMessage, err.Error(), 0).as(metrics.DisconnectRejected))
	case errors.Is(err, errUnsupported):
		log.Warn("closing agent connection: no common protocol version", "err", err)
		if m != nil {
			m.MessagesRejected.WithLabelValues("unsupported_version").Inc()
		}
		c.fail(errorFrame(wire.CodeUnsupported, err.Error(), 0).as(metrics.DisconnectRejected))
	case errors.Is(err, websocket.ErrReadLimit):
		log.Warn("closing agent connection: message too large", "limit_bytes", wire.MaxMessageBytes)
		if m != nil {
			m.MessagesRejected.WithLabelValues("too_large").Inc()
		}
		cl := closing{cause: metrics.DisconnectRejected}
		if c.parsing {
			// Read by this package's own parser: close code 1009 is still
			// to send (wsread or the library sent it otherwise).
			cl.closeCode, cl.reason = websocket.CloseMessageTooBig, "message too large"
		}
		c.fail(cl)
	case errors.Is(err, wsframe.ErrProtocol):
		log.Warn("closing agent connection: websocket protocol error", "err", err)
		if m != nil {
			m.MessagesRejected.WithLabelValues("malformed").Inc()
		}
		c.fail(closing{closeCode: websocket.CloseProtocolError, reason: "protocol error", cause: metrics.DisconnectRejected})
	case websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway):
		c.peerGone.Store(true)
		log.Debug("agent closed connection")
		c.fail(closing{closeCode: websocket.CloseNormalClosure, cause: metrics.DisconnectAgentClosed})
	case c.ctx.Err() != nil:
		// Torn down from our side (shutdown, replaced, database down).
	default:
		c.peerGone.Store(true)
		log.Debug("agent connection ended", "err", err)
		cause := metrics.DisconnectLost
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			cause = metrics.DisconnectTimeout // no hello in time, or silent past the pong wait (expire)
		}
		c.fail(closing{closeCode: websocket.CloseNormalClosure, cause: cause})
	}
}

var errUnsupported = errors.New("unsupported protocol version")

func (c *conn) readHello() (wire.Hello, error) {
	c.ws.SetReadDeadline(time.Now().Add(c.g.cfg.HelloTimeout))
	env, err := c.readEnvelope()
	if err != nil {
		return wire.Hello{}, err
	}
	return helloOf(env)
}

// helloOf checks that an agent's first message is a hello the server can
// answer.
func helloOf(env wire.Envelope) (wire.Hello, error) {
	var hello wire.Hello
	if env.Type != wire.TypeHello {
		return hello, fmt.Errorf("%w: first message is %q, want hello", wire.ErrMalformed, env.Type)
	}
	if err := wire.DecodePayload(env, &hello); err != nil {
		return hello, err
	}
	if !slices.Contains(hello.ProtocolVersions, wire.ProtocolVersion) {
		return hello, fmt.Errorf("%w: agent speaks %v, server speaks %d", errUnsupported, hello.ProtocolVersions, wire.ProtocolVersion)
	}
	return hello, nil
}

// readBufs lends every connection's reader its buffer for one message:
// Decode copies the payload out, so the frame's bytes are done with once
// it returns.
var readBufs wsread.Pool

func (c *conn) readEnvelope() (wire.Envelope, error) {
	// The limit counts decompressed bytes; SetReadLimit (newConn) only
	// bounds the bytes on the wire.
	typ, buf, err := readBufs.Read(c.ws, wire.MaxMessageBytes)
	if err != nil {
		return wire.Envelope{}, err
	}
	defer readBufs.Put(buf)
	if typ != websocket.TextMessage {
		return wire.Envelope{}, fmt.Errorf("%w: binary frame", wire.ErrMalformed)
	}
	return c.decode(buf.Bytes())
}

// decode reads the envelope of a message the agent sent, data.
func (c *conn) decode(data []byte) (wire.Envelope, error) {
	// Handling the message is not waiting on the peer (liveness.go).
	c.lastRead.Store(busy)
	env, err := wire.Decode(data)
	if err == nil && c.g.cfg.Metrics != nil {
		c.g.cfg.Metrics.MessagesReceived.WithLabelValues(env.Type).Inc()
		// The frame as read is the message after the WebSocket layer
		// decompressed it; its type is one Decode knows, so the label
		// stays bounded.
		c.g.cfg.Metrics.MessageBytes.WithLabelValues(env.Type).Add(float64(len(data)))
	}
	return env, err
}

func (c *conn) readLoop() error {
	// From here the shared liveness keeps the read deadline and pings.
	live := c.g.live
	c.ws.SetReadDeadline(time.Time{})
	live.watch(c)
	defer live.forget(c)
	c.ws.SetPongHandler(func(string) error {
		c.lastRead.Store(live.now())
		return nil
	})
	for {
		c.lastRead.Store(live.now())
		env, err := c.readEnvelope()
		if err != nil {
			return err
		}
		in, err := c.prepare(env)
		if err != nil {
			return err
		}
		if _, err := c.submit(in, true); err != nil {
			if err == errStopped {
				return nil
			}
			return err
		}
	}
}

// inbound is a message read and checked, to hand on: policy results, or
// a data message for ingest.
type inbound struct {
	results bool
	env     wire.Envelope // results
	msg     store.Message // Bytes is its payload's size
	health  *wire.Health
	refusal *store.PolicyRefusal // a heartbeat's (recordRefusal)
}

// prepare checks a message the agent sent after its hello.
func (c *conn) prepare(env wire.Envelope) (inbound, error) {
	if env.Type == wire.TypeResults {
		return inbound{results: true, env: env}, nil
	}
	in, err := c.message(env)
	if err != nil {
		return inbound{}, err
	}
	in.msg.Bytes = len(env.Payload)
	return in, nil
}

// errStopped ends reading a connection that is being torn down already.
var errStopped = errors.New("connection torn down")

// submit hands in on: results are committed, a heartbeat's policy
// refusal is recorded if it changed, a data message takes room in the
// window and goes to ingest. With wait false (a read loop) it reports
// handled false, having done nothing, for a message that would wait on
// this connection alone (a full window, results, which commit at once,
// or a refusal to read or write); the caller waits elsewhere. Ingest's
// queue is shared by every connection, so a loop waits for room in it like a reader
// goroutine would: the other connections' bytes meanwhile wait in their
// sockets, and the agents' sends back up in TCP. A full window that
// stays full, or ingest refusing, tears the connection down, and submit
// returns errStopped.
func (c *conn) submit(in inbound, wait bool) (handled bool, err error) {
	if in.results {
		if !wait {
			return false, nil
		}
		return true, c.results(in.env)
	}
	if in.msg.Type == wire.TypeHeartbeat && !c.refusalRecorded(in.refusal) {
		if !wait {
			return false, nil
		}
		c.recordRefusal(in.refusal)
	}
	if wait {
		if err := c.win.acquire(c.ctx, int64(in.msg.Bytes)); err != nil {
			c.windowStuck(err)
			return true, errStopped
		}
	} else if !c.win.tryAcquire(int64(in.msg.Bytes)) {
		return false, nil
	}
	seq, size, health := in.msg.Seq, int64(in.msg.Bytes), in.health
	err = c.g.cfg.Ingest.Submit(c.ctx, in.msg, func(res store.Result, err error) {
		inFlight := c.win.release(size)
		if err != nil {
			c.fail(errorFrame(wire.CodeUnavailable, "database unavailable", c.g.cfg.RetryAfter).as(metrics.DisconnectUnavailable))
			return
		}
		// A heartbeat's health counts once: when it is applied, not
		// when an already applied sequence number is acked again.
		if health != nil && !res.Duplicate {
			c.health.applied(c.g.cfg.Metrics, health)
		}
		c.sendAck(seq, res.Resync, inFlight > 0)
	})
	if err != nil {
		c.win.release(size)
		c.fail(errorFrame(wire.CodeUnavailable, "server is not accepting data", c.g.cfg.RetryAfter).as(metrics.DisconnectUnavailable))
		return true, errStopped
	}
	return true, nil
}

// results validates and commits an agent's policy results.
func (c *conn) results(env wire.Envelope) error {
	if c.g.cfg.Policies == nil {
		return fmt.Errorf("%w: this server does not take policy results", wire.ErrMalformed)
	}
	if env.Seq == 0 {
		return fmt.Errorf("%w: results without a sequence number", wire.ErrMalformed)
	}
	var r wire.Results
	if err := wire.DecodePayload(env, &r); err != nil {
		return err
	}
	if err := validateResults(&r); err != nil {
		return err
	}
	if err := c.applyResults(env.Seq, &r); err != nil {
		c.g.cfg.Logger.Error("record policy results", "host_id", c.host.ID, "err", err)
		c.fail(errorFrame(wire.CodeUnavailable, "database unavailable", c.g.cfg.RetryAfter).as(metrics.DisconnectUnavailable))
		return nil
	}
	return nil
}

// message turns a data envelope into a store message, validating it. For
// a heartbeat it also takes the agent's health report and policy
// refusal, if it sent them; either out of bounds makes the heartbeat
// malformed.
func (c *conn) message(env wire.Envelope) (inbound, error) {
	in := inbound{msg: store.Message{HostID: c.host.ID, Seq: env.Seq, Type: env.Type, Received: time.Now()}}
	if env.Seq == 0 {
		return in, fmt.Errorf("%w: %s without a sequence number", wire.ErrMalformed, env.Type)
	}
	switch env.Type {
	case wire.TypeInventory:
		var inv wire.Inventory
		if err := wire.DecodePayload(env, &inv); err != nil {
			return in, err
		}
		if err := inv.Validate(); err != nil {
			return in, err
		}
		in.msg.Inventory = &inv
	case wire.TypeHeartbeat:
		hb, err := wire.DecodeHeartbeat(env)
		if err != nil {
			return in, err
		}
		if hb.Health != nil {
			if err := hb.Health.Validate(); err != nil {
				return in, err
			}
		}
		in.health = hb.Health
		in.refusal, err = heartbeatRefusal(hb.PolicyRefusal)
		return in, err
	default:
		return in, fmt.Errorf("%w: agent may not send %q", wire.ErrMalformed, env.Type)
	}
	return in, nil
}
