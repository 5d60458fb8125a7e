package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
)

// PolicySignature returns the newest recorded policy set signature.
func (s *Store) PolicySignature(ctx context.Context) (store.PolicySignature, error) {
	var sig store.PolicySignature
	err := s.pool.QueryRow(ctx, `SELECT revision, statement, signature FROM policy_signature WHERE id = 1`).
		Scan(&sig.Revision, &sig.Signature.Statement, &sig.Signature.Signature)
	if errors.Is(err, pgx.ErrNoRows) {
		return sig, fmt.Errorf("policy signature: %w", store.ErrNotFound)
	}
	if err != nil {
		return sig, fmt.Errorf("policy signature: %w", err)
	}
	return sig, nil
}

// PolicyRefusal returns the host's current policy set refusal, if any.
func (s *Store) PolicyRefusal(ctx context.Context, hostID int64) (*store.PolicyRefusal, error) {
	var (
		rev          *int64
		code, reason *string
		at           *time.Time
	)
	err := s.pool.QueryRow(ctx, `SELECT r.revision, r.code, r.reason, r.at
		FROM hosts h LEFT JOIN host_policy_refusals r ON r.host_id = h.id WHERE h.id = $1`, hostID).
		Scan(&rev, &code, &reason, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("policy refusal of host %d: %w", hostID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("policy refusal of host %d: %w", hostID, err)
	}
	if rev == nil {
		return nil, nil
	}
	return &store.PolicyRefusal{Revision: *rev, Code: *code, Reason: *reason, At: at.UTC()}, nil
}

// PolicyRefusals returns the current refusal of each host of hostIDs
// that exists, nil for one without, in one statement.
func (s *Store) PolicyRefusals(ctx context.Context, hostIDs []int64) (map[int64]*store.PolicyRefusal, error) {
	rows, _ := s.pool.Query(ctx, `SELECT h.id, r.revision, r.code, r.reason, r.at
		FROM hosts h LEFT JOIN host_policy_refusals r ON r.host_id = h.id WHERE h.id = ANY($1::bigint[])`, hostIDs)
	out := make(map[int64]*store.PolicyRefusal, len(hostIDs))
	var (
		id           int64
		rev          *int64
		code, reason *string
		at           *time.Time
	)
	_, err := pgx.ForEachRow(rows, []any{&id, &rev, &code, &reason, &at}, func() error {
		if rev == nil {
			out[id] = nil
			return nil
		}
		out[id] = &store.PolicyRefusal{Revision: *rev, Code: *code, Reason: *reason, At: at.UTC()}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("policy refusals: %w", err)
	}
	return out, nil
}

// SetPolicyRefusal records or clears the host's current refusal.
func (s *Store) SetPolicyRefusal(ctx context.Context, hostID int64, r *store.PolicyRefusal) error {
	var err error
	if r == nil {
		// Clearing is a no-op for a host without a row; the host itself
		// must exist.
		var n int64
		err = s.pool.QueryRow(ctx, `WITH d AS (DELETE FROM host_policy_refusals WHERE host_id = $1)
			SELECT count(*) FROM hosts WHERE id = $1`, hostID).Scan(&n)
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
	} else {
		var tag int64
		err = s.pool.QueryRow(ctx, `WITH up AS (
				INSERT INTO host_policy_refusals (host_id, revision, code, reason, at)
				SELECT id, $2, $3, $4, $5 FROM hosts WHERE id = $1
				ON CONFLICT (host_id) DO UPDATE SET revision = excluded.revision, code = excluded.code,
					reason = excluded.reason, at = excluded.at
				RETURNING 1)
			SELECT count(*) FROM up`, hostID, r.Revision, clean(r.Code), clean(r.Reason), nowOr(r.At)).Scan(&tag)
		if err == nil && tag == 0 {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("set policy refusal of host %d: %w", hostID, err)
	}
	return nil
}
