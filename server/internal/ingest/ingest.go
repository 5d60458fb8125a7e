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
	// MaxBatchBytes caps the bytes of the messages in one transaction
	// (default DefaultMaxBatchBytes), so that a batch of full inventories
	// holds tens of them, not MaxBatch. A message larger than the cap is
	// committed alone.
	MaxBatchBytes int64
	// QueueLen is each writer's queue length; Submit blocks when it is full,
	// which pushes back on the agents' connections.
	QueueLen int
	// MaxQueuedBytes bounds the bytes of all messages submitted and not
	// yet committed or failed (default DefaultMaxQueuedBytes); Submit
	// waits for room, which pushes back on the agents' connections.
	MaxQueuedBytes int64
	// CommitDelay is how long a writer that has emptied its queue waits
	// for more messages before committing a batch that is not full
	// (group commit). Under load queues never empty and it costs
	// nothing; a lightly loaded server commits a few messages per
	// transaction instead of one, for at most this much more latency.
	// Zero commits at once.
	CommitDelay time.Duration
	// CommitTimeout bounds one transaction (default 30 s). A transaction
	// that runs out of it counts as the database being unavailable.
	CommitTimeout time.Duration
	// Probe, when set, checks that the database answers (the store's
	// Ping). After a transaction fails for the database rather than for a
	// message, the batcher refuses data until Probe succeeds; without a
	// Probe it tries again after ProbeInterval.
	Probe func(context.Context) error
	// ProbeInterval is the wait between probes (default 1 s).
	ProbeInterval time.Duration
	Logger        *slog.Logger
	Metrics       *metrics.Metrics
	// Committed, when set, is called from the writer goroutine after each
	// batch commits, with its messages and their results (the slices are
	// reused afterwards: copy what must outlive the call). It runs on the
	// ingest path, so it must only note work for someone else, never wait.
	Committed func(msgs []store.Message, results []store.Result)
}

// Defaults of the byte bounds.
const (
	DefaultMaxBatchBytes  = 16 << 20
	DefaultMaxQueuedBytes = 256 << 20
)

type item struct {
	msg   store.Message
	done  Done
	bytes int64 // held in the budget until done runs
}

// Batcher collects messages from all connections and commits them in
// batches. It batches naturally: a writer takes everything queued (up to
// MaxBatch and MaxBatchBytes) while the previous transaction was
// committing, so batches grow with load; with CommitDelay it then waits
// that long for more, so a trickle of heartbeats shares transactions.
type Batcher struct {
	sink   Sink
	cfg    Config
	queues []chan item
	budget *budget
	wg     sync.WaitGroup
	mu     sync.RWMutex
	closed bool
	// stopping is closed when Stop or Shutdown begins: submitters
	// waiting for room give up and the probe ends.
	stopping chan struct{}
	stopOnce sync.Once
	// aborted ends when Shutdown runs out of time: the commit in flight
	// is cancelled and what is still queued fails with ErrStopped.
	aborted context.Context
	abort   context.CancelFunc
	// down is why the database is taken for unavailable (nil: it is
	// not); probes counts the running probe goroutine.
	downMu sync.Mutex
	down   error
	probes sync.WaitGroup
	// failing counts the transactions that failed since the last one
	// that committed; lastFailure is when the latest failed (Unix ns).
	failing     atomic.Int64
	lastFailure atomic.Int64
}

// New starts the writers. Call Stop or Shutdown to end them.
func New(sink Sink, cfg Config) *Batcher {
	if cfg.Writers <= 0 {
		cfg.Writers = 1
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 2048
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 4096
	}
	if cfg.MaxQueuedBytes <= 0 {
		cfg.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = 30 * time.Second
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = time.Second
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
	b := &Batcher{sink: sink, cfg: cfg, budget: newBudget(cfg.MaxQueuedBytes), stopping: make(chan struct{})}
	b.aborted, b.abort = context.WithCancel(context.Background())
	for range cfg.Writers {
		q := make(chan item, cfg.QueueLen)
		b.queues = append(b.queues, q)
		b.wg.Add(1)
		go b.write(q)
	}
	return b
}

// Submit queues msg; done runs after its batch committed or failed. It
// waits while the writer's queue or the byte budget is full, until ctx
// ends. While the database is unavailable it refuses at once with an
// error wrapping ErrUnavailable.
func (b *Batcher) Submit(ctx context.Context, msg store.Message, done Done) error {
	if err := b.Unavailable(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	n := messageBytes(msg)
	if err := b.budget.acquire(ctx, n, b.stopping); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed || b.stoppingNow() {
		b.budget.release(n)
		return ErrStopped
	}
	q := b.queues[uint64(msg.HostID)%uint64(len(b.queues))]
	it := item{msg: msg, done: done, bytes: n}
	// A queue with room takes the item without the three-way select,
	// which costs a lock of every channel on each message.
	select {
	case q <- it:
		return nil
	default:
	}
	select {
	case q <- it:
		return nil
	case <-ctx.Done():
		b.budget.release(n)
		return ctx.Err()
	case <-b.stopping:
		b.budget.release(n)
		return ErrStopped
	}
}

func (b *Batcher) stoppingNow() bool {
	select {
	case <-b.stopping:
		return true
	default:
		return false
	}
}

// QueuedBytes is how many bytes of messages are submitted and not yet
// committed or failed.
func (b *Batcher) QueuedBytes() int64 {
	return b.budget.inUse()
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
// writers to finish, however long the database takes.
func (b *Batcher) Stop() {
	b.stopOnce.Do(func() { close(b.stopping) })
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		for _, q := range b.queues {
			close(q)
		}
	}
	b.mu.Unlock()
	b.wg.Wait()
	b.probes.Wait()
}

// Shutdown is Stop bounded by ctx: when ctx ends first, the commit in
// flight is cancelled and every message not committed yet fails with
// ErrStopped, so nothing is acknowledged that the database did not take
// (agents send it again). It returns ctx's error then. The Sink must
// return soon after its context ends.
func (b *Batcher) Shutdown(ctx context.Context) error {
	stopped := make(chan struct{})
	go func() {
		b.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
	}
	b.abort()
	<-stopped
	return ctx.Err()
}

func (b *Batcher) write(q chan item) {
	defer b.wg.Done()
	batch := make([]item, 0, b.cfg.MaxBatch)
	msgs := make([]store.Message, 0, b.cfg.MaxBatch)
	// next is a message taken from the queue that did not fit in the
	// previous batch's bytes.
	var next item
	haveNext := false
	delay := time.NewTimer(time.Hour)
	delay.Stop()
	defer delay.Stop()
	for {
		if !haveNext {
			it, ok := <-q
			if !ok {
				return
			}
			next = it
		}
		batch = append(batch[:0], next)
		size := next.bytes
		haveNext, next = false, item{}
		var expired <-chan time.Time // nil until the queue first runs dry
	fill:
		for len(batch) < b.cfg.MaxBatch && size < b.cfg.MaxBatchBytes {
			var (
				it item
				ok bool
			)
			select {
			case it, ok = <-q:
			default:
				if b.cfg.CommitDelay <= 0 || b.stoppingNow() {
					break fill
				}
				if expired == nil {
					delay.Reset(b.cfg.CommitDelay)
					expired = delay.C
				}
				select {
				case it, ok = <-q:
				case <-expired:
					break fill
				case <-b.stopping:
					break fill
				}
			}
			if !ok {
				break fill
			}
			if size+it.bytes > b.cfg.MaxBatchBytes {
				next, haveNext = it, true
				break fill
			}
			batch = append(batch, it)
			size += it.bytes
		}
		if expired != nil {
			delay.Stop()
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
	if b.aborted.Err() != nil {
		b.finish(batch, nil, ErrStopped)
		return
	}
	if down := b.Unavailable(); down != nil {
		// Queued while the database went away: fail at once rather than
		// wait out a commit timeout per batch.
		b.finish(batch, nil, fmt.Errorf("%w: %w", ErrUnavailable, down))
		return
	}
	results, err := b.apply(msgs)
	if err != nil && Unavailable(err) {
		if b.aborted.Err() != nil {
			err = ErrStopped
		} else {
			b.markUnavailable(err)
			b.cfg.Logger.Warn("ingest batch failed: database unavailable", "messages", len(msgs), "err", err)
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		b.finish(batch, nil, err)
		return
	}
	if err != nil && len(msgs) > 1 {
		// One message the database refuses must not hold back the other
		// agents in its batch: apply each alone, so only the culprit
		// fails. A database that goes away meanwhile fails the rest at
		// once (above).
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
	b.finish(batch, results, err)
}

// finish calls every item's done with its result or err, and gives the
// items' bytes back to the budget.
func (b *Batcher) finish(batch []item, results []store.Result, err error) {
	now := time.Now()
	var n int64
	for i, it := range batch {
		var res store.Result
		if err == nil {
			res = results[i]
			if m := b.cfg.Metrics; m != nil {
				m.IngestDuration.Observe(now.Sub(it.msg.Received).Seconds())
			}
		}
		it.done(res, err)
		n += it.bytes
	}
	b.budget.release(n)
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
	// Only a Shutdown out of time cuts it short.
	ctx, cancel := context.WithTimeout(b.aborted, b.cfg.CommitTimeout)
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
