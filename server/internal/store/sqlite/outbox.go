package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

const notificationColumns = `id, alert_id, receiver, event, state, attempts, created_at, next_attempt_at,
	sent_at, last_error, last_status, event_at`

func scanNotification(row scanner, extra ...any) (store.Notification, error) {
	var (
		n                            store.Notification
		created, next, sent, eventAt sql.NullInt64
	)
	dest := []any{&n.ID, &n.AlertID, &n.Receiver, &n.Event, &n.State, &n.Attempts, &created, &next,
		&sent, &n.LastError, &n.LastStatus, &eventAt}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return n, err
	}
	n.CreatedAt, n.SentAt, n.At = fromNanos(created), fromNanos(sent), fromNanos(eventAt)
	if n.State == store.NotificationPending {
		n.NextAttemptAt = fromNanos(next)
	}
	return n, nil
}

// ClaimNotifications claims due rows and commits the claim before
// returning. SQLite has one writer, so the claim needs no row locks; a
// row waits while an older row of the same alert and receiver is
// pending, so events reach a receiver in order.
func (s *Store) ClaimNotifications(ctx context.Context, c store.NotificationClaim) ([]store.ClaimedNotification, error) {
	now := nowOr(c.Now)
	skip := c.Skip
	if skip == nil {
		skip = []string{}
	}
	var out []store.ClaimedNotification
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE notifications SET claimed_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT d.id FROM notifications d
			      WHERE d.state = 'pending' AND d.next_attempt_at <= ?
			        AND (d.claimed_until IS NULL OR d.claimed_until < ?)
			        AND d.receiver NOT IN (SELECT value FROM json_each(?))
			        AND NOT EXISTS (SELECT 1 FROM notifications p WHERE p.alert_id = d.alert_id
			                        AND p.receiver = d.receiver AND p.id < d.id AND p.state = 'pending')
			      ORDER BY d.next_attempt_at, d.id LIMIT ?)
			RETURNING `+notificationColumns,
			now.Add(c.Lease).UnixNano(), now.UnixNano(), now.UnixNano(), stringsJSON(skip), max(c.Limit, 1))
		if err != nil {
			return err
		}
		var claimed []store.Notification
		for rows.Next() {
			n, err := scanNotification(rows)
			if err != nil {
				rows.Close()
				return err
			}
			claimed = append(claimed, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		alerts := map[int64]store.Alert{}
		for _, n := range claimed {
			if _, ok := alerts[n.AlertID]; ok {
				continue
			}
			a, err := scanAlert(tx.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = ?`, n.AlertID))
			if err != nil {
				return fmt.Errorf("alert %d: %w", n.AlertID, err)
			}
			alerts[n.AlertID] = a
		}
		for _, n := range claimed {
			out = append(out, store.ClaimedNotification{Notification: n, Alert: alerts[n.AlertID]})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	// RETURNING gives rows in no promised order.
	slices.SortFunc(out, func(a, b store.ClaimedNotification) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func stringsJSON(ss []string) string {
	raw, _ := json.Marshal(ss) // strings always encode
	return string(raw)
}

// RecordOutcomes stores delivery results; an outcome whose claim token
// (attempts) no longer matches is ignored.
func (s *Store) RecordOutcomes(ctx context.Context, outs []store.NotificationOutcome) (int, error) {
	for _, o := range outs {
		if !store.ValidOutcomeState(o.State) {
			return 0, fmt.Errorf("record outcomes: notification %d: invalid state %q", o.ID, o.State)
		}
	}
	applied := 0
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		applied = 0
		for _, o := range outs {
			at := nowOr(o.At).UnixNano()
			var sent, next any
			if o.State == store.NotificationSent {
				sent = at
			}
			if o.State == store.NotificationPending {
				next = nowOr(o.NextAttemptAt).UnixNano()
			}
			res, err := tx.ExecContext(ctx, `UPDATE notifications SET state = ?, claimed_until = NULL,
					sent_at = COALESCE(?, sent_at), next_attempt_at = COALESCE(?, next_attempt_at),
					last_error = ?, last_status = ?
				WHERE id = ? AND attempts = ? AND state = 'pending'`,
				o.State, sent, next, store.CutError(o.Error), o.Status, o.ID, o.Attempts)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			applied += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("record outcomes: %w", err)
	}
	return applied, nil
}

// ListNotifications returns one page of outbox rows, newest first.
func (s *Store) ListNotifications(ctx context.Context, q store.NotificationQuery) ([]store.Notification, error) {
	where, args := []string{`1`}, []any{}
	if q.Receiver != "" {
		where, args = append(where, `receiver = ?`), append(args, q.Receiver)
	}
	if q.State != "" {
		where, args = append(where, `state = ?`), append(args, q.State)
	}
	if q.AlertID != 0 {
		where, args = append(where, `alert_id = ?`), append(args, q.AlertID)
	}
	if q.BeforeID > 0 {
		where, args = append(where, `id < ?`), append(args, q.BeforeID)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE `+
		strings.Join(where, ` AND `)+` ORDER BY id DESC LIMIT ?`, append(args, limitOrDefault(q.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	defer rows.Close()
	out := []store.Notification{}
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// NotificationCounts counts pending and dead rows by receiver.
func (s *Store) NotificationCounts(ctx context.Context) ([]store.NotificationCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT receiver, state, count(*) FROM notifications
		WHERE state IN ('pending', 'dead') GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("notification counts: %w", err)
	}
	defer rows.Close()
	out := []store.NotificationCount{}
	for rows.Next() {
		var c store.NotificationCount
		if err := rows.Scan(&c.Receiver, &c.State, &c.Count); err != nil {
			return nil, fmt.Errorf("notification counts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

const silenceColumns = `id, matchers, comment, created_by, created_at, starts_at, ends_at, expired_at, expired_by`

func scanSilence(row scanner) (store.Silence, error) {
	var (
		sl                               store.Silence
		matchers                         string
		created, starts, ends, expiredAt sql.NullInt64
	)
	if err := row.Scan(&sl.ID, &matchers, &sl.Comment, &sl.CreatedBy, &created, &starts, &ends, &expiredAt, &sl.ExpiredBy); err != nil {
		return sl, err
	}
	sl.CreatedAt, sl.StartsAt, sl.EndsAt, sl.ExpiredAt = fromNanos(created), fromNanos(starts), fromNanos(ends), fromNanos(expiredAt)
	var err error
	sl.Matchers, err = store.DecodeMatchers(matchers)
	return sl, err
}

// AddSilence stores a silence and audits it.
func (s *Store) AddSilence(ctx context.Context, sl store.Silence) (int64, error) {
	sl, matchers, err := store.PrepareSilence(sl)
	if err != nil {
		return 0, fmt.Errorf("add silence: %w", err)
	}
	sl.CreatedBy, sl.Comment = clean(sl.CreatedBy), clean(sl.Comment)
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO silences (matchers, comment, created_by, created_at, starts_at, ends_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, matchers, sl.Comment, sl.CreatedBy,
			sl.CreatedAt.UnixNano(), sl.StartsAt.UnixNano(), sl.EndsAt.UnixNano()).Scan(&sl.ID); err != nil {
			return err
		}
		return audit(ctx, tx, sl.CreatedAt, sl.CreatedBy, store.AuditSilenceAdded, fmt.Sprint(sl.ID), sl)
	})
	if err != nil {
		return 0, fmt.Errorf("add silence: %w", err)
	}
	return sl.ID, nil
}

// GetSilence returns one silence.
func (s *Store) GetSilence(ctx context.Context, id int64) (store.Silence, error) {
	sl, err := scanSilence(s.r.QueryRowContext(ctx, `SELECT `+silenceColumns+` FROM silences WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return sl, fmt.Errorf("get silence %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return sl, fmt.Errorf("get silence %d: %w", id, err)
	}
	return sl, nil
}

// ListSilences returns one page of silences, newest first.
func (s *Store) ListSilences(ctx context.Context, q store.SilenceQuery) ([]store.Silence, error) {
	where, args := []string{`1`}, []any{}
	if !q.All {
		where, args = append(where, `expired_at IS NULL AND ends_at > ?`), append(args, nowOr(q.At).UnixNano())
	}
	if q.BeforeID > 0 {
		where, args = append(where, `id < ?`), append(args, q.BeforeID)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+silenceColumns+` FROM silences WHERE `+strings.Join(where, ` AND `)+
		` ORDER BY id DESC LIMIT ?`, append(args, limitOrDefault(q.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	defer rows.Close()
	out := []store.Silence{}
	for rows.Next() {
		sl, err := scanSilence(rows)
		if err != nil {
			return nil, fmt.Errorf("list silences: %w", err)
		}
		out = append(out, sl)
	}
	return out, rows.Err()
}

// ExpireSilence ends a silence now and audits it.
func (s *Store) ExpireSilence(ctx context.Context, id int64, actor string, at time.Time) error {
	at = nowOr(at)
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		sl, err := scanSilence(tx.QueryRowContext(ctx, `SELECT `+silenceColumns+` FROM silences WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("silence %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if !sl.ExpiredAt.IsZero() || !at.Before(sl.EndsAt) {
			return fmt.Errorf("silence %d has ended: %w", id, store.ErrConflict)
		}
		sl.ExpiredAt, sl.ExpiredBy = at, clean(actor)
		if _, err := tx.ExecContext(ctx, `UPDATE silences SET expired_at = ?, expired_by = ? WHERE id = ?`,
			at.UnixNano(), sl.ExpiredBy, id); err != nil {
			return err
		}
		return audit(ctx, tx, at, actor, store.AuditSilenceExpired, fmt.Sprint(id), sl)
	})
	if err != nil {
		return fmt.Errorf("expire silence: %w", err)
	}
	return nil
}
