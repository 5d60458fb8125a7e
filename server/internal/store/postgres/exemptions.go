package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
)

// AddExemption stores an exemption and its label rows, and audits it, in
// two round trips.
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
	var host *int64
	if e.HostID != 0 {
		host = &e.HostID
	}
	var id int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var policyOK, hostOK bool
		b := &pgx.Batch{}
		b.Queue(`SELECT EXISTS (SELECT 1 FROM policies WHERE id = $1)`, e.PolicyID).QueryRow(func(row pgx.Row) error {
			return row.Scan(&policyOK)
		})
		b.Queue(`SELECT $1::bigint IS NULL OR EXISTS (SELECT 1 FROM hosts WHERE id = $1)`, host).QueryRow(func(row pgx.Row) error {
			return row.Scan(&hostOK)
		})
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !policyOK {
			return fmt.Errorf("policy %s: %w", e.PolicyID, store.ErrNotFound)
		}
		if !hostOK {
			return fmt.Errorf("host %d: %w", e.HostID, store.ErrNotFound)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO exemptions
			(policy_id, host_id, labels, label_count, reason, owner, expires_at, created_at, created_by)
			VALUES ($1, $2, $3::json, $4, $5, $6, $7, $8, $9) RETURNING id`,
			e.PolicyID, host, string(labels), len(e.Labels), e.Reason, e.Owner,
			e.ExpiresAt, e.CreatedAt, clean(e.CreatedBy)).Scan(&id); err != nil {
			return err
		}
		e.ID = id
		detail, err := json.Marshal(e)
		if err != nil {
			return err
		}
		wb := &pgx.Batch{}
		if len(e.Labels) > 0 {
			keys := slices.Sorted(maps.Keys(e.Labels))
			values := make([]string, len(keys))
			for i, k := range keys {
				values[i] = e.Labels[k]
			}
			wb.Queue(`INSERT INTO exemption_labels (exemption_id, key, value)
				SELECT $1, u.key, u.value FROM unnest($2::text[], $3::text[]) AS u(key, value)`, id, keys, values)
		}
		queueAudit(wb, e.CreatedAt, e.CreatedBy, store.AuditExemptionAdded, strconv.FormatInt(id, 10), detail)
		return tx.SendBatch(ctx, wb).Close()
	})
	if err != nil {
		return 0, fmt.Errorf("add exemption: %w", err)
	}
	return id, nil
}

const exemptionColumns = `id, policy_id, host_id, labels::text, reason, owner, expires_at, created_at, created_by, revoked_at, revoked_by`

type exemptionRow struct {
	ID        int64
	PolicyID  string
	HostID    *int64
	Labels    string
	Reason    string
	Owner     string
	ExpiresAt time.Time
	CreatedAt time.Time
	CreatedBy string
	RevokedAt *time.Time
	RevokedBy string
}

func (r exemptionRow) exemption() (store.Exemption, error) {
	e := store.Exemption{ID: r.ID, PolicyID: r.PolicyID, Reason: r.Reason, Owner: r.Owner,
		ExpiresAt: r.ExpiresAt.UTC(), CreatedAt: r.CreatedAt.UTC(), CreatedBy: r.CreatedBy,
		RevokedAt: utc(r.RevokedAt), RevokedBy: r.RevokedBy}
	if r.HostID != nil {
		e.HostID = *r.HostID
	}
	var err error
	e.Labels, err = decodeLabels(r.Labels)
	return e, err
}

// GetExemption returns one exemption, active or not.
func (s *Store) GetExemption(ctx context.Context, id int64) (store.Exemption, error) {
	e, err := getExemption(ctx, s.pool, id, "")
	if err != nil {
		return e, fmt.Errorf("get exemption %d: %w", id, err)
	}
	return e, nil
}

type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func getExemption(ctx context.Context, q queryer, id int64, lock string) (store.Exemption, error) {
	rows, _ := q.Query(ctx, `SELECT `+exemptionColumns+` FROM exemptions WHERE id = $1`+lock, id)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[exemptionRow])
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Exemption{}, store.ErrNotFound
	}
	if err != nil {
		return store.Exemption{}, err
	}
	return r.exemption()
}

// ListExemptions returns one page of exemptions by id.
func (s *Store) ListExemptions(ctx context.Context, q store.ExemptionQuery) ([]store.Exemption, error) {
	where, args := []string{`id > $1`}, []any{q.AfterID}
	if !q.All {
		args = append(args, nowOr(q.At))
		where = append(where, `revoked_at IS NULL AND expires_at > $`+strconv.Itoa(len(args)))
	}
	if q.PolicyID != "" {
		args = append(args, q.PolicyID)
		where = append(where, `policy_id = $`+strconv.Itoa(len(args)))
	}
	args = append(args, limitOrDefault(q.Limit))
	rows, _ := s.pool.Query(ctx, `SELECT `+exemptionColumns+` FROM exemptions WHERE `+
		strings.Join(where, ` AND `)+` ORDER BY id LIMIT $`+strconv.Itoa(len(args)), args...)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[exemptionRow])
	if err != nil {
		return nil, fmt.Errorf("list exemptions: %w", err)
	}
	out := make([]store.Exemption, len(rs))
	for i, r := range rs {
		if out[i], err = r.exemption(); err != nil {
			return nil, fmt.Errorf("list exemptions: %w", err)
		}
	}
	return out, nil
}

// RevokeExemption ends an exemption and audits it.
func (s *Store) RevokeExemption(ctx context.Context, id int64, actor string, at time.Time) error {
	at = nowOr(at)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		e, err := getExemption(ctx, tx, id, ` FOR UPDATE`)
		if err != nil {
			return fmt.Errorf("exemption %d: %w", id, err)
		}
		if !e.RevokedAt.IsZero() {
			return fmt.Errorf("exemption %d was revoked at %s: %w", id, e.RevokedAt.Format(time.RFC3339), store.ErrConflict)
		}
		e.RevokedAt, e.RevokedBy = at, clean(actor)
		detail, err := json.Marshal(e)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE exemptions SET revoked_at = $2, revoked_by = $3 WHERE id = $1`, id, at, e.RevokedBy)
		queueAudit(b, at, actor, store.AuditExemptionRevoked, strconv.FormatInt(id, 10), detail)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("revoke exemption: %w", err)
	}
	return nil
}

// SetHostLabels replaces a host's labels; an unchanged set is not audited.
func (s *Store) SetHostLabels(ctx context.Context, hostID int64, labels map[string]string, actor string) error {
	labels = cleanLabels(labels)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// Locking the host serializes label changes of one host.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM hosts WHERE id = $1 FOR NO KEY UPDATE`, hostID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("host %d: %w", hostID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		old, err := hostLabels(ctx, tx, hostID)
		if err != nil {
			return err
		}
		if maps.Equal(old, labels) {
			return nil
		}
		keys := slices.Sorted(maps.Keys(labels))
		values := make([]string, len(keys))
		for i, k := range keys {
			values[i] = labels[k]
		}
		detail, _ := json.Marshal(map[string]any{"host_id": hostID, "labels": labels, "previous": old}) // always encodes
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM host_labels WHERE host_id = $1`, hostID)
		b.Queue(`INSERT INTO host_labels (host_id, key, value)
			SELECT $1, u.key, u.value FROM unnest($2::text[], $3::text[]) AS u(key, value)`, hostID, keys, values)
		queueAudit(b, time.Now(), actor, store.AuditHostLabelsSet, strconv.FormatInt(hostID, 10), detail)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("set host labels: %w", err)
	}
	return nil
}

// HostLabels returns a host's labels (an empty map when it has none).
func (s *Store) HostLabels(ctx context.Context, hostID int64) (map[string]string, error) {
	labels, err := hostLabels(ctx, s.pool, hostID)
	if err == nil && len(labels) == 0 {
		err = s.hostExists(ctx, hostID)
	}
	if err != nil {
		return nil, fmt.Errorf("host labels: %w", err)
	}
	return labels, nil
}

// HostsLabels returns the labels of each host of hostIDs that exists,
// an empty map for one without, in one statement.
func (s *Store) HostsLabels(ctx context.Context, hostIDs []int64) (map[int64]map[string]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT h.id, l.key, l.value
		FROM hosts h LEFT JOIN host_labels l ON l.host_id = h.id WHERE h.id = ANY($1::bigint[])`, hostIDs)
	out := make(map[int64]map[string]string, len(hostIDs))
	var (
		id   int64
		k, v *string
	)
	_, err := pgx.ForEachRow(rows, []any{&id, &k, &v}, func() error {
		labels := out[id]
		if labels == nil {
			labels = map[string]string{}
			out[id] = labels
		}
		if k != nil {
			labels[*k] = *v
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hosts labels: %w", err)
	}
	return out, nil
}

func hostLabels(ctx context.Context, q queryer, hostID int64) (map[string]string, error) {
	rows, _ := q.Query(ctx, `SELECT key, value FROM host_labels WHERE host_id = $1`, hostID)
	labels := map[string]string{}
	var k, v string
	_, err := pgx.ForEachRow(rows, []any{&k, &v}, func() error {
		labels[k] = v
		return nil
	})
	return labels, err
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

type auditRow struct {
	ID      int64
	At      time.Time
	Actor   string
	Action  string
	Subject string
	Detail  string
}

// ListAudit returns one page of the audit log, newest first.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	var where []string
	var args []any
	if q.Action != "" {
		args = append(args, q.Action)
		where = append(where, `action = $`+strconv.Itoa(len(args)))
	}
	if q.AfterID > 0 {
		args = append(args, q.AfterID)
		where = append(where, `id < $`+strconv.Itoa(len(args)))
	}
	query := `SELECT id, at, actor, action, subject, detail::text FROM audit_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	args = append(args, limitOrDefault(q.Limit))
	rows, _ := s.pool.Query(ctx, query+` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[auditRow])
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	out := make([]store.AuditEntry, len(rs))
	for i, r := range rs {
		out[i] = store.AuditEntry{ID: r.ID, At: r.At.UTC(), Actor: r.Actor, Action: r.Action, Subject: r.Subject,
			Detail: json.RawMessage(r.Detail)}
	}
	return out, nil
}

// AdminTokenName names the live admin token with this hash.
func (s *Store) AdminTokenName(ctx context.Context, hash string) (string, error) {
	var name string
	err := s.pool.QueryRow(ctx, `SELECT name FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL
		AND (expires_at IS NULL OR expires_at > now())`, hash).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("admin token: %w", store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return name, nil
}
