package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/steward-project/steward/server/internal/store"
)

// Bootstrap stores the first admin token and enroll secret unless an admin
// token exists. An advisory lock makes check and insert one step for
// servers starting together.
func (s *Store) Bootstrap(ctx context.Context, admin, enroll store.Credential) (bool, error) {
	created := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		created = false
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, bootstrapLockKey); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_tokens)`).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO api_tokens (name, hash) VALUES ($1, $2)`, admin.Name, admin.Hash)
		b.Queue(`INSERT INTO enroll_secrets (name, hash) VALUES ($1, $2)`, enroll.Name, enroll.Hash)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
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
	err := s.pool.QueryRow(ctx, `SELECT id FROM enroll_secrets WHERE hash = $1 AND revoked_at IS NULL
		AND (expires_at IS NULL OR expires_at > now())`, hash).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("enroll secret: %w", store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("enroll secret: %w", err)
	}
	return id, nil
}

const tokenColumns = `id, name, role, created_at, expires_at, last_used_at, revoked_at`

type tokenRow struct {
	ID        int64      `db:"id"`
	Name      string     `db:"name"`
	Role      string     `db:"role"`
	CreatedAt time.Time  `db:"created_at"`
	ExpiresAt *time.Time `db:"expires_at"`
	LastUsed  *time.Time `db:"last_used_at"`
	RevokedAt *time.Time `db:"revoked_at"`
}

func (r tokenRow) token() store.APIToken {
	return store.APIToken{ID: r.ID, Name: r.Name, Role: r.Role, CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: utc(r.ExpiresAt), LastUsedAt: utc(r.LastUsed), RevokedAt: utc(r.RevokedAt)}
}

const secretColumns = `id, name, created_at, expires_at, COALESCE(max_uses, 0) AS max_uses,
	(SELECT count(*) FROM hosts h WHERE h.enroll_secret_id = enroll_secrets.id) AS uses, revoked_at`

type secretRow struct {
	ID        int64      `db:"id"`
	Name      string     `db:"name"`
	CreatedAt time.Time  `db:"created_at"`
	ExpiresAt *time.Time `db:"expires_at"`
	MaxUses   int64      `db:"max_uses"`
	Uses      int64      `db:"uses"`
	RevokedAt *time.Time `db:"revoked_at"`
}

func (r secretRow) secret() store.EnrollSecret {
	return store.EnrollSecret{ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: utc(r.ExpiresAt),
		MaxUses: r.MaxUses, Uses: r.Uses, RevokedAt: utc(r.RevokedAt)}
}

// APITokenByHash returns the live token with hash at at.
func (s *Store) APITokenByHash(ctx context.Context, hash string, at time.Time) (store.APIToken, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL
		AND (expires_at IS NULL OR expires_at > $2)`, hash, nowOr(at))
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[tokenRow])
	if errors.Is(err, pgx.ErrNoRows) {
		return store.APIToken{}, fmt.Errorf("api token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.APIToken{}, fmt.Errorf("api token: %w", err)
	}
	return r.token(), nil
}

// TouchAPIToken records a token's use; a later recorded use is kept.
func (s *Store) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = $2
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)`, id, nowOr(at))
	if err != nil {
		return fmt.Errorf("touch api token %d: %w", id, err)
	}
	return nil
}

// CreateAPIToken stores a token and audits it.
func (s *Store) CreateAPIToken(ctx context.Context, t store.NewAPIToken) (store.APIToken, error) {
	at := nowOr(t.At)
	var out store.APIToken
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `INSERT INTO api_tokens (name, hash, role, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+tokenColumns, t.Name, t.Hash, t.Role, at, nullTime(t.ExpiresAt))
		r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[tokenRow])
		if err != nil {
			return uniqueConflict(err)
		}
		out = r.token()
		return auditTx(ctx, tx, at, t.Actor, store.AuditTokenCreated, t.Name,
			map[string]any{"role": t.Role, "expires_at": out.ExpiresAt})
	})
	if err != nil {
		return store.APIToken{}, fmt.Errorf("create api token %q: %w", t.Name, err)
	}
	return out, nil
}

// ListAPITokens lists tokens by name, then id.
func (s *Store) ListAPITokens(ctx context.Context, includeRevoked bool) ([]store.APIToken, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens
		WHERE $1 OR revoked_at IS NULL ORDER BY name, id`, includeRevoked)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[tokenRow])
	if err != nil {
		return nil, fmt.Errorf("list api tokens: %w", err)
	}
	out := make([]store.APIToken, len(rs))
	for i, r := range rs {
		out[i] = r.token()
	}
	return out, nil
}

// RevokeAPIToken revokes the live token named name and audits it.
func (s *Store) RevokeAPIToken(ctx context.Context, name, actor string, at time.Time) (store.APIToken, error) {
	at = nowOr(at)
	var out store.APIToken
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL
			RETURNING `+tokenColumns, name, at)
		r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[tokenRow])
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		out = r.token()
		return auditTx(ctx, tx, at, actor, store.AuditTokenRevoked, name, map[string]any{"role": out.Role})
	})
	if err != nil {
		return store.APIToken{}, fmt.Errorf("revoke api token %q: %w", name, err)
	}
	return out, nil
}

// CreateEnrollSecret stores an enroll secret and audits it.
func (s *Store) CreateEnrollSecret(ctx context.Context, n store.NewEnrollSecret) (store.EnrollSecret, error) {
	at := nowOr(n.At)
	var maxUses *int64
	if n.MaxUses > 0 {
		maxUses = &n.MaxUses
	}
	var out store.EnrollSecret
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `INSERT INTO enroll_secrets (name, hash, created_at, expires_at, max_uses)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+secretColumns, n.Name, n.Hash, at, nullTime(n.ExpiresAt), maxUses)
		r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[secretRow])
		if err != nil {
			return uniqueConflict(err)
		}
		out = r.secret()
		return auditTx(ctx, tx, at, n.Actor, store.AuditEnrollSecretCreated, n.Name,
			map[string]any{"expires_at": out.ExpiresAt, "max_uses": out.MaxUses})
	})
	if err != nil {
		return store.EnrollSecret{}, fmt.Errorf("create enroll secret %q: %w", n.Name, err)
	}
	return out, nil
}

// ListEnrollSecrets lists enroll secrets by name, then id.
func (s *Store) ListEnrollSecrets(ctx context.Context, includeRevoked bool) ([]store.EnrollSecret, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+secretColumns+` FROM enroll_secrets
		WHERE $1 OR revoked_at IS NULL ORDER BY name, id`, includeRevoked)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[secretRow])
	if err != nil {
		return nil, fmt.Errorf("list enroll secrets: %w", err)
	}
	out := make([]store.EnrollSecret, len(rs))
	for i, r := range rs {
		out[i] = r.secret()
	}
	return out, nil
}

// RevokeEnrollSecret revokes the live secret named name and audits it.
func (s *Store) RevokeEnrollSecret(ctx context.Context, name, actor string, at time.Time) (store.EnrollSecret, error) {
	at = nowOr(at)
	var out store.EnrollSecret
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `UPDATE enroll_secrets SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL
			RETURNING `+secretColumns, name, at)
		r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[secretRow])
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		out = r.secret()
		return auditTx(ctx, tx, at, actor, store.AuditEnrollSecretRevoked, name, map[string]any{"uses": out.Uses})
	})
	if err != nil {
		return store.EnrollSecret{}, fmt.Errorf("revoke enroll secret %q: %w", name, err)
	}
	return out, nil
}

// uniqueConflict turns a unique violation (a live credential of that name
// exists) into ErrConflict.
func uniqueConflict(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return store.ErrConflict
	}
	return err
}

// auditTx appends one audit row in tx.
func auditTx(ctx context.Context, tx pgx.Tx, at time.Time, actor, action, subject string, detail any) error {
	raw, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	b := &pgx.Batch{}
	queueAudit(b, at, actor, action, subject, raw)
	return tx.SendBatch(ctx, b).Close()
}
