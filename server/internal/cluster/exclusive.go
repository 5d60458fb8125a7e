package cluster

import "context"

// Locker takes named locks shared by every replica; the PostgreSQL store
// provides it.
type Locker interface {
	// TryLockNamed takes the lock if no one holds it; ok is false when
	// another replica does.
	TryLockNamed(ctx context.Context, name string) (release func(), ok bool, err error)
}

// Exclusive runs fn unless another replica is running work of the same
// name, and reports whether it ran. Periodic work (a retention pass, say)
// calls it on each tick, so that the replicas take turns and one that
// stops hands the work on at the next tick. With a nil Locker (the SQLite
// store, one process by construction) fn always runs.
func Exclusive(ctx context.Context, l Locker, name string, fn func(ctx context.Context) error) (ran bool, err error) {
	if l == nil {
		return true, fn(ctx)
	}
	release, ok, err := l.TryLockNamed(ctx, name)
	if err != nil || !ok {
		return false, err
	}
	defer release()
	return true, fn(ctx)
}

// LockerOf returns st's Locker, or nil when st has none.
func LockerOf(st any) Locker {
	l, _ := st.(Locker)
	return l
}
