package postgres

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// ApplyResults commits every batch in one transaction; see store.Results.
func (s *Store) ApplyResults(ctx context.Context, batches []store.ResultBatch) ([]store.Transition, error) {
	batches, err := store.CheckResults(batches)
	if err != nil {
		return nil, fmt.Errorf("apply results: %w", err)
	}
	if len(batches) == 0 {
		return []store.Transition{}, nil
	}
	var out []store.Transition
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = applyResults(ctx, tx, batches)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("apply results: %w", err)
	}
	return out, nil
}

// resultKey names one host's result for one policy.
type resultKey struct {
	host   int64
	policy string
}

// pendingResult is a key's state as the batches leave it.
type pendingResult struct {
	cur   *store.CurrentResult // nil: no current result
	write *resultWrite         // nil: nothing to write (or delete, when cur is nil)
	dirty bool
}

type resultWrite struct {
	r        policy.Result
	evidence string
	params   string // "": NULL
	since    time.Time
	revision int64
}

// applyResults costs two round trips whatever the batch size: one
// pipelined read that locks the hosts (in id order, so it queues behind
// ingest rather than deadlocking) and the policies (shared, so a delete
// waits) and reads the current results; then one pipelined write of the
// removals, the final state of every changed key and every transition.
// Go decides everything in between with store.NextResult, in batch order.
// It takes a transaction so that agent results can later be committed
// with the rest of an ingest batch.
func applyResults(ctx context.Context, tx pgx.Tx, batches []store.ResultBatch) ([]store.Transition, error) {
	state, revs, err := readResultState(ctx, tx, batches)
	if err != nil {
		return nil, err
	}
	var (
		order       []resultKey // first-touch order of dirty keys
		transitions []store.Transition
		evidence    []string
		params      []string
	)
	touch := func(k resultKey, p *pendingResult) {
		if !p.dirty {
			p.dirty = true
			order = append(order, k)
		}
	}
	for _, rb := range batches {
		for _, id := range rb.Removed {
			k := resultKey{rb.HostID, id}
			p := state[k]
			if p == nil || p.cur == nil {
				continue
			}
			p.cur, p.write = nil, nil
			touch(k, p)
		}
		for _, r := range rb.Results {
			rev, ok := revs[r.PolicyID]
			if !ok || rb.Revision < rev {
				continue // the policy is gone, or changed since this was evaluated
			}
			k := resultKey{rb.HostID, r.PolicyID}
			p := state[k]
			if p == nil {
				p = &pendingResult{}
				state[k] = p
			}
			write, since, transition := store.NextResult(p.cur, r)
			if !write {
				continue
			}
			ev, par := store.EncodeEvidence(r.Evidence), store.EncodeParameters(r.Parameters)
			if transition {
				t := store.Transition{HostID: rb.HostID, PolicyID: r.PolicyID, To: r.Status, At: r.CheckedAt,
					Evidence: store.DecodeEvidence(ev), Parameters: store.DecodeParameters(par)}
				if p.cur != nil {
					t.From = p.cur.Status
				}
				transitions, evidence, params = append(transitions, t), append(evidence, ev), append(params, par)
			}
			p.cur = &store.CurrentResult{Status: r.Status, CheckedAt: r.CheckedAt, Since: since}
			p.write = &resultWrite{r: r, evidence: ev, params: par, since: since, revision: rb.Revision}
			touch(k, p)
		}
	}
	if err := writeResults(ctx, tx, order, state, transitions, evidence, params); err != nil {
		return nil, err
	}
	if err := writeEvaluated(ctx, tx, batches); err != nil {
		return nil, err
	}
	return transitions, nil
}

// writeEvaluated moves each host's policies_checked_at to the latest
// evaluation its batches report, never back, in one statement. The
// hosts are locked already (readResultState).
func writeEvaluated(ctx context.Context, tx pgx.Tx, batches []store.ResultBatch) error {
	latest := map[int64]time.Time{}
	for _, rb := range batches {
		if rb.EvaluatedAt.After(latest[rb.HostID]) {
			latest[rb.HostID] = rb.EvaluatedAt
		}
	}
	if len(latest) == 0 {
		return nil
	}
	hosts := slices.Sorted(maps.Keys(latest))
	ats := make([]time.Time, len(hosts))
	for i, h := range hosts {
		ats[i] = latest[h]
	}
	_, err := tx.Exec(ctx, `UPDATE hosts h SET policies_checked_at = u.at
		FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, at)
		WHERE h.id = u.id AND (h.policies_checked_at IS NULL OR h.policies_checked_at < u.at)`, hosts, ats)
	if err != nil {
		return fmt.Errorf("record evaluations: %w", err)
	}
	return nil
}

// readResultState locks the batches' hosts and policies and reads the
// current results of every key the batches name.
func readResultState(ctx context.Context, tx pgx.Tx, batches []store.ResultBatch) (map[resultKey]*pendingResult, map[string]int64, error) {
	hostSet, policySet := map[int64]bool{}, map[string]bool{}
	keys := map[resultKey]bool{}
	for _, rb := range batches {
		hostSet[rb.HostID] = true
		for _, r := range rb.Results {
			policySet[r.PolicyID] = true
			keys[resultKey{rb.HostID, r.PolicyID}] = true
		}
		for _, id := range rb.Removed {
			keys[resultKey{rb.HostID, id}] = true
		}
	}
	hostIDs := slices.Sorted(maps.Keys(hostSet))
	found := map[int64]bool{}
	revs := map[string]int64{}
	state := make(map[resultKey]*pendingResult, len(keys))
	kh, kp := make([]int64, 0, len(keys)), make([]string, 0, len(keys))
	for k := range keys {
		kh, kp = append(kh, k.host), append(kp, k.policy)
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT id FROM hosts WHERE id = ANY($1) AND retired_at IS NULL ORDER BY id FOR NO KEY UPDATE`, hostIDs).Query(func(rows pgx.Rows) error {
		var id int64
		_, err := pgx.ForEachRow(rows, []any{&id}, func() error { found[id] = true; return nil })
		return err
	})
	b.Queue(`SELECT id, updated_revision FROM policies WHERE id = ANY($1) ORDER BY id FOR SHARE`,
		slices.Sorted(maps.Keys(policySet))).Query(func(rows pgx.Rows) error {
		var (
			id  string
			rev int64
		)
		_, err := pgx.ForEachRow(rows, []any{&id, &rev}, func() error { revs[id] = rev; return nil })
		return err
	})
	b.Queue(`SELECT r.host_id, r.policy_id, r.status, r.checked_at, r.since
		FROM unnest($1::bigint[], $2::text[]) AS u(host_id, policy_id)
		JOIN results_current r ON r.host_id = u.host_id AND r.policy_id = u.policy_id`, kh, kp).Query(func(rows pgx.Rows) error {
		var (
			k      resultKey
			status string
			c      store.CurrentResult
		)
		_, err := pgx.ForEachRow(rows, []any{&k.host, &k.policy, &status, &c.CheckedAt, &c.Since}, func() error {
			cur := c
			cur.Status, cur.CheckedAt, cur.Since = policy.Status(status), c.CheckedAt.UTC(), c.Since.UTC()
			state[k] = &pendingResult{cur: &cur}
			return nil
		})
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, fmt.Errorf("read current results: %w", err)
	}
	for _, id := range hostIDs {
		if !found[id] {
			return nil, nil, fmt.Errorf("host %d: %w", id, store.ErrNotFound)
		}
	}
	return state, revs, nil
}

// writeResults sends the removals, the final state of each dirty key and
// the transitions as one pipelined batch of three statements. evidence
// and params are the transitions' encoded evidence and parameters.
func writeResults(ctx context.Context, tx pgx.Tx, order []resultKey, state map[resultKey]*pendingResult,
	transitions []store.Transition, evidence, params []string) error {
	var (
		delHosts []int64
		delPols  []string
		up       struct {
			hosts           []int64
			pols, statuses  []string
			evidence, errs  []string
			params          []*string
			checked, since  []time.Time
			durations, revs []int64
		}
	)
	for _, k := range order {
		p := state[k]
		if p.write == nil {
			delHosts, delPols = append(delHosts, k.host), append(delPols, k.policy)
			continue
		}
		w := p.write
		up.hosts, up.pols, up.statuses = append(up.hosts, k.host), append(up.pols, k.policy), append(up.statuses, string(w.r.Status))
		up.evidence, up.errs = append(up.evidence, w.evidence), append(up.errs, store.CutError(w.r.Error))
		up.params = append(up.params, nullText(w.params))
		up.checked, up.since = append(up.checked, w.r.CheckedAt), append(up.since, w.since)
		up.durations, up.revs = append(up.durations, int64(w.r.Duration)), append(up.revs, w.revision)
	}
	b := &pgx.Batch{}
	if len(delHosts) > 0 {
		b.Queue(`DELETE FROM results_current r USING unnest($1::bigint[], $2::text[]) AS u(host_id, policy_id)
			WHERE r.host_id = u.host_id AND r.policy_id = u.policy_id`, delHosts, delPols)
	}
	if len(up.hosts) > 0 {
		b.Queue(`INSERT INTO results_current
			(host_id, policy_id, status, evidence, error, checked_at, duration_ns, since, policy_revision, parameters)
			SELECT u.host_id, u.policy_id, u.status, u.evidence::json, u.error, u.checked_at, u.duration_ns, u.since, u.rev,
				u.parameters::json
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
				$7::bigint[], $8::timestamptz[], $9::bigint[], $10::text[])
				AS u(host_id, policy_id, status, evidence, error, checked_at, duration_ns, since, rev, parameters)
			ON CONFLICT (host_id, policy_id) DO UPDATE SET status = excluded.status,
				evidence = excluded.evidence, error = excluded.error, checked_at = excluded.checked_at,
				duration_ns = excluded.duration_ns, since = excluded.since,
				policy_revision = excluded.policy_revision, parameters = excluded.parameters`,
			up.hosts, up.pols, up.statuses, up.evidence, up.errs, up.checked, up.durations, up.since, up.revs, up.params)
	}
	if len(transitions) > 0 {
		hosts, pols, tos := make([]int64, len(transitions)), make([]string, len(transitions)), make([]string, len(transitions))
		froms, ats := make([]*string, len(transitions)), make([]time.Time, len(transitions))
		pars := make([]*string, len(transitions))
		for i, t := range transitions {
			hosts[i], pols[i], tos[i], ats[i], pars[i] = t.HostID, t.PolicyID, string(t.To), t.At, nullText(params[i])
			if t.From != "" {
				f := string(t.From)
				froms[i] = &f
			}
		}
		// Identity values follow the insert order, which ORDER BY fixes,
		// so sorted ids map back onto the transitions in order.
		b.Queue(`INSERT INTO result_transitions (host_id, policy_id, from_status, to_status, at, evidence, parameters)
			SELECT u.host_id, u.policy_id, u.from_status, u.to_status, u.at, u.evidence::json, u.parameters::json
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
				WITH ORDINALITY AS u(host_id, policy_id, from_status, to_status, at, evidence, parameters, n)
			ORDER BY u.n RETURNING id`, hosts, pols, froms, tos, ats, evidence, pars).Query(func(rows pgx.Rows) error {
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			if len(ids) != len(transitions) {
				return fmt.Errorf("%d transition ids for %d transitions", len(ids), len(transitions))
			}
			slices.Sort(ids)
			for i := range transitions {
				transitions[i].ID = ids[i]
			}
			return nil
		})
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// nullText is s, or NULL when it is empty.
func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
