package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

const alertColumns = `id, rule, host_id, subject, severity, state, labels, annotations,
	started_at, acked_at, acked_by, ack_comment, resolved_at, muted, notified`

func alertDest(a *store.Alert, labels, annotations *string, started, acked, resolved *sql.NullInt64) []any {
	return []any{&a.ID, &a.Rule, &a.HostID, &a.Subject, &a.Severity, &a.State, labels, annotations,
		started, acked, &a.AckedBy, &a.AckComment, resolved, &a.Muted, &a.Notified}
}

func scanAlert(row scanner, extra ...any) (store.Alert, error) {
	var (
		a                          store.Alert
		labels, annotations        string
		started, acked, resolvedAt sql.NullInt64
	)
	if err := row.Scan(append(alertDest(&a, &labels, &annotations, &started, &acked, &resolvedAt), extra...)...); err != nil {
		return a, err
	}
	a.Labels, a.Annotations = store.DecodeStringMap(labels), store.DecodeStringMap(annotations)
	a.StartedAt, a.AckedAt, a.ResolvedAt = fromNanos(started), fromNanos(acked), fromNanos(resolvedAt)
	return a, nil
}

func queryAlerts(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]store.Alert, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Alert{}
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// queueEvent writes one outbox row per receiver, in order.
func queueEvent(ctx context.Context, tx *sql.Tx, alertID int64, event string, receivers []string, eventAt, now time.Time) (int, error) {
	for _, r := range receivers {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notifications
			(alert_id, receiver, event, state, created_at, event_at, next_attempt_at) VALUES (?, ?, ?, 'pending', ?, ?, ?)`,
			alertID, r, event, now.UnixNano(), eventAt.UnixNano(), now.UnixNano()); err != nil {
			return 0, err
		}
	}
	return len(receivers), nil
}

// triggerReceivers lists the receivers an alert's trigger was written
// for, in the order they were written.
func triggerReceivers(ctx context.Context, tx *sql.Tx, alertID int64) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT receiver FROM notifications WHERE alert_id = ? AND event = 'trigger'
		GROUP BY receiver ORDER BY min(id)`, alertID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ApplyAlertChanges commits one reconciliation step and its outbox rows in
// one transaction.
func (s *Store) ApplyAlertChanges(ctx context.Context, c store.AlertChanges) (store.AlertChangeResult, error) {
	at := nowOr(c.At)
	var res store.AlertChangeResult
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res = store.AlertChangeResult{}
		for _, o := range c.Open {
			a, err := scanAlert(tx.QueryRowContext(ctx, `INSERT INTO alerts
				(rule, host_id, subject, severity, state, labels, annotations, started_at, muted, notified)
				VALUES (?, ?, ?, ?, 'firing', ?, ?, ?, ?, ?)
				ON CONFLICT (rule, host_id, subject) WHERE state <> 'resolved' DO NOTHING
				RETURNING `+alertColumns,
				clean(o.Spec.Rule), o.Spec.HostID, clean(o.Spec.Subject), o.Spec.Severity,
				store.EncodeStringMap(o.Spec.Labels), store.EncodeStringMap(o.Spec.Annotations),
				at.UnixNano(), o.Muted, !o.Muted))
			if errors.Is(err, sql.ErrNoRows) {
				continue // the episode is open already
			}
			if err != nil {
				return err
			}
			if !o.Muted {
				n, err := queueEvent(ctx, tx, a.ID, store.EventTrigger, o.Receivers, at, at)
				if err != nil {
					return err
				}
				res.Notifications += n
			}
			res.Opened = append(res.Opened, a)
		}
		for _, id := range c.Resolve {
			a, err := scanAlert(tx.QueryRowContext(ctx, `UPDATE alerts SET state = 'resolved', resolved_at = ?
				WHERE id = ? AND state <> 'resolved' RETURNING `+alertColumns, at.UnixNano(), id))
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			receivers, err := triggerReceivers(ctx, tx, id)
			if err != nil {
				return err
			}
			n, err := queueEvent(ctx, tx, id, store.EventResolve, receivers, at, at)
			if err != nil {
				return err
			}
			res.Notifications += n
			res.Resolved = append(res.Resolved, a)
		}
		for _, u := range c.Unmute {
			a, err := scanAlert(tx.QueryRowContext(ctx, `UPDATE alerts SET muted = 0, notified = 1
				WHERE id = ? AND muted AND state <> 'resolved' RETURNING `+alertColumns, u.ID))
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			n, err := queueEvent(ctx, tx, u.ID, store.EventTrigger, u.Receivers, a.StartedAt, at)
			if err != nil {
				return err
			}
			res.Notifications += n
			res.Unmuted = append(res.Unmuted, a)
		}
		for _, an := range c.Annotate {
			if _, err := tx.ExecContext(ctx, `UPDATE alerts SET annotations = ? WHERE id = ? AND state <> 'resolved'`,
				store.EncodeStringMap(an.Annotations), an.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return store.AlertChangeResult{}, fmt.Errorf("apply alert changes: %w", err)
	}
	return res, nil
}

// OpenAlerts returns open alerts by id.
func (s *Store) OpenAlerts(ctx context.Context, q store.OpenAlertQuery) ([]store.Alert, error) {
	where, args := []string{`state <> 'resolved'`, `id > ?`}, []any{q.AfterID}
	if q.Rule != "" {
		where, args = append(where, `rule = ?`), append(args, q.Rule)
	}
	if q.HostIDs != nil {
		where, args = append(where, `host_id IN (SELECT value FROM json_each(?))`), append(args, int64sJSON(q.HostIDs))
	}
	if q.Muted {
		where = append(where, `muted`)
	}
	limit := ``
	if q.Limit > 0 {
		limit, args = ` LIMIT ?`, append(args, q.Limit)
	}
	out, err := queryAlerts(ctx, s.r, `SELECT `+alertColumns+` FROM alerts WHERE `+strings.Join(where, ` AND `)+
		` ORDER BY id`+limit, args...)
	if err != nil {
		return nil, fmt.Errorf("open alerts: %w", err)
	}
	return out, nil
}

func int64sJSON(ids []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, id)
	}
	b.WriteByte(']')
	return b.String()
}

// AckAlert acknowledges an open alert and queues acknowledge events.
func (s *Store) AckAlert(ctx context.Context, id int64, actor, comment string, at time.Time) (store.Alert, error) {
	at = nowOr(at)
	var out store.Alert
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		a, err := scanAlert(tx.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("alert %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		out = a
		switch a.State {
		case store.AlertResolved:
			return fmt.Errorf("alert %d: %w", id, store.ErrAlertResolved)
		case store.AlertAcknowledged:
			return nil
		}
		out.State, out.AckedAt, out.AckedBy, out.AckComment = store.AlertAcknowledged, at, clean(actor), clean(comment)
		if _, err := tx.ExecContext(ctx, `UPDATE alerts SET state = 'acknowledged', acked_at = ?, acked_by = ?, ack_comment = ?
			WHERE id = ?`, at.UnixNano(), out.AckedBy, out.AckComment, id); err != nil {
			return err
		}
		receivers, err := triggerReceivers(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := queueEvent(ctx, tx, id, store.EventAcknowledge, receivers, at, at); err != nil {
			return err
		}
		return audit(ctx, tx, at, actor, store.AuditAlertAcknowledged, fmt.Sprint(id), map[string]any{
			"alert_id": id, "rule": out.Rule, "host_id": out.HostID, "subject": out.Subject, "comment": out.AckComment})
	})
	if err != nil {
		return store.Alert{}, fmt.Errorf("ack alert: %w", err)
	}
	return out, nil
}

// GetAlert returns one alert.
func (s *Store) GetAlert(ctx context.Context, id int64) (store.Alert, error) {
	a, err := scanAlert(s.r.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("get alert %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("get alert %d: %w", id, err)
	}
	return a, nil
}

// ListAlerts returns one page of alerts, newest first.
func (s *Store) ListAlerts(ctx context.Context, q store.AlertQuery) ([]store.Alert, error) {
	where, args := []string{`1`}, []any{}
	switch q.State {
	case "":
	case "open":
		where = append(where, `state <> 'resolved'`)
	default:
		where, args = append(where, `state = ?`), append(args, q.State)
	}
	if q.Severity != "" {
		where, args = append(where, `severity = ?`), append(args, q.Severity)
	}
	if q.Rule != "" {
		where, args = append(where, `rule = ?`), append(args, q.Rule)
	}
	if q.HostID != 0 {
		where, args = append(where, `host_id = ?`), append(args, q.HostID)
	}
	if q.BeforeID > 0 {
		where, args = append(where, `id < ?`), append(args, q.BeforeID)
	}
	out, err := queryAlerts(ctx, s.r, `SELECT `+alertColumns+` FROM alerts WHERE `+strings.Join(where, ` AND `)+
		` ORDER BY id DESC LIMIT ?`, append(args, limitOrDefault(q.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

// AlertCounts counts open alerts for metrics.
func (s *Store) AlertCounts(ctx context.Context) ([]store.AlertCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT rule, severity, CASE WHEN muted THEN 'muted' ELSE state END AS st, count(*)
		FROM alerts WHERE state <> 'resolved' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`)
	if err != nil {
		return nil, fmt.Errorf("alert counts: %w", err)
	}
	defer rows.Close()
	out := []store.AlertCount{}
	for rows.Next() {
		var c store.AlertCount
		if err := rows.Scan(&c.Rule, &c.Severity, &c.State, &c.Count); err != nil {
			return nil, fmt.Errorf("alert counts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// OpenAlertsSentTo lists open alerts whose trigger reached receiver.
func (s *Store) OpenAlertsSentTo(ctx context.Context, receiver string, afterID int64, limit int) ([]store.Alert, error) {
	// +n.state keeps SQLite from looking the rows up by
	// notifications_receiver (receiver, state, id), which would scan every
	// sent row of the receiver for each alert; notifications_alert
	// (alert_id, receiver, id) finds the alert's few rows.
	out, err := queryAlerts(ctx, s.r, `SELECT `+alertColumns+` FROM alerts a
		WHERE a.state <> 'resolved' AND a.id > ? AND EXISTS (SELECT 1 FROM notifications n
			WHERE n.alert_id = a.id AND n.receiver = ? AND n.event = 'trigger' AND +n.state = 'sent')
		ORDER BY a.id LIMIT ?`, afterID, receiver, limitOrDefault(limit))
	if err != nil {
		return nil, fmt.Errorf("open alerts sent to %s: %w", receiver, err)
	}
	return out, nil
}

// ResultsOfHosts returns the current results of many hosts in one query.
func (s *Store) ResultsOfHosts(ctx context.Context, hostIDs []int64, at time.Time) ([]store.HostResult, error) {
	query := `WITH ` + exemptCTE("hosts") + ` ` + resultSelect +
		` WHERE r.host_id IN (SELECT value FROM json_each(:hosts)) ORDER BY r.host_id, r.policy_id`
	out, err := s.queryResults(ctx, query, sql.Named("hosts", int64sJSON(hostIDs)), sql.Named("at", nowOr(at).UnixNano()))
	if err != nil {
		return nil, fmt.Errorf("results of hosts: %w", err)
	}
	return out, nil
}

// AlertHosts returns hosts with their labels in one query.
func (s *Store) AlertHosts(ctx context.Context, hostIDs []int64) (map[int64]store.AlertHost, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT h.id, h.hostname, h.os,
			COALESCE((SELECT json_group_object(l.key, l.value) FROM host_labels l WHERE l.host_id = h.id), '{}')
		FROM hosts h WHERE h.id IN (SELECT value FROM json_each(?))`, int64sJSON(hostIDs))
	if err != nil {
		return nil, fmt.Errorf("alert hosts: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]store.AlertHost, len(hostIDs))
	for rows.Next() {
		var h store.AlertHost
		var labels string
		if err := rows.Scan(&h.ID, &h.Hostname, &h.OS, &labels); err != nil {
			return nil, fmt.Errorf("alert hosts: %w", err)
		}
		h.Labels = store.DecodeStringMap(labels)
		out[h.ID] = h
	}
	return out, rows.Err()
}
