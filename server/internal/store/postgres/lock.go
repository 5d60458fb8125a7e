package postgres

import (
	"context"
	"fmt"
	"time"
)

// evaluationLockKey names the advisory lock alert evaluation holds; an
// arbitrary constant ("stew" "arde" in ASCII) no other code uses.
const evaluationLockKey int64 = 0x73746577_61726465

// LockEvaluation waits for the alert evaluation lock and holds it until
// release is called, so that evaluation passes of several server replicas
// sharing the database never overlap: a pass reads, then writes what it
// read, and two passes interleaved could write a stale view over a fresh
// one. It is a session lock on a connection of its own, which PostgreSQL
// frees by itself if the process dies.
func (s *Store) LockEvaluation(ctx context.Context) (release func(), err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("evaluation lock: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, evaluationLockKey); err != nil {
		conn.Release()
		return nil, fmt.Errorf("evaluation lock: %w", err)
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, evaluationLockKey); err != nil {
			// Closing the session is what frees the lock then.
			_ = conn.Conn().Close(uctx)
		}
		conn.Release()
	}, nil
}
