package postgres

import (
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steward-project/steward/server/internal/store"
)

// PoolStats reads pgxpool's counters; see store.Store. Connections being
// established count in neither InUse nor Idle. AcquireWaits is pgxpool's
// EmptyAcquireCount: successful acquisitions that found no idle
// connection and waited, for one to be released or for a new one to be
// connected. AcquireWait is its EmptyAcquireWaitTime, the time those
// acquisitions waited; acquisitions given up (their context ended) are in
// neither.
func (s *Store) PoolStats() store.PoolStats {
	st := s.pool.Stat()
	return store.PoolStats{
		MaxConns:     int64(st.MaxConns()),
		InUse:        int64(st.AcquiredConns()),
		Idle:         int64(st.IdleConns()),
		Acquires:     st.AcquireCount(),
		HasAcquires:  true,
		AcquireWaits: st.EmptyAcquireCount(),
		AcquireWait:  st.EmptyAcquireWaitTime(),
	}
}

// PoolUsers is what shares a server's connection pool, each counted as
// the connections it can hold at once.
type PoolUsers struct {
	IngestWriters int // inventory and heartbeat batch writers
	ResultWriters int // results transactions the agent gateway runs at once
	Evaluator     int // server-side policy evaluation
	AlertWorkers  int // outbox delivery workers
	Background    int // fleet gauges, the alert engine's passes, retired-host sweeps
	API           int // admin API requests answered at once
}

// MinConns is the smallest pool PoolUsers.Conns returns.
const MinConns = 4

// Conns is a pool with a connection for every user, so that a burst of
// ingest or results commits does not make API reads (or the other way
// round) wait for a connection; at least MinConns.
func (u PoolUsers) Conns() int {
	return max(MinConns, u.IngestWriters+u.ResultWriters+u.Evaluator+u.AlertWorkers+u.Background+u.API)
}

// Option changes how Open sets up the pool.
type Option func(*pgxpool.Config, string)

// WithPoolFor sizes the pool for users (PoolUsers.Conns), unless the
// connection string sets pool_max_conns itself, which then wins.
func WithPoolFor(users PoolUsers) Option {
	return func(cfg *pgxpool.Config, dsn string) {
		if strings.Contains(dsn, "pool_max_conns") {
			return
		}
		cfg.MaxConns = int32(users.Conns())
	}
}
