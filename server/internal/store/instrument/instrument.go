// Package instrument wraps a store.Store so that every operation is timed
// into steward_store_operation_duration_seconds{operation} and its
// failures counted in steward_store_operation_errors_total{operation},
// where the operation is the name of the store method called.
//
// The wrapper does not embed store.Store: each method is written out (by
// wrapgen, from the store package's source), so a method added to the
// store is a compile error here until it is wrapped too. Optional
// capabilities a backend has beyond store.Store (the interfaces below
// marked //instrument:optional) are forwarded, timed, when and only when
// the wrapped store has them, so type assertions on the wrapper answer as
// they would on the store.
package instrument

//go:generate go run ./internal/wrapgen

import (
	"context"
	"errors"
	"time"

	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/store"
)

// Wrap returns st with its operations measured in m.
func Wrap(st store.Store, m *metrics.Metrics) store.Store {
	return withOptional(&wrapper{inner: st, m: m})
}

// wrapper is the measuring store.Store; its methods are in wrap_gen.go.
type wrapper struct {
	inner store.Store
	m     *metrics.Metrics
}

// The compiler checks that wrap_gen.go wraps every method: after a change
// to store.Store, run go generate in this directory.
var _ store.Store = (*wrapper)(nil)

// observe records one call of op that started at start and ended with
// *err. It is deferred by every timed method, so it sees the error the
// method returns. The operation's error series is created on its first
// call, so that an error ratio has both sides from then on.
func (w *wrapper) observe(ctx context.Context, op string, start time.Time, err *error) {
	w.m.StoreDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	errs := w.m.StoreErrors.WithLabelValues(op)
	if failed(ctx, *err) {
		errs.Inc()
	}
}

// failed tells failures from answers: a row that does not exist, a
// write that contradicts what is stored, or a retired host's key is an
// answer (store.ErrNotFound, ErrConflict, ErrRetired), and a call whose caller went away (its
// context canceled: an agent disconnected, the server is stopping) says
// nothing about the database. A deadline that expired does count: the
// database was too slow.
func failed(ctx context.Context, err error) bool {
	switch {
	case err == nil, errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict),
		errors.Is(err, store.ErrRetired), errors.Is(err, context.Canceled):
		return false
	case errors.Is(ctx.Err(), context.Canceled):
		// Drivers do not always wrap the context's error.
		return false
	}
	return true
}

// evaluationLocker is what the PostgreSQL store offers so that server
// replicas sharing a database never evaluate alerts at once (package
// alerting asserts it). Its time includes waiting for another replica's
// pass to end.
//
//instrument:optional
type evaluationLocker interface {
	LockEvaluation(ctx context.Context) (release func(), err error)
}

// softwareCounter reads a catalog row's host count; both backends provide
// it and the storetest contract asserts it.
//
//instrument:optional
type softwareCounter interface {
	SoftwareHostCount(ctx context.Context, softwareID int64) (int64, error)
}

// namedLocker is what the PostgreSQL store offers so that periodic work
// runs on one server replica at a time (cluster.Exclusive asserts it).
// Its time is one lock attempt: it never waits for the holder.
//
//instrument:optional
type namedLocker interface {
	TryLockNamed(ctx context.Context, name string) (release func(), ok bool, err error)
}
