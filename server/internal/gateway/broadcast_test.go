package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/shared/wire"
)

// scriptedPolicies is a PolicyStore whose revision reads can be made to
// fail or to hang until released.
type scriptedPolicies struct {
	*fakePolicies

	smu     sync.Mutex
	fail    int           // the next this many revision reads fail
	block   chan struct{} // when set, revision reads wait for it to close
	entered chan struct{} // when set, told of each read that blocks or fails
}

var errStoreDown = errors.New("store down")

func (s *scriptedPolicies) PolicyRevision(ctx context.Context) (int64, error) {
	s.smu.Lock()
	block, entered := s.block, s.entered
	failing := s.fail > 0
	if failing {
		s.fail--
	}
	s.smu.Unlock()
	if failing || block != nil {
		if entered != nil {
			entered <- struct{}{}
		}
	}
	if failing {
		return 0, errStoreDown
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return s.fakePolicies.PolicyRevision(ctx)
}

// bump makes the next revision the store's and returns it.
func (f *fakePolicies) bump() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revision++
	return f.revision
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newBroadcastHarness serves a gateway over st with fast retries, logging
// to the returned buffer.
func newBroadcastHarness(t *testing.T, st PolicyStore) (*harness, *syncBuffer) {
	return newBroadcastHarnessMetrics(t, st, nil)
}

// newBroadcastHarnessMetrics is newBroadcastHarness exporting to m.
func newBroadcastHarnessMetrics(t *testing.T, st PolicyStore, m *metrics.Metrics) (*harness, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	fs := newFakeStore()
	b := ingest.New(fs, ingest.Config{})
	gw := New(Config{Store: fs, Ingest: b, Policies: st, Metrics: m,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	gw.policies.reload.settle = -1
	gw.policies.reload.retryMin = time.Millisecond
	gw.policies.reload.retryMax = 10 * time.Millisecond
	return serve(t, fs, b, gw), logs
}

// waitReloadIdle waits until no read of the set runs or is pending.
func waitReloadIdle(gw *Gateway) {
	r := &gw.policies.reload
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	for r.running || r.pending {
		r.idle.Wait()
	}
}

// agentClient is one simulated agent: it says hello and records the
// policy_set revisions it receives, in order.
type agentClient struct {
	ws   *websocket.Conn
	revs []uint64
}

// dialAgent connects with key and reads the welcome; it reports errors
// rather than failing, so that it can run on any goroutine.
func dialAgent(h *harness, key string) (*agentClient, error) {
	ws, _, err := h.dial(key)
	if err != nil {
		return nil, err
	}
	hello, _ := wire.Encode(wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{1}, AgentVersion: "test", OS: "linux"})
	if err := ws.WriteMessage(websocket.TextMessage, hello); err != nil {
		ws.Close()
		return nil, err
	}
	a := &agentClient{ws: ws}
	env, err := a.next()
	if err != nil {
		ws.Close()
		return nil, err
	}
	if env.Type != wire.TypeWelcome {
		ws.Close()
		return nil, fmt.Errorf("first frame %s, want welcome", env.Type)
	}
	return a, nil
}

// next reads one frame, recording a policy set's revision.
func (a *agentClient) next() (wire.Envelope, error) {
	_, data, err := a.ws.ReadMessage()
	if err != nil {
		return wire.Envelope{}, err
	}
	env, err := wire.Decode(data)
	if err != nil {
		return env, err
	}
	if env.Type == wire.TypePolicySet {
		var set wire.PolicySet
		if err := json.Unmarshal(env.Payload, &set); err != nil {
			return env, err
		}
		a.revs = append(a.revs, set.Revision)
	}
	return env, nil
}

// until reads frames until the agent holds revision rev.
func (a *agentClient) until(rev uint64) error {
	for len(a.revs) == 0 || a.revs[len(a.revs)-1] != rev {
		env, err := a.next()
		if err != nil {
			return fmt.Errorf("waiting for revision %d after %v: %w", rev, a.revs, err)
		}
		if env.Type != wire.TypePolicySet {
			return fmt.Errorf("got %s waiting for revision %d", env.Type, rev)
		}
	}
	return nil
}

// drain sends a heartbeat and reads up to its ack: every frame queued
// before it has then arrived.
func (a *agentClient) drain(seq uint64) error {
	hb, _ := wire.Encode(wire.TypeHeartbeat, seq, wire.Heartbeat{})
	if err := a.ws.WriteMessage(websocket.TextMessage, hb); err != nil {
		return err
	}
	for {
		env, err := a.next()
		if err != nil {
			return err
		}
		if env.Type == wire.TypeAck && env.Seq == seq {
			return nil
		}
	}
}

// checkRevisions reports a revision received twice or after a newer one,
// or a last revision other than want.
func checkRevisions(revs []uint64, want uint64) error {
	for i := 1; i < len(revs); i++ {
		if revs[i] <= revs[i-1] {
			return fmt.Errorf("revisions %v: %d after %d", revs, revs[i], revs[i-1])
		}
	}
	if len(revs) == 0 || revs[len(revs)-1] != want {
		return fmt.Errorf("revisions %v, want the last to be %d", revs, want)
	}
	return nil
}

// TestPolicyBurstCoalesces applies many changes in a burst while hundreds
// of agents are connected and more connect: every agent ends with the
// last revision, none is sent a revision twice or out of order, and the
// set is read far fewer times than it changed.
func TestPolicyBurstCoalesces(t *testing.T) {
	const before, during, changes = 300, 100, 100
	fp := &fakePolicies{revision: 1}
	h, _ := newBroadcastHarness(t, fp)
	keys := make([]string, before+during)
	for i := range keys {
		keys[i] = h.nodeKey()
	}
	agents := make([]*agentClient, before+during)
	for i := range before {
		a, err := dialAgent(h, keys[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.ws.Close() })
		if err := a.until(1); err != nil {
			t.Fatal(err)
		}
		agents[i] = a
	}
	readsBefore := h.gw.policies.reload.reads.Load()

	final := uint64(1 + changes)
	errs := make(chan error, before+during)
	var wg sync.WaitGroup
	for i := range before {
		wg.Go(func() { errs <- agents[i].until(final) })
	}
	for i := before; i < before+during; i++ {
		wg.Go(func() {
			a, err := dialAgent(h, keys[i])
			if err != nil {
				errs <- err
				return
			}
			agents[i] = a
			errs <- a.until(final)
		})
	}
	for range changes {
		fp.bump()
		h.gw.PoliciesChanged(context.Background())
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range agents[before:] {
		t.Cleanup(func() { a.ws.Close() })
	}

	// Nothing more may follow the last revision.
	waitReloadIdle(h.gw)
	for i, a := range agents {
		if err := a.drain(1); err != nil {
			t.Fatalf("agent %d: %v", i, err)
		}
		if err := checkRevisions(a.revs, final); err != nil {
			t.Errorf("agent %d: %v", i, err)
		}
	}
	reads := h.gw.policies.reload.reads.Load() - readsBefore
	t.Logf("%d changes, %d reads of the set", changes, reads)
	if reads > changes/10 {
		t.Errorf("%d changes read the set %d times, want at most %d", changes, reads, changes/10)
	}
}

// TestPolicyReloadRetriedAfterFailure makes the store fail the reads
// after a change: the change still reaches the agent once a read
// succeeds, and the failures are warnings that give the reason.
func TestPolicyReloadRetriedAfterFailure(t *testing.T) {
	sp := &scriptedPolicies{fakePolicies: &fakePolicies{revision: 1}}
	h, logs := newBroadcastHarness(t, sp)
	a, err := dialAgent(h, h.nodeKey())
	if err != nil {
		t.Fatal(err)
	}
	defer a.ws.Close()
	if err := a.until(1); err != nil {
		t.Fatal(err)
	}
	readsBefore := h.gw.policies.reload.reads.Load()
	sp.smu.Lock()
	sp.fail = 3
	sp.smu.Unlock()
	sp.bump()
	h.gw.PoliciesChanged(context.Background())
	if err := a.until(2); err != nil {
		t.Fatal(err)
	}
	if err := checkRevisions(a.revs, 2); err != nil {
		t.Error(err)
	}
	if reads := h.gw.policies.reload.reads.Load() - readsBefore; reads != 4 {
		t.Errorf("%d reads, want 3 failed and 1 good", reads)
	}
	out := logs.String()
	if n := strings.Count(out, "level=WARN msg=\"read policy set for agents failed; retrying\""); n != 3 {
		t.Errorf("%d retry warnings, want 3:\n%s", n, out)
	}
	if !strings.Contains(out, errStoreDown.Error()) {
		t.Errorf("warnings do not give the reason:\n%s", out)
	}
}

// TestPolicyReloadDoesNotBlockWelcome hangs the read after a change: an
// agent connecting meanwhile is welcomed with the set published before,
// and gets the new one once the read completes.
func TestPolicyReloadDoesNotBlockWelcome(t *testing.T) {
	sp := &scriptedPolicies{fakePolicies: &fakePolicies{revision: 1}}
	h, _ := newBroadcastHarness(t, sp)
	first, err := dialAgent(h, h.nodeKey())
	if err != nil {
		t.Fatal(err)
	}
	defer first.ws.Close()
	if err := first.until(1); err != nil {
		t.Fatal(err)
	}

	release, entered := make(chan struct{}), make(chan struct{}, 1)
	sp.smu.Lock()
	sp.block, sp.entered = release, entered
	sp.smu.Unlock()
	sp.bump()
	h.gw.PoliciesChanged(context.Background())
	<-entered // the read hangs

	late, err := dialAgent(h, h.nodeKey())
	if err != nil {
		t.Fatal(err)
	}
	defer late.ws.Close()
	if err := late.until(1); err != nil {
		t.Fatal(err)
	}

	sp.smu.Lock()
	sp.block, sp.entered = nil, nil
	sp.smu.Unlock()
	close(release)
	for name, a := range map[string]*agentClient{"connected before": first, "connected during the read": late} {
		if err := a.until(2); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := checkRevisions(a.revs, 2); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestShutdownStopsPolicyRetries shuts the gateway down while reads keep
// failing and while one hangs: Shutdown ends the retrying goroutine and
// waits for it.
func TestShutdownStopsPolicyRetries(t *testing.T) {
	for name, script := range map[string]func(*scriptedPolicies){
		"failing": func(sp *scriptedPolicies) { sp.fail = 1 << 30 },
		"hanging": func(sp *scriptedPolicies) { sp.block = make(chan struct{}) },
	} {
		t.Run(name, func(t *testing.T) {
			sp := &scriptedPolicies{fakePolicies: &fakePolicies{revision: 1}}
			h, _ := newBroadcastHarness(t, sp)
			h.gw.policies.reload.retryMin = time.Hour // only shutdown ends the pause
			h.gw.policies.reload.retryMax = time.Hour
			entered := make(chan struct{}, 1)
			sp.smu.Lock()
			sp.entered = entered
			script(sp)
			sp.smu.Unlock()
			h.gw.PoliciesChanged(context.Background())
			<-entered
			if err := h.gw.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			r := &h.gw.policies.reload
			r.mu.Lock()
			running := r.running
			r.mu.Unlock()
			if running {
				t.Error("reload goroutine still running after Shutdown")
			}
			h.gw.PoliciesChanged(context.Background()) // after shutdown: starts nothing
			r.mu.Lock()
			running = r.running
			r.mu.Unlock()
			if running {
				t.Error("a change after Shutdown started a reload")
			}
		})
	}
}

// TestQueuedPolicySetIsReplaced queues two policy sets to a connection
// whose writer has not taken the first: only the newer one stays, in the
// first one's place, after what was queued before it.
func TestQueuedPolicySetIsReplaced(t *testing.T) {
	var o outbox
	older, newer := &encodedSet{revision: 1}, &encodedSet{revision: 2}
	if ok, start := o.push(outItem{kind: outFrame, frame: []byte("welcome")}, 8); !ok || !start {
		t.Fatalf("first push: ok %v start %v", ok, start)
	}
	o.push(outItem{kind: outPolicySet, set: older}, 8)
	o.push(outItem{kind: outAck, seq: 1}, 8)
	if ok, start := o.push(outItem{kind: outPolicySet, set: newer}, 8); !ok || start {
		t.Fatalf("replacing push: ok %v start %v", ok, start)
	}
	got := o.take(nil, false)
	if len(got) != 3 || string(got[0].frame) != "welcome" || got[1].set != newer || got[2].kind != outAck {
		t.Fatalf("queue %+v, want welcome, the newer set, the ack", got)
	}
}

// TestPushWindow: a push holds at most its window's slots at a time, a
// released slot makes room for the next connection at once, and writers
// that never finish make it stop pacing after the wait instead of
// holding up the rest of the fleet.
func TestPushWindow(t *testing.T) {
	stop := make(chan struct{})
	w := newPushWindow(2, time.Hour, stop)
	a, b := w.acquire(), w.acquire()
	if a == nil || b == nil {
		t.Fatal("the first two connections got no slot")
	}
	got := make(chan *pushSlot)
	go func() { got <- w.acquire() }()
	select {
	case s := <-got:
		t.Fatalf("a third slot %v while two are held", s)
	case <-time.After(50 * time.Millisecond):
	}
	a.release()
	a.release() // a second release gives back nothing more
	c := <-got
	if c == nil {
		t.Fatal("no slot after one was released")
	}
	if n := len(w.slots); n != 2 {
		t.Fatalf("%d slots held, want 2 (b and c)", n)
	}

	// Nothing is released now: after the wait, pacing stops for good.
	stopped := 0
	w.wait = 10 * time.Millisecond
	w.onStop = func() { stopped++ }
	if s := w.acquire(); s != nil || w.paced || stopped != 1 {
		t.Fatalf("stuck window: slot %v, paced %v, told %d times", s, w.paced, stopped)
	}
	if s := w.acquire(); s != nil || stopped != 1 {
		t.Fatalf("after pacing stopped: slot %v, told %d times", s, stopped)
	}
	var none *pushSlot
	none.release() // a nil slot is a no-op

	// Shutdown ends a wait at once.
	w2 := newPushWindow(1, time.Hour, stop)
	w2.acquire()
	close(stop)
	if s := w2.acquire(); s != nil || w2.paced {
		t.Fatalf("after shutdown: slot %v, paced %v", s, w2.paced)
	}
}

// A replaced or dropped set gives its push slot back.
func TestPushSlotReleasedWithSet(t *testing.T) {
	w := newPushWindow(4, time.Hour, nil)
	var o outbox
	older := w.acquire()
	o.push(outItem{kind: outPolicySet, set: &encodedSet{revision: 1}, slot: older}, 8)
	o.push(outItem{kind: outPolicySet, set: &encodedSet{revision: 2}, slot: w.acquire()}, 8)
	if !older.done.Load() || len(w.slots) != 1 {
		t.Fatalf("replaced set: released %v, %d slots held; want released, 1", older.done.Load(), len(w.slots))
	}
}

// A push's run ends once: after the push has offered the set to every
// connection and every slot it handed out was released, paced or not.
func TestPushRunEndsAfterLastSlot(t *testing.T) {
	ended := 0
	run := newPushRun(time.Now(), func(time.Duration) { ended++ })
	w := newPushWindow(1, time.Hour, nil)
	paced := run.slot(w.acquire())
	w.paced = false
	unpaced := run.slot(w.acquire())
	if paced.window == nil || unpaced.window != nil || unpaced.run != run {
		t.Fatalf("slots: paced %+v, unpaced %+v", paced, unpaced)
	}
	paced.release()
	unpaced.release()
	unpaced.release()
	if ended != 0 {
		t.Fatal("the run ended while the push was still offering the set")
	}
	run.finish()
	if ended != 1 {
		t.Fatalf("run ended %d times, want 1", ended)
	}
}

// TestPushDurationObserved: a push to connected agents is observed in
// steward_policy_push_duration_seconds once every agent was written the
// set, and logged with how many agents it went to.
func TestPushDurationObserved(t *testing.T) {
	fp := &fakePolicies{revision: 1}
	m := metrics.New("test")
	h, logs := newBroadcastHarnessMetrics(t, fp, m)
	gw := h.gw
	agents := dialAgents(t, h, 5, 1)
	if n := testutil.CollectAndCount(m.PolicyPushDuration); n != 1 {
		t.Fatalf("%d push duration series, want 1", n)
	}
	fp.bump()
	gw.PoliciesChanged(context.Background())
	for _, a := range agents {
		if err := a.until(2); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the push observed", func() bool { return histogramCount(t, m.PolicyPushDuration) == 1 })
	// The run is observed, then logged: wait for the log line too.
	waitFor(t, "the push logged", func() bool {
		return strings.Contains(logs.String(), "policy set written to every agent it was sent to")
	})
	if !strings.Contains(logs.String(), "agents=5") {
		t.Errorf("no completion log naming 5 agents:\n%s", logs)
	}
}

// dialAgents connects n agents, each with a node key of its own, and
// waits until each holds revision rev.
func dialAgents(t *testing.T, h *harness, n int, rev uint64) []*agentClient {
	t.Helper()
	agents := make([]*agentClient, n)
	for i := range agents {
		a, err := dialAgent(h, h.nodeKey())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.ws.Close() })
		if err := a.until(rev); err != nil {
			t.Fatal(err)
		}
		agents[i] = a
	}
	return agents
}

// histogramCount is how many observations h holds.
func histogramCount(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	var pb dto.Metric
	if err := h.Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetHistogram().GetSampleCount()
}

// TestPushCutForNewerChange: a push that finds a newer change waiting
// stops offering its set, and the push after it is never cut, so every
// connection is offered a set at least every other push.
func TestPushCutForNewerChange(t *testing.T) {
	fp := &fakePolicies{revision: 1}
	h, logs := newBroadcastHarness(t, fp)
	agents := dialAgents(t, h, 3, 1)
	waitReloadIdle(h.gw)
	fp.bump()
	s, err := h.gw.encodePolicySet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := &h.gw.policies.reload
	r.newer.Store(true) // a change arrived that no read has started after
	if sent := h.gw.broadcast(s, time.Now()); sent != 0 || !r.cutLast {
		t.Fatalf("push with a newer change waiting: offered %d, cut %v; want 0, cut", sent, r.cutLast)
	}
	if !strings.Contains(logs.String(), "policy set push cut short for a newer change") {
		t.Errorf("no log of the cut:\n%s", logs)
	}
	if sent := h.gw.broadcast(s, time.Now()); sent != 3 || r.cutLast {
		t.Fatalf("the push after a cut one: offered %d, cut %v; want 3, not cut", sent, r.cutLast)
	}
	for i, a := range agents {
		if err := a.until(2); err != nil {
			t.Fatalf("agent %d: %v", i, err)
		}
	}
}
