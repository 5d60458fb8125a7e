package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// PutTailoring stores a tailoring under a new policy set revision, unless
// the same selector and values are stored already.
func (s *Store) PutTailoring(ctx context.Context, p store.TailoringPut) (int64, bool, error) {
	at := nowOr(p.At)
	t := p.Tailoring
	t.Selector = cleanLabels(t.Selector)
	sel, vals, err := store.EncodeTailoring(t)
	if err != nil {
		return 0, false, err
	}
	var (
		rev     int64
		created bool
	)
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT revision FROM policy_set WHERE id = 1`).Scan(&rev); err != nil {
			return fmt.Errorf("read revision: %w", err)
		}
		var oldSel, oldVals string
		err := tx.QueryRowContext(ctx, `SELECT selector, values_json FROM tailorings WHERE name = ?`, t.Name).Scan(&oldSel, &oldVals)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
		case err != nil:
			return fmt.Errorf("read tailoring: %w", err)
		case oldSel == sel && oldVals == vals:
			return nil
		}
		rev++
		if _, err := tx.ExecContext(ctx, `UPDATE policy_set SET revision = ? WHERE id = 1`, rev); err != nil {
			return fmt.Errorf("bump revision: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tailorings (name, selector, values_json, updated_at, updated_by, updated_revision)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET selector = excluded.selector, values_json = excluded.values_json,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by, updated_revision = excluded.updated_revision`,
			t.Name, sel, vals, at.UnixNano(), clean(p.Actor), rev); err != nil {
			return fmt.Errorf("write tailoring: %w", err)
		}
		return audit(ctx, tx, at, p.Actor, store.AuditTailoringApplied, t.Name, json.RawMessage(store.TailoringAuditDetail(t, rev)))
	})
	if err != nil {
		return 0, false, fmt.Errorf("put tailoring %s: %w", t.Name, err)
	}
	return rev, created, nil
}

// DeleteTailoring removes a tailoring under a new policy set revision.
func (s *Store) DeleteTailoring(ctx context.Context, name, actor string, at time.Time) (int64, error) {
	at = nowOr(at)
	var rev int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tailorings WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("tailoring %s: %w", name, store.ErrNotFound)
		}
		if err := tx.QueryRowContext(ctx, `UPDATE policy_set SET revision = revision + 1 WHERE id = 1 RETURNING revision`).Scan(&rev); err != nil {
			return fmt.Errorf("bump revision: %w", err)
		}
		return audit(ctx, tx, at, actor, store.AuditTailoringDeleted, name, map[string]any{"revision": rev})
	})
	if err != nil {
		return 0, fmt.Errorf("delete tailoring: %w", err)
	}
	return rev, nil
}

const tailoringColumns = `name, selector, values_json, updated_at, updated_by, updated_revision`

func scanTailoring(row scanner) (store.StoredTailoring, error) {
	var (
		st                   store.StoredTailoring
		name, selector, vals string
		updated              int64
	)
	if err := row.Scan(&name, &selector, &vals, &updated, &st.UpdatedBy, &st.UpdatedRevision); err != nil {
		return st, err
	}
	t, err := store.DecodeTailoring(name, selector, vals)
	st.Tailoring = t
	st.UpdatedAt = time.Unix(0, updated).UTC()
	return st, err
}

// GetTailoring returns one tailoring.
func (s *Store) GetTailoring(ctx context.Context, name string) (store.StoredTailoring, error) {
	t, err := scanTailoring(s.r.QueryRowContext(ctx, `SELECT `+tailoringColumns+` FROM tailorings WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("get tailoring %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("get tailoring %s: %w", name, err)
	}
	return t, nil
}

// ListTailorings returns every tailoring in name order.
func (s *Store) ListTailorings(ctx context.Context) ([]store.StoredTailoring, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tailoringColumns+` FROM tailorings ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tailorings: %w", err)
	}
	defer rows.Close()
	out := []store.StoredTailoring{}
	for rows.Next() {
		t, err := scanTailoring(rows)
		if err != nil {
			return nil, fmt.Errorf("list tailorings: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tailorings: %w", err)
	}
	return out, nil
}
