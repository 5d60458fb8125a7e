package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steward-project/steward/shared/wire"
)

const (
	// welcomeWait bounds the wait for welcome after hello.
	welcomeWait = 30 * time.Second
	// writeWait bounds one frame write.
	writeWait = 30 * time.Second
	// drainWait is how long an agent waits at the end for acks of what it
	// sent; whatever is still unacknowledged then is counted as such.
	drainWait = 10 * time.Second
	// closeWait is how long it waits for the server's close frame.
	closeWait = 2 * time.Second
	// maxPending caps unacknowledged messages per agent; above it a
	// scheduled message is skipped, as a real agent's spool would hold it
	// back, and the skip is counted.
	maxPending = 256
	// compressMin matches the agent: smaller messages are not deflated.
	compressMin = 1024
)

// msgKind says what a data message was, for the report.
type msgKind uint8

const (
	kindSteady  msgKind = iota // heartbeat, unchanged or resync inventory
	kindFirst                  // the full inventory sent right after welcome
	kindResults                // policy results answering a policy_set
)

// sent is one data message waiting for its ack, queued in sequence order.
// Acks of inventories and heartbeats come in that order (the ingest
// batcher commits them in order), but the server commits results on their
// own, so a results ack may overtake the acks of messages sent before it:
// acks are matched by sequence number, as the agent does.
type sent struct {
	seq  uint64
	at   time.Duration // since runner.base, monotonic
	kind msgKind
}

// agent is one simulated host. Its own goroutine is the connection's only
// data writer; a read loop shared by many agents reads (a goroutine of
// its own on systems without one, and over TLS). It holds no inventory after
// sending one: only the digest, for unchanged-inventory messages.
type agent struct {
	r   *runner
	ph  *phases
	idx int
	id  Identity
	ws  *wsConn

	seq       uint64 // next sequence number; the writer's alone
	digest    string
	dialStart time.Duration

	mu         sync.Mutex
	queue      []sent
	firstAcked bool
	stopping   bool
	errCode    string // code of an error frame, until the connection ends

	// sets hands the latest policy_set from the reader to the writer when
	// results are to be sent; reported is what the last results message
	// covered (the writer's alone).
	sets     chan policySetIDs
	reported map[string]bool
	// health is the block its heartbeats carry (the writer's alone).
	health simHealth

	connectOnce sync.Once
	closing     atomic.Bool   // we are closing: the end is not a disconnect
	resync      chan struct{} // the server asked for a full inventory
	drained     chan struct{} // the queue emptied while stopping
	readerDone  chan struct{}
}

func newAgent(r *runner, ph *phases, idx int, id Identity) *agent {
	return &agent{r: r, ph: ph, idx: idx, id: id, sets: make(chan policySetIDs, 1),
		resync: make(chan struct{}, 1), drained: make(chan struct{}, 1), readerDone: make(chan struct{})}
}

// run takes the agent through the connect phase, waits for the steady
// phase and sends until ph.stop, then closes cleanly.
func (a *agent) run(ctx context.Context) {
	ph := a.ph
	defer ph.agents.Done()
	defer a.connectDone()
	if !a.connect(ctx) {
		return
	}
	// Until the steady phase starts the agent only answers policy sets,
	// as a real agent evaluates a set as soon as it has it.
wait:
	for {
		select {
		case <-ph.steady:
			a.steady(ctx)
			break wait
		case set := <-a.sets:
			if a.report(set) != nil {
				break wait
			}
		case <-ctx.Done():
			break wait
		case <-a.readerDone:
			break wait
		}
	}
	a.shutdown()
}

// connectDone marks the end of this agent's connect phase: its first
// inventory was acked, or it failed, or the run was interrupted.
func (a *agent) connectDone() {
	a.connectOnce.Do(func() {
		if a.r.st.connectDone.Add(1) == int64(a.ph.total) {
			close(a.ph.connected)
		}
	})
}

// connect dials, says hello, waits for welcome and sends the full
// inventory. Only this part holds a concurrency slot: it is where the
// server does per-connection work (key lookup, upgrade, handshake).
func (a *agent) connect(ctx context.Context) bool {
	ph := a.ph
	select {
	case ph.slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	defer func() { <-ph.slots }()
	st := &a.r.st
	st.connectAttempts.Add(1)
	inv, err := a.r.fleet.Inventory(a.id.Hostname, time.Now())
	if err != nil {
		st.connectFail.add("build inventory")
		return false
	}
	a.dialStart = a.r.since()
	hdr := http.Header{"Authorization": {"Bearer " + a.id.NodeKey}}
	ws, err := a.r.dialers[a.idx%len(a.r.dialers)].dial(ctx, a.r.wsURL, hdr)
	if err != nil {
		if ctx.Err() == nil {
			st.connectFail.add("dial: " + reason(err))
		}
		return false
	}
	a.ws = ws
	welcome, err := a.handshake()
	if err != nil {
		ws.Close()
		if ctx.Err() == nil {
			st.connectFail.add(err.Error())
		}
		return false
	}
	st.handshake.Record(a.r.since() - a.dialStart)
	st.connected.Add(1)
	st.live.Add(1)
	// A host the server already knows (a fleet reloaded from --state)
	// continues above the last number the server applied, as the agent does.
	a.seq = max(1, welcome.LastSeq+1)
	a.r.reads.read(ws, a)

	a.digest = inv.Digest
	inv.CollectedAt = time.Now().UTC()
	if welcome.LastSeq > 0 {
		// The server holds this host's inventory from an earlier run.
		// The agent sends only what changed since its last ack, so an
		// unchanged machine reconnects with the digest alone; the whole
		// inventory follows if the server asks for it (resync).
		inv = wire.Inventory{CollectedAt: inv.CollectedAt, Digest: inv.Digest}
	}
	n, err := a.send(wire.TypeInventory, inv, kindFirst, nil)
	if err != nil {
		// The reader sees the broken connection and records why.
		return true
	}
	st.invSent.Add(1)
	st.invBytes.Add(int64(n))
	return true
}

// handshake sends hello and reads welcome; its errors are failure labels.
func (a *agent) handshake() (wire.Welcome, error) {
	var w wire.Welcome
	hello, err := wire.Encode(wire.TypeHello, 0, wire.Hello{
		ProtocolVersions: []int{wire.ProtocolVersion},
		AgentVersion:     "steward-loadgen",
		OS:               "linux",
		Arch:             "amd64",
		Hostname:         a.id.Hostname,
	})
	if err != nil {
		return w, fmt.Errorf("hello: %w", err)
	}
	if err := a.ws.WriteMessage(hello); err != nil {
		return w, fmt.Errorf("hello: %s", reason(err))
	}
	a.ws.SetReadDeadline(time.Now().Add(welcomeWait))
	data, err := a.ws.ReadInflated()
	if err != nil {
		return w, fmt.Errorf("welcome: %s", reason(err))
	}
	a.ws.SetReadDeadline(time.Time{})
	env, err := wire.Decode(data)
	if err != nil {
		return w, errors.New("welcome: undecodable frame")
	}
	switch env.Type {
	case wire.TypeWelcome:
		if err := wire.DecodePayload(env, &w); err != nil {
			return w, errors.New("welcome: undecodable payload")
		}
		return w, nil
	case wire.TypeError:
		var e wire.Error
		_ = wire.DecodePayload(env, &e)
		return w, fmt.Errorf("error frame: %s", e.Code)
	default:
		return w, fmt.Errorf("welcome: got %s", env.Type)
	}
}

// steady sends heartbeats and, if asked, unchanged inventories until ctx
// ends or the connection drops. First sends are spread over one interval
// so agents that connected together do not fire together.
func (a *agent) steady(ctx context.Context) {
	cfg := a.r.cfg
	hb := newSchedule(cfg.Heartbeat)
	defer hb.stop()
	var inv *schedule
	var invC <-chan time.Time
	if cfg.InventoryEvery > 0 {
		inv = newSchedule(cfg.InventoryEvery)
		defer inv.stop()
		invC = inv.t.C
	}
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-a.readerDone:
			return
		case <-hb.t.C:
			err = a.heartbeat()
			a.r.st.skipped.Add(hb.next())
		case <-invC:
			_, err = a.send(wire.TypeInventory, wire.Inventory{CollectedAt: time.Now().UTC(), Digest: a.digest}, kindSteady, nil)
			a.r.st.skipped.Add(inv.next())
		case <-a.resync:
			err = a.sendFull()
		case set := <-a.sets:
			err = a.report(set)
		}
		if err != nil {
			return
		}
	}
}

// heartbeat sends a heartbeat with the agent's health block; when the
// heartbeat is skipped, its increments go out with the next one.
func (a *agent) heartbeat() error {
	a.mu.Lock()
	pending := len(a.queue)
	a.mu.Unlock()
	h := a.health.take(pending)
	n, err := a.send(wire.TypeHeartbeat, wire.Heartbeat{Time: time.Now().UTC(), Health: h}, kindSteady, nil)
	if n == 0 {
		a.health.restore(h)
	}
	return err
}

// sendFull answers a resync: every section in full.
func (a *agent) sendFull() error {
	inv, err := a.r.fleet.Inventory(a.id.Hostname, time.Now())
	if err != nil {
		return err
	}
	_, err = a.send(wire.TypeInventory, inv, kindSteady, nil)
	return err
}

// report answers a policy set with a result of the configured status for
// each of its policies, as one results message. The send time is logged
// before the write, so no notification can arrive before it is known.
func (a *agent) report(set policySetIDs) error {
	msg := resultsFor(set, policyStatus(a.r.cfg.Results), a.reported, time.Now())
	if len(msg.Results) == 0 && len(msg.Removed) == 0 {
		return nil
	}
	n, err := a.send(wire.TypeResults, msg, kindResults, func(at time.Duration) {
		a.r.st.results.sent(a.idx, &msg, at)
	})
	if err != nil || n == 0 {
		return err
	}
	a.reported = make(map[string]bool, len(set.IDs))
	for _, id := range set.IDs {
		a.reported[id] = true
	}
	a.r.st.resultsSent.Add(1)
	a.r.st.resultsCount.Add(int64(len(msg.Results)))
	return nil
}

// send numbers, queues and writes one data message and returns its size.
// A full queue skips the message (counted; the size is then 0) rather than
// letting memory grow while the server is not acknowledging. queued, when
// set, is called with the send time once the message is queued, before
// it is written.
func (a *agent) send(typ string, payload any, kind msgKind, queued func(at time.Duration)) (int, error) {
	a.mu.Lock()
	if len(a.queue) >= maxPending {
		a.mu.Unlock()
		a.r.st.skipped.Add(1)
		a.health.skipped()
		return 0, nil
	}
	seq := a.seq
	a.seq++
	a.mu.Unlock()
	b, err := wire.Encode(typ, seq, payload)
	if err != nil {
		return 0, fmt.Errorf("send %s: %w", typ, err)
	}
	// Queued before the write: the ack may arrive before Write returns.
	at := a.r.since()
	a.mu.Lock()
	a.queue = append(a.queue, sent{seq: seq, at: at, kind: kind})
	a.mu.Unlock()
	if queued != nil {
		queued(at)
	}
	if err := a.ws.WriteMessage(b); err != nil {
		a.abort()
		return 0, fmt.Errorf("send %s: %w", typ, err)
	}
	if kind == kindSteady {
		a.r.st.sent.Add(1)
	}
	// What a real agent did before sending this, for its health block.
	switch typ {
	case wire.TypeInventory:
		a.health.inventorySent()
	case wire.TypeResults:
		a.health.evaluated()
	}
	return len(b), nil
}

// abort drops the TCP connection; the reader then ends and records it.
func (a *agent) abort() { a.ws.Close() }

// headBytes is how much of a message the reader looks at before the rest:
// enough for a policy set's revision (policySetRevision).
const headBytes = 96

// headOnly tells the connection, for a run without results, which
// messages it may drop after their head: policy sets, whose revision is
// all the agent notes.
func headOnly(head []byte) bool {
	_, ok := policySetRevision(head)
	return ok
}

// receive acts on one message from the server; the connection's reader
// (a read loop, or a goroutine of its own) calls it.
func (a *agent) receive(payload []byte, deflated bool) error {
	if deflated {
		var err error
		if payload, err = a.inflate(payload); err != nil {
			return err
		}
	}
	if payload != nil {
		a.handle(payload)
	}
	return nil
}

// readEnded records why the connection ended and lets the agent go on.
func (a *agent) readEnded(why error) {
	a.ended(why)
	close(a.readerDone)
}

// inflate returns a compressed message's bytes, or nil when it was
// handled from the run's shared inflate cache. A large one (a policy set)
// goes through the cache: every agent was sent the same bytes, and
// inflating and decoding them once per agent would make the load
// generator, not the server, what a propagation run measures.
func (a *agent) inflate(payload []byte) ([]byte, error) {
	if len(payload) < inflateCacheMin {
		return a.ws.Inflate(payload)
	}
	e, err := a.r.inflates.get(payload)
	if err != nil {
		return nil, err
	}
	switch {
	case e.set != nil:
		a.policySet(*e.set)
		return nil, nil
	case e.msg != nil:
		a.handle(e.msg)
		return nil, nil
	}
	// Only the head was inflated: a run without results.
	if rev, ok := policySetRevision(e.head); ok {
		a.r.st.policySets.add(rev, a.r.since())
		return nil, nil
	}
	return a.ws.Inflate(payload)
}

// handle acts on one message; it keeps nothing of data, which the
// connection reuses.
func (a *agent) handle(data []byte) {
	// Without results to send, a policy set is only a revision to note,
	// and it is the message's first bytes: the connection dropped the rest
	// unread (headOnly), so 19,900 copies of a 100 KiB set are not decoded.
	if a.r.cfg.Results == ResultsNone {
		if rev, ok := policySetRevision(data[:min(len(data), headBytes)]); ok {
			a.r.st.policySets.add(rev, a.r.since())
			return
		}
	}
	env, err := wire.Decode(data)
	if err != nil {
		a.r.st.unexpected.Add(1)
		return
	}
	switch env.Type {
	case wire.TypeAck:
		a.acked(env)
	case wire.TypeError:
		var e wire.Error
		_ = wire.DecodePayload(env, &e)
		a.mu.Lock()
		a.errCode = e.Code
		a.mu.Unlock()
	case wire.TypePolicySet:
		set, err := decodePolicySet(env)
		if err != nil {
			a.r.st.unexpected.Add(1)
			return
		}
		a.policySet(set)
	case wire.TypeCheckNow:
		a.r.st.checkNows.Add(1)
	default:
		a.r.st.unexpected.Add(1)
	}
}

// policySet notes when a revision arrived, which measures policy
// propagation (simulated agents evaluate nothing), and with --results
// hands the set to the writer to answer. set's ids may be shared with
// other agents: they are only read.
func (a *agent) policySet(set policySetIDs) {
	a.r.st.policySets.add(set.Revision, a.r.since())
	if a.r.cfg.Results != ResultsNone {
		a.offer(set)
	}
}

// offer hands set to the writer, replacing one it has not taken yet: a
// real agent evaluates the latest set, not every set it was sent. The
// reader is the only sender, so after the drain there is room.
func (a *agent) offer(set policySetIDs) {
	select {
	case <-a.sets:
	default:
	}
	a.sets <- set
}

func (a *agent) acked(env wire.Envelope) {
	now := a.r.since()
	st := &a.r.st
	a.mu.Lock()
	i := slices.IndexFunc(a.queue, func(m sent) bool { return m.seq == env.Seq })
	if i < 0 {
		a.mu.Unlock()
		st.unexpected.Add(1)
		return
	}
	m := a.queue[i]
	a.queue = slices.Delete(a.queue, i, i+1)
	if m.kind == kindFirst {
		a.firstAcked = true
	}
	drained := a.stopping && len(a.queue) == 0
	a.mu.Unlock()

	switch m.kind {
	case kindFirst:
		st.firstAck.Record(now - a.dialStart)
		st.invAcked.Add(1)
		a.connectDone()
	case kindResults:
		st.resultsLat.Record(now - m.at)
		st.resultsAcked.Add(1)
	default:
		if at := int64(m.at); at >= a.r.measureFrom.Load() && at < a.r.measureUntil.Load() {
			st.steadyLat.Record(now - m.at)
		}
		st.steadyWin.record(m.at, now-m.at)
		st.acked.Add(1)
	}
	var ack wire.Ack
	if len(env.Payload) > 2 && wire.DecodePayload(env, &ack) == nil && ack.Resync { // "{}": no resync
		st.resyncs.Add(1)
		select {
		case a.resync <- struct{}{}:
		default:
		}
	}
	if drained {
		select {
		case a.drained <- struct{}{}:
		default:
		}
	}
}

// ended records why the connection ended, unless we closed it.
func (a *agent) ended(err error) {
	if a.closing.Load() {
		return
	}
	st := &a.r.st
	st.live.Add(-1)
	a.mu.Lock()
	first, code := a.firstAcked, a.errCode
	a.mu.Unlock()
	why := reason(err)
	if code != "" {
		why = "error frame: " + code
	}
	if !first {
		st.connectFail.add(why)
		a.connectDone()
		return
	}
	if code != "" {
		st.errorFrames.add(code)
	}
	st.disconnects.Add(1)
}

// shutdown waits briefly for outstanding acks, then closes with a close
// frame and waits for the server's.
func (a *agent) shutdown() {
	a.mu.Lock()
	a.stopping = true
	waiting := len(a.queue) > 0
	a.mu.Unlock()
	if waiting {
		t := time.NewTimer(drainWait)
		select {
		case <-a.drained:
		case <-a.readerDone:
		case <-t.C:
		}
		t.Stop()
	}
	a.closing.Store(true)
	if a.ws.WriteClose(closeNormal) == nil {
		t := time.NewTimer(closeWait)
		select {
		case <-a.readerDone:
		case <-t.C:
		}
		t.Stop()
	}
	a.ws.Close()
	<-a.readerDone
	a.mu.Lock()
	for _, m := range a.queue {
		switch m.kind {
		case kindSteady:
			a.r.st.unacked.Add(1)
		case kindResults:
			a.r.st.resultsUnacked.Add(1)
		}
	}
	a.queue = nil
	a.mu.Unlock()
}

// schedule fires at a fixed rate from a random start within one period.
type schedule struct {
	period time.Duration
	due    time.Time
	t      *time.Timer
}

func newSchedule(period time.Duration) *schedule {
	first := time.Duration(rand.Int64N(int64(period)))
	return &schedule{period: period, due: time.Now().Add(first), t: time.NewTimer(first)}
}

// next arms the timer for the following tick and returns how many ticks
// were missed because the agent fell more than a period behind (a slow
// write); those are skipped, not sent in a burst.
func (s *schedule) next() int64 {
	s.due = s.due.Add(s.period)
	var missed int64
	if late := time.Since(s.due); late > s.period {
		missed = int64(late / s.period)
		s.due = s.due.Add(time.Duration(missed) * s.period)
	}
	s.t.Reset(time.Until(s.due))
	return missed
}

func (s *schedule) stop() { s.t.Stop() }
