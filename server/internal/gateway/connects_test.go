package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// gatedConnects is a connect store whose calls each wait for a value on
// release, after announcing themselves on entered; it answers from inner,
// or with fail when set.
type gatedConnects struct {
	inner   connectStore
	entered chan int // the size of each call, as it begins
	release chan struct{}
	fail    error
}

func (g *gatedConnects) HostsConnected(ctx context.Context, cs []store.Connect) ([]bool, error) {
	g.entered <- len(cs)
	<-g.release
	if g.fail != nil {
		return nil, g.fail
	}
	return g.inner.HostsConnected(ctx, cs)
}

// pendingCount is how many calls wait for the store call.
func (g *gatherer[In, Out]) pendingCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// TestConnectsGatherWhileAWriteRuns: a lone hello is written at once;
// the hellos that arrive while it is being written go together in the
// next call, each connection gets its own answer (an unknown host is
// ErrNotFound, the others nil), and every known host has its hello.
func TestConnectsGatherWhileAWriteRuns(t *testing.T) {
	st := openSQLite(t)
	ctx := t.Context()
	const hosts = 40
	ids := make([]int64, hosts)
	for i := range ids {
		id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: fmt.Sprintf("key-%d", i), Hostname: fmt.Sprintf("old-%d", i), EnrolledAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	g := &gatedConnects{inner: st, entered: make(chan int, 8), release: make(chan struct{})}
	r := newConnectRecorder(g)
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	hello := func(i int) store.Connect {
		return store.Connect{HostID: ids[i], At: at.Add(time.Duration(i) * time.Second), Info: store.HelloInfo{Hostname: fmt.Sprintf("new-%d", i), OS: "linux"}}
	}

	first := make(chan error, 1)
	go func() { first <- r.record(ctx, hello(0)) }()
	if n := <-g.entered; n != 1 {
		t.Fatalf("the lone hello went in a call of %d", n)
	}
	// While that write runs, the other hosts and an unknown one connect.
	unknown := ids[hosts-1] + 1000
	errs := make([]error, hosts+1)
	var wg sync.WaitGroup
	for i := 1; i <= hosts; i++ {
		wg.Go(func() {
			c := store.Connect{HostID: unknown, At: at, Info: store.HelloInfo{Hostname: "ghost"}}
			if i < hosts {
				c = hello(i)
			}
			errs[i] = r.record(ctx, c)
		})
	}
	waitFor(t, "the hellos to queue behind the write", func() bool { return r.pendingCount() == hosts })
	g.release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatalf("the lone hello: %v", err)
	}
	if n := <-g.entered; n != hosts {
		t.Errorf("the hellos that gathered went in a call of %d, want all %d", n, hosts)
	}
	g.release <- struct{}{}
	wg.Wait()
	for i := 1; i < hosts; i++ {
		if errs[i] != nil {
			t.Errorf("host %d: %v", i, errs[i])
		}
	}
	if !errors.Is(errs[hosts], store.ErrNotFound) {
		t.Errorf("unknown host: %v, want ErrNotFound", errs[hosts])
	}
	for i, id := range ids {
		h, err := st.GetHost(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if h.Hostname != fmt.Sprintf("new-%d", i) || !h.ConnectedAt.Equal(hello(i).At) {
			t.Errorf("host %d: hostname %q connected_at %v, want its hello", i, h.Hostname, h.ConnectedAt)
		}
	}
	// The writer ends once nothing waits; the next hello starts another.
	waitFor(t, "the writer to end", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return !r.running
	})
	done := make(chan error, 1)
	go func() { done <- r.record(ctx, hello(1)) }()
	if n := <-g.entered; n != 1 {
		t.Errorf("a later lone hello went in a call of %d", n)
	}
	g.release <- struct{}{}
	if err := <-done; err != nil {
		t.Errorf("a later lone hello: %v", err)
	}
}

// TestConnectsFailTogetherAndBounded: a failed call fails every hello it
// carried, no call carries more than the batch, and a connection that
// gives up waiting returns at once while its hello is still written.
func TestConnectsFailTogetherAndBounded(t *testing.T) {
	st := openSQLite(t)
	ctx := t.Context()
	id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: "key", Hostname: "h", EnrolledAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	down := errors.New("database went away")
	g := &gatedConnects{inner: st, entered: make(chan int, 8), release: make(chan struct{}), fail: down}
	r := newConnectRecorder(g)
	r.batch = 10
	hello := store.Connect{HostID: id, At: time.Now().UTC(), Info: store.HelloInfo{Hostname: "h"}}

	// A connection that gives up while its hello is being written.
	gone, cancel := context.WithCancel(ctx)
	left := make(chan error, 1)
	go func() { left <- r.record(gone, hello) }()
	<-g.entered
	cancel()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Errorf("a connection that gave up: %v, want context.Canceled", err)
	}
	const n = 25
	errs := make(chan error, n)
	for range n {
		go func() { errs <- r.record(ctx, hello) }()
	}
	waitFor(t, "the hellos to queue", func() bool { return r.pendingCount() == n })
	g.release <- struct{}{} // the first call fails; nobody waits for it now
	var sizes []int
	for range 3 {
		sizes = append(sizes, <-g.entered)
		g.release <- struct{}{}
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Errorf("calls of %v, want [10 10 5]", sizes)
	}
	for range n {
		if err := <-errs; !errors.Is(err, down) {
			t.Errorf("hello in a failed call: %v, want the store's error", err)
		}
	}
}
