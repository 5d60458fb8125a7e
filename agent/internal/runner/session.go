package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/steward-project/steward/agent/internal/transport"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

const (
	// welcomeTimeout bounds the wait for welcome after hello.
	welcomeTimeout = 10 * time.Second
	// initialIdle is the silence allowed before the welcome sets the
	// schedule; the welcome timeout normally fires well before it.
	initialIdle = 2*defaultHeartbeat + idleSlack
	// idleSlack is added to twice the heartbeat interval to get how long
	// the server may stay silent before the connection counts as dead: the
	// server acks every heartbeat and pings every 30 s.
	idleSlack = 30 * time.Second

	defaultInventory = time.Hour
	defaultHeartbeat = 30 * time.Second
	// minServerInterval keeps a misconfigured server from making a fleet
	// report in a busy loop; Config overrides are not clamped (tests).
	minServerInterval = time.Second
)

// serverError is an error message the server sent before closing.
type serverError struct {
	Code, Message string
}

func (e *serverError) Error() string {
	return fmt.Sprintf("server error %s: %s", e.Code, e.Message)
}

// inFlight is the one inventory awaiting its ack.
type inFlight struct {
	seq    uint64
	hashes map[string]string
	doc    inventory.Document // kept to answer a resync without collecting again
}

// collected is one finished inventory collection and how long it took.
type collected struct {
	doc  inventory.Document
	took time.Duration
}

// session is one welcomed connection. All its fields are used by the
// goroutine running run, except the collection goroutine's channel.
type session struct {
	a    *agent
	conn *transport.Conn
	log  *slog.Logger

	inventoryEvery time.Duration
	heartbeatEvery time.Duration

	inflight    *inFlight
	collecting  bool
	collectDue  bool // the inventory timer fired while busy
	results     chan collected
	collectCtx  context.Context
	stopCollect context.CancelFunc
	collectors  sync.WaitGroup

	// Policy evaluation; see policies.go.
	checkEvery      time.Duration
	doc             inventory.Document // the session's latest inventory
	haveDoc         bool
	evaluating      bool
	evalDue         bool
	evals           chan evaluated
	latest          *evaluated // the newest evaluation of the current set
	resultsInflight *resultsFlight
	lastSent        uint64            // seq of the last results message sent
	evalReported    time.Time         // when the last evaluation reported to the server finished
	exprAnswers     *wire.ExprAnswers // the server's latest; see answers.go
	heldBackIDs     []string          // policies last held back for want of one

	// pendingHB holds the sequence numbers of heartbeats sent and not
	// acknowledged yet, oldest first; see unacked.
	pendingHB []uint64
}

func newSession(a *agent, conn *transport.Conn) *session {
	return &session{
		a: a, conn: conn, log: a.log,
		results:    make(chan collected, 1),
		evals:      make(chan evaluated, 1),
		checkEvery: a.cfg.CheckInterval,
	}
}

// run speaks the protocol on conn until it fails, the server closes it or
// ctx ends; it always closes conn (with a close frame) before returning.
func (s *session) run(ctx context.Context) outcome {
	s.collectCtx, s.stopCollect = context.WithCancel(ctx)
	defer func() {
		s.stopCollect()
		s.collectors.Wait()
	}()
	defer s.conn.Close()

	if o, ok := s.handshake(ctx); !ok {
		return o
	}
	start := s.a.h.now()
	o := s.loop(ctx)
	o.welcomed = true
	o.upFor = s.a.h.now().Sub(start)
	// Nothing sent on this connection is sent again as it was: what is
	// still unacknowledged is dropped (an inventory's or results' content
	// is recomputed on the next connection).
	s.a.health.drop(s.unacked())
	return o
}

// unacked counts the data messages sent on this connection that the
// server has not acknowledged: the agent's spool depth as its heartbeats
// report it.
func (s *session) unacked() int {
	n := len(s.pendingHB)
	if s.inflight != nil {
		n++
	}
	if s.resultsInflight != nil {
		n++
	}
	return n
}

// handshake sends hello and waits for welcome; ok is false when the
// session should end with o.
func (s *session) handshake(ctx context.Context) (o outcome, ok bool) {
	hello := wire.Hello{
		ProtocolVersions: []int{wire.ProtocolVersion},
		AgentVersion:     s.a.cfg.AgentVersion,
		OS:               runtime.GOOS,
		Arch:             runtime.GOARCH,
		Hostname:         s.a.cfg.Hostname,
		PolicyRevision:   s.a.st.Policies().Revision,
		Labels:           true,
		ExprAnswers:      true,
	}
	if o, ok := s.send(ctx, wire.TypeHello, 0, hello); !ok {
		return o, false
	}
	timer := time.NewTimer(welcomeTimeout)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return outcome{}, false
	case <-timer.C:
		return outcome{err: fmt.Errorf("no welcome within %v", welcomeTimeout)}, false
	case env, open := <-s.conn.Incoming():
		if !open {
			return outcome{err: s.conn.Err()}, false
		}
		switch env.Type {
		case wire.TypeWelcome:
			return s.welcome(env)
		case wire.TypeError:
			return s.serverError(env), false
		default:
			return outcome{err: fmt.Errorf("expected welcome, got %s", env.Type)}, false
		}
	}
}

func (s *session) welcome(env wire.Envelope) (outcome, bool) {
	var w wire.Welcome
	if err := wire.DecodePayload(env, &w); err != nil {
		return outcome{err: fmt.Errorf("welcome: %w", err)}, false
	}
	if w.ProtocolVersion != wire.ProtocolVersion {
		return outcome{err: fmt.Errorf("welcome: server chose protocol version %d, this agent speaks %d", w.ProtocolVersion, wire.ProtocolVersion)}, false
	}
	jumped, err := s.a.st.ResumeAfter(w.LastSeq)
	if err != nil {
		return outcome{fatal: err}, false
	}
	if jumped {
		s.log.Info("server has applied newer sequence numbers than the state dir holds; continuing above them", "last_seq", w.LastSeq)
	}
	if w.HostID != 0 && w.HostID != s.a.st.Snapshot().HostID {
		if err := s.a.st.SetHostID(w.HostID); err != nil {
			return outcome{fatal: err}, false
		}
	}
	s.a.health.welcome()
	s.a.labels = w.Labels
	s.inventoryEvery = pickInterval(s.a.cfg.InventoryInterval, time.Duration(w.InventoryInterval), defaultInventory)
	s.heartbeatEvery = pickInterval(s.a.cfg.HeartbeatInterval, time.Duration(w.HeartbeatInterval), defaultHeartbeat)
	s.conn.SetIdleTimeout(2*s.heartbeatEvery + idleSlack)
	s.log.Info("connected", "host_id", w.HostID, "last_seq", w.LastSeq,
		"inventory_interval", s.inventoryEvery, "heartbeat_interval", s.heartbeatEvery)
	return outcome{}, true
}

// pickInterval prefers the local override, then the server's value
// (clamped), then the default.
func pickInterval(local, server, def time.Duration) time.Duration {
	switch {
	case local > 0:
		return local
	case server > 0:
		return max(server, minServerInterval)
	default:
		return def
	}
}

func (s *session) loop(ctx context.Context) outcome {
	heartbeat := time.NewTicker(s.heartbeatEvery)
	defer heartbeat.Stop()
	nextInventory := time.NewTimer(jitter(s.inventoryEvery, s.a.h.rand()))
	defer nextInventory.Stop()
	nextCheck := time.NewTimer(jitter(s.checkEvery, s.a.h.rand()))
	defer nextCheck.Stop()
	s.startCollect()
	// The first inventory of the session starts an evaluation, which
	// also resends results a previous connection left unacknowledged.

	for {
		select {
		case <-ctx.Done():
			return outcome{}
		case env, open := <-s.conn.Incoming():
			if !open {
				return outcome{err: s.conn.Err()}
			}
			if o, ok := s.handle(ctx, env); !ok {
				return o
			}
		case <-heartbeat.C:
			if o, ok := s.heartbeat(ctx); !ok {
				return o
			}
		case <-nextInventory.C:
			nextInventory.Reset(jitter(s.inventoryEvery, s.a.h.rand()))
			if s.collecting || s.inflight != nil {
				s.collectDue = true
			} else {
				s.startCollect()
			}
		case c := <-s.results:
			s.collecting = false
			s.a.health.inventoryScan(c.took)
			doc := c.doc
			if o, ok := s.sendInventory(ctx, doc); !ok {
				return o
			}
			// Inventory may have changed what package, service, port
			// and expr leaves see.
			s.doc, s.haveDoc = doc, true
			s.startEval()
		case <-nextCheck.C:
			nextCheck.Reset(jitter(s.checkEvery, s.a.h.rand()))
			s.startEval()
		case ev := <-s.evals:
			if o, ok := s.evalDone(ctx, ev); !ok {
				return o
			}
		}
	}
}

// handle reacts to one server message.
func (s *session) handle(ctx context.Context, env wire.Envelope) (outcome, bool) {
	switch env.Type {
	case wire.TypeAck:
		return s.ack(ctx, env)
	case wire.TypeError:
		return s.serverError(env), false
	case wire.TypePolicySet:
		return s.policySet(ctx, env)
	case wire.TypeExprAnswers:
		return s.takeExprAnswers(env)
	case wire.TypeLabels:
		return s.labelsChanged(env)
	case wire.TypeCheckNow:
		s.log.Info("server asked for a policy check")
		s.startEval()
		return outcome{}, true
	default:
		s.log.Debug("ignoring unexpected message", "type", env.Type)
		return outcome{}, true
	}
}

func (s *session) ack(ctx context.Context, env wire.Envelope) (outcome, bool) {
	if s.resultsInflight != nil && env.Seq == s.resultsInflight.seq {
		return s.resultsAcked(ctx)
	}
	if s.inflight == nil || env.Seq != s.inflight.seq {
		// A heartbeat's ack, or a stale one.
		if i := slices.Index(s.pendingHB, env.Seq); i >= 0 {
			s.pendingHB = slices.Delete(s.pendingHB, i, i+1)
		}
		return outcome{}, true
	}
	var ack wire.Ack
	if len(env.Payload) > 0 {
		if err := wire.DecodePayload(env, &ack); err != nil {
			return outcome{err: fmt.Errorf("ack: %w", err)}, false
		}
	}
	done := s.inflight
	s.inflight = nil
	if ack.Resync {
		s.log.Info("server asked for a full inventory", "seq", env.Seq)
		if err := s.a.st.SetAckedHashes(nil); err != nil {
			return outcome{fatal: err}, false
		}
		return s.sendInventory(ctx, done.doc)
	}
	if err := s.a.st.SetAckedHashes(done.hashes); err != nil {
		return outcome{fatal: err}, false
	}
	if s.collectDue {
		s.startCollect()
	}
	return outcome{}, true
}

func (s *session) serverError(env wire.Envelope) outcome {
	var e wire.Error
	if err := wire.DecodePayload(env, &e); err != nil {
		return outcome{err: fmt.Errorf("server error: %w", err)}
	}
	return outcome{err: &serverError{Code: e.Code, Message: e.Message}, retryAfter: time.Duration(e.RetryAfter)}
}

// startCollect runs Collect in the background so that heartbeats and acks
// keep flowing during a slow collection.
func (s *session) startCollect() {
	s.collecting = true
	s.collectDue = false
	ctx := s.collectCtx
	s.collectors.Add(1)
	go func() {
		defer s.collectors.Done()
		start := s.a.h.now()
		doc := s.a.cfg.Collect(ctx)
		s.results <- collected{doc: doc, took: s.a.h.now().Sub(start)}
	}()
}

func (s *session) sendInventory(ctx context.Context, doc inventory.Document) (outcome, bool) {
	if ctx.Err() != nil {
		return outcome{}, false
	}
	d := buildInventory(doc, s.a.st.AckedHashes(), s.a.h.now())
	if len(d.skipped) > 0 {
		s.log.Warn("inventory sections left out: unknown name or invalid JSON", "sections", d.skipped)
	}
	seq, err := s.a.st.NextSeq()
	if err != nil {
		return outcome{fatal: err}, false
	}
	msg, err := wire.Encode(wire.TypeInventory, seq, d.msg)
	if err != nil {
		return outcome{err: err}, false
	}
	if len(msg) > wire.MaxMessageBytes {
		// The server would drop the connection for it, and every retry
		// would do the same; stay connected and try the next collection.
		s.log.Error("inventory too large to send", "bytes", len(msg), "limit", wire.MaxMessageBytes)
		s.a.health.drop(1)
		return outcome{}, true
	}
	if err := s.conn.Send(ctx, msg); err != nil {
		return s.sendFailed(ctx, err), false
	}
	s.inflight = &inFlight{seq: seq, hashes: d.hashes, doc: doc}
	s.log.Debug("inventory sent", "seq", seq, "sections", len(d.msg.Sections), "removed", len(d.msg.Removed), "bytes", len(msg))
	return outcome{}, true
}

// heartbeat reserves the next sequence number (on disk first) and sends a
// heartbeat with it, carrying the agent's health: the increments since the
// previous heartbeat, which start again from zero, and the messages still
// unacknowledged.
func (s *session) heartbeat(ctx context.Context) (outcome, bool) {
	seq, err := s.a.st.NextSeq()
	if err != nil {
		return outcome{fatal: err}, false
	}
	hb := wire.Heartbeat{Time: s.a.h.now().UTC(), Health: s.a.health.take(s.unacked()), PolicyRefusal: s.a.refusal}
	if o, ok := s.send(ctx, wire.TypeHeartbeat, seq, hb); !ok {
		// Not queued, so never seen by the server: report it next time.
		s.a.health.restore(hb.Health)
		return o, false
	}
	s.pendingHB = append(s.pendingHB, seq)
	if len(s.pendingHB) > maxPendingHeartbeats {
		s.pendingHB = slices.Delete(s.pendingHB, 0, 1)
		s.a.health.drop(1)
	}
	return outcome{}, true
}

// send encodes and queues one message; seq 0 is left off the envelope.
func (s *session) send(ctx context.Context, typ string, seq uint64, payload any) (outcome, bool) {
	msg, err := wire.Encode(typ, seq, payload)
	if err != nil {
		return outcome{err: err}, false
	}
	if err := s.conn.Send(ctx, msg); err != nil {
		return s.sendFailed(ctx, err), false
	}
	return outcome{}, true
}

func (s *session) sendFailed(ctx context.Context, err error) outcome {
	if ctx.Err() != nil {
		return outcome{}
	}
	// The writer stopped; its reason is more useful than ErrClosed.
	if errors.Is(err, transport.ErrClosed) && s.conn.Err() != nil {
		err = s.conn.Err()
	}
	return outcome{err: fmt.Errorf("send: %w", err)}
}
