package gateway

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// gatherer gathers the calls that arrive together into one store call,
// each caller waiting for its own answer. One goroutine runs while calls
// are pending: it takes what has gathered (up to batch), makes one store
// call of it, answers each caller, and takes what gathered meanwhile. A
// lone call goes at once. When a fleet reconnects to a restarted server,
// the hellos, label reads and refusal reads of hundreds of agents then
// share one statement and one pool connection each, instead of each
// taking a connection and a round trip and queueing for the pool ahead
// of ingest's commits.
type gatherer[In, Out any] struct {
	// do makes one store call of in and sets out[i], in in's order.
	do      func(ctx context.Context, in []In, out []gathered[Out])
	batch   int
	timeout time.Duration // bounds one store call

	mu      sync.Mutex
	pending []pendingCall[In, Out]
	running bool
}

// gathered is one caller's answer.
type gathered[Out any] struct {
	v   Out
	err error
}

// pendingCall is one caller's input and where its answer goes.
type pendingCall[In, Out any] struct {
	in   In
	done chan gathered[Out] // buffered: the goroutine never waits on a caller
}

// call adds in to the next store call and returns its answer, or ctx's
// error when ctx ends first (the call still goes to the store). The store
// call runs under the gatherer's timeout, not a caller's context: it
// carries many callers.
func (g *gatherer[In, Out]) call(ctx context.Context, in In) (Out, error) {
	p := pendingCall[In, Out]{in: in, done: make(chan gathered[Out], 1)}
	g.mu.Lock()
	g.pending = append(g.pending, p)
	if !g.running {
		g.running = true
		go g.run()
	}
	g.mu.Unlock()
	select {
	case r := <-p.done:
		return r.v, r.err
	case <-ctx.Done():
		var zero Out
		return zero, ctx.Err()
	}
}

// run makes store calls until nothing is pending.
func (g *gatherer[In, Out]) run() {
	for {
		batch := g.take()
		if batch == nil {
			return
		}
		in := make([]In, len(batch))
		for i, p := range batch {
			in[i] = p.in
		}
		out := make([]gathered[Out], len(batch))
		ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
		g.do(ctx, in, out)
		cancel()
		for i, p := range batch {
			p.done <- out[i]
		}
	}
}

// take removes up to a batch of pending calls, oldest first; nil when
// none wait, and the goroutine then ends.
func (g *gatherer[In, Out]) take() []pendingCall[In, Out] {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := min(len(g.pending), g.batch)
	if n == 0 {
		g.running = false
		g.pending = nil
		return nil
	}
	batch := make([]pendingCall[In, Out], n)
	copy(batch, g.pending)
	rest := copy(g.pending, g.pending[n:])
	clear(g.pending[rest:])
	g.pending = g.pending[:rest]
	return batch
}

// Defaults of the per-host reads of connecting agents.
const (
	hostReadBatch   = 500
	hostReadTimeout = 10 * time.Second
)

// keyedReads gathers one read by key: many reads the keys given in one
// statement and leaves out those it has nothing for, which are missing's
// error to their callers; check, when set, may refuse what was read.
func keyedReads[K comparable, V any](many func(ctx context.Context, keys []K) (map[K]V, error),
	missing func(K) error, check func(V) error) *gatherer[K, V] {
	return &gatherer[K, V]{batch: hostReadBatch, timeout: hostReadTimeout,
		do: func(ctx context.Context, keys []K, out []gathered[V]) {
			got, err := many(ctx, keys)
			for i, k := range keys {
				v, ok := got[k]
				switch {
				case err != nil:
					out[i].err = err
				case !ok:
					out[i].err = missing(k)
				case check != nil:
					out[i].v, out[i].err = v, check(v)
				default:
					out[i].v = v
				}
			}
		}}
}

// hostReads gathers one per-host read by host id; a host the store
// leaves out is store.ErrNotFound.
func hostReads[V any](many func(ctx context.Context, ids []int64) (map[int64]V, error)) *gatherer[int64, V] {
	return keyedReads(many, func(id int64) error { return fmt.Errorf("host %d: %w", id, store.ErrNotFound) }, nil)
}

// nodeKeyReads gathers the node key lookups of connecting agents: a key
// without a host is store.ErrNotFound to its caller, a retired host's
// store.ErrRetired.
func nodeKeyReads(st Store) *gatherer[string, store.Host] {
	return keyedReads(st.HostsByNodeKeys,
		func(string) error { return fmt.Errorf("node key: %w", store.ErrNotFound) },
		func(h store.Host) error {
			if !h.RetiredAt.IsZero() {
				return fmt.Errorf("host %d: %w", h.ID, store.ErrRetired)
			}
			return nil
		})
}
