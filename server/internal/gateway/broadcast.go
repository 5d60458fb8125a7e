package gateway

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// How the policy set reaches agents after a change. One goroutine at a
// time waits a moment for the changes that follow close behind, reads
// the set, publishes its frame (policySet.current) and queues it to every
// connection; a change arriving meanwhile only marks one more read as
// pending, so a burst of applies costs a read or two and each agent is
// sent the latest revision once, not every revision in turn.
// Welcomes read the published frame and never wait for a read in
// progress, except for the very first one. A failed read is retried by
// the same goroutine with a growing pause; shutdown stops it and waits.

const (
	// defaultReloadTimeout bounds one read of the policy set.
	defaultReloadTimeout = 30 * time.Second
	// defaultSettle is how long a change waits for others before the set
	// is read: changes a script makes back to back fold into one push,
	// and an admin's single change still reaches agents well within a
	// second. Changes arriving while a read or push is in flight fold
	// into the next one whatever this is.
	defaultSettle = 200 * time.Millisecond
	// defaultRetryMin and defaultRetryMax bound the pause before a failed
	// read is tried again; it doubles from one to the other.
	defaultRetryMin = time.Second
	defaultRetryMax = 30 * time.Second
)

// reloader is the state of the policy set's reload goroutine. Its zero
// value is ready; what needs making is made on first use (init).
type reloader struct {
	mu        sync.Mutex
	running   bool // a reload goroutine is running
	pending   bool // a change arrived that no read has started after
	stopped   bool // the gateway is shutting down
	published bool // first has been closed
	// first is closed once a set is published.
	first chan struct{}
	// idle is signalled when the goroutine ends (tests wait on it).
	idle *sync.Cond
	// ctx ends at shutdown, ending a read in progress and a pause.
	ctx    context.Context
	cancel context.CancelFunc

	// timeout, settle, retryMin and retryMax replace the defaults when
	// set (tests; a negative settle is none).
	timeout, settle, retryMin, retryMax time.Duration

	// reads counts the reads of the set, failed or not.
	reads atomic.Int64
	// newer is set by a change no read has started after (pending, for
	// a push in progress to see without the lock). cutLast says the
	// reload goroutine's previous push was cut short for a newer change;
	// only that goroutine touches it.
	newer   atomic.Bool
	cutLast bool
}

// init makes what the zero reloader lacks. The caller holds r.mu.
func (r *reloader) init() {
	if r.first != nil {
		return
	}
	r.first = make(chan struct{})
	r.idle = sync.NewCond(&r.mu)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if r.timeout <= 0 {
		r.timeout = defaultReloadTimeout
	}
	if r.settle == 0 {
		r.settle = defaultSettle
	}
	if r.retryMin <= 0 {
		r.retryMin = defaultRetryMin
	}
	if r.retryMax < r.retryMin {
		r.retryMax = max(defaultRetryMax, r.retryMin)
	}
}

// stop ends the reload goroutine's work: a read in progress is cancelled,
// a pause cut short and no new goroutine starts. Gateway.Shutdown calls
// it, then waits for the goroutine with the connections'.
func (r *reloader) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	r.stopped = true
	r.cancel()
}

// requestReload marks a read as pending and starts the reload goroutine
// unless it runs; a running one takes the mark when its work is done.
func (g *Gateway) requestReload() {
	r := &g.policies.reload
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	r.pending = true
	r.newer.Store(true)
	g.startReloadLocked()
}

// startReloadLocked starts the reload goroutine when none runs and the
// gateway is not shutting down. The caller holds r.mu; stop sets stopped
// under it before Shutdown waits, so the wait group is never added to
// once the wait began.
func (g *Gateway) startReloadLocked() {
	r := &g.policies.reload
	if r.running || r.stopped {
		return
	}
	r.running = true
	g.wg.Add(1)
	go g.reloadLoop()
}

// firstPolicySet returns the published set, waiting for the first read
// when there is none yet (asking for it unless one is under way).
func (g *Gateway) firstPolicySet(ctx context.Context) (*encodedSet, error) {
	ps := &g.policies
	if s := ps.current.Load(); s != nil {
		return s, nil
	}
	r := &ps.reload
	r.mu.Lock()
	r.init()
	if !r.published && !r.running {
		r.pending = true
		g.startReloadLocked()
	}
	first := r.first
	r.mu.Unlock()
	select {
	case <-first:
		return ps.current.Load(), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the policy set: %w", ctx.Err())
	}
}

// reloadLoop reads and sends the set while reads are pending, then ends.
func (g *Gateway) reloadLoop() {
	defer g.wg.Done()
	r := &g.policies.reload
	pause := r.retryMin
	for {
		r.mu.Lock()
		if !r.pending || r.stopped {
			r.running = false
			r.idle.Broadcast()
			r.mu.Unlock()
			return
		}
		// The first read is awaited by welcomes; later ones wait for
		// the changes that follow close behind.
		settle := r.published && r.settle > 0
		r.mu.Unlock()
		if settle {
			r.sleep(r.settle)
			if r.ctx.Err() != nil {
				continue // shutting down; the loop ends above
			}
		}
		r.mu.Lock()
		r.pending = false
		r.newer.Store(false)
		r.mu.Unlock()

		err := g.reloadAndSend()
		if err == nil {
			pause = r.retryMin
			continue
		}
		if r.ctx.Err() != nil {
			continue // shutting down; the loop ends above
		}
		// Agents keep the set they have, and new ones get the last one
		// read, until a read succeeds.
		g.cfg.Logger.Warn("read policy set for agents failed; retrying", "err", err, "retry_in", pause)
		r.mu.Lock()
		r.pending = true
		r.mu.Unlock()
		r.sleep(pause)
		pause = min(2*pause, r.retryMax)
	}
}

// sleep waits d, or less when the gateway shuts down.
func (r *reloader) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.ctx.Done():
	}
}

// reloadAndSend reads the set, publishes it and queues it to every
// connection that has not been sent it or a newer one.
func (g *Gateway) reloadAndSend() error {
	ps := &g.policies
	r := &ps.reload
	ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
	defer cancel()
	r.reads.Add(1)
	start := time.Now()
	s, err := g.encodePolicySet(ctx)
	if err != nil {
		return err
	}
	ps.current.Store(s)
	r.mu.Lock()
	first := !r.published
	if first {
		r.published = true
		close(r.first)
	}
	r.mu.Unlock()
	if first {
		// No connection was welcomed before: they all waited for this.
		g.cfg.Logger.Debug("policy set read for agents", "revision", s.revision, "duration", time.Since(start))
		return nil
	}
	sent := g.broadcast(s, start)
	g.cfg.Logger.Info("policy set sent to agents", "revision", s.revision, "agents", sent,
		"duration", time.Since(start))
	return nil
}

// pushInFlight bounds the connections a push has queued the set to and
// whose writers have not written it yet. Queued to 20,000 connections at
// once, the set would start 20,000 writer goroutines together, each with
// its stack, and the acks made ready meanwhile would wait in the run
// queue behind them. A window of a few hundred keeps the CPU busy
// without either.
const pushInFlight = 256

// pushSlotWait is how long a push waits for room in its window before it
// gives up pacing and queues the set to the remaining connections at
// once: writers stuck on peers that stopped reading hold their slots
// until their write deadline, and they must not hold up the fleet.
const pushSlotWait = 250 * time.Millisecond

// pushSlot is one connection's part in a push: its room in the push's
// window (none once pacing stopped) and its share of the push's run.
// release gives both back once the set is written to the connection,
// its write failed, or a newer set took its place; only the first call
// counts. A nil slot (the set a welcome queues) is no push's.
type pushSlot struct {
	window chan struct{} // nil: taken without pacing
	run    *pushRun
	done   atomic.Bool
}

func (p *pushSlot) release() {
	if p != nil && p.done.CompareAndSwap(false, true) {
		if p.window != nil {
			<-p.window
		}
		if p.run != nil {
			p.run.finish()
		}
	}
}

// pushRun follows one push until the last connection it queued the set
// to has released its slot, then calls done with the time since start.
// The push itself holds one share while it queues, so the run cannot
// end before every connection has been offered the set.
type pushRun struct {
	start time.Time
	left  atomic.Int64
	done  func(time.Duration)
}

func newPushRun(start time.Time, done func(time.Duration)) *pushRun {
	r := &pushRun{start: start, done: done}
	r.left.Store(1)
	return r
}

// slot attaches a connection's slot (nil: an unpaced one) to the run.
func (r *pushRun) slot(p *pushSlot) *pushSlot {
	if p == nil {
		p = &pushSlot{}
	}
	p.run = r
	r.left.Add(1)
	return p
}

func (r *pushRun) finish() {
	if r.left.Add(-1) == 0 {
		r.done(time.Since(r.start))
	}
}

// pushWindow paces one push: acquire waits for room among size slots,
// and once a wait has taken longer than wait it stops pacing for good,
// handing out nil slots.
type pushWindow struct {
	slots  chan struct{}
	wait   time.Duration
	timer  *time.Timer
	paced  bool
	stop   <-chan struct{}
	onStop func() // called when pacing stops on a timeout
}

func newPushWindow(size int, wait time.Duration, stop <-chan struct{}) *pushWindow {
	t := time.NewTimer(wait)
	t.Stop()
	return &pushWindow{slots: make(chan struct{}, size), wait: wait, timer: t, paced: true, stop: stop}
}

// acquire returns the next connection's slot, nil once pacing stopped.
func (w *pushWindow) acquire() *pushSlot {
	if !w.paced {
		return nil
	}
	select {
	case w.slots <- struct{}{}:
		return &pushSlot{window: w.slots}
	default:
	}
	w.timer.Reset(w.wait)
	defer w.timer.Stop()
	select {
	case w.slots <- struct{}{}:
		return &pushSlot{window: w.slots}
	case <-w.timer.C:
		// The window is held by writers that do not finish (peers not
		// reading): the rest go out unpaced.
		w.paced = false
		if w.onStop != nil {
			w.onStop()
		}
	case <-w.stop:
		w.paced = false
	}
	return nil
}

// broadcast queues s to every welcomed connection that was not sent it
// or a newer revision, and returns how many it queued it to. At most
// pushInFlight connections have it queued and not written at a time,
// unless room took longer than pushSlotWait (pushWindow). Queueing itself
// never waits: a connection whose queue is full is closed (conn.send),
// so a slow agent delays no other. s is published before the
// connections are listed (the welcome's ordering, policies.go). When the
// last of those connections has had s written (or failed, or been sent
// a newer set instead), the time since start, when the read of s began,
// goes to steward_policy_push_duration_seconds.
//
// A change that arrives during the push cuts it short: the connections
// not offered s yet are offered the newer set instead by the next push,
// rather than s and then the newer one. Of two pushes in a row, only
// the first may be cut, so that changes coming faster than a push ends
// still bring every connection a set every other push.
func (g *Gateway) broadcast(s *encodedSet, start time.Time) int {
	g.mu.Lock()
	conns := make([]*conn, 0, len(g.conns))
	for _, c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	w := newPushWindow(pushInFlight, pushSlotWait, g.policies.reload.ctx.Done())
	w.onStop = func() {
		g.cfg.Logger.Info("policy set push no longer paced: its writes are not finishing",
			"revision", s.revision, "in_flight", pushInFlight, "waited", pushSlotWait)
	}
	sent := 0
	run := newPushRun(start, func(took time.Duration) {
		if m := g.cfg.Metrics; m != nil {
			m.PolicyPushDuration.Observe(took.Seconds())
		}
		g.cfg.Logger.Info("policy set written to every agent it was sent to", "revision", s.revision,
			"agents", sent, "duration", took)
	})
	r := &g.policies.reload
	mayCut := !r.cutLast
	r.cutLast = false
	for i, c := range conns {
		if mayCut && r.newer.Load() {
			r.cutLast = true
			g.cfg.Logger.Info("policy set push cut short for a newer change", "revision", s.revision,
				"offered", i, "not_offered", len(conns)-i)
			break
		}
		slot := run.slot(w.acquire())
		if c.offerPolicySet(s, slot) {
			sent++
		} else {
			slot.release()
		}
	}
	run.finish()
	return sent
}

// connPolicy is what a connection was sent of the policy set.
type connPolicy struct {
	mu       sync.Mutex
	welcomed bool  // the welcome and the set of its time are queued
	sent     int64 // the revision the agent holds or was last sent
}

// offerPolicySet queues s to c when c is welcomed and s is newer than
// what c's agent holds or was sent, and reports whether it did. A
// connection not yet welcomed reads the published set in welcome.
func (c *conn) offerPolicySet(s *encodedSet, slot *pushSlot) bool {
	c.policy.mu.Lock()
	defer c.policy.mu.Unlock()
	if !c.policy.welcomed || s.revision <= c.policy.sent {
		return false
	}
	c.policy.sent = s.revision
	c.sendPolicySet(s, slot)
	return true
}

// sendPolicySet queues s, in place of a set still queued for c (outbox),
// so that an agent that has not yet been written the set of one change
// is sent only the latest. slot is the push's room for it (nil: none).
func (c *conn) sendPolicySet(s *encodedSet, slot *pushSlot) {
	c.enqueue(outItem{kind: outPolicySet, set: s, slot: slot})
}

// writePolicySet writes s as prepared for every connection: a set is
// compressed once per revision, not once per agent.
func (c *conn) writePolicySet(s *encodedSet) error {
	c.ws.EnableWriteCompression(len(s.frame) >= compressAbove)
	return c.ws.WritePreparedMessage(s.prepared)
}
