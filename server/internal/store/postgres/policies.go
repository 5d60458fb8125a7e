package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
)

// applyPlan is what an apply would do, worked out from the stored set.
type applyPlan struct {
	result store.PolicyApplyResult
	bodies map[string]string
	signed bool // a signature is recorded: the revision moves regardless
}

func (p *applyPlan) changed() bool {
	return len(p.result.Added)+len(p.result.Updated)+len(p.result.Deleted) > 0 || p.signed
}

// planApply reads the revision (locking it unless dryRun, so applies and
// deletes queue) and the stored policies of the specs' ids in one round
// trip, and compares them; for a replace it also finds the stored
// policies the specs leave out.
func planApply(ctx context.Context, q pgx.Tx, a store.PolicyApply) (*applyPlan, error) {
	specs, dryRun := a.Policies, a.DryRun
	p := &applyPlan{bodies: make(map[string]string, len(specs)), signed: a.Signature != nil}
	ids := make([]string, len(specs))
	for i, spec := range specs {
		body, err := store.EncodePolicy(spec.Policy)
		if err != nil {
			return nil, err
		}
		ids[i], p.bodies[spec.Policy.ID] = spec.Policy.ID, body
	}
	type stored struct {
		body     string
		exprOnly bool
	}
	old := map[string]stored{}
	var rev int64
	lock := ` FOR UPDATE`
	if dryRun {
		lock = ``
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT revision FROM policy_set WHERE id = 1` + lock).QueryRow(func(row pgx.Row) error {
		return row.Scan(&rev)
	})
	b.Queue(`SELECT id, body::text, expr_only FROM policies WHERE id = ANY($1)`, ids).Query(func(rows pgx.Rows) error {
		var (
			id string
			s  stored
		)
		_, err := pgx.ForEachRow(rows, []any{&id, &s.body, &s.exprOnly}, func() error {
			old[id] = s
			return nil
		})
		return err
	})
	if a.Replace {
		b.Queue(`SELECT id FROM policies WHERE id <> ALL($1) ORDER BY id`, ids).Query(func(rows pgx.Rows) error {
			var err error
			p.result.Deleted, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
	}
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("read policies: %w", err)
	}
	for _, spec := range specs {
		id := spec.Policy.ID
		s, ok := old[id]
		switch {
		case !ok:
			p.result.Added = append(p.result.Added, id)
		case s.body == p.bodies[id] && s.exprOnly == spec.ExprOnly:
			p.result.Unchanged = append(p.result.Unchanged, id)
		default:
			p.result.Updated = append(p.result.Updated, id)
		}
	}
	slices.Sort(p.result.Added)
	slices.Sort(p.result.Updated)
	slices.Sort(p.result.Unchanged)
	p.result.Revision = rev
	if p.changed() {
		p.result.Revision++
	}
	return p, nil
}

// ApplyPolicies adds and replaces policies under one new revision, in two
// round trips: read and lock, then every write pipelined.
func (s *Store) ApplyPolicies(ctx context.Context, a store.PolicyApply) (store.PolicyApplyResult, error) {
	if err := store.CheckSpecs(a.Policies); err != nil {
		return store.PolicyApplyResult{}, fmt.Errorf("apply policies: %w", err)
	}
	at := nowOr(a.At)
	var res store.PolicyApplyResult
	err := s.tx(ctx, func(tx pgx.Tx) error {
		p, err := planApply(ctx, tx, a)
		if err != nil {
			return err
		}
		res = p.result
		if a.DryRun || !p.changed() {
			return nil
		}
		var ids, bodies, titles, severities, platforms []string
		var exprOnly []bool
		for _, spec := range a.Policies {
			id := spec.Policy.ID
			if slices.Contains(res.Unchanged, id) {
				continue
			}
			pl, _ := json.Marshal(nonNilStrings(spec.Policy.Platforms)) // strings always encode
			ids, bodies = append(ids, id), append(bodies, p.bodies[id])
			titles, severities = append(titles, spec.Policy.Title), append(severities, spec.Policy.Severity)
			platforms, exprOnly = append(platforms, string(pl)), append(exprOnly, spec.ExprOnly)
		}
		detail, _ := json.Marshal(store.ApplyAuditDetail(a, res)) // plain values always encode
		b := &pgx.Batch{}
		if len(res.Deleted) > 0 {
			b.Queue(`DELETE FROM policies WHERE id = ANY($1)`, res.Deleted)
		}
		if a.Signature != nil {
			b.Queue(`INSERT INTO policy_signature (id, revision, statement, signature) VALUES (1, $1, $2, $3)
				ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, statement = excluded.statement,
					signature = excluded.signature`, res.Revision, a.Signature.Statement, a.Signature.Signature)
		}
		b.Queue(`UPDATE policy_set SET revision = $1 WHERE id = 1`, res.Revision)
		b.Queue(`INSERT INTO policies (id, body, title, severity, platforms, expr_only, created_at, updated_at, updated_revision)
			SELECT u.id, u.body::json, u.title, u.severity,
				ARRAY(SELECT json_array_elements_text(u.platforms::json)), u.expr_only, $7, $7, $8
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[])
				AS u(id, body, title, severity, platforms, expr_only)
			ON CONFLICT (id) DO UPDATE SET body = excluded.body, title = excluded.title,
				severity = excluded.severity, platforms = excluded.platforms, expr_only = excluded.expr_only,
				updated_at = excluded.updated_at, updated_revision = excluded.updated_revision`,
			ids, bodies, titles, severities, platforms, exprOnly, at, res.Revision)
		queueAudit(b, at, a.Actor, store.AuditPolicyApplied, "", detail)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("store policies: %w", err)
		}
		return nil
	})
	if err != nil {
		return store.PolicyApplyResult{}, fmt.Errorf("apply policies: %w", err)
	}
	return res, nil
}

// DeletePolicy removes a policy; its results and transitions go with it
// (foreign keys cascade).
func (s *Store) DeletePolicy(ctx context.Context, id, actor string, at time.Time) (int64, error) {
	at = nowOr(at)
	var rev int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var title string
		b := &pgx.Batch{}
		b.Queue(`UPDATE policy_set SET revision = revision + 1 WHERE id = 1 RETURNING revision`).QueryRow(func(row pgx.Row) error {
			return row.Scan(&rev)
		})
		b.Queue(`DELETE FROM policies WHERE id = $1 RETURNING title`, id).QueryRow(func(row pgx.Row) error {
			return row.Scan(&title)
		})
		err := tx.SendBatch(ctx, b).Close()
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("policy %s: %w", id, store.ErrNotFound) // the revision bump rolls back
		}
		if err != nil {
			return err
		}
		detail, _ := json.Marshal(map[string]any{"revision": rev, "policy_id": id, "title": title}) // always encodes
		ab := &pgx.Batch{}
		queueAudit(ab, at, actor, store.AuditPolicyDeleted, id, detail)
		return tx.SendBatch(ctx, ab).Close()
	})
	if err != nil {
		return 0, fmt.Errorf("delete policy: %w", err)
	}
	return rev, nil
}

type policyRow struct {
	Body            string
	ExprOnly        bool
	CreatedAt       time.Time
	UpdatedAt       time.Time
	UpdatedRevision int64
}

const policyColumns = `body::text, expr_only, created_at, updated_at, updated_revision`

func (r policyRow) stored() (store.StoredPolicy, error) {
	p := store.StoredPolicy{ExprOnly: r.ExprOnly, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		UpdatedRevision: r.UpdatedRevision}
	if err := json.Unmarshal([]byte(r.Body), &p.Policy); err != nil {
		return p, fmt.Errorf("decode stored policy: %w", err)
	}
	return p, nil
}

// GetPolicy returns one policy.
func (s *Store) GetPolicy(ctx context.Context, id string) (store.StoredPolicy, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+policyColumns+` FROM policies WHERE id = $1`, id)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[policyRow])
	if errors.Is(err, pgx.ErrNoRows) {
		return store.StoredPolicy{}, fmt.Errorf("get policy %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.StoredPolicy{}, fmt.Errorf("get policy %s: %w", id, err)
	}
	p, err := r.stored()
	if err != nil {
		return p, fmt.Errorf("get policy %s: %w", id, err)
	}
	return p, nil
}

// ListPolicies returns policies in id order.
func (s *Store) ListPolicies(ctx context.Context, afterID string, limit int) ([]store.StoredPolicy, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+policyColumns+` FROM policies WHERE id > $1 ORDER BY id LIMIT $2`, afterID, lim)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[policyRow])
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	out := make([]store.StoredPolicy, len(rs))
	for i, r := range rs {
		if out[i], err = r.stored(); err != nil {
			return nil, fmt.Errorf("list policies: %w", err)
		}
	}
	return out, nil
}

// PolicyRevision returns the current policy set revision.
func (s *Store) PolicyRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.pool.QueryRow(ctx, `SELECT revision FROM policy_set WHERE id = 1`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("policy revision: %w", err)
	}
	return rev, nil
}

// queueAudit adds one audit log row to b.
func queueAudit(b *pgx.Batch, at time.Time, actor, action, subject string, detail []byte) {
	b.Queue(`INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5::json)`,
		at, clean(actor), action, clean(subject), string(detail))
}

// nowOr returns t, or now when t is zero, in UTC at microsecond
// precision: what PostgreSQL keeps, so both backends store and compare
// the same instants. For stored microsecond times x, x > nowOr(t)
// exactly when x > t.
func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// AppendAudit records a change made outside the store.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	detail := []byte(e.Detail)
	if len(detail) == 0 {
		detail = []byte("{}")
	}
	b := &pgx.Batch{}
	queueAudit(b, nowOr(e.At), e.Actor, e.Action, e.Subject, detail)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}
