package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// Defaults of the disconnect recorder.
const (
	// disconnectBatch is the most disconnections one store call records,
	// and the number pending that makes the writer go without waiting.
	disconnectBatch = 1000
	// disconnectDelay is how long the writer waits for more after the
	// first of a batch: a fleet that drops at once then costs a handful
	// of statements, not one per host.
	disconnectDelay = 100 * time.Millisecond
	// maxPendingDisconnects bounds what waits while the store fails;
	// past it the oldest are dropped. Those hosts then look connected
	// until their agent comes back or their last_seen grows old.
	maxPendingDisconnects = 100_000
	// disconnectWriteTimeout bounds one store call.
	disconnectWriteTimeout = 10 * time.Second
	// minDisconnectBackoff and maxDisconnectBackoff bound the wait
	// before a failed store call is tried again.
	minDisconnectBackoff = 100 * time.Millisecond
	maxDisconnectBackoff = 5 * time.Second
)

// disconnectStore records disconnections; store.Store is one.
type disconnectStore interface {
	HostsDisconnected(ctx context.Context, ds []store.Disconnect) error
}

// disconnectRecorder writes agents' disconnections to the store in
// batches. A connection hands its end over without waiting (add); one
// writer goroutine, running while something is pending, records them a
// batch per store call. When every agent drops at once (a network cut,
// a server restart behind a proxy), that is a few statements instead of
// one per host, each waiting for a pool connection that ingest and the
// API need too.
type disconnectRecorder struct {
	st         disconnectStore
	log        *slog.Logger
	batch      int
	delay      time.Duration
	maxPending int
	minBackoff time.Duration
	maxBackoff time.Duration

	// kick wakes a waiting writer: a batch is full, or a flush wants it
	// now.
	kick chan struct{}
	// quit is closed when the gateway gives up on what is pending: the
	// writer then tries each batch once.
	quit     chan struct{}
	quitOnce sync.Once

	mu      sync.Mutex
	pending []store.Disconnect // pending[head:] wait, oldest first
	head    int
	dropped int // dropped for room since the last warning
	running bool
	idle    chan struct{} // closed when the running writer ends
	hurry   bool          // a flush waits: no delay before writing
	failed  rateLimitedLog
}

func newDisconnectRecorder(st disconnectStore, log *slog.Logger) *disconnectRecorder {
	return &disconnectRecorder{st: st, log: log, batch: disconnectBatch, delay: disconnectDelay,
		maxPending: maxPendingDisconnects, minBackoff: minDisconnectBackoff, maxBackoff: maxDisconnectBackoff,
		kick: make(chan struct{}, 1), quit: make(chan struct{})}
}

// add queues host id's disconnection at at; it never waits on the store.
func (r *disconnectRecorder) add(id int64, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting() >= r.maxPending {
		r.drop(1)
	}
	if len(r.pending) == cap(r.pending) && r.head >= len(r.pending)/2 {
		// Reuse the room taken or dropped entries left at the front
		// rather than grow; only when it is half the array, so that a
		// full queue dropping one entry per add does not copy the rest
		// every time.
		r.pending = r.pending[:copy(r.pending, r.pending[r.head:])]
		r.head = 0
	}
	r.pending = append(r.pending, store.Disconnect{HostID: id, At: at})
	switch {
	case !r.running:
		r.running = true
		r.idle = make(chan struct{})
		r.hurry = false
		go r.run(r.idle)
	case r.waiting() >= r.batch:
		r.wake()
	}
}

// waiting is how many disconnections are pending; r.mu is held.
func (r *disconnectRecorder) waiting() int { return len(r.pending) - r.head }

// drop forgets the n oldest pending disconnections; r.mu is held.
func (r *disconnectRecorder) drop(n int) {
	n = min(n, r.waiting())
	r.head += n
	r.dropped += n
}

func (r *disconnectRecorder) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// flush makes the writer record what is pending now and waits until
// nothing is, or ctx ends.
func (r *disconnectRecorder) flush(ctx context.Context) error {
	r.mu.Lock()
	idle := r.idle
	if !r.running {
		idle = nil
	}
	r.hurry = true
	r.mu.Unlock()
	if idle == nil {
		return nil
	}
	r.wake()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop makes the writer try what is pending once more and then drop it.
func (r *disconnectRecorder) stop() {
	r.quitOnce.Do(func() { close(r.quit) })
}

// run is the writer: it records batches until nothing is pending.
func (r *disconnectRecorder) run(idle chan struct{}) {
	var backoff time.Duration
	for {
		r.wait(backoff)
		batch, dropped := r.take()
		if dropped > 0 {
			r.log.Warn("agent disconnections not recorded: too many waited while the database failed",
				"dropped", dropped, "kept", r.maxPending)
		}
		if batch == nil {
			close(idle)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), disconnectWriteTimeout)
		err := r.st.HostsDisconnected(ctx, batch)
		cancel()
		if err == nil {
			backoff = 0
			continue
		}
		select {
		case <-r.quit:
			r.log.Warn("agent disconnections not recorded: the server is stopping", "hosts", len(batch), "err", err)
			continue
		default:
		}
		backoff = min(max(2*backoff, r.minBackoff), r.maxBackoff)
		r.failed.warn(r.log, "record agent disconnections; will retry", "hosts", len(batch), "retry_in", backoff, "err", err)
		r.putBack(batch)
	}
}

// wait returns when the writer should take a batch: after backoff when
// the last write failed; otherwise once a batch is full, a flush asks,
// or the delay has passed.
func (r *disconnectRecorder) wait(backoff time.Duration) {
	if backoff > 0 {
		t := time.NewTimer(backoff)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.quit:
		}
		return
	}
	r.mu.Lock()
	now := r.hurry || r.waiting() >= r.batch
	r.mu.Unlock()
	if now {
		return
	}
	t := time.NewTimer(r.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.kick:
	case <-r.quit:
	}
}

// take removes the oldest batch from pending, with the count of those
// dropped since the last call. With nothing pending it returns nil and
// the writer stops: the next add starts another.
func (r *disconnectRecorder) take() ([]store.Disconnect, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dropped := r.dropped
	r.dropped = 0
	if r.waiting() == 0 {
		r.running = false
		r.pending, r.head = nil, 0 // let a burst's array go
		return nil, dropped
	}
	n := min(r.waiting(), r.batch)
	batch := make([]store.Disconnect, n)
	copy(batch, r.pending[r.head:])
	r.head += n
	return batch, dropped
}

// putBack returns a batch that failed to the front of pending, dropping
// the oldest if there is no room for all.
func (r *disconnectRecorder) putBack(batch []store.Disconnect) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = append(batch, r.pending[r.head:]...)
	r.head = 0
	if over := r.waiting() - r.maxPending; over > 0 {
		r.drop(over)
	}
}
