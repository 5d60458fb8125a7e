package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// Defaults of the connect recorder.
const (
	// connectBatch is the most hellos one store call records.
	connectBatch = 500
	// connectWriteTimeout bounds one store call.
	connectWriteTimeout = 10 * time.Second
)

// connectStore records agents' hellos; store.Store is one.
type connectStore interface {
	HostsConnected(ctx context.Context, cs []store.Connect) (missing []bool, err error)
}

// connectRecorder records agents' hellos in batches, each connection
// waiting for its own. One writer goroutine runs while hellos are
// pending: it takes what has gathered, records it in one store call,
// answers each connection, and takes what gathered meanwhile. A lone
// hello is recorded at once, as before; when a fleet reconnects to a
// restarted server, the hellos of hundreds of agents share one statement
// and one commit instead of taking a pool connection and a commit each,
// which on PostgreSQL was the largest share of a reconnect's database
// time.
type connectRecorder struct {
	st    connectStore
	batch int

	mu      sync.Mutex
	pending []pendingConnect
	running bool
}

// pendingConnect is one connection's hello and where its outcome goes.
type pendingConnect struct {
	c    store.Connect
	done chan error // buffered: the writer never waits on a connection
}

func newConnectRecorder(st connectStore) *connectRecorder {
	return &connectRecorder{st: st, batch: connectBatch}
}

// record records c and returns once it is recorded (nil), failed, or ctx
// ended. A host that no longer exists is store.ErrNotFound.
func (r *connectRecorder) record(ctx context.Context, c store.Connect) error {
	p := pendingConnect{c: c, done: make(chan error, 1)}
	r.mu.Lock()
	r.pending = append(r.pending, p)
	if !r.running {
		r.running = true
		go r.run()
	}
	r.mu.Unlock()
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the writer: it records batches until nothing is pending.
func (r *connectRecorder) run() {
	for {
		batch := r.take()
		if batch == nil {
			return
		}
		cs := make([]store.Connect, len(batch))
		for i, p := range batch {
			cs[i] = p.c
		}
		ctx, cancel := context.WithTimeout(context.Background(), connectWriteTimeout)
		missing, err := r.st.HostsConnected(ctx, cs)
		cancel()
		for i, p := range batch {
			switch {
			case err != nil:
				p.done <- err
			case missing[i]:
				p.done <- store.ErrNotFound
			default:
				p.done <- nil
			}
		}
	}
}

// take removes up to a batch of pending hellos, oldest first; nil when
// none wait, and the writer then ends.
func (r *connectRecorder) take() []pendingConnect {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(len(r.pending), r.batch)
	if n == 0 {
		r.running = false
		r.pending = nil
		return nil
	}
	batch := make([]pendingConnect, n)
	copy(batch, r.pending)
	rest := copy(r.pending, r.pending[n:])
	clear(r.pending[rest:])
	r.pending = r.pending[:rest]
	return batch
}
