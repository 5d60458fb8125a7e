package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	err = s.tx(ctx, func(tx pgx.Tx) error {
		// The policy_set row lock orders this against applies, deletes and
		// other tailoring changes.
		if err := tx.QueryRow(ctx, `SELECT revision FROM policy_set WHERE id = 1 FOR UPDATE`).Scan(&rev); err != nil {
			return fmt.Errorf("read revision: %w", err)
		}
		var oldSel, oldVals string
		err := tx.QueryRow(ctx, `SELECT selector, values_json FROM tailorings WHERE name = $1`, t.Name).Scan(&oldSel, &oldVals)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			created = true
		case err != nil:
			return fmt.Errorf("read tailoring: %w", err)
		case oldSel == sel && oldVals == vals:
			return nil
		}
		rev++
		b := &pgx.Batch{}
		b.Queue(`UPDATE policy_set SET revision = $1 WHERE id = 1`, rev)
		b.Queue(`INSERT INTO tailorings (name, selector, values_json, updated_at, updated_by, updated_revision)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (name) DO UPDATE SET selector = excluded.selector, values_json = excluded.values_json,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by, updated_revision = excluded.updated_revision`,
			t.Name, sel, vals, at, clean(p.Actor), rev)
		queueAudit(b, at, p.Actor, store.AuditTailoringApplied, t.Name, store.TailoringAuditDetail(t, rev))
		return tx.SendBatch(ctx, b).Close()
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
	err := s.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`UPDATE policy_set SET revision = revision + 1 WHERE id = 1 RETURNING revision`).QueryRow(func(row pgx.Row) error {
			return row.Scan(&rev)
		})
		b.Queue(`DELETE FROM tailorings WHERE name = $1 RETURNING name`, name).QueryRow(func(row pgx.Row) error {
			var n string
			return row.Scan(&n)
		})
		err := tx.SendBatch(ctx, b).Close()
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("tailoring %s: %w", name, store.ErrNotFound) // the revision bump rolls back
		}
		if err != nil {
			return err
		}
		ab := &pgx.Batch{}
		queueAudit(ab, at, actor, store.AuditTailoringDeleted, name, fmt.Appendf(nil, `{"revision":%d}`, rev))
		return tx.SendBatch(ctx, ab).Close()
	})
	if err != nil {
		return 0, fmt.Errorf("delete tailoring: %w", err)
	}
	return rev, nil
}

type tailoringRow struct {
	Name            string
	Selector        string
	Values          string
	UpdatedAt       time.Time
	UpdatedBy       string
	UpdatedRevision int64
}

const tailoringColumns = `name, selector, values_json, updated_at, updated_by, updated_revision`

func (r tailoringRow) stored() (store.StoredTailoring, error) {
	t, err := store.DecodeTailoring(r.Name, r.Selector, r.Values)
	return store.StoredTailoring{Tailoring: t, UpdatedAt: r.UpdatedAt.UTC(), UpdatedBy: r.UpdatedBy,
		UpdatedRevision: r.UpdatedRevision}, err
}

// GetTailoring returns one tailoring.
func (s *Store) GetTailoring(ctx context.Context, name string) (store.StoredTailoring, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+tailoringColumns+` FROM tailorings WHERE name = $1`, name)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[tailoringRow])
	if errors.Is(err, pgx.ErrNoRows) {
		return store.StoredTailoring{}, fmt.Errorf("get tailoring %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.StoredTailoring{}, fmt.Errorf("get tailoring %s: %w", name, err)
	}
	t, err := r.stored()
	if err != nil {
		return t, fmt.Errorf("get tailoring: %w", err)
	}
	return t, nil
}

// ListTailorings returns every tailoring in name order.
func (s *Store) ListTailorings(ctx context.Context) ([]store.StoredTailoring, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+tailoringColumns+` FROM tailorings ORDER BY name COLLATE "C"`)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[tailoringRow])
	if err != nil {
		return nil, fmt.Errorf("list tailorings: %w", err)
	}
	out := make([]store.StoredTailoring, len(rs))
	for i, r := range rs {
		if out[i], err = r.stored(); err != nil {
			return nil, fmt.Errorf("list tailorings: %w", err)
		}
	}
	return out, nil
}
