package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// maxResultsBatch bounds the results messages committed in one
// transaction.
const maxResultsBatch = 256

// resultsCommitter commits the results messages of many connections
// together, so that a thousand agents reporting at once cost a handful of
// transactions rather than a thousand. It has no goroutine of its own: a
// connection whose message finds fewer than max committers at work
// becomes one and commits what is queued (its own message first) until
// the queue is empty; the others wait for their message's turn. Batches
// grow with load, and a lone message is committed at once.
type resultsCommitter struct {
	st      PolicyStore
	applied func([]store.Transition)
	max     int

	mu      sync.Mutex
	queue   []*resultsReq
	running int
}

type resultsReq struct {
	batch store.ResultBatch
	err   error
	done  chan struct{}
}

// apply commits one host's results and returns once they are committed
// (or failed).
func (rc *resultsCommitter) apply(b store.ResultBatch) error {
	req := &resultsReq{batch: b, done: make(chan struct{})}
	rc.mu.Lock()
	rc.queue = append(rc.queue, req)
	commit := rc.running < rc.max
	if commit {
		rc.running++
	}
	rc.mu.Unlock()
	if commit {
		rc.drain()
	}
	<-req.done
	return req.err
}

func (rc *resultsCommitter) drain() {
	for {
		rc.mu.Lock()
		if len(rc.queue) == 0 {
			rc.running--
			rc.mu.Unlock()
			return
		}
		n := min(len(rc.queue), maxResultsBatch)
		reqs := append([]*resultsReq(nil), rc.queue[:n]...)
		rc.queue = rc.queue[n:]
		rc.mu.Unlock()
		rc.commit(reqs)
	}
}

// commit applies reqs in one transaction; when that fails and there was
// more than one, each is applied on its own, so a message the store
// refuses (its host deleted meanwhile) fails alone.
func (rc *resultsCommitter) commit(reqs []*resultsReq) {
	batches := make([]store.ResultBatch, len(reqs))
	for i, r := range reqs {
		batches[i] = r.batch
	}
	_, err := rc.store(batches)
	if err != nil && len(reqs) > 1 {
		for _, r := range reqs {
			_, r.err = rc.store([]store.ResultBatch{r.batch})
			close(r.done)
		}
		return
	}
	for _, r := range reqs {
		r.err = err
		close(r.done)
	}
}

func (rc *resultsCommitter) store(batches []store.ResultBatch) ([]store.Transition, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts, err := rc.st.ApplyResults(ctx, batches)
	if err == nil && rc.applied != nil && len(ts) > 0 {
		rc.applied(ts)
	}
	return ts, err
}
