package ingest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// recordingSink records every batch and can be told to fail or block.
type recordingSink struct {
	mu       sync.Mutex
	batches  [][]store.Message
	fail     error
	poison   int64         // a batch holding this host's message fails
	gate     chan struct{} // when set, ApplyBatch waits on it
	entered  chan struct{} // when set, ApplyBatch sends on it first
	attempts int
}

func (s *recordingSink) ApplyBatch(_ context.Context, msgs []store.Message) ([]store.Result, error) {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.fail != nil {
		return nil, s.fail
	}
	for _, m := range msgs {
		if s.poison != 0 && m.HostID == s.poison {
			return nil, errors.New("invalid byte sequence for encoding UTF8")
		}
	}
	s.batches = append(s.batches, append([]store.Message(nil), msgs...))
	res := make([]store.Result, len(msgs))
	for i, m := range msgs {
		res[i].Duplicate = m.Seq == 0
	}
	return res, nil
}

func TestBatcherGroupsQueuedMessagesAndKeepsHostOrder(t *testing.T) {
	sink := &recordingSink{gate: make(chan struct{}), entered: make(chan struct{}, 2)}
	b := New(sink, Config{Writers: 1, MaxBatch: 100})
	var mu sync.Mutex
	var done []uint64
	var wg sync.WaitGroup
	submit := func(seq uint64) {
		wg.Add(1)
		err := b.Submit(context.Background(), store.Message{HostID: 7, Seq: seq, Received: time.Now()},
			func(r store.Result, err error) {
				defer wg.Done()
				if err != nil || r.Duplicate {
					t.Errorf("seq %d: result %+v err %v", seq, r, err)
				}
				mu.Lock()
				done = append(done, seq)
				mu.Unlock()
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	submit(1) // taken alone; its commit waits on the gate
	// Queue the rest only once the writer is committing the first, so
	// they pile up behind the blocked commit and form one batch (an empty
	// queue alone is not enough: the writer may still be gathering its
	// batch).
	<-sink.entered
	for seq := uint64(2); seq <= 50; seq++ {
		submit(seq)
	}
	close(sink.gate)
	wg.Wait()
	b.Stop()

	if len(sink.batches) != 2 {
		t.Fatalf("got %d batches, want 2 (one lone message, then the 49 queued behind it)", len(sink.batches))
	}
	if len(sink.batches[1]) != 49 {
		t.Errorf("second batch has %d messages, want 49", len(sink.batches[1]))
	}
	for i, seq := range done {
		if seq != uint64(i+1) {
			t.Fatalf("acks out of order: %v", done)
		}
	}
}

func TestBatcherReportsFailureToEveryMessage(t *testing.T) {
	boom := errors.New("database down")
	b := New(&recordingSink{fail: boom}, Config{Writers: 2})
	var wg sync.WaitGroup
	for host := int64(1); host <= 10; host++ {
		wg.Add(1)
		err := b.Submit(context.Background(), store.Message{HostID: host, Seq: 1}, func(_ store.Result, err error) {
			defer wg.Done()
			if !errors.Is(err, boom) {
				t.Errorf("host %d: err %v, want %v", host, err, boom)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	b.Stop()
}

func TestBatcherRefusesAfterStopAndDrainsBefore(t *testing.T) {
	sink := &recordingSink{}
	b := New(sink, Config{Writers: 1})
	var committed int
	for seq := uint64(1); seq <= 20; seq++ {
		if err := b.Submit(context.Background(), store.Message{HostID: 1, Seq: seq}, func(store.Result, error) { committed++ }); err != nil {
			t.Fatal(err)
		}
	}
	b.Stop()
	if committed != 20 {
		t.Errorf("Stop returned with %d of 20 messages committed", committed)
	}
	if err := b.Submit(context.Background(), store.Message{HostID: 1, Seq: 21}, func(store.Result, error) {}); !errors.Is(err, ErrStopped) {
		t.Errorf("Submit after Stop: %v, want ErrStopped", err)
	}
}

func TestBatcherIsolatesAMessageTheStoreRefuses(t *testing.T) {
	sink := &recordingSink{poison: 3, gate: make(chan struct{})}
	b := New(sink, Config{Writers: 1})
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := map[int64]bool{}
	for host := int64(1); host <= 5; host++ {
		wg.Add(1)
		err := b.Submit(context.Background(), store.Message{HostID: host, Seq: 1}, func(_ store.Result, err error) {
			defer wg.Done()
			mu.Lock()
			failed[host] = err != nil
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	close(sink.gate)
	wg.Wait()
	b.Stop()
	for host := int64(1); host <= 5; host++ {
		if failed[host] != (host == 3) {
			t.Errorf("host %d failed=%v; only host 3's message should fail", host, failed[host])
		}
	}
	committed := 0
	for _, batch := range sink.batches {
		committed += len(batch)
	}
	if committed != 4 {
		t.Errorf("%d messages committed, want 4", committed)
	}
}

// TestCommittedHookSeesCommittedMessagesOnly pins the post-commit hook:
// called with each committed batch's messages and results, never for a
// message whose commit failed.
func TestCommittedHookSeesCommittedMessagesOnly(t *testing.T) {
	sink := &recordingSink{poison: 3}
	var mu sync.Mutex
	seen := map[int64]store.Result{}
	b := New(sink, Config{Writers: 1, MaxBatch: 10, Committed: func(msgs []store.Message, res []store.Result) {
		mu.Lock()
		defer mu.Unlock()
		if len(msgs) != len(res) {
			t.Errorf("hook got %d messages and %d results", len(msgs), len(res))
		}
		for i, m := range msgs {
			seen[m.HostID] = res[i]
		}
	}})
	var wg sync.WaitGroup
	for host := int64(1); host <= 4; host++ {
		wg.Add(1)
		seq := uint64(1)
		if host == 2 {
			seq = 0 // the sink reports seq 0 as a duplicate
		}
		if err := b.Submit(context.Background(), store.Message{HostID: host, Seq: seq}, func(store.Result, error) { wg.Done() }); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	b.Stop()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || !seen[2].Duplicate || seen[1].Duplicate {
		t.Errorf("hook saw %+v; want hosts 1, 2 (duplicate) and 4, not the failed 3", seen)
	}
	if _, ok := seen[3]; ok {
		t.Error("hook saw the message whose commit failed")
	}
}

// TestConsecutiveFailures: failed commits add up until one commits.
func TestConsecutiveFailures(t *testing.T) {
	sink := &recordingSink{}
	b := New(sink, Config{Writers: 1})
	defer b.Stop()
	commit := func(seq uint64) error {
		errc := make(chan error, 1)
		if err := b.Submit(context.Background(), store.Message{HostID: 1, Seq: seq, Received: time.Now()},
			func(_ store.Result, err error) { errc <- err }); err != nil {
			t.Fatal(err)
		}
		return <-errc
	}
	sink.mu.Lock()
	sink.fail = errors.New("database or disk is full")
	sink.mu.Unlock()
	for i := range 3 {
		if err := commit(uint64(i + 1)); err == nil {
			t.Fatal("commit succeeded against a failing store")
		}
		if n := b.ConsecutiveFailures(); n != int64(i+1) {
			t.Fatalf("after %d failed commits ConsecutiveFailures() = %d", i+1, n)
		}
	}
	sink.mu.Lock()
	sink.fail = nil
	sink.mu.Unlock()
	if err := commit(4); err != nil {
		t.Fatal(err)
	}
	if n := b.ConsecutiveFailures(); n != 0 {
		t.Errorf("after a commit ConsecutiveFailures() = %d, want 0", n)
	}
}

// TestLastFailure: the time of the latest failed commit is kept.
func TestLastFailure(t *testing.T) {
	sink := &recordingSink{fail: errors.New("database or disk is full")}
	b := New(sink, Config{Writers: 1})
	defer b.Stop()
	if !b.LastFailure().IsZero() {
		t.Fatal("a failure before any commit")
	}
	before := time.Now()
	errc := make(chan error, 1)
	if err := b.Submit(context.Background(), store.Message{HostID: 1, Seq: 1, Received: time.Now()},
		func(_ store.Result, err error) { errc <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Fatal("commit succeeded against a failing store")
	}
	if last := b.LastFailure(); last.Before(before) {
		t.Errorf("LastFailure() = %v, want after %v", last, before)
	}
}

// With a commit delay, messages that arrive one at a time share a
// transaction: a writer whose queue ran dry waits for more instead of
// committing one message. A full batch does not wait.
func TestCommitDelayGroupsATrickle(t *testing.T) {
	sink := &recordingSink{}
	b := New(sink, Config{Writers: 1, MaxBatch: 3, CommitDelay: time.Hour})
	defer b.Stop()
	var wg sync.WaitGroup
	for seq := uint64(1); seq <= 3; seq++ {
		wg.Add(1)
		err := b.Submit(context.Background(), store.Message{HostID: 1, Seq: seq, Received: time.Now()},
			func(_ store.Result, err error) {
				defer wg.Done()
				if err != nil {
					t.Errorf("seq %d: %v", seq, err)
				}
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The hour's delay ends early only because the batch is full.
	wg.Wait()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.batches) != 1 || len(sink.batches[0]) != 3 {
		t.Fatalf("batches %v, want one of 3 messages", sink.batches)
	}
}

// Stopping ends a writer's wait for more messages: what it holds is
// committed, not held for the rest of the delay.
func TestCommitDelayEndsOnStop(t *testing.T) {
	sink := &recordingSink{}
	b := New(sink, Config{Writers: 1, MaxBatch: 10, CommitDelay: time.Hour})
	committed := make(chan error, 1)
	if err := b.Submit(context.Background(), store.Message{HostID: 1, Seq: 1, Received: time.Now()},
		func(_ store.Result, err error) { committed <- err }); err != nil {
		t.Fatal(err)
	}
	b.Stop()
	if err := <-committed; err != nil {
		t.Fatalf("message held by a waiting writer: %v", err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.batches) != 1 {
		t.Fatalf("batches %v, want the one message committed", sink.batches)
	}
}
