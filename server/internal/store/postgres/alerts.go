package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
)

const alertColumns = `id, rule, host_id, subject, severity, state, labels::text, annotations::text,
	started_at, acked_at, acked_by, ack_comment, resolved_at, muted, notified`

type alertRow struct {
	ID          int64
	Rule        string
	HostID      int64
	Subject     string
	Severity    string
	State       string
	Labels      string
	Annotations string
	StartedAt   time.Time
	AckedAt     *time.Time
	AckedBy     string
	AckComment  string
	ResolvedAt  *time.Time
	Muted       bool
	Notified    bool
}

func (r alertRow) alert() store.Alert {
	a := store.Alert{ID: r.ID, State: r.State, StartedAt: r.StartedAt.UTC(), AckedAt: utc(r.AckedAt),
		AckedBy: r.AckedBy, AckComment: r.AckComment, ResolvedAt: utc(r.ResolvedAt), Muted: r.Muted, Notified: r.Notified}
	a.Rule, a.HostID, a.Subject, a.Severity = r.Rule, r.HostID, r.Subject, r.Severity
	a.Labels = store.DecodeStringMap(r.Labels)
	a.Annotations = store.DecodeStringMap(r.Annotations)
	return a
}

func collectAlerts(rows pgx.Rows) ([]store.Alert, error) {
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[alertRow])
	if err != nil {
		return nil, err
	}
	out := make([]store.Alert, len(rs))
	for i, r := range rs {
		out[i] = r.alert()
	}
	return out, nil
}

// openSQL, resolveSQL and unmuteSQL change one alert and write its outbox
// rows in one statement, and return the alert with the number of rows.
// An open that meets an open episode, a resolve of a resolved alert and an
// unmute of an alert no longer muted change nothing and return no row.
const openSQL = `WITH a AS (
	INSERT INTO alerts (rule, host_id, subject, severity, state, labels, annotations, started_at, muted, notified)
	VALUES ($1, $2, $3, $4, 'firing', $5::json, $6::json, $7, $8, NOT $8)
	ON CONFLICT (rule, host_id, subject) WHERE state <> 'resolved' DO NOTHING
	RETURNING ` + alertColumns + `),
n AS (
	INSERT INTO notifications (alert_id, receiver, event, state, created_at, event_at, next_attempt_at)
	SELECT a.id, r.receiver, 'trigger', 'pending', $7, $7, $7
	FROM a, unnest($9::text[]) WITH ORDINALITY AS r(receiver, ord) WHERE NOT $8 ORDER BY r.ord
	RETURNING 1)
SELECT a.*, (SELECT count(*) FROM n) FROM a`

const resolveSQL = `WITH a AS (
	UPDATE alerts SET state = 'resolved', resolved_at = $2 WHERE id = $1 AND state <> 'resolved'
	RETURNING ` + alertColumns + `),
n AS (
	INSERT INTO notifications (alert_id, receiver, event, state, created_at, event_at, next_attempt_at)
	SELECT a.id, t.receiver, 'resolve', 'pending', $2, $2, $2
	FROM a JOIN (SELECT receiver, min(id) AS first FROM notifications
	             WHERE alert_id = $1 AND event = 'trigger' GROUP BY receiver) t ON true
	ORDER BY t.first
	RETURNING 1)
SELECT a.*, (SELECT count(*) FROM n) FROM a`

const unmuteSQL = `WITH a AS (
	UPDATE alerts SET muted = false, notified = true WHERE id = $1 AND muted AND state <> 'resolved'
	RETURNING ` + alertColumns + `),
n AS (
	INSERT INTO notifications (alert_id, receiver, event, state, created_at, event_at, next_attempt_at)
	SELECT a.id, r.receiver, 'trigger', 'pending', $2, a.started_at, $2
	FROM a, unnest($3::text[]) WITH ORDINALITY AS r(receiver, ord) ORDER BY r.ord
	RETURNING 1)
SELECT a.*, (SELECT count(*) FROM n) FROM a`

// ApplyAlertChanges commits one reconciliation step and its outbox rows in
// one transaction and one round trip.
func (s *Store) ApplyAlertChanges(ctx context.Context, c store.AlertChanges) (store.AlertChangeResult, error) {
	at := nowOr(c.At)
	var res store.AlertChangeResult
	err := s.tx(ctx, func(tx pgx.Tx) error {
		res = store.AlertChangeResult{}
		b := &pgx.Batch{}
		scan := func(dst *[]store.Alert) func(pgx.Rows) error {
			return func(rows pgx.Rows) error {
				for rows.Next() {
					var r alertRow
					var n int
					if err := rows.Scan(&r.ID, &r.Rule, &r.HostID, &r.Subject, &r.Severity, &r.State, &r.Labels,
						&r.Annotations, &r.StartedAt, &r.AckedAt, &r.AckedBy, &r.AckComment, &r.ResolvedAt,
						&r.Muted, &r.Notified, &n); err != nil {
						return err
					}
					*dst = append(*dst, r.alert())
					res.Notifications += n
				}
				return rows.Err()
			}
		}
		for _, o := range c.Open {
			labels, annotations := store.EncodeStringMap(o.Spec.Labels), store.EncodeStringMap(o.Spec.Annotations)
			b.Queue(openSQL, clean(o.Spec.Rule), o.Spec.HostID, clean(o.Spec.Subject), o.Spec.Severity,
				labels, annotations, at, o.Muted, nonNilStrings(o.Receivers)).Query(scan(&res.Opened))
		}
		for _, id := range c.Resolve {
			b.Queue(resolveSQL, id, at).Query(scan(&res.Resolved))
		}
		for _, u := range c.Unmute {
			b.Queue(unmuteSQL, u.ID, at, nonNilStrings(u.Receivers)).Query(scan(&res.Unmuted))
		}
		for _, a := range c.Annotate {
			b.Queue(`UPDATE alerts SET annotations = $2::json WHERE id = $1 AND state <> 'resolved'`,
				a.ID, store.EncodeStringMap(a.Annotations))
		}
		if b.Len() == 0 {
			return nil
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return store.AlertChangeResult{}, fmt.Errorf("apply alert changes: %w", err)
	}
	return res, nil
}

// OpenAlerts returns open alerts by id.
func (s *Store) OpenAlerts(ctx context.Context, q store.OpenAlertQuery) ([]store.Alert, error) {
	where, args := []string{`state <> 'resolved'`, `id > $1`}, []any{q.AfterID}
	if q.Rule != "" {
		args = append(args, q.Rule)
		where = append(where, `rule = $`+strconv.Itoa(len(args)))
	}
	if q.HostIDs != nil {
		args = append(args, q.HostIDs)
		where = append(where, `host_id = ANY($`+strconv.Itoa(len(args))+`::bigint[])`)
	}
	if q.Muted {
		where = append(where, `muted`)
	}
	limit := ``
	if q.Limit > 0 {
		args = append(args, q.Limit)
		limit = ` LIMIT $` + strconv.Itoa(len(args))
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts WHERE `+strings.Join(where, ` AND `)+
		` ORDER BY id`+limit, args...)
	out, err := collectAlerts(rows)
	if err != nil {
		return nil, fmt.Errorf("open alerts: %w", err)
	}
	return out, nil
}

// AckAlert acknowledges an open alert and queues acknowledge events.
func (s *Store) AckAlert(ctx context.Context, id int64, actor, comment string, at time.Time) (store.Alert, error) {
	at = nowOr(at)
	var out store.Alert
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1 FOR UPDATE`, id)
		r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[alertRow])
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("alert %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		out = r.alert()
		switch out.State {
		case store.AlertResolved:
			return fmt.Errorf("alert %d: %w", id, store.ErrAlertResolved)
		case store.AlertAcknowledged:
			return nil
		}
		out.State, out.AckedAt, out.AckedBy, out.AckComment = store.AlertAcknowledged, at, clean(actor), clean(comment)
		detail, _ := json.Marshal(map[string]any{"alert_id": id, "rule": out.Rule, "host_id": out.HostID,
			"subject": out.Subject, "comment": out.AckComment}) // always encodes
		b := &pgx.Batch{}
		b.Queue(`UPDATE alerts SET state = 'acknowledged', acked_at = $2, acked_by = $3, ack_comment = $4 WHERE id = $1`,
			id, at, out.AckedBy, out.AckComment)
		b.Queue(`INSERT INTO notifications (alert_id, receiver, event, state, created_at, event_at, next_attempt_at)
			SELECT $1, receiver, 'acknowledge', 'pending', $2, $2, $2 FROM notifications
			WHERE alert_id = $1 AND event = 'trigger' GROUP BY receiver ORDER BY min(id)`, id, at)
		queueAudit(b, at, actor, store.AuditAlertAcknowledged, strconv.FormatInt(id, 10), detail)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return store.Alert{}, fmt.Errorf("ack alert: %w", err)
	}
	return out, nil
}

// GetAlert returns one alert.
func (s *Store) GetAlert(ctx context.Context, id int64) (store.Alert, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1`, id)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[alertRow])
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Alert{}, fmt.Errorf("get alert %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Alert{}, fmt.Errorf("get alert %d: %w", id, err)
	}
	return r.alert(), nil
}

// ListAlerts returns one page of alerts, newest first.
func (s *Store) ListAlerts(ctx context.Context, q store.AlertQuery) ([]store.Alert, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	switch q.State {
	case "":
	case "open":
		where = append(where, `state <> 'resolved'`)
	default:
		add(`state = $?`, q.State)
	}
	if q.Severity != "" {
		add(`severity = $?`, q.Severity)
	}
	if q.Rule != "" {
		add(`rule = $?`, q.Rule)
	}
	if q.HostID != 0 {
		add(`host_id = $?`, q.HostID)
	}
	if q.BeforeID > 0 {
		add(`id < $?`, q.BeforeID)
	}
	query := `SELECT ` + alertColumns + ` FROM alerts`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	args = append(args, limitOrDefault(q.Limit))
	rows, _ := s.pool.Query(ctx, query+` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	out, err := collectAlerts(rows)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

// AlertCounts counts open alerts for metrics.
func (s *Store) AlertCounts(ctx context.Context) ([]store.AlertCount, error) {
	rows, _ := s.pool.Query(ctx, `SELECT rule, severity, CASE WHEN muted THEN 'muted' ELSE state END AS st, count(*)
		FROM alerts WHERE state <> 'resolved' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[store.AlertCount])
	if err != nil {
		return nil, fmt.Errorf("alert counts: %w", err)
	}
	return out, nil
}

// OpenAlertsSentTo lists open alerts whose trigger reached receiver.
func (s *Store) OpenAlertsSentTo(ctx context.Context, receiver string, afterID int64, limit int) ([]store.Alert, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts a
		WHERE a.state <> 'resolved' AND a.id > $2 AND EXISTS (SELECT 1 FROM notifications n
			WHERE n.alert_id = a.id AND n.receiver = $1 AND n.event = 'trigger' AND n.state = 'sent')
		ORDER BY a.id LIMIT $3`, receiver, afterID, limitOrDefault(limit))
	out, err := collectAlerts(rows)
	if err != nil {
		return nil, fmt.Errorf("open alerts sent to %s: %w", receiver, err)
	}
	return out, nil
}

var resultsOfHostsSQL = `WITH ` + exemptCTE("hosts") + ` ` + resultSelect +
	` WHERE r.host_id = ANY($2) ORDER BY r.host_id, r.policy_id`

// ResultsOfHosts returns the current results of many hosts in one query.
func (s *Store) ResultsOfHosts(ctx context.Context, hostIDs []int64, at time.Time) ([]store.HostResult, error) {
	out, err := s.queryResults(ctx, resultsOfHostsSQL, nowOr(at), nonNilInt64s(hostIDs))
	if err != nil {
		return nil, fmt.Errorf("results of hosts: %w", err)
	}
	return out, nil
}

// AlertHosts returns hosts with their labels in one query.
func (s *Store) AlertHosts(ctx context.Context, hostIDs []int64) (map[int64]store.AlertHost, error) {
	rows, _ := s.pool.Query(ctx, `SELECT h.id, h.hostname, h.os,
			COALESCE((SELECT json_object_agg(l.key, l.value) FROM host_labels l WHERE l.host_id = h.id), '{}')::text
		FROM hosts h WHERE h.id = ANY($1)`, nonNilInt64s(hostIDs))
	out := make(map[int64]store.AlertHost, len(hostIDs))
	var h store.AlertHost
	var labels string
	_, err := pgx.ForEachRow(rows, []any{&h.ID, &h.Hostname, &h.OS, &labels}, func() error {
		h.Labels = store.DecodeStringMap(labels)
		out[h.ID] = h
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("alert hosts: %w", err)
	}
	return out, nil
}

func nonNilInt64s(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}
