package cluster_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/cluster"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/instrument"
	"github.com/steward-project/steward/server/internal/store/postgres"
	"github.com/steward-project/steward/shared/policy"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// within bounds a wait in these tests; it catches a hang, it measures
// nothing.
const within = 60 * time.Second

func openStore(t *testing.T) (*postgres.Store, string) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	st, err := postgres.Open(t.Context(), dsn, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st, dsn
}

// recorder is a replica's Local that reports each call on calls.
type recorder struct{ calls chan string }

func newRecorder() *recorder { return &recorder{calls: make(chan string, 32)} }

func (r *recorder) local(connected int64) cluster.Local {
	note := func(s string) func() { return func() { r.calls <- s } }
	return cluster.Local{
		PoliciesChanged:   func(context.Context) { r.calls <- "policies" },
		HostGone:          func(id int64) { r.calls <- "gone" },
		SilencesChanged:   note("silences"),
		ExemptionsChanged: note("exemptions"),
		AlertAcked:        note("acked"),
		CheckNow:          func(id int64) bool { return id == connected },
	}
}

func (r *recorder) next(t *testing.T) string {
	t.Helper()
	select {
	case c := <-r.calls:
		return c
	case <-time.After(within):
		t.Fatal("no call")
		return ""
	}
}

// start runs bus until the test ends and waits for it to listen.
func start(t *testing.T, bus *cluster.Bus) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); bus.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-bus.Ready():
	case <-time.After(within):
		t.Fatal("bus not listening")
	}
}

func TestEventsReachTheOtherReplica(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	rec := newRecorder()
	here := cluster.New(cluster.Config{Store: st, Local: rec.local(7)})
	other := cluster.New(cluster.Config{Store: st, Local: newRecorder().local(0), CheckNowWait: 200 * time.Millisecond})
	start(t, here)
	start(t, other)
	ctx := t.Context()

	for _, c := range []struct {
		send func()
		want string
	}{
		{func() { other.PoliciesChanged(ctx, 1) }, "policies"},
		{func() { other.HostGone(ctx, 3) }, "gone"},
		{func() { other.SilencesChanged(ctx) }, "silences"},
		{func() { other.ExemptionsChanged(ctx) }, "exemptions"},
		{func() { other.AlertAcked(ctx) }, "acked"},
		// A replica's own events are not applied again where they
		// started: the one after it arrives first.
		{func() { here.SilencesChanged(ctx); other.ExemptionsChanged(ctx) }, "exemptions"},
	} {
		c.send()
		if got := rec.next(t); got != c.want {
			t.Fatalf("call %q, want %q", got, c.want)
		}
	}

	if !other.CheckNow(ctx, 7) {
		t.Error("check_now of a host connected to the other replica: not delivered")
	}
	if other.CheckNow(ctx, 8) {
		t.Error("check_now of a host connected nowhere: delivered")
	}
}

// TestCatchUpAfterReconnect: a policy change whose notification the
// replica could not have heard (its listening connection was cut) is
// pushed once it listens again.
func TestCatchUpAfterReconnect(t *testing.T) {
	t.Parallel()
	st, dsn := openStore(t)
	rec := newRecorder()
	bus := cluster.New(cluster.Config{Store: st, Local: rec.local(0)})
	start(t, bus)

	// Changed without a notification, as if it had been lost.
	_, err := st.ApplyPolicies(t.Context(), store.PolicyApply{Actor: "test", Policies: []store.PolicySpec{{ExprOnly: true,
		Policy: policy.Policy{ID: "p", Title: "P", Severity: policy.SeverityLow, Platforms: []string{"linux"},
			Check: policy.Check{Expr: "true"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var cut int
	err = conn.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`).Scan(&cut)
	if err != nil || cut != 1 {
		t.Fatalf("cut the listening connection: %d cut, %v", cut, err)
	}
	// The alerting engine's caches are read again too, in any order.
	var got []string
	for _, want := range []string{"policies", "silences", "exemptions"} {
		for !slices.Contains(got, want) {
			got = append(got, rec.next(t))
		}
	}
}

func TestExclusive(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	ctx := t.Context()
	var inner bool
	ran, err := cluster.Exclusive(ctx, st, "job", func(ctx context.Context) error {
		// Another replica trying meanwhile is turned away.
		var err error
		inner, err = cluster.Exclusive(ctx, st, "job", func(context.Context) error { return nil })
		return err
	})
	if !ran || err != nil || inner {
		t.Fatalf("outer ran %v (%v); inner ran %v, want only the outer", ran, err, inner)
	}
	// Released: the next turn runs, and fn's error comes back.
	boom := errors.New("boom")
	ran, err = cluster.Exclusive(ctx, st, "job", func(context.Context) error { return boom })
	if !ran || !errors.Is(err, boom) {
		t.Fatalf("after release: ran %v, err %v", ran, err)
	}
	// The measured store the server hands its parts still locks.
	if cluster.LockerOf(instrument.Wrap(st, metrics.New("test"))) == nil {
		t.Error("the instrumented PostgreSQL store is no Locker")
	}
	// Without a Locker (SQLite) the work always runs.
	ran, err = cluster.Exclusive(ctx, nil, "job", func(context.Context) error { return nil })
	if !ran || err != nil {
		t.Fatalf("nil locker: ran %v, err %v", ran, err)
	}
}
