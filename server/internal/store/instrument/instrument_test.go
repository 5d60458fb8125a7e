package instrument

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/postgres"
	"github.com/steward-project/steward/server/internal/store/sqlite"
	"github.com/steward-project/steward/server/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// observed returns how many calls of op the histogram holds and the
// value of the operation's error counter; exists is false when the
// operation has no series at all.
func observed(t *testing.T, m *metrics.Metrics, op string) (calls uint64, errs float64, exists bool) {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			if len(s.GetLabel()) != 1 || s.GetLabel()[0].GetValue() != op {
				continue
			}
			switch f.GetName() {
			case "steward_store_operation_duration_seconds":
				calls, exists = s.GetHistogram().GetSampleCount(), true
			case "steward_store_operation_errors_total":
				errs = s.GetCounter().GetValue()
			}
		}
	}
	return calls, errs, exists
}

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openPostgres(t *testing.T) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), pgtest.NewDatabase(t), slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// contract runs the store contract on wrapped stores sharing one
// Metrics, then checks that the operations it used were observed and
// that none of its calls counted as a failure.
func contract(t *testing.T, open func(t *testing.T) store.Store) {
	m := metrics.New("test")
	// Subtests run in parallel after this function returns; the check
	// runs once they all have.
	t.Cleanup(func() {
		for _, op := range []string{"Migrate", "Ping", "EnrollHost", "ApplyBatch", "ListChanges", "SoftwareHostCount", "CreateAPIToken"} {
			if calls, _, _ := observed(t, m, op); calls == 0 {
				t.Errorf("operation %s not observed", op)
			}
		}
		// The contract makes calls that answer ErrNotFound, and none
		// that fail.
		if calls, errs, _ := observed(t, m, "GetHost"); calls == 0 || errs != 0 {
			t.Errorf("GetHost: %d calls, %v errors; want calls and no errors", calls, errs)
		}
	})
	storetest.Run(t, func(t *testing.T) store.Store { return Wrap(open(t), m) })
}

// TestContractSQLite: the wrapper is transparent to the store contract.
func TestContractSQLite(t *testing.T) {
	contract(t, func(t *testing.T) store.Store { return openSQLite(t) })
}

// TestContractPostgres: the same on PostgreSQL.
func TestContractPostgres(t *testing.T) {
	contract(t, func(t *testing.T) store.Store { return openPostgres(t) })
}

// The optional interfaces as their users declare them (package alerting
// and the storetest contract), so that this test breaks if the wrapper
// stops satisfying them.
type (
	alertingLocker interface {
		LockEvaluation(ctx context.Context) (release func(), err error)
	}
)

// capabilities reports which optional interfaces st satisfies.
func capabilities(st store.Store) string {
	_, l := st.(alertingLocker)
	_, c := st.(storetest.Counter)
	return fmt.Sprintf("locker=%v counter=%v", l, c)
}

// TestOptionalInterfacesOfBackends: the wrapped PostgreSQL store keeps
// its evaluation lock (so replicas still serialize alert evaluation),
// the wrapped SQLite store does not gain one, and the lock's wait is an
// observed operation.
func TestOptionalInterfacesOfBackends(t *testing.T) {
	m := metrics.New("test")
	pg := openPostgres(t)
	lite := openSQLite(t)
	for _, tc := range []struct {
		name string
		st   store.Store
	}{{"postgres", pg}, {"sqlite", lite}} {
		if got, want := capabilities(Wrap(tc.st, m)), capabilities(tc.st); got != want {
			t.Errorf("%s: wrapped %s, unwrapped %s", tc.name, got, want)
		}
	}
	if _, ok := Wrap(lite, m).(alertingLocker); ok {
		t.Error("the wrapped SQLite store offers an evaluation lock it does not have")
	}
	l, ok := Wrap(pg, m).(alertingLocker)
	if !ok {
		t.Fatal("the wrapped PostgreSQL store lost its evaluation lock")
	}
	release, err := l.LockEvaluation(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	release()
	if calls, _, _ := observed(t, m, "LockEvaluation"); calls != 1 {
		t.Errorf("LockEvaluation observed %d times, want 1", calls)
	}
}

// Pieces of fake stores, one per optional interface.
type (
	fakeLocker  struct{}
	fakeCounter struct{}
)

func (fakeLocker) LockEvaluation(context.Context) (func(), error) { return func() {}, nil }

func (fakeCounter) SoftwareHostCount(context.Context, int64) (int64, error) { return 3, nil }

// TestOptionalInterfacesEveryCombination: whatever subset of the
// optional interfaces a store has, the wrapper has exactly that subset,
// and each forwarded method reaches the store and is timed.
func TestOptionalInterfacesEveryCombination(t *testing.T) {
	var base store.Store // the methods of store.Store are not called here
	for _, st := range []store.Store{
		struct{ store.Store }{base},
		struct {
			store.Store
			fakeLocker
		}{base, fakeLocker{}},
		struct {
			store.Store
			fakeCounter
		}{base, fakeCounter{}},
		struct {
			store.Store
			fakeLocker
			fakeCounter
		}{base, fakeLocker{}, fakeCounter{}},
	} {
		m := metrics.New("test")
		w := Wrap(st, m)
		if got, want := capabilities(w), capabilities(st); got != want {
			t.Errorf("%T: wrapped %s, want %s", st, got, want)
		}
		if c, ok := w.(storetest.Counter); ok {
			if n, err := c.SoftwareHostCount(t.Context(), 1); n != 3 || err != nil {
				t.Errorf("%T: SoftwareHostCount = %d, %v; want the store's 3", st, n, err)
			}
			if calls, _, _ := observed(t, m, "SoftwareHostCount"); calls != 1 {
				t.Errorf("%T: SoftwareHostCount observed %d times, want 1", st, calls)
			}
		}
	}
}

// answering is a store whose GetHost answers err and whose PoolStats
// reports a fixed reading.
type answering struct {
	store.Store
	err error
}

func (a answering) GetHost(context.Context, int64) (store.Host, error) { return store.Host{}, a.err }

func (answering) PoolStats() store.PoolStats { return store.PoolStats{MaxConns: 7, InUse: 2} }

// TestFailures: a row not found and a caller that went away are not
// failures of the store; a database error and an expired deadline are.
func TestFailures(t *testing.T) {
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		err    error
		failed bool
	}{
		{"success", t.Context(), nil, false},
		{"not found", t.Context(), fmt.Errorf("host 5: %w", store.ErrNotFound), false},
		{"canceled error", t.Context(), fmt.Errorf("query: %w", context.Canceled), false},
		{"canceled caller, driver error", canceled, errors.New("interrupted"), false},
		{"database error", t.Context(), errors.New("connection refused"), true},
		{"deadline", t.Context(), fmt.Errorf("query: %w", context.DeadlineExceeded), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := metrics.New("test")
			w := Wrap(answering{err: tc.err}, m)
			if _, err := w.GetHost(tc.ctx, 5); err != tc.err {
				t.Fatalf("GetHost error %v, want the store's %v unchanged", err, tc.err)
			}
			calls, errs, exists := observed(t, m, "GetHost")
			want := 0.0
			if tc.failed {
				want = 1
			}
			if !exists || calls != 1 || errs != want {
				t.Errorf("GetHost: %d calls, %v errors (series exist: %v); want 1 call, %v errors", calls, errs, exists, want)
			}
		})
	}
}

// TestPoolStatsUntimed: PoolStats reads memory; it is forwarded but not
// an operation.
func TestPoolStatsUntimed(t *testing.T) {
	m := metrics.New("test")
	w := Wrap(answering{}, m)
	if got := w.PoolStats(); got.MaxConns != 7 || got.InUse != 2 {
		t.Errorf("PoolStats = %+v, want the store's", got)
	}
	if _, _, exists := observed(t, m, "PoolStats"); exists {
		t.Error("PoolStats is timed as a store operation")
	}
}

// TestClosedStoreFails: calls on a store whose database is gone are
// counted as failures of their operation.
func TestClosedStoreFails(t *testing.T) {
	m := metrics.New("test")
	st := Wrap(openSQLite(t), m)
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Ping(t.Context()); err == nil {
		t.Fatal("ping of a closed store succeeded")
	}
	if calls, errs, _ := observed(t, m, "Ping"); calls != 1 || errs != 1 {
		t.Errorf("Ping: %d calls, %v errors; want 1 and 1", calls, errs)
	}
	if calls, errs, _ := observed(t, m, "Close"); calls != 1 || errs != 0 {
		t.Errorf("Close: %d calls, %v errors; want 1 and 0", calls, errs)
	}
}
