// Package ingest commits agent messages in batches: many messages per
// transaction, acknowledged only after their commit.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/store"
)

// Sink is the store's part that ingest needs.
type Sink interface {
	ApplyBatch(ctx context.Context, msgs []store.Message) ([]store.Result, error)
}

// Done is called once per submitted message, from a writer goroutine,
// after its batch committed (err nil) or failed.
type Done func(store.Result, error)

// ErrStopped is passed to Done for messages that arrive after Stop.
var ErrStopped = errors.New("ingest stopped")

// Config tunes a Batcher.
type Config struct {
	// Writers is the number of batch writer goroutines. Messages are
	// sharded by host, so one host's messages stay in order. SQLite has a
	// single writer connection and wants 1.
	Writers int
	// MaxBatch caps messages per transaction.
	MaxBatch int
	// QueueLen is each writer's queue length; Submit blocks when it is full,
	// which pushes back on the agents' connections.
	QueueLen int
	Logger   *slog.Logger
	Metrics  *metrics.Metrics
	// Committed, when set, is called from the writer goroutine after each
	// batch commits, with its messages and their results (the slices are
	// reused afterwards: copy what must outlive the call). It runs on the
	// ingest path, so it must only note work for someone else, never wait.
	Committed func(msgs []store.Message, results []store.Result)
}

type item struct {
	msg  store.Message
	done Done
}

// Batcher collects messages from all connections and commits them in
// batches. It batches naturally: a writer takes everything queued (up to
// MaxBatch) while the previous transaction was committing, so batches grow
// with load and a lone message is committed at once.
type Batcher struct {
	sink   Sink
	cfg    Config
	queues []chan item
	wg     sync.WaitGroup
	mu     sync.RWMutex
	closed bool
	// failing counts the transactions that failed since the last one
	// that committed; lastFailure is when the latest failed (Unix ns).
	failing     atomic.Int64
	lastFailure atomic.Int64
}

// New starts the writers. Call Stop to drain and end them.
func New(sink Sink, cfg Config) *Batcher {
	if cfg.Writers <= 0 {
		cfg.Writers = 1
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 512
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if m := cfg.Metrics; m != nil {
		// Every kind has a series from the start, at 0 until it happens.
		for _, k := range changes.Kinds {
			m.InventoryChanges.WithLabelValues(k)
		}
	}
	b := &Batcher{sink: sink, cfg: cfg}
	for range cfg.Writers {
		q := make(chan item, cfg.QueueLen)
		b.queues = append(b.queues, q)
		b.wg.Add(1)
		go b.write(q)
	}
	return b
}

// Submit queues msg; done runs after its batch committed or failed. It
// blocks while the writer's queue is full, or until ctx ends.
func (b *Batcher) Submit(ctx context.Context, msg store.Message, done Done) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrStopped
	}
	q := b.queues[uint64(msg.HostID)%uint64(len(b.queues))]
	select {
	case q <- item{msg: msg, done: done}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ConsecutiveFailures is how many commits in a row failed, up to now:
// zero once one commits. A batch retried message by message counts each
// attempt, so messages the store refuses one at a time among others that
// commit never add up; a database that refuses every write does.
func (b *Batcher) ConsecutiveFailures() int64 {
	return b.failing.Load()
}

// LastFailure is when the latest failed commit ended (zero: none yet).
func (b *Batcher) LastFailure() time.Time {
	ns := b.lastFailure.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Stop refuses new messages, commits what is queued and waits for the
// writers to finish.
func (b *Batcher) Stop() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		for _, q := range b.queues {
			close(q)
		}
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *Batcher) write(q chan item) {
	defer b.wg.Done()
	batch := make([]item, 0, b.cfg.MaxBatch)
	msgs := make([]store.Message, 0, b.cfg.MaxBatch)
	for first := range q {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < b.cfg.MaxBatch {
			select {
			case it, ok := <-q:
				if !ok {
					break fill
				}
				batch = append(batch, it)
			default:
				break fill
			}
		}
		msgs = msgs[:0]
		for _, it := range batch {
			msgs = append(msgs, it.msg)
		}
		b.commit(batch, msgs)
		// Drop the references the reused slices still hold: a batch of full
		// inventories is tens of MiB that would otherwise stay live until
		// the next batch of the same size overwrote it.
		clear(batch)
		clear(msgs)
	}
}

func (b *Batcher) commit(batch []item, msgs []store.Message) {
	results, err := b.apply(msgs)
	if err != nil && len(msgs) > 1 {
		// One message the database refuses must not hold back the other
		// agents in its batch: apply each alone, so only the culprit (or,
		// with the database down, every message) fails.
		b.cfg.Logger.Warn("ingest batch failed; retrying its messages one by one", "messages", len(msgs), "err", err)
		for i := range batch {
			b.commit(batch[i:i+1], msgs[i:i+1])
		}
		return
	}
	if err != nil {
		b.cfg.Logger.Error("ingest failed", "host_id", msgs[0].HostID, "seq", msgs[0].Seq, "err", err)
	} else {
		b.countChanges(results)
		if b.cfg.Committed != nil {
			b.cfg.Committed(msgs, results)
		}
	}
	now := time.Now()
	for i, it := range batch {
		var res store.Result
		if err == nil {
			res = results[i]
			if m := b.cfg.Metrics; m != nil {
				m.IngestDuration.Observe(now.Sub(it.msg.Received).Seconds())
			}
		}
		it.done(res, err)
	}
}

// countChanges adds the inventory changes a committed batch recorded to
// steward_inventory_changes_total. A batch that failed recorded none, and
// a batch retried message by message is counted as those messages commit.
func (b *Batcher) countChanges(results []store.Result) {
	m := b.cfg.Metrics
	if m == nil {
		return
	}
	for _, r := range results {
		for kind, n := range r.Changes {
			m.InventoryChanges.WithLabelValues(kind).Add(float64(n))
		}
	}
}

func (b *Batcher) apply(msgs []store.Message) ([]store.Result, error) {
	// The commit runs under its own deadline, not a caller's context: a
	// batch holds many agents' messages and must not be cut short by one.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	results, err := b.sink.ApplyBatch(ctx, msgs)
	if err != nil {
		b.lastFailure.Store(time.Now().UnixNano())
		b.failing.Add(1)
	} else {
		b.failing.Store(0)
	}
	if m := b.cfg.Metrics; m != nil {
		m.BatchSize.Observe(float64(len(msgs)))
		if err != nil {
			m.BatchFailures.Inc()
		}
	}
	if err == nil && len(results) != len(msgs) {
		err = fmt.Errorf("store returned %d results for %d messages", len(results), len(msgs))
	}
	return results, err
}
