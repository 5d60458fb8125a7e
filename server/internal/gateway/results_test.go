package gateway

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/steward-project/steward/server/internal/store"
)

// batchingStore records each ApplyResults call's host ids; the first call
// waits for release, so that the messages sent meanwhile queue up.
type batchingStore struct {
	mu      sync.Mutex
	calls   [][]int64
	first   chan struct{}
	release chan struct{}
}

func (s *batchingStore) PolicyRevision(context.Context) (int64, error) { return 1, nil }
func (s *batchingStore) ListPolicies(context.Context, string, int) ([]store.StoredPolicy, error) {
	return nil, nil
}

func (s *batchingStore) ApplyResults(_ context.Context, bs []store.ResultBatch) ([]store.Transition, error) {
	s.mu.Lock()
	n := len(s.calls)
	var ids []int64
	for _, b := range bs {
		ids = append(ids, b.HostID)
	}
	s.calls = append(s.calls, ids)
	s.mu.Unlock()
	if n == 0 {
		close(s.first)
		<-s.release
	}
	var ts []store.Transition
	for _, b := range bs {
		if b.HostID == 13 {
			return nil, fmt.Errorf("host 13: %w", store.ErrNotFound)
		}
		ts = append(ts, store.Transition{HostID: b.HostID, PolicyID: "p"})
	}
	return ts, nil
}

func TestResultsCommittedTogether(t *testing.T) {
	st := &batchingStore{first: make(chan struct{}), release: make(chan struct{})}
	var mu sync.Mutex
	applied := map[int64]int{}
	rc := &resultsCommitter{st: st, max: 1, applied: func(ts []store.Transition) {
		mu.Lock()
		defer mu.Unlock()
		for _, tr := range ts {
			applied[tr.HostID]++
		}
	}}
	errs := make(map[int64]error)
	var wg sync.WaitGroup
	var emu sync.Mutex
	do := func(host int64) {
		wg.Go(func() {
			err := rc.apply(store.ResultBatch{HostID: host})
			emu.Lock()
			errs[host] = err
			emu.Unlock()
		})
	}
	do(1) // becomes the committer and blocks in the store
	<-st.first
	for h := int64(2); h <= 20; h++ {
		do(h) // queue behind it
	}
	// Wait until all 19 are queued, then let the first commit finish.
	for {
		rc.mu.Lock()
		n := len(rc.queue)
		rc.mu.Unlock()
		if n == 19 {
			break
		}
		runtime.Gosched()
	}
	close(st.release)
	wg.Wait()

	st.mu.Lock()
	defer st.mu.Unlock()
	// One call for host 1, one for the 19 that queued meanwhile, which
	// failed for host 13; then each of the 19 again on its own.
	if len(st.calls) != 2+19 || len(st.calls[0]) != 1 || len(st.calls[1]) != 19 {
		t.Fatalf("ApplyResults calls %v, want [1], the 19 that queued together, then each alone", st.calls)
	}
	// Host 13 fails the shared transaction: every message is then applied
	// on its own, and only host 13's fails.
	for h := int64(1); h <= 20; h++ {
		if h == 13 {
			if !errors.Is(errs[h], store.ErrNotFound) {
				t.Errorf("host 13: %v, want ErrNotFound", errs[h])
			}
			continue
		}
		if errs[h] != nil {
			t.Errorf("host %d: %v", h, errs[h])
		}
		if applied[h] != 1 {
			t.Errorf("host %d's transitions reported %d times, want once", h, applied[h])
		}
	}
}

func TestResultsCommitterIdle(t *testing.T) {
	st := &batchingStore{first: make(chan struct{}), release: make(chan struct{})}
	close(st.release)
	rc := &resultsCommitter{st: st, max: 2}
	for h := int64(1); h <= 3; h++ {
		if err := rc.apply(store.ResultBatch{HostID: h}); err != nil {
			t.Fatal(err)
		}
	}
	if rc.running != 0 || len(rc.queue) != 0 {
		t.Errorf("after the messages: %d committers, %d queued; want none", rc.running, len(rc.queue))
	}
	if len(st.calls) != 3 {
		t.Errorf("calls %v, want one per message sent one after another", st.calls)
	}
}
