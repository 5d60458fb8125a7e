package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// AddExemption stores an exemption and its label rows, and audits it.
func (s *Store) AddExemption(ctx context.Context, e store.Exemption) (int64, error) {
	if err := e.Validate(); err != nil {
		return 0, fmt.Errorf("add exemption: %w", err)
	}
	e.CreatedAt = nowOr(e.CreatedAt)
	e.ExpiresAt = e.ExpiresAt.UTC().Truncate(time.Microsecond)
	if e.Labels != nil {
		e.Labels = cleanLabels(e.Labels)
	}
	labels, _ := json.Marshal(nonNilLabels(e.Labels)) // strings always encode
	var id int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM policies WHERE id = ?`, e.PolicyID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("policy %s: %w", e.PolicyID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		var host any
		if e.HostID != 0 {
			host = e.HostID
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM hosts WHERE id = ?`, e.HostID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("host %d: %w", e.HostID, store.ErrNotFound)
			}
			if err != nil {
				return err
			}
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO exemptions
			(policy_id, host_id, labels, label_count, reason, owner, expires_at, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			e.PolicyID, host, string(labels), len(e.Labels), e.Reason, e.Owner,
			e.ExpiresAt.UnixNano(), e.CreatedAt.UnixNano(), clean(e.CreatedBy)).Scan(&id); err != nil {
			return err
		}
		for k, v := range e.Labels {
			if _, err := tx.ExecContext(ctx, `INSERT INTO exemption_labels (exemption_id, key, value) VALUES (?, ?, ?)`,
				id, k, v); err != nil {
				return err
			}
		}
		e.ID = id
		return audit(ctx, tx, e.CreatedAt, e.CreatedBy, store.AuditExemptionAdded, fmt.Sprint(id), e)
	})
	if err != nil {
		return 0, fmt.Errorf("add exemption: %w", err)
	}
	return id, nil
}

const exemptionColumns = `id, policy_id, host_id, labels, reason, owner, expires_at, created_at, created_by, revoked_at, revoked_by`

func scanExemption(row scanner) (store.Exemption, error) {
	var (
		e                          store.Exemption
		host, expires, created, rv sql.NullInt64
		labels                     string
	)
	err := row.Scan(&e.ID, &e.PolicyID, &host, &labels, &e.Reason, &e.Owner, &expires, &created, &e.CreatedBy, &rv, &e.RevokedBy)
	if err != nil {
		return e, err
	}
	e.HostID = host.Int64
	e.ExpiresAt, e.CreatedAt, e.RevokedAt = fromNanos(expires), fromNanos(created), fromNanos(rv)
	e.Labels, err = decodeLabels(labels)
	return e, err
}

// GetExemption returns one exemption, active or not.
func (s *Store) GetExemption(ctx context.Context, id int64) (store.Exemption, error) {
	e, err := scanExemption(s.r.QueryRowContext(ctx, `SELECT `+exemptionColumns+` FROM exemptions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("get exemption %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("get exemption %d: %w", id, err)
	}
	return e, nil
}

// ListExemptions returns one page of exemptions by id.
func (s *Store) ListExemptions(ctx context.Context, q store.ExemptionQuery) ([]store.Exemption, error) {
	where, args := []string{`id > ?`}, []any{q.AfterID}
	if !q.All {
		where, args = append(where, `revoked_at IS NULL AND expires_at > ?`), append(args, nowOr(q.At).UnixNano())
	}
	if q.PolicyID != "" {
		where, args = append(where, `policy_id = ?`), append(args, q.PolicyID)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+exemptionColumns+` FROM exemptions WHERE `+
		strings.Join(where, ` AND `)+` ORDER BY id LIMIT ?`, append(args, limitOrDefault(q.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list exemptions: %w", err)
	}
	defer rows.Close()
	out := []store.Exemption{}
	for rows.Next() {
		e, err := scanExemption(rows)
		if err != nil {
			return nil, fmt.Errorf("list exemptions: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list exemptions: %w", err)
	}
	return out, nil
}

// RevokeExemption ends an exemption and audits it.
func (s *Store) RevokeExemption(ctx context.Context, id int64, actor string, at time.Time) error {
	at = nowOr(at)
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		e, err := scanExemption(tx.QueryRowContext(ctx, `SELECT `+exemptionColumns+` FROM exemptions WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("exemption %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if !e.RevokedAt.IsZero() {
			return fmt.Errorf("exemption %d was revoked at %s: %w", id, e.RevokedAt.Format(time.RFC3339), store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE exemptions SET revoked_at = ?, revoked_by = ? WHERE id = ?`,
			at.UnixNano(), clean(actor), id); err != nil {
			return err
		}
		e.RevokedAt, e.RevokedBy = at, actor
		return audit(ctx, tx, at, actor, store.AuditExemptionRevoked, fmt.Sprint(id), e)
	})
	if err != nil {
		return fmt.Errorf("revoke exemption: %w", err)
	}
	return nil
}

// SetHostLabels replaces a host's labels; an unchanged set is not audited.
func (s *Store) SetHostLabels(ctx context.Context, hostID int64, labels map[string]string, actor string) error {
	labels = cleanLabels(labels)
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		old, err := hostLabels(ctx, tx, hostID)
		if err != nil {
			return err
		}
		if maps.Equal(old, labels) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM host_labels WHERE host_id = ?`, hostID); err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO host_labels (host_id, key, value) VALUES (?, ?, ?)`,
				hostID, k, labels[k]); err != nil {
				return err
			}
		}
		return audit(ctx, tx, time.Now(), actor, store.AuditHostLabelsSet, fmt.Sprint(hostID),
			map[string]any{"host_id": hostID, "labels": labels, "previous": old})
	})
	if err != nil {
		return fmt.Errorf("set host labels: %w", err)
	}
	return nil
}

// HostLabels returns a host's labels (an empty map when it has none).
func (s *Store) HostLabels(ctx context.Context, hostID int64) (map[string]string, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("host labels: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	labels, err := hostLabels(ctx, tx, hostID)
	if err != nil {
		return nil, fmt.Errorf("host labels: %w", err)
	}
	return labels, nil
}

// HostsLabels returns the labels of each host of hostIDs that exists,
// an empty map for one without, in one statement.
func (s *Store) HostsLabels(ctx context.Context, hostIDs []int64) (map[int64]map[string]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT h.id, l.key, l.value
		FROM hosts h LEFT JOIN host_labels l ON l.host_id = h.id
		WHERE h.id IN (SELECT value FROM json_each(?))`, int64sJSON(hostIDs))
	if err != nil {
		return nil, fmt.Errorf("hosts labels: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]map[string]string, len(hostIDs))
	for rows.Next() {
		var (
			id   int64
			k, v sql.NullString
		)
		if err := rows.Scan(&id, &k, &v); err != nil {
			return nil, fmt.Errorf("hosts labels: %w", err)
		}
		labels := out[id]
		if labels == nil {
			labels = map[string]string{}
			out[id] = labels
		}
		if k.Valid {
			labels[k.String] = v.String
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("hosts labels: %w", err)
	}
	return out, nil
}

func hostLabels(ctx context.Context, tx *sql.Tx, hostID int64) (map[string]string, error) {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM hosts WHERE id = ?`, hostID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("host %d: %w", hostID, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT key, value FROM host_labels WHERE host_id = ?`, hostID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	labels := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		labels[k] = v
	}
	return labels, rows.Err()
}

// cleanLabels makes label keys and values fit indexed columns, as clean
// does for host fields.
func cleanLabels(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[clean(k)] = clean(v)
	}
	return out
}

func nonNilLabels(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// ListAudit returns one page of the audit log, newest first.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	where, args := []string{`1`}, []any{}
	if q.Action != "" {
		where, args = append(where, `action = ?`), append(args, q.Action)
	}
	if q.AfterID > 0 {
		where, args = append(where, `id < ?`), append(args, q.AfterID)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, actor, action, subject, detail FROM audit_log WHERE `+
		strings.Join(where, ` AND `)+` ORDER BY id DESC LIMIT ?`, append(args, limitOrDefault(q.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	out := []store.AuditEntry{}
	for rows.Next() {
		var (
			a      store.AuditEntry
			at     int64
			detail string
		)
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.Subject, &detail); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		a.At, a.Detail = time.Unix(0, at).UTC(), json.RawMessage(detail)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

// AdminTokenName names the live admin token with this hash.
func (s *Store) AdminTokenName(ctx context.Context, hash string) (string, error) {
	var name string
	err := s.r.QueryRowContext(ctx, `SELECT name FROM api_tokens WHERE hash = ? AND revoked_at IS NULL
		AND (expires_at IS NULL OR expires_at > ?)`, hash, time.Now().UnixNano()).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("admin token: %w", store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return name, nil
}
