package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// pruneSQL deletes one batch of each history, oldest first: ? is the
// cutoff in unix nanoseconds, then the batch size. A resolved alert with
// a notification still pending stays until the outbox is done with it.
var pruneSQL = map[store.HistoryKind]string{
	store.HistoryChanges: `DELETE FROM host_changes WHERE id IN (
		SELECT id FROM host_changes WHERE first_seen < ? ORDER BY first_seen LIMIT ?)`,
	store.HistoryTransitions: `DELETE FROM result_transitions WHERE id IN (
		SELECT id FROM result_transitions WHERE at < ? ORDER BY at LIMIT ?)`,
	store.HistoryAlerts: `DELETE FROM alerts WHERE id IN (
		SELECT a.id FROM alerts a WHERE a.state = 'resolved' AND a.resolved_at < ?
		AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.alert_id = a.id AND n.state = 'pending')
		ORDER BY a.resolved_at LIMIT ?)`,
	store.HistoryNotifications: `DELETE FROM notifications WHERE id IN (
		SELECT id FROM notifications WHERE state <> 'pending' AND created_at < ? ORDER BY created_at LIMIT ?)`,
	store.HistoryAudit: `DELETE FROM audit_log WHERE id IN (
		SELECT id FROM audit_log WHERE at < ? ORDER BY at LIMIT ?)`,
}

// PruneHistory deletes one batch of kind's rows older than before in one
// write transaction, so ingest waits at most one batch for the writer.
func (s *Store) PruneHistory(ctx context.Context, kind store.HistoryKind, before time.Time, limit int) (int64, error) {
	q, ok := pruneSQL[kind]
	if !ok {
		return 0, fmt.Errorf("prune history: unknown kind %q", kind)
	}
	if limit < 1 {
		return 0, fmt.Errorf("prune %s: limit %d must be at least 1", kind, limit)
	}
	var n int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, before.UnixNano(), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune %s: %w", kind, err)
	}
	return n, nil
}

// EnsurePartitions does nothing: SQLite tables have no partitions.
func (s *Store) EnsurePartitions(context.Context, time.Time) error { return nil }

// TryLockRetention always succeeds: one process owns a SQLite file, and
// its single writer connection already serialises the batches.
func (s *Store) TryLockRetention(context.Context) (func(), bool, error) {
	return func() {}, true, nil
}
