package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// PolicySignature returns the newest recorded policy set signature.
func (s *Store) PolicySignature(ctx context.Context) (store.PolicySignature, error) {
	var sig store.PolicySignature
	err := s.r.QueryRowContext(ctx, `SELECT revision, statement, signature FROM policy_signature WHERE id = 1`).
		Scan(&sig.Revision, &sig.Signature.Statement, &sig.Signature.Signature)
	if errors.Is(err, sql.ErrNoRows) {
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
		r     store.PolicyRefusal
		at    sql.NullInt64
		found sql.NullInt64
	)
	err := s.r.QueryRowContext(ctx, `SELECT h.id, r.revision, r.code, r.reason, r.at
		FROM hosts h LEFT JOIN host_policy_refusals r ON r.host_id = h.id WHERE h.id = ?`, hostID).
		Scan(&found, (*nullInt)(&r.Revision), (*nullString)(&r.Code), (*nullString)(&r.Reason), &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("policy refusal of host %d: %w", hostID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("policy refusal of host %d: %w", hostID, err)
	}
	if !at.Valid {
		return nil, nil
	}
	r.At = time.Unix(0, at.Int64).UTC()
	return &r, nil
}

// PolicyRefusals returns the current refusal of each host of hostIDs
// that exists, nil for one without, in one statement.
func (s *Store) PolicyRefusals(ctx context.Context, hostIDs []int64) (map[int64]*store.PolicyRefusal, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT h.id, r.revision, r.code, r.reason, r.at
		FROM hosts h LEFT JOIN host_policy_refusals r ON r.host_id = h.id
		WHERE h.id IN (SELECT value FROM json_each(?))`, int64sJSON(hostIDs))
	if err != nil {
		return nil, fmt.Errorf("policy refusals: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]*store.PolicyRefusal, len(hostIDs))
	for rows.Next() {
		var (
			id int64
			r  store.PolicyRefusal
			at sql.NullInt64
		)
		if err := rows.Scan(&id, (*nullInt)(&r.Revision), (*nullString)(&r.Code), (*nullString)(&r.Reason), &at); err != nil {
			return nil, fmt.Errorf("policy refusals: %w", err)
		}
		if !at.Valid {
			out[id] = nil
			continue
		}
		r.At = time.Unix(0, at.Int64).UTC()
		out[id] = &r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("policy refusals: %w", err)
	}
	return out, nil
}

// SetPolicyRefusal records or clears the host's current refusal.
func (s *Store) SetPolicyRefusal(ctx context.Context, hostID int64, r *store.PolicyRefusal) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM hosts WHERE id = ?`, hostID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if r == nil {
			_, err = tx.ExecContext(ctx, `DELETE FROM host_policy_refusals WHERE host_id = ?`, hostID)
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO host_policy_refusals (host_id, revision, code, reason, at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (host_id) DO UPDATE SET revision = excluded.revision,
				code = excluded.code, reason = excluded.reason, at = excluded.at`,
			hostID, r.Revision, clean(r.Code), clean(r.Reason), nowOr(r.At).UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("set policy refusal of host %d: %w", hostID, err)
	}
	return nil
}

// nullInt and nullString scan a nullable column into a plain value, zero
// for NULL.
type nullInt int64

func (n *nullInt) Scan(v any) error {
	var x sql.NullInt64
	if err := x.Scan(v); err != nil {
		return err
	}
	*n = nullInt(x.Int64)
	return nil
}

type nullString string

func (n *nullString) Scan(v any) error {
	var x sql.NullString
	if err := x.Scan(v); err != nil {
		return err
	}
	*n = nullString(x.String)
	return nil
}
