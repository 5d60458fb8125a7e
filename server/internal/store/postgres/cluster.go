package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Notify sends payload on channel to every session listening on it, the
// other server replicas sharing the database included. PostgreSQL
// delivers it when the sending transaction commits; here that is at once.
func (s *Store) Notify(ctx context.Context, channel, payload string) error {
	if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, payload); err != nil {
		return fmt.Errorf("notify %s: %w", channel, err)
	}
	return nil
}

// Listen opens a connection of its own (outside the pool, so that it
// takes no slot from queries), listens on channel and hands each
// notification's payload to handle, in order, until ctx ends or the
// connection fails. ready is called once the LISTEN is in place: a
// notification sent after that reaches handle. Listen returns ctx's error
// or the connection's; the caller decides whether to listen again.
func (s *Store) Listen(ctx context.Context, channel string, ready func(), handle func(payload string)) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("listen %s: connect: %w", channel, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen %s: %w", channel, err)
	}
	if ready != nil {
		ready()
	}
	for {
		n, err := waitNotification(ctx, conn)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return fmt.Errorf("listen %s: %w", channel, err)
		case n != nil:
			handle(n.Payload)
		}
	}
}

// listenIdle is how long a listening connection waits for a notification
// before it pings the database: a connection whose peer vanished without
// closing it (a network partition, a failover) would otherwise wait for
// ever and the replica miss every change until TCP keepalive noticed.
const listenIdle = time.Minute

// waitNotification returns the next notification, or nil after
// listenIdle once a ping showed the connection alive.
func waitNotification(ctx context.Context, conn *pgx.Conn) (*pgconn.Notification, error) {
	wctx, cancel := context.WithTimeout(ctx, listenIdle)
	defer cancel()
	n, err := conn.WaitForNotification(wctx)
	if err == nil || ctx.Err() != nil || wctx.Err() == nil {
		return n, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		return nil, fmt.Errorf("ping: %w", err)
	}
	return nil, nil
}

// TryLockNamed takes the session advisory lock named name if no other
// session holds it (see tryAdvisoryLock).
func (s *Store) TryLockNamed(ctx context.Context, name string) (release func(), ok bool, err error) {
	return s.tryAdvisoryLock(ctx, lockKey(name), name)
}

// tryAdvisoryLock takes the session advisory lock key if no other
// session holds it, on a pooled connection it keeps until release is
// called. ok is false, with a nil release, when another session (another
// replica) holds the lock. PostgreSQL frees the lock by itself when the
// holder's connection ends, so a replica that dies hands the work on.
func (s *Store) tryAdvisoryLock(ctx context.Context, key int64, what string) (release func(), ok bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", what, err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("lock %s: %w", what, err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var unlocked bool
		err := conn.QueryRow(uctx, `SELECT pg_advisory_unlock($1)`, key).Scan(&unlocked)
		if err != nil || !unlocked {
			// Ending the session is what frees the lock then.
			_ = conn.Conn().Close(uctx)
		}
		conn.Release()
	}, true, nil
}

// lockKey turns a lock's name into the 64-bit key PostgreSQL locks on.
// The high byte is fixed so that these keys cannot collide with the
// hand-picked constants of the migration, bootstrap and evaluation locks.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64()&^(0xff<<56) | 0x5c<<56)
}
