package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// ApplyResults commits every batch in one write transaction; see
// store.Results.
func (s *Store) ApplyResults(ctx context.Context, batches []store.ResultBatch) ([]store.Transition, error) {
	batches, err := store.CheckResults(batches)
	if err != nil {
		return nil, fmt.Errorf("apply results: %w", err)
	}
	if len(batches) == 0 {
		return []store.Transition{}, nil
	}
	var out []store.Transition
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		b := &batch{ctx: ctx, tx: tx, log: s.log, stmts: map[string]*sql.Stmt{}}
		defer b.close()
		out, err = b.applyResults(batches)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("apply results: %w", err)
	}
	return out, nil
}

// applyResults is ApplyResults inside a transaction, on a batch's prepared
// statements, so an agent results message can later be committed in the
// same transaction as the rest of its ingest batch.
func (b *batch) applyResults(batches []store.ResultBatch) ([]store.Transition, error) {
	out := []store.Transition{}
	revs := map[string]int64{} // policy id -> updated_revision; -1: no such policy
	for _, rb := range batches {
		row, err := b.queryRow(`SELECT 1 FROM hosts WHERE id = ? AND retired_at IS NULL`, rb.HostID)
		if err != nil {
			return nil, err
		}
		var one int
		if err := row.Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("host %d: %w", rb.HostID, store.ErrNotFound)
		} else if err != nil {
			return nil, fmt.Errorf("host %d: %w", rb.HostID, err)
		}
		if !rb.EvaluatedAt.IsZero() {
			if err := b.exec(`UPDATE hosts SET policies_checked_at = ? WHERE id = ?
				AND (policies_checked_at IS NULL OR policies_checked_at < ?)`,
				rb.EvaluatedAt.UnixNano(), rb.HostID, rb.EvaluatedAt.UnixNano()); err != nil {
				return nil, fmt.Errorf("host %d checked: %w", rb.HostID, err)
			}
		}
		for _, id := range rb.Removed {
			if err := b.exec(`DELETE FROM results_current WHERE host_id = ? AND policy_id = ?`, rb.HostID, id); err != nil {
				return nil, fmt.Errorf("remove result %s: %w", id, err)
			}
		}
		for _, r := range rb.Results {
			rev, err := b.policyRevision(revs, r.PolicyID)
			if err != nil {
				return nil, err
			}
			if rev < 0 || rb.Revision < rev {
				continue // the policy is gone, or changed since this was evaluated
			}
			cur, err := b.currentResult(rb.HostID, r.PolicyID)
			if err != nil {
				return nil, err
			}
			write, since, transition := store.NextResult(cur, r)
			if !write {
				continue
			}
			ev, par := store.EncodeEvidence(r.Evidence), store.EncodeParameters(r.Parameters)
			if err := b.exec(`INSERT INTO results_current
				(host_id, policy_id, status, evidence, error, checked_at, duration_ns, since, policy_revision, parameters)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (host_id, policy_id) DO UPDATE SET status = excluded.status,
					evidence = excluded.evidence, error = excluded.error, checked_at = excluded.checked_at,
					duration_ns = excluded.duration_ns, since = excluded.since,
					policy_revision = excluded.policy_revision, parameters = excluded.parameters`,
				rb.HostID, r.PolicyID, string(r.Status), ev, store.CutError(r.Error),
				r.CheckedAt.UnixNano(), int64(r.Duration), since.UnixNano(), rb.Revision, nullText(par)); err != nil {
				return nil, fmt.Errorf("store result %s: %w", r.PolicyID, err)
			}
			if !transition {
				continue
			}
			t := store.Transition{HostID: rb.HostID, PolicyID: r.PolicyID, To: r.Status, At: r.CheckedAt,
				Evidence: store.DecodeEvidence(ev), Parameters: store.DecodeParameters(par)}
			var from any
			if cur != nil {
				t.From, from = cur.Status, string(cur.Status)
			}
			row, err := b.queryRow(`INSERT INTO result_transitions (host_id, policy_id, from_status, to_status, at, evidence, parameters)
				VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				rb.HostID, r.PolicyID, from, string(r.Status), r.CheckedAt.UnixNano(), ev, nullText(par))
			if err != nil {
				return nil, err
			}
			if err := row.Scan(&t.ID); err != nil {
				return nil, fmt.Errorf("record transition %s: %w", r.PolicyID, err)
			}
			out = append(out, t)
		}
	}
	return out, nil
}

func (b *batch) policyRevision(cache map[string]int64, id string) (int64, error) {
	if rev, ok := cache[id]; ok {
		return rev, nil
	}
	row, err := b.queryRow(`SELECT updated_revision FROM policies WHERE id = ?`, id)
	if err != nil {
		return 0, err
	}
	var rev int64
	if err := row.Scan(&rev); errors.Is(err, sql.ErrNoRows) {
		rev = -1
	} else if err != nil {
		return 0, fmt.Errorf("policy %s: %w", id, err)
	}
	cache[id] = rev
	return rev, nil
}

func (b *batch) currentResult(hostID int64, policyID string) (*store.CurrentResult, error) {
	row, err := b.queryRow(`SELECT status, checked_at, since FROM results_current WHERE host_id = ? AND policy_id = ?`,
		hostID, policyID)
	if err != nil {
		return nil, err
	}
	var (
		status         string
		checked, since int64
	)
	if err := row.Scan(&status, &checked, &since); errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("current result %s: %w", policyID, err)
	}
	return &store.CurrentResult{Status: statusOf(sql.NullString{String: status, Valid: true}),
		CheckedAt: time.Unix(0, checked).UTC(), Since: time.Unix(0, since).UTC()}, nil
}

// nullText is s, or NULL when it is empty.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}
