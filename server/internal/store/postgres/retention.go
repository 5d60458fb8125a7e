package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
)

// retentionLockKey names the advisory lock one retention run holds.
const retentionLockKey int64 = 0x5374_6577_0003

// partitionLockTimeout bounds how long creating or dropping a partition
// waits for its table lock. Dropping needs the parent table exclusively;
// waiting longer would queue every ingest transaction behind the drop, so
// the drop gives up and the next run tries again.
const partitionLockTimeout = "1s"

// monthsAhead is how many months past the current one get partitions.
const monthsAhead = 2

// partitioned names the time column of the histories kept in monthly
// partitions (migration 0017).
var partitioned = map[store.HistoryKind]struct{ table, col string }{
	store.HistoryChanges:     {"host_changes", "first_seen"},
	store.HistoryTransitions: {"result_transitions", "at"},
}

// pruneSQL deletes one batch of the unpartitioned histories, oldest
// first: $1 is the cutoff, $2 the batch size. A resolved alert with a
// notification still pending stays until the outbox is done with it.
var pruneSQL = map[store.HistoryKind]string{
	store.HistoryAlerts: `DELETE FROM alerts WHERE id = ANY(ARRAY(
		SELECT a.id FROM alerts a WHERE a.state = 'resolved' AND a.resolved_at < $1
		AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.alert_id = a.id AND n.state = 'pending')
		ORDER BY a.resolved_at LIMIT $2))`,
	store.HistoryNotifications: `DELETE FROM notifications WHERE id = ANY(ARRAY(
		SELECT id FROM notifications WHERE state <> 'pending' AND created_at < $1 ORDER BY created_at LIMIT $2))`,
	store.HistoryAudit: `DELETE FROM audit_log WHERE id = ANY(ARRAY(
		SELECT id FROM audit_log WHERE at < $1 ORDER BY at LIMIT $2))`,
}

// PruneHistory deletes kind's rows older than before. For the partitioned
// histories it first drops every monthly partition that ends at or before
// before, then deletes one batch from the partitions that still hold
// older rows: the one before the first month, the month that straddles
// before and, rarely, the one after the last month.
func (s *Store) PruneHistory(ctx context.Context, kind store.HistoryKind, before time.Time, limit int) (int64, error) {
	if limit < 1 {
		return 0, fmt.Errorf("prune %s: limit %d must be at least 1", kind, limit)
	}
	if p, ok := partitioned[kind]; ok {
		n, err := s.prunePartitioned(ctx, p.table, p.col, before.UTC(), limit)
		if err != nil {
			return n, fmt.Errorf("prune %s: %w", kind, err)
		}
		return n, nil
	}
	q, ok := pruneSQL[kind]
	if !ok {
		return 0, fmt.Errorf("prune history: unknown kind %q", kind)
	}
	tag, err := s.pool.Exec(ctx, q, before, limit)
	if err != nil {
		return 0, fmt.Errorf("prune %s: %w", kind, err)
	}
	return tag.RowsAffected(), nil
}

// partitions is how a partitioned history is split (migration 0017):
// old holds everything before the first month, future everything after
// the last; months are in order and contiguous.
type partitions struct {
	old, future string
	months      []month
}

// month is one monthly partition.
type month struct {
	name  string
	start time.Time // first instant of its UTC month
}

func (m month) end() time.Time { return m.start.AddDate(0, 1, 0) }

// listPartitions reads table's partitions from the catalog by name.
func (s *Store) listPartitions(ctx context.Context, table string) (partitions, error) {
	rows, _ := s.pool.Query(ctx, `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass ORDER BY c.relname`, table)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return partitions{}, fmt.Errorf("list partitions: %w", err)
	}
	p := partitions{}
	for _, name := range names {
		switch suffix := strings.TrimPrefix(name, table+"_"); suffix {
		case "old":
			p.old = name
		case "future":
			p.future = name
		default:
			if start, err := time.Parse("p200601", suffix); err == nil {
				p.months = append(p.months, month{name: name, start: start})
			}
		}
	}
	if p.old == "" || p.future == "" || len(p.months) == 0 {
		return partitions{}, fmt.Errorf("partitions of %s: %v, want %s_old, months and %s_future", table, names, table, table)
	}
	return p, nil
}

func (s *Store) prunePartitioned(ctx context.Context, table, col string, before time.Time, limit int) (int64, error) {
	p, err := s.listPartitions(ctx, table)
	if err != nil {
		return 0, err
	}
	var expired []month
	for _, m := range p.months {
		if m.end().After(before) {
			break
		}
		expired = append(expired, m)
	}
	// The last month always stays, so that the old partition ends where
	// a month begins.
	if len(expired) == len(p.months) {
		expired = expired[:len(expired)-1]
	}
	total, err := s.dropMonths(ctx, table, p.old, expired)
	if err != nil {
		return 0, err
	}
	// What is left older than before: the old partition, the month that
	// straddles before, and the future partition if before is past the
	// last month.
	partial := []string{p.old}
	for _, m := range p.months[len(expired):] {
		if m.start.Before(before) {
			partial = append(partial, m.name)
		}
	}
	if !p.months[len(p.months)-1].end().After(before) {
		partial = append(partial, p.future)
	}
	left := limit
	for _, name := range partial {
		if left == 0 {
			break
		}
		// ctid lists keep the delete to tuple fetches in this one
		// partition; history rows are never updated, so the ids hold.
		id := pgx.Identifier{name}.Sanitize()
		tag, err := s.pool.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE ctid = ANY(ARRAY(
			SELECT ctid FROM %s WHERE %s < $1 LIMIT $2))`, id, id, pgx.Identifier{col}.Sanitize()), before, left)
		if err != nil {
			return total, fmt.Errorf("delete from %s: %w", name, err)
		}
		total += tag.RowsAffected()
		left -= int(tag.RowsAffected())
	}
	return total, nil
}

// dropMonths drops the oldest months, whose rows are all past retention,
// and returns how many rows they held. The old partition is detached and
// attached again ending where the first month left begins, so that every
// time still has a partition: a row of a host whose clock is far behind
// must not fail its ingest transaction.
func (s *Store) dropMonths(ctx context.Context, table, old string, months []month) (int64, error) {
	if len(months) == 0 {
		return 0, nil
	}
	parent, oldID := pgx.Identifier{table}.Sanitize(), pgx.Identifier{old}.Sanitize()
	// Rows are counted before the parent is locked: a count of a month
	// takes a while, and ingest must not wait for it. A row that a host
	// with a clock far behind adds meanwhile goes uncounted.
	var total int64
	for _, m := range months {
		var n int64
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{m.name}.Sanitize()).Scan(&n); err != nil {
			return 0, fmt.Errorf("count %s: %w", m.name, err)
		}
		total += n
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+partitionLockTimeout+`'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `ALTER TABLE `+parent+` DETACH PARTITION `+oldID); err != nil {
			return err
		}
		for _, m := range months {
			if _, err := tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{m.name}.Sanitize()); err != nil {
				return err
			}
		}
		// The bound is a literal: DDL takes no parameters.
		bound := months[len(months)-1].end().Format("2006-01-02 15:04:05Z07:00")
		_, err := tx.Exec(ctx, `ALTER TABLE `+parent+` ATTACH PARTITION `+oldID+
			` FOR VALUES FROM (MINVALUE) TO ('`+bound+`')`)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("drop partitions of %s: %w", table, err)
	}
	return total, nil
}

// EnsurePartitions creates the partitioned histories' months up to
// monthsAhead past now's, each history in its own short transaction.
func (s *Store) EnsurePartitions(ctx context.Context, now time.Time) error {
	now = now.UTC()
	upto := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, monthsAhead, 0)
	for _, kind := range []store.HistoryKind{store.HistoryChanges, store.HistoryTransitions} {
		p := partitioned[kind]
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+partitionLockTimeout+`'`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `SELECT history_extend($1, $2, $3)`, p.table, p.col, upto)
			return err
		})
		if err != nil {
			return fmt.Errorf("create partitions of %s: %w", p.table, err)
		}
	}
	return nil
}

// TryLockRetention takes the retention advisory lock without waiting, as
// a session lock on a connection of its own, which PostgreSQL frees by
// itself if the process dies.
func (s *Store) TryLockRetention(ctx context.Context) (func(), bool, error) {
	return s.tryAdvisoryLock(ctx, retentionLockKey, "retention")
}
