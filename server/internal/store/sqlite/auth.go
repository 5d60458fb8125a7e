package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// Bootstrap stores the first admin token and enroll secret unless an admin
// token exists. The writer's BEGIN IMMEDIATE makes check and insert one step
// even across processes.
func (s *Store) Bootstrap(ctx context.Context, admin, enroll store.Credential) (bool, error) {
	created := false
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM api_tokens LIMIT 1`).Scan(&one)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		now := time.Now().UnixNano()
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (name, hash, created_at) VALUES (?, ?, ?)`,
			admin.Name, admin.Hash, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO enroll_secrets (name, hash, created_at) VALUES (?, ?, ?)`,
			enroll.Name, enroll.Hash, now); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("bootstrap credentials: %w", err)
	}
	return created, nil
}

// EnrollSecretID returns the id of the live enroll secret with hash:
// neither revoked nor expired.
func (s *Store) EnrollSecretID(ctx context.Context, hash string) (int64, error) {
	var id int64
	err := s.r.QueryRowContext(ctx, `SELECT id FROM enroll_secrets WHERE hash = ? AND revoked_at IS NULL
		AND (expires_at IS NULL OR expires_at > ?)`, hash, time.Now().UnixNano()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("enroll secret: %w", store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("enroll secret: %w", err)
	}
	return id, nil
}

const tokenColumns = `id, name, role, created_at, expires_at, last_used_at, revoked_at`

func scanToken(row scanner) (store.APIToken, error) {
	var (
		t                                 store.APIToken
		created, expires, used, revokedAt sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.Name, &t.Role, &created, &expires, &used, &revokedAt); err != nil {
		return store.APIToken{}, err
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromNanos(created), fromNanos(expires), fromNanos(used), fromNanos(revokedAt)
	return t, nil
}

const secretColumns = `id, name, created_at, expires_at, COALESCE(max_uses, 0),
	(SELECT count(*) FROM hosts h WHERE h.enroll_secret_id = enroll_secrets.id), revoked_at`

func scanSecret(row scanner) (store.EnrollSecret, error) {
	var (
		e                           store.EnrollSecret
		created, expires, revokedAt sql.NullInt64
	)
	if err := row.Scan(&e.ID, &e.Name, &created, &expires, &e.MaxUses, &e.Uses, &revokedAt); err != nil {
		return store.EnrollSecret{}, err
	}
	e.CreatedAt, e.ExpiresAt, e.RevokedAt = fromNanos(created), fromNanos(expires), fromNanos(revokedAt)
	return e, nil
}

// APITokenByHash returns the live token with hash at at.
func (s *Store) APITokenByHash(ctx context.Context, hash string, at time.Time) (store.APIToken, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens
		WHERE hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`, hash, nowOr(at).UnixNano()))
	if errors.Is(err, sql.ErrNoRows) {
		return store.APIToken{}, fmt.Errorf("api token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.APIToken{}, fmt.Errorf("api token: %w", err)
	}
	return t, nil
}

// TouchAPIToken records a token's use; a later recorded use is kept.
func (s *Store) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ?
			WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`, nowOr(at).UnixNano(), id, nowOr(at).UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("touch api token %d: %w", id, err)
	}
	return nil
}

// liveNameTaken reports whether a live row of table has name; table is
// one of two constants, never input.
func liveNameTaken(ctx context.Context, tx *sql.Tx, table, name string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE name = ? AND revoked_at IS NULL`, name).Scan(&one)
	if err == nil {
		return store.ErrConflict
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return err
}

// CreateAPIToken stores a token and audits it.
func (s *Store) CreateAPIToken(ctx context.Context, n store.NewAPIToken) (store.APIToken, error) {
	at := nowOr(n.At)
	var out store.APIToken
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := liveNameTaken(ctx, tx, "api_tokens", n.Name); err != nil {
			return err
		}
		t, err := scanToken(tx.QueryRowContext(ctx, `INSERT INTO api_tokens (name, hash, role, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?) RETURNING `+tokenColumns, n.Name, n.Hash, n.Role, at.UnixNano(), nanos(n.ExpiresAt)))
		if err != nil {
			return err
		}
		out = t
		return audit(ctx, tx, at, n.Actor, store.AuditTokenCreated, n.Name,
			map[string]any{"role": n.Role, "expires_at": out.ExpiresAt})
	})
	if err != nil {
		return store.APIToken{}, fmt.Errorf("create api token %q: %w", n.Name, err)
	}
	return out, nil
}

// ListAPITokens lists tokens by name, then id.
func (s *Store) ListAPITokens(ctx context.Context, includeRevoked bool) ([]store.APIToken, error) {
	out, err := listRows(ctx, s.r, `SELECT `+tokenColumns+` FROM api_tokens
		WHERE ? OR revoked_at IS NULL ORDER BY name, id`, includeRevoked, scanToken)
	if err != nil {
		return nil, fmt.Errorf("list api tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken revokes the live token named name and audits it.
func (s *Store) RevokeAPIToken(ctx context.Context, name, actor string, at time.Time) (store.APIToken, error) {
	at = nowOr(at)
	var out store.APIToken
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		t, err := scanToken(tx.QueryRowContext(ctx, `UPDATE api_tokens SET revoked_at = ?
			WHERE name = ? AND revoked_at IS NULL RETURNING `+tokenColumns, at.UnixNano(), name))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		out = t
		return audit(ctx, tx, at, actor, store.AuditTokenRevoked, name, map[string]any{"role": out.Role})
	})
	if err != nil {
		return store.APIToken{}, fmt.Errorf("revoke api token %q: %w", name, err)
	}
	return out, nil
}

// CreateEnrollSecret stores an enroll secret and audits it.
func (s *Store) CreateEnrollSecret(ctx context.Context, n store.NewEnrollSecret) (store.EnrollSecret, error) {
	at := nowOr(n.At)
	var maxUses any
	if n.MaxUses > 0 {
		maxUses = n.MaxUses
	}
	var out store.EnrollSecret
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := liveNameTaken(ctx, tx, "enroll_secrets", n.Name); err != nil {
			return err
		}
		e, err := scanSecret(tx.QueryRowContext(ctx, `INSERT INTO enroll_secrets (name, hash, created_at, expires_at, max_uses)
			VALUES (?, ?, ?, ?, ?) RETURNING `+secretColumns, n.Name, n.Hash, at.UnixNano(), nanos(n.ExpiresAt), maxUses))
		if err != nil {
			return err
		}
		out = e
		return audit(ctx, tx, at, n.Actor, store.AuditEnrollSecretCreated, n.Name,
			map[string]any{"expires_at": out.ExpiresAt, "max_uses": out.MaxUses})
	})
	if err != nil {
		return store.EnrollSecret{}, fmt.Errorf("create enroll secret %q: %w", n.Name, err)
	}
	return out, nil
}

// ListEnrollSecrets lists enroll secrets by name, then id.
func (s *Store) ListEnrollSecrets(ctx context.Context, includeRevoked bool) ([]store.EnrollSecret, error) {
	out, err := listRows(ctx, s.r, `SELECT `+secretColumns+` FROM enroll_secrets
		WHERE ? OR revoked_at IS NULL ORDER BY name, id`, includeRevoked, scanSecret)
	if err != nil {
		return nil, fmt.Errorf("list enroll secrets: %w", err)
	}
	return out, nil
}

// RevokeEnrollSecret revokes the live secret named name and audits it.
func (s *Store) RevokeEnrollSecret(ctx context.Context, name, actor string, at time.Time) (store.EnrollSecret, error) {
	at = nowOr(at)
	var out store.EnrollSecret
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		e, err := scanSecret(tx.QueryRowContext(ctx, `UPDATE enroll_secrets SET revoked_at = ?
			WHERE name = ? AND revoked_at IS NULL RETURNING `+secretColumns, at.UnixNano(), name))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		out = e
		return audit(ctx, tx, at, actor, store.AuditEnrollSecretRevoked, name, map[string]any{"uses": out.Uses})
	})
	if err != nil {
		return store.EnrollSecret{}, fmt.Errorf("revoke enroll secret %q: %w", name, err)
	}
	return out, nil
}

// listRows runs a query with one argument and scans every row.
func listRows[T any](ctx context.Context, db *sql.DB, query string, arg any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
