package ingest

import (
	"context"
	"sync"

	"github.com/steward-project/steward/server/internal/store"
)

// minMessageBytes is what a message counts against the byte budget at
// least: its queue slot, the store.Message and the done closure cost
// memory even for a heartbeat of a hundred bytes.
const minMessageBytes = 512

// messageBytes is what msg counts against the byte budget and a batch's
// byte bound.
func messageBytes(msg store.Message) int64 {
	return max(int64(msg.Bytes), minMessageBytes)
}

// budget bounds the bytes of the messages submitted and not yet done,
// over all writers. A message larger than the whole budget is let in
// when nothing else is held, so it cannot wait forever.
type budget struct {
	mu   sync.Mutex
	used int64
	max  int64
	// freed is closed, and replaced, whenever bytes are given back.
	freed chan struct{}
}

func newBudget(limit int64) *budget {
	return &budget{max: limit, freed: make(chan struct{})}
}

// acquire takes n bytes, waiting for room until ctx ends or stop is
// closed (then it returns ErrStopped).
func (b *budget) acquire(ctx context.Context, n int64, stop <-chan struct{}) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.max {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return ErrStopped
		}
	}
}

// release gives n bytes back and wakes the waiting submitters.
func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// inUse is how many bytes are held now.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
