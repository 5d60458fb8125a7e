package postgres

import "github.com/steward-project/steward/server/internal/store"

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
