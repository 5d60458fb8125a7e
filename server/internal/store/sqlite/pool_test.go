package sqlite

import (
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestPoolStats: the writer and reader pools are summed; acquisitions
// are not counted by database/sql; a writer that has to queue behind
// another is a wait.
func TestPoolStats(t *testing.T) {
	st := openTest(t, filepath.Join(t.TempDir(), "steward.db"))
	ctx := t.Context()
	s := st.PoolStats()
	if want := int64(1 + max(4, runtime.GOMAXPROCS(0))); s.MaxConns != want || s.HasAcquires || s.InUse != 0 || s.Idle != 2 {
		t.Fatalf("after open: %+v; want max %d, 2 idle (one per pool), acquisitions not counted", s, want)
	}
	held, err := st.w.Conn(ctx) // the only writer connection
	if err != nil {
		t.Fatal(err)
	}
	if s := st.PoolStats(); s.InUse != 1 || s.Idle != 1 {
		t.Fatalf("writer held: %+v; want 1 in use, 1 idle", s)
	}
	got := make(chan error, 1)
	go func() {
		c, err := st.w.Conn(ctx) // queues behind held
		if err == nil {
			c.Close()
		}
		got <- err
	}()
	// database/sql counts a wait when it starts; release the writer only
	// then, so that the second request really waited.
	for deadline := time.Now().Add(30 * time.Second); st.PoolStats().AcquireWaits == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second writer request never waited")
		}
	}
	held.Close()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if s := st.PoolStats(); s.AcquireWaits != 1 || s.AcquireWait <= 0 || s.InUse != 0 {
		t.Fatalf("after the queued writer: %+v; want 1 wait with its time, none in use", s)
	}
}
