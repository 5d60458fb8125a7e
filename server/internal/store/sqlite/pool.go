package sqlite

import (
	"database/sql"

	"github.com/steward-project/steward/server/internal/store"
)

// PoolStats sums database/sql's counters of the writer and the reader
// pools; see store.Store. database/sql does not count acquisitions, so
// HasAcquires is false. AcquireWaits is WaitCount: requests that found
// every allowed connection in use and waited for one to be released
// (opening a new connection below the limit is not a wait), and
// AcquireWait is WaitDuration, their time waiting, including requests
// whose context ended while they waited. With a single writer connection,
// writer waits are writes queueing behind one another.
func (s *Store) PoolStats() store.PoolStats {
	var out store.PoolStats
	for _, db := range []*sql.DB{s.w, s.r} {
		st := db.Stats()
		out.MaxConns += int64(st.MaxOpenConnections)
		out.InUse += int64(st.InUse)
		out.Idle += int64(st.Idle)
		out.AcquireWaits += st.WaitCount
		out.AcquireWait += st.WaitDuration
	}
	return out
}
