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

// AdminTokenValid reports whether hash names an unrevoked admin token.
func (s *Store) AdminTokenValid(ctx context.Context, hash string) (bool, error) {
	var ok bool
	err := s.r.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM api_tokens WHERE hash = ? AND revoked_at IS NULL)`, hash).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check admin token: %w", err)
	}
	return ok, nil
}

// EnrollSecretID returns the id of the unrevoked enroll secret with hash.
func (s *Store) EnrollSecretID(ctx context.Context, hash string) (int64, error) {
	var id int64
	err := s.r.QueryRowContext(ctx,
		`SELECT id FROM enroll_secrets WHERE hash = ? AND revoked_at IS NULL`, hash).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
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
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO `+table+` (name, hash, created_at) VALUES (?, ?, ?) RETURNING id`,
			c.Name, c.Hash, time.Now().UnixNano()).Scan(&id)
	})
	return id, err
}

func (s *Store) revokeCredential(ctx context.Context, table string, id int64) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE `+table+` SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`,
			time.Now().UnixNano(), id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}
