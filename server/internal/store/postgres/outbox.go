package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
)

const notificationColumns = `id, alert_id, receiver, event, state, attempts, created_at, next_attempt_at,
	sent_at, last_error, last_status, event_at`

type notificationRow struct {
	ID            int64
	AlertID       int64
	Receiver      string
	Event         string
	State         string
	Attempts      int
	CreatedAt     time.Time
	NextAttemptAt time.Time
	SentAt        *time.Time
	LastError     string
	LastStatus    int
	EventAt       time.Time
}

func (r notificationRow) notification() store.Notification {
	n := store.Notification{ID: r.ID, AlertID: r.AlertID, Receiver: r.Receiver, Event: r.Event, State: r.State,
		Attempts: r.Attempts, CreatedAt: r.CreatedAt.UTC(), SentAt: utc(r.SentAt), LastError: r.LastError,
		LastStatus: r.LastStatus, At: r.EventAt.UTC()}
	if r.State == store.NotificationPending {
		n.NextAttemptAt = r.NextAttemptAt.UTC()
	}
	return n
}

// ClaimNotifications claims due rows with FOR UPDATE SKIP LOCKED, so
// replicas sharing the database never take the same row, and commits the
// claim before returning. A row waits while an older row of the same
// alert and receiver is pending, so events reach a receiver in order.
//
// The query is written so that its cost follows the claim's size, not the
// number of pending rows, whatever the statistics say (a burst of alerts
// meets statistics from before it):
//   - the older-pending-row check names the state by what it is not, so
//     that it can only be answered well through notifications_alert
//     (alert_id, receiver, id). With p.state = 'pending' the planner may
//     probe notifications_receiver (receiver, state, id) or the partial
//     notifications_due index instead, which walks every pending row of
//     the receiver for each candidate: at 5,000 pending rows a claim took
//     up to 2 s;
//   - the claimed ids are matched with = ANY(ARRAY(...)), a primary key
//     lookup, where a join may hash the whole table.
func (s *Store) ClaimNotifications(ctx context.Context, c store.NotificationClaim) ([]store.ClaimedNotification, error) {
	now := nowOr(c.Now)
	var out []store.ClaimedNotification
	err := s.tx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		rows, _ := tx.Query(ctx, `WITH c AS (
			UPDATE notifications n SET claimed_until = $2, attempts = n.attempts + 1
			WHERE n.id = ANY(ARRAY(SELECT d.id FROM notifications d
			      WHERE d.state = 'pending' AND d.next_attempt_at <= $1
			        AND (d.claimed_until IS NULL OR d.claimed_until < $1)
			        AND d.receiver <> ALL($4::text[])
			        AND NOT EXISTS (SELECT 1 FROM notifications p WHERE p.alert_id = d.alert_id
			                        AND p.receiver = d.receiver AND p.id < d.id
			                        AND p.state NOT IN ('sent', 'dead', 'skipped'))
			      ORDER BY d.next_attempt_at, d.id LIMIT $3
			      FOR UPDATE SKIP LOCKED))
			RETURNING n.`+strings.ReplaceAll(notificationColumns, ", ", ", n.")+`)
			SELECT c.*, `+prefixed("a.", alertColumns)+` FROM c JOIN alerts a ON a.id = c.alert_id ORDER BY c.id`,
			now, now.Add(c.Lease), max(c.Limit, 1), nonNilStrings(c.Skip))
		defer rows.Close()
		for rows.Next() {
			var n notificationRow
			var a alertRow
			if err := rows.Scan(&n.ID, &n.AlertID, &n.Receiver, &n.Event, &n.State, &n.Attempts, &n.CreatedAt,
				&n.NextAttemptAt, &n.SentAt, &n.LastError, &n.LastStatus, &n.EventAt,
				&a.ID, &a.Rule, &a.HostID, &a.Subject, &a.Severity, &a.State, &a.Labels, &a.Annotations,
				&a.StartedAt, &a.AckedAt, &a.AckedBy, &a.AckComment, &a.ResolvedAt, &a.Muted, &a.Notified); err != nil {
				return err
			}
			out = append(out, store.ClaimedNotification{Notification: n.notification(), Alert: a.alert()})
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	return out, nil
}

// prefixed qualifies each column of a column list with p.
func prefixed(p, columns string) string {
	fields := strings.Split(columns, ",")
	for i, f := range fields {
		fields[i] = p + strings.TrimSpace(f)
	}
	return strings.Join(fields, ", ")
}

// RecordOutcomes stores delivery results in one statement; an outcome
// whose claim token (attempts) no longer matches is ignored. The rows are
// found by primary key (n.id = ANY($1)), and the state is named by what it
// is not, as in ClaimNotifications: joined with the unnest alone, or with
// state = 'pending', the planner may read every pending row through
// notifications_due for each write.
func (s *Store) RecordOutcomes(ctx context.Context, outs []store.NotificationOutcome) (int, error) {
	if len(outs) == 0 {
		return 0, nil
	}
	n := len(outs)
	ids, attempts, states := make([]int64, n), make([]int32, n), make([]string, n)
	ats, nexts, errs, statuses := make([]time.Time, n), make([]*time.Time, n), make([]string, n), make([]int32, n)
	for i, o := range outs {
		if !store.ValidOutcomeState(o.State) {
			return 0, fmt.Errorf("record outcomes: notification %d: invalid state %q", o.ID, o.State)
		}
		ids[i], attempts[i], states[i] = o.ID, int32(o.Attempts), o.State
		ats[i], errs[i], statuses[i] = nowOr(o.At), store.CutError(o.Error), int32(o.Status)
		if o.State == store.NotificationPending {
			next := nowOr(o.NextAttemptAt)
			nexts[i] = &next
		}
	}
	tag, err := s.pool.Exec(ctx, `UPDATE notifications n SET state = u.state, claimed_until = NULL,
			sent_at = CASE WHEN u.state = 'sent' THEN u.at ELSE n.sent_at END,
			next_attempt_at = COALESCE(u.next, n.next_attempt_at), last_error = u.err, last_status = u.status
		FROM unnest($1::bigint[], $2::int[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[], $7::int[])
			AS u(id, attempts, state, at, next, err, status)
		WHERE n.id = ANY($1::bigint[]) AND n.id = u.id AND n.attempts = u.attempts
			AND n.state NOT IN ('sent', 'dead', 'skipped')`,
		ids, attempts, states, ats, nexts, errs, statuses)
	if err != nil {
		return 0, fmt.Errorf("record outcomes: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// ListNotifications returns one page of outbox rows, newest first.
func (s *Store) ListNotifications(ctx context.Context, q store.NotificationQuery) ([]store.Notification, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if q.Receiver != "" {
		add(`receiver = $?`, q.Receiver)
	}
	if q.State != "" {
		add(`state = $?`, q.State)
	}
	if q.AlertID != 0 {
		add(`alert_id = $?`, q.AlertID)
	}
	if q.BeforeID > 0 {
		add(`id < $?`, q.BeforeID)
	}
	query := `SELECT ` + notificationColumns + ` FROM notifications`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	args = append(args, limitOrDefault(q.Limit))
	rows, _ := s.pool.Query(ctx, query+` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[notificationRow])
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	out := make([]store.Notification, len(rs))
	for i, r := range rs {
		out[i] = r.notification()
	}
	return out, nil
}

// NotificationCounts counts pending and dead rows by receiver.
func (s *Store) NotificationCounts(ctx context.Context) ([]store.NotificationCount, error) {
	rows, _ := s.pool.Query(ctx, `SELECT receiver, state, count(*) FROM notifications
		WHERE state IN ('pending', 'dead') GROUP BY 1, 2 ORDER BY 1, 2`)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[store.NotificationCount])
	if err != nil {
		return nil, fmt.Errorf("notification counts: %w", err)
	}
	return out, nil
}

const silenceColumns = `id, matchers::text, comment, created_by, created_at, starts_at, ends_at, expired_at, expired_by`

type silenceRow struct {
	ID        int64
	Matchers  string
	Comment   string
	CreatedBy string
	CreatedAt time.Time
	StartsAt  time.Time
	EndsAt    time.Time
	ExpiredAt *time.Time
	ExpiredBy string
}

func (r silenceRow) silence() (store.Silence, error) {
	s := store.Silence{ID: r.ID, Comment: r.Comment, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(),
		StartsAt: r.StartsAt.UTC(), EndsAt: r.EndsAt.UTC(), ExpiredAt: utc(r.ExpiredAt), ExpiredBy: r.ExpiredBy}
	var err error
	s.Matchers, err = store.DecodeMatchers(r.Matchers)
	return s, err
}

// AddSilence stores a silence and audits it.
func (s *Store) AddSilence(ctx context.Context, sl store.Silence) (int64, error) {
	sl, matchers, err := store.PrepareSilence(sl)
	if err != nil {
		return 0, fmt.Errorf("add silence: %w", err)
	}
	sl.CreatedBy, sl.Comment = clean(sl.CreatedBy), clean(sl.Comment)
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO silences (matchers, comment, created_by, created_at, starts_at, ends_at)
			VALUES ($1::json, $2, $3, $4, $5, $6) RETURNING id`,
			matchers, sl.Comment, sl.CreatedBy, sl.CreatedAt, sl.StartsAt, sl.EndsAt).Scan(&sl.ID); err != nil {
			return err
		}
		detail, err := store.SilenceDetail(sl)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		queueAudit(b, sl.CreatedAt, sl.CreatedBy, store.AuditSilenceAdded, strconv.FormatInt(sl.ID, 10), detail)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return 0, fmt.Errorf("add silence: %w", err)
	}
	return sl.ID, nil
}

func getSilence(ctx context.Context, q queryer, id int64, lock string) (store.Silence, error) {
	rows, _ := q.Query(ctx, `SELECT `+silenceColumns+` FROM silences WHERE id = $1`+lock, id)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[silenceRow])
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Silence{}, fmt.Errorf("silence %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Silence{}, err
	}
	return r.silence()
}

// GetSilence returns one silence.
func (s *Store) GetSilence(ctx context.Context, id int64) (store.Silence, error) {
	sl, err := getSilence(ctx, s.pool, id, "")
	if err != nil {
		return sl, fmt.Errorf("get silence: %w", err)
	}
	return sl, nil
}

// ListSilences returns one page of silences, newest first.
func (s *Store) ListSilences(ctx context.Context, q store.SilenceQuery) ([]store.Silence, error) {
	where, args := []string{`true`}, []any{}
	if !q.All {
		args = append(args, nowOr(q.At))
		where = append(where, `expired_at IS NULL AND ends_at > $1`)
	}
	if q.BeforeID > 0 {
		args = append(args, q.BeforeID)
		where = append(where, `id < $`+strconv.Itoa(len(args)))
	}
	args = append(args, limitOrDefault(q.Limit))
	rows, _ := s.pool.Query(ctx, `SELECT `+silenceColumns+` FROM silences WHERE `+strings.Join(where, ` AND `)+
		` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[silenceRow])
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	out := make([]store.Silence, len(rs))
	for i, r := range rs {
		if out[i], err = r.silence(); err != nil {
			return nil, fmt.Errorf("list silences: %w", err)
		}
	}
	return out, nil
}

// ExpireSilence ends a silence now and audits it.
func (s *Store) ExpireSilence(ctx context.Context, id int64, actor string, at time.Time) error {
	at = nowOr(at)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		sl, err := getSilence(ctx, tx, id, ` FOR UPDATE`)
		if err != nil {
			return err
		}
		if !sl.ExpiredAt.IsZero() || !at.Before(sl.EndsAt) {
			return fmt.Errorf("silence %d has ended: %w", id, store.ErrConflict)
		}
		sl.ExpiredAt, sl.ExpiredBy = at, clean(actor)
		detail, err := store.SilenceDetail(sl)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE silences SET expired_at = $2, expired_by = $3 WHERE id = $1`, id, at, sl.ExpiredBy)
		queueAudit(b, at, actor, store.AuditSilenceExpired, strconv.FormatInt(id, 10), detail)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("expire silence: %w", err)
	}
	return nil
}
