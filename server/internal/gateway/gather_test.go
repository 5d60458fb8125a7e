package gateway

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/steward-project/steward/server/internal/store"
)

// TestHostReadsGather: a lone read goes at once; the reads that arrive
// while it runs go together in the next store call, each caller gets its
// own host's value, a host the store leaves out is store.ErrNotFound to
// its caller alone, and a failed call fails every read it carried.
func TestHostReadsGather(t *testing.T) {
	entered := make(chan []int64, 8)
	release := make(chan error)
	r := hostReads(func(_ context.Context, ids []int64) (map[int64]string, error) {
		entered <- ids
		if err := <-release; err != nil {
			return nil, err
		}
		out := map[int64]string{}
		for _, id := range ids {
			if id%10 != 0 { // hosts 10, 20, ... do not exist
				out[id] = fmt.Sprint("host-", id)
			}
		}
		return out, nil
	})
	ctx := t.Context()
	type answer struct {
		id  int64
		v   string
		err error
	}
	answers := make(chan answer, 64)
	read := func(id int64) {
		v, err := r.call(ctx, id)
		answers <- answer{id, v, err}
	}
	go read(1)
	if ids := <-entered; fmt.Sprint(ids) != "[1]" {
		t.Fatalf("first call %v, want [1]", ids)
	}
	const n = 25
	for id := int64(2); id < 2+n; id++ {
		go read(id)
	}
	waitFor(t, "the reads to queue", func() bool { return r.pendingCount() == n })
	release <- nil
	if ids := <-entered; len(ids) != n {
		t.Fatalf("second call carried %d reads, want %d", len(ids), n)
	}
	release <- nil
	for range n + 1 {
		a := <-answers
		switch {
		case a.id%10 == 0:
			if !errors.Is(a.err, store.ErrNotFound) {
				t.Errorf("host %d: %q, %v; want ErrNotFound", a.id, a.v, a.err)
			}
		case a.err != nil || a.v != fmt.Sprint("host-", a.id):
			t.Errorf("host %d: %q, %v; want its own value", a.id, a.v, a.err)
		}
	}
	down := errors.New("database went away")
	go read(3)
	<-entered
	release <- down
	if a := <-answers; !errors.Is(a.err, down) {
		t.Errorf("read in a failed call: %v, want the store's error", a.err)
	}
}
