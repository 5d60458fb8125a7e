package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

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

// AdminTokenValid reports whether hash names an unrevoked admin token.
func (s *Store) AdminTokenValid(ctx context.Context, hash string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL)`, hash).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check admin token: %w", err)
	}
	return ok, nil
}

// EnrollSecretID returns the id of the unrevoked enroll secret with hash.
func (s *Store) EnrollSecretID(ctx context.Context, hash string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx,
		`SELECT id FROM enroll_secrets WHERE hash = $1 AND revoked_at IS NULL`, hash).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("enroll secret: %w", store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("enroll secret: %w", err)
	}
	return id, nil
}

// CreateAPIToken stores another admin token and returns its id. It is not
// part of store.Auth yet; the admin API will need it and the contract
// suite uses it.
func (s *Store) CreateAPIToken(ctx context.Context, c store.Credential) (int64, error) {
	id, err := s.createCredential(ctx, "api_tokens", c)
	if err != nil {
		return 0, fmt.Errorf("create api token: %w", err)
	}
	return id, nil
}

// RevokeAPIToken revokes an admin token; revoking twice keeps the first
// time. An unknown id is ErrNotFound.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64) error {
	if err := s.revokeCredential(ctx, "api_tokens", id); err != nil {
		return fmt.Errorf("revoke api token %d: %w", id, err)
	}
	return nil
}

// CreateEnrollSecret stores another enroll secret and returns its id.
func (s *Store) CreateEnrollSecret(ctx context.Context, c store.Credential) (int64, error) {
	id, err := s.createCredential(ctx, "enroll_secrets", c)
	if err != nil {
		return 0, fmt.Errorf("create enroll secret: %w", err)
	}
	return id, nil
}

// RevokeEnrollSecret revokes an enroll secret, like RevokeAPIToken.
func (s *Store) RevokeEnrollSecret(ctx context.Context, id int64) error {
	if err := s.revokeCredential(ctx, "enroll_secrets", id); err != nil {
		return fmt.Errorf("revoke enroll secret %d: %w", id, err)
	}
	return nil
}

// table is one of two constants, never input.
func (s *Store) createCredential(ctx context.Context, table string, c store.Credential) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO `+table+` (name, hash) VALUES ($1, $2) RETURNING id`,
		c.Name, c.Hash).Scan(&id)
	return id, err
}

func (s *Store) revokeCredential(ctx context.Context, table string, id int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE `+table+` SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
