package retention

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/store"
)

// fakeStore holds a number of old rows per kind and deletes them batch by
// batch; it records the cutoffs asked for.
type fakeStore struct {
	rows      map[store.HistoryKind]int64
	cutoffs   map[store.HistoryKind]time.Time
	calls     int
	locked    bool // another server holds the lock
	held      bool
	ensured   time.Time
	failAfter int // PruneHistory fails from this call on; 0: never
}

func (f *fakeStore) PruneHistory(_ context.Context, kind store.HistoryKind, before time.Time, limit int) (int64, error) {
	f.calls++
	if !f.held {
		return 0, errors.New("pruned without the lock")
	}
	if f.failAfter > 0 && f.calls >= f.failAfter {
		return 0, errors.New("database went away")
	}
	f.cutoffs[kind] = before
	n := min(f.rows[kind], int64(limit))
	f.rows[kind] -= n
	return n, nil
}

func (f *fakeStore) EnsurePartitions(_ context.Context, now time.Time) error {
	f.ensured = now
	return nil
}

func (f *fakeStore) TryLockRetention(context.Context) (func(), bool, error) {
	if f.locked {
		return nil, false, nil
	}
	f.held = true
	return func() { f.held = false }, true, nil
}

var now = time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)

func TestOnce(t *testing.T) {
	m := metrics.New("test")
	f := &fakeStore{rows: map[store.HistoryKind]int64{store.HistoryChanges: 25, store.HistoryAudit: 10, store.HistoryAlerts: 7},
		cutoffs: map[store.HistoryKind]time.Time{}}
	day := 24 * time.Hour
	deleted, err := Once(t.Context(), Config{Store: f, Metrics: m, BatchSize: 10, Pause: -1,
		Now:  func() time.Time { return now },
		Keep: Keep(400*day, 400*day, 0, 90*day, 30*day)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[store.HistoryKind]int64{store.HistoryChanges: 25, store.HistoryTransitions: 0, store.HistoryNotifications: 0, store.HistoryAudit: 10}
	if len(deleted) != len(want) {
		t.Errorf("deleted %v, want %v", deleted, want)
	}
	for k, n := range want {
		if deleted[k] != n {
			t.Errorf("deleted %d %s, want %d", deleted[k], k, n)
		}
	}
	// Alerts are kept forever (0): never asked, their rows stay.
	if _, asked := f.cutoffs[store.HistoryAlerts]; asked || f.rows[store.HistoryAlerts] != 7 {
		t.Errorf("alerts kept forever were pruned")
	}
	if got := f.cutoffs[store.HistoryAudit]; !got.Equal(now.Add(-30 * day)) {
		t.Errorf("audit cutoff %v, want 30 days back", got)
	}
	// 25 changes in batches of 10: 10, 10, 5; 10 audit rows: 10, then 0.
	// Transitions and notifications: one empty batch each.
	if f.calls != 3+2+2 {
		t.Errorf("%d batches, want 7", f.calls)
	}
	if !f.ensured.Equal(now) || f.held {
		t.Errorf("partitions ensured for %v (want %v), lock still held %v", f.ensured, now, f.held)
	}
	if got := testutil.ToFloat64(m.RetentionDeleted.WithLabelValues("changes")); got != 25 {
		t.Errorf("deleted changes counter %v, want 25", got)
	}
	if got := testutil.ToFloat64(m.RetentionRuns.WithLabelValues("ok")); got != 1 {
		t.Errorf("ok runs %v, want 1", got)
	}
}

func TestOnceLockedElsewhere(t *testing.T) {
	m := metrics.New("test")
	f := &fakeStore{locked: true, rows: map[store.HistoryKind]int64{store.HistoryAudit: 10}, cutoffs: map[store.HistoryKind]time.Time{}}
	deleted, err := Once(t.Context(), Config{Store: f, Metrics: m, Keep: Keep(0, 0, 0, 0, time.Hour)})
	if err != nil || deleted != nil || f.calls != 0 {
		t.Errorf("locked elsewhere: deleted %v, err %v, %d batches; want nothing done", deleted, err, f.calls)
	}
	if got := testutil.ToFloat64(m.RetentionRuns.WithLabelValues("locked")); got != 1 {
		t.Errorf("locked runs %v, want 1", got)
	}
}

func TestOnceErrorKeepsCount(t *testing.T) {
	m := metrics.New("test")
	f := &fakeStore{failAfter: 3, rows: map[store.HistoryKind]int64{store.HistoryChanges: 100, store.HistoryAudit: 5},
		cutoffs: map[store.HistoryKind]time.Time{}}
	deleted, err := Once(t.Context(), Config{Store: f, Metrics: m, BatchSize: 10, Pause: -1,
		Keep: Keep(time.Hour, 0, 0, 0, time.Hour)})
	if err == nil {
		t.Fatal("no error from a failing store")
	}
	if deleted[store.HistoryChanges] != 20 || f.held {
		t.Errorf("deleted %v, lock held %v; want the 20 changes deleted before the failure, lock released", deleted, f.held)
	}
	if got := testutil.ToFloat64(m.RetentionRuns.WithLabelValues("error")); got != 1 {
		t.Errorf("error runs %v, want 1", got)
	}
}

// TestPauseStopsOnShutdown pins that a run waiting between two batches
// ends when its context does.
func TestPauseStopsOnShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	f := &fakeStore{rows: map[store.HistoryKind]int64{store.HistoryAudit: 1000}, cutoffs: map[store.HistoryKind]time.Time{}}
	cancel()
	_, err := Once(ctx, Config{Store: f, BatchSize: 10, Pause: time.Hour, Keep: Keep(0, 0, 0, 0, time.Hour)})
	if !errors.Is(err, context.Canceled) || f.calls != 1 {
		t.Errorf("after shutdown: err %v after %d batches, want canceled after 1", err, f.calls)
	}
}
