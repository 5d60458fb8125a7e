package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// querier is what both a pool and a transaction offer for reads.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// applyPlan is what an apply would do, worked out from the stored set.
type applyPlan struct {
	revision int64 // the revision before the apply
	result   store.PolicyApplyResult
	bodies   map[string]string
	signed   bool // a signature is recorded: the revision moves regardless
}

// unlisted returns the stored policy ids that are not keys of keep, in
// id order.
func unlisted(ctx context.Context, q querier, keep map[string]string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM policies ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list policy ids: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list policy ids: %w", err)
		}
		if _, ok := keep[id]; !ok {
			out = append(out, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list policy ids: %w", err)
	}
	return out, nil
}

func (p *applyPlan) changed() bool {
	return len(p.result.Added)+len(p.result.Updated)+len(p.result.Deleted) > 0 || p.signed
}

// planApply compares each spec with the stored policy of its id and, for
// a replace, finds the stored policies the specs leave out.
func planApply(ctx context.Context, q querier, a store.PolicyApply) (*applyPlan, error) {
	specs := a.Policies
	p := &applyPlan{bodies: make(map[string]string, len(specs)), signed: a.Signature != nil}
	if err := q.QueryRowContext(ctx, `SELECT revision FROM policy_set WHERE id = 1`).Scan(&p.revision); err != nil {
		return nil, fmt.Errorf("read revision: %w", err)
	}
	for _, spec := range specs {
		id := spec.Policy.ID
		body, err := store.EncodePolicy(spec.Policy)
		if err != nil {
			return nil, err
		}
		p.bodies[id] = body
		var (
			old      string
			exprOnly bool
		)
		err = q.QueryRowContext(ctx, `SELECT body, expr_only FROM policies WHERE id = ?`, id).Scan(&old, &exprOnly)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			p.result.Added = append(p.result.Added, id)
		case err != nil:
			return nil, fmt.Errorf("read policy %s: %w", id, err)
		case old == body && exprOnly == spec.ExprOnly:
			p.result.Unchanged = append(p.result.Unchanged, id)
		default:
			p.result.Updated = append(p.result.Updated, id)
		}
	}
	if a.Replace {
		deleted, err := unlisted(ctx, q, p.bodies)
		if err != nil {
			return nil, err
		}
		p.result.Deleted = deleted
	}
	slices.Sort(p.result.Added)
	slices.Sort(p.result.Updated)
	slices.Sort(p.result.Unchanged)
	p.result.Revision = p.revision
	if p.changed() {
		p.result.Revision++
	}
	return p, nil
}

// ApplyPolicies adds and replaces policies under one new revision.
func (s *Store) ApplyPolicies(ctx context.Context, a store.PolicyApply) (store.PolicyApplyResult, error) {
	if err := store.CheckSpecs(a.Policies); err != nil {
		return store.PolicyApplyResult{}, fmt.Errorf("apply policies: %w", err)
	}
	if a.DryRun {
		p, err := planApply(ctx, s.r, a)
		if err != nil {
			return store.PolicyApplyResult{}, fmt.Errorf("apply policies (dry run): %w", err)
		}
		return p.result, nil
	}
	at := nowOr(a.At)
	var res store.PolicyApplyResult
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		p, err := planApply(ctx, tx, a)
		if err != nil {
			return err
		}
		res = p.result
		if !p.changed() {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE policy_set SET revision = ? WHERE id = 1`, res.Revision); err != nil {
			return fmt.Errorf("bump revision: %w", err)
		}
		for _, spec := range a.Policies {
			id := spec.Policy.ID
			if slices.Contains(res.Unchanged, id) {
				continue
			}
			platforms, _ := json.Marshal(nonNilStrings(spec.Policy.Platforms)) // strings always encode
			if _, err := tx.ExecContext(ctx, `INSERT INTO policies
				(id, body, title, severity, platforms, expr_only, created_at, updated_at, updated_revision)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET body = excluded.body, title = excluded.title,
					severity = excluded.severity, platforms = excluded.platforms, expr_only = excluded.expr_only,
					updated_at = excluded.updated_at, updated_revision = excluded.updated_revision`,
				id, p.bodies[id], spec.Policy.Title, spec.Policy.Severity, string(platforms), spec.ExprOnly,
				at.UnixNano(), at.UnixNano(), res.Revision); err != nil {
				return fmt.Errorf("store policy %s: %w", id, err)
			}
		}
		for _, id := range res.Deleted {
			if _, err := tx.ExecContext(ctx, `DELETE FROM policies WHERE id = ?`, id); err != nil {
				return fmt.Errorf("delete policy %s: %w", id, err)
			}
		}
		if a.Signature != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO policy_signature (id, revision, statement, signature)
				VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET revision = excluded.revision,
					statement = excluded.statement, signature = excluded.signature`,
				res.Revision, a.Signature.Statement, a.Signature.Signature); err != nil {
				return fmt.Errorf("store signature: %w", err)
			}
		}
		return audit(ctx, tx, at, a.Actor, store.AuditPolicyApplied, "", store.ApplyAuditDetail(a, res))
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
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var title string
		err := tx.QueryRowContext(ctx, `DELETE FROM policies WHERE id = ? RETURNING title`, id).Scan(&title)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("policy %s: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `UPDATE policy_set SET revision = revision + 1 WHERE id = 1 RETURNING revision`).Scan(&rev); err != nil {
			return fmt.Errorf("bump revision: %w", err)
		}
		return audit(ctx, tx, at, actor, store.AuditPolicyDeleted, id, map[string]any{
			"revision": rev, "policy_id": id, "title": title})
	})
	if err != nil {
		return 0, fmt.Errorf("delete policy: %w", err)
	}
	return rev, nil
}

const policyColumns = `body, expr_only, created_at, updated_at, updated_revision`

func scanPolicy(row scanner) (store.StoredPolicy, error) {
	var (
		p                store.StoredPolicy
		body             string
		created, updated int64
	)
	if err := row.Scan(&body, &p.ExprOnly, &created, &updated, &p.UpdatedRevision); err != nil {
		return p, err
	}
	if err := json.Unmarshal([]byte(body), &p.Policy); err != nil {
		return p, fmt.Errorf("decode stored policy: %w", err)
	}
	p.CreatedAt = time.Unix(0, created).UTC()
	p.UpdatedAt = time.Unix(0, updated).UTC()
	return p, nil
}

// GetPolicy returns one policy.
func (s *Store) GetPolicy(ctx context.Context, id string) (store.StoredPolicy, error) {
	p, err := scanPolicy(s.r.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM policies WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("get policy %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("get policy %s: %w", id, err)
	}
	return p, nil
}

// ListPolicies returns policies in id order (bytewise, like PostgreSQL's
// "C" collation).
func (s *Store) ListPolicies(ctx context.Context, afterID string, limit int) ([]store.StoredPolicy, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+policyColumns+` FROM policies WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	defer rows.Close()
	out := []store.StoredPolicy{}
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, fmt.Errorf("list policies: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	return out, nil
}

// PolicyRevision returns the current policy set revision.
func (s *Store) PolicyRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.r.QueryRowContext(ctx, `SELECT revision FROM policy_set WHERE id = 1`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("policy revision: %w", err)
	}
	return rev, nil
}

// audit appends one audit log row in tx.
func audit(ctx context.Context, tx *sql.Tx, at time.Time, actor, action, subject string, detail any) error {
	raw, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)`,
		at.UnixNano(), clean(actor), action, clean(subject), string(raw)); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
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

// statusOf reads a stored status; NULL (a first result's from_status) is "".
func statusOf(s sql.NullString) policy.Status { return policy.Status(s.String) }

// AppendAudit records a change made outside the store.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	var detail any = e.Detail
	if len(e.Detail) == 0 {
		detail = struct{}{}
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		return audit(ctx, tx, nowOr(e.At), e.Actor, e.Action, e.Subject, detail)
	})
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}
