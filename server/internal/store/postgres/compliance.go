package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// exemptCTE names, per (policy, host), the lowest id among the exemptions
// active at parameter $1 that match: by host id, or by labels when the
// host carries every one of them (as many matching label rows as the
// exemption has). With filter "policy" or "host", $2 narrows both halves
// to one policy or one host, so a page or a host's list does not compute
// the fleet's matches.
func exemptCTE(filter string) string {
	hostFilter, labelFilter := "", ""
	switch filter {
	case "policy":
		hostFilter, labelFilter = ` AND e.policy_id = $2`, ` AND e.policy_id = $2`
	case "host":
		hostFilter, labelFilter = ` AND e.host_id = $2`, ` AND hl.host_id = $2`
	case "hosts":
		hostFilter, labelFilter = ` AND e.host_id = ANY($2)`, ` AND hl.host_id = ANY($2)`
	}
	return `exempt AS (
		SELECT policy_id, host_id, min(id) AS exemption_id FROM (
			SELECT e.id, e.policy_id, e.host_id FROM exemptions e
			WHERE e.host_id IS NOT NULL AND e.revoked_at IS NULL AND e.expires_at > $1` + hostFilter + `
			UNION ALL
			SELECT e.id, e.policy_id, hl.host_id FROM exemptions e
			JOIN exemption_labels el ON el.exemption_id = e.id
			JOIN host_labels hl ON hl.key = el.key AND hl.value = el.value
			WHERE e.host_id IS NULL AND e.revoked_at IS NULL AND e.expires_at > $1` + labelFilter + `
			GROUP BY e.id, e.policy_id, hl.host_id, e.label_count
			HAVING count(*) = e.label_count
		) m GROUP BY policy_id, host_id)`
}

// resultSelect reads a current result, its hostname, when it was last
// checked and its matching exemption, in resultRow's order. The hostname is a subquery, not a
// join, so it costs one primary key lookup per row of the page whatever
// plan the rest gets (a join let the planner hash every host for a page
// of exempt results).
const resultSelect = `SELECT r.host_id, (SELECT h.hostname FROM hosts h WHERE h.id = r.host_id), r.policy_id,
		r.status, r.evidence::text, r.parameters::text, r.error, r.checked_at, r.duration_ns, r.since, r.policy_revision,
		GREATEST(r.checked_at, CASE WHEN (SELECT p.expr_only FROM policies p WHERE p.id = r.policy_id) THEN NULL
			ELSE (SELECT h.policies_checked_at FROM hosts h WHERE h.id = r.host_id) END),
		e.id, e.policy_id, e.host_id, e.labels::text, e.reason, e.owner, e.expires_at, e.created_at, e.created_by
	FROM results_current r
	LEFT JOIN exempt x ON x.policy_id = r.policy_id AND x.host_id = r.host_id
	LEFT JOIN exemptions e ON e.id = x.exemption_id`

type resultRow struct {
	HostID         int64
	Hostname       *string
	PolicyID       string
	Status         string
	Evidence       string
	Parameters     *string
	Error          string
	CheckedAt      time.Time
	Duration       int64
	Since          time.Time
	PolicyRevision int64
	LastChecked    time.Time
	ExID           *int64
	ExPolicy       *string
	ExHost         *int64
	ExLabels       *string
	ExReason       *string
	ExOwner        *string
	ExExpires      *time.Time
	ExCreated      *time.Time
	ExBy           *string
}

func (row resultRow) result() (store.HostResult, error) {
	r := store.HostResult{HostID: row.HostID, Hostname: deref(row.Hostname), PolicyID: row.PolicyID,
		Status: policy.Status(row.Status), Evidence: store.DecodeEvidence(row.Evidence),
		Parameters: store.DecodeParameters(deref(row.Parameters)), Error: row.Error,
		CheckedAt: row.CheckedAt.UTC(), Duration: time.Duration(row.Duration), Since: row.Since.UTC(),
		PolicyRevision: row.PolicyRevision, LastCheckedAt: row.LastChecked.UTC()}
	if row.ExID == nil {
		return r, nil
	}
	e := &store.Exemption{ID: *row.ExID, PolicyID: deref(row.ExPolicy), Reason: deref(row.ExReason),
		Owner: deref(row.ExOwner), CreatedBy: deref(row.ExBy), ExpiresAt: utc(row.ExExpires), CreatedAt: utc(row.ExCreated)}
	if row.ExHost != nil {
		e.HostID = *row.ExHost
	}
	var err error
	if e.Labels, err = decodeLabels(deref(row.ExLabels)); err != nil {
		return r, err
	}
	r.UnderlyingStatus, r.Status, r.Exemption = r.Status, policy.StatusExempt, e
	return r, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// policyResultsQuery builds PolicyResults' statement: a walk of
// results_current_policy_host (or _policy_status with a status) from the
// cursor, hosts and exemptions joined per row of the page.
func policyResultsQuery(q store.ResultQuery) (string, []any) {
	args := []any{nowOr(q.At), q.PolicyID, q.AfterHostID, limitOrDefault(q.Limit)}
	where := `r.policy_id = $2 AND r.host_id > $3`
	switch q.Status {
	case "":
	case policy.StatusExempt:
		where += ` AND x.exemption_id IS NOT NULL`
	default:
		// NOT EXISTS, not "x.exemption_id IS NULL": the planner then
		// expects most of the status's rows to be kept, walks the
		// (policy_id, status, host_id) index in order and stops at the
		// page; with the outer join's filter it took a status of a
		// few thousand rows to keep a handful, read every one of them
		// and sorted them.
		args = append(args, string(q.Status))
		where += ` AND r.status = $5 AND NOT EXISTS (SELECT 1 FROM exempt y WHERE y.policy_id = r.policy_id AND y.host_id = r.host_id)`
	}
	return `WITH ` + exemptCTE("policy") + ` ` + resultSelect + ` WHERE ` + where + ` ORDER BY r.host_id LIMIT $4`, args
}

// PolicyResults returns one page of a policy's results, by host id.
func (s *Store) PolicyResults(ctx context.Context, q store.ResultQuery) ([]store.HostResult, error) {
	query, args := policyResultsQuery(q)
	out, err := s.queryResults(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("policy results: %w", err)
	}
	return out, nil
}

var hostResultsSQL = `WITH ` + exemptCTE("host") + ` ` + resultSelect + ` WHERE r.host_id = $2 ORDER BY r.policy_id`

// HostResults returns every current result of one host, by policy id.
func (s *Store) HostResults(ctx context.Context, hostID int64, at time.Time) ([]store.HostResult, error) {
	out, err := s.queryResults(ctx, hostResultsSQL, nowOr(at), hostID)
	if err != nil {
		return nil, fmt.Errorf("host results: %w", err)
	}
	if len(out) == 0 {
		if err := s.hostExists(ctx, hostID); err != nil {
			return nil, fmt.Errorf("host results: %w", err)
		}
	}
	return out, nil
}

// hostExists returns ErrNotFound for an unknown host.
func (s *Store) hostExists(ctx context.Context, hostID int64) error {
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM hosts WHERE id = $1`, hostID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("host %d: %w", hostID, store.ErrNotFound)
	}
	return err
}

func (s *Store) queryResults(ctx context.Context, query string, args ...any) ([]store.HostResult, error) {
	rows, _ := s.pool.Query(ctx, query, args...)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[resultRow])
	if err != nil {
		return nil, err
	}
	out := make([]store.HostResult, len(rs))
	for i, r := range rs {
		if out[i], err = r.result(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Compliance counts results per policy in one round trip. Plain counts
// come from result_counts plus the deltas not folded into it yet (both
// kept by triggers, migration 0010); exempt results, few by nature, are
// counted apart and moved from their status to Exempt.
func (s *Store) Compliance(ctx context.Context, at time.Time) ([]store.PolicyCounts, error) {
	counts := &store.CountTally{}
	many := false
	// One snapshot for both counts, so a result changing between them
	// cannot be counted twice.
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := pgx.BeginTxFunc(ctx, s.pool, opts, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`SELECT policy_id, status, sum(n)::bigint FROM (
				SELECT policy_id, status, n FROM result_counts
				UNION ALL
				SELECT policy_id, status, d FROM result_count_deltas
			) c GROUP BY policy_id, status HAVING sum(n) <> 0`).Query(tally(counts.Add))
		b.Queue(`WITH `+exemptCTE("")+`
			SELECT r.policy_id, r.status, count(*) FROM exempt x
			JOIN results_current r ON r.host_id = x.host_id AND r.policy_id = x.policy_id
			GROUP BY r.policy_id, r.status`, nowOr(at)).Query(tally(counts.Exempt))
		queueManyDeltas(b, &many)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, fmt.Errorf("compliance: %w", err)
	}
	s.foldIfMany(ctx, many)
	return counts.Sorted(), nil
}

// PolicyCompliance counts one policy's results as Compliance does, from
// its own rows of result_counts and the deltas, and its own exemptions.
func (s *Store) PolicyCompliance(ctx context.Context, policyID string, at time.Time) (store.PolicyCounts, error) {
	counts := &store.CountTally{}
	many := false
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := pgx.BeginTxFunc(ctx, s.pool, opts, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`SELECT $1::text, status, sum(n)::bigint FROM (
				SELECT status, n FROM result_counts WHERE policy_id = $1
				UNION ALL
				SELECT status, d FROM result_count_deltas WHERE policy_id = $1
			) c GROUP BY status HAVING sum(n) <> 0`, policyID).Query(tally(counts.Add))
		b.Queue(`WITH `+exemptCTE("policy")+`
			SELECT r.policy_id, r.status, count(*) FROM exempt x
			JOIN results_current r ON r.host_id = x.host_id AND r.policy_id = x.policy_id
			GROUP BY r.policy_id, r.status`, nowOr(at), policyID).Query(tally(counts.Exempt))
		queueManyDeltas(b, &many)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return store.PolicyCounts{}, fmt.Errorf("policy %q compliance: %w", policyID, err)
	}
	s.foldIfMany(ctx, many)
	return counts.Of(policyID), nil
}

// foldDeltasAt is how many unfolded count deltas a compliance read adds
// up itself; beyond, it folds them after reading.
const foldDeltasAt = 1000

// queueManyDeltas asks, in a compliance read's batch, whether more than
// foldDeltasAt deltas are unfolded; counting stops there, so asking
// costs little.
func queueManyDeltas(b *pgx.Batch, many *bool) {
	b.Queue(`SELECT count(*) > $1 FROM (SELECT 1 FROM result_count_deltas LIMIT $1 + 1) d`, foldDeltasAt).
		QueryRow(func(r pgx.Row) error { return r.Scan(many) })
}

// foldIfMany folds the count deltas after a read that found many: a
// status change hitting the whole fleet leaves tens of thousands until
// the fleet loop's next fold, and every compliance read would add them
// all up again meanwhile. The read's answer stands either way, so a
// failed fold is only logged.
func (s *Store) foldIfMany(ctx context.Context, many bool) {
	if !many {
		return
	}
	if err := s.FoldResultCounts(ctx); err != nil {
		s.log.Warn("result counts not folded", "err", err)
	}
}

// FoldResultCounts moves the count changes writers appended into
// result_counts, and drops counts that reached zero. One statement takes
// the deltas it folds, so replicas folding at once never fold one twice.
func (s *Store) FoldResultCounts(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `WITH moved AS (
				DELETE FROM result_count_deltas RETURNING policy_id, status, d
			)
			INSERT INTO result_counts AS c (policy_id, status, n)
			SELECT policy_id, status, sum(d) FROM moved GROUP BY 1, 2
			ON CONFLICT (policy_id, status) DO UPDATE SET n = c.n + excluded.n`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM result_counts WHERE n = 0`)
		return err
	})
	if err != nil {
		return fmt.Errorf("fold result counts: %w", err)
	}
	return nil
}

func tally(add func(string, policy.Status, int64)) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		var (
			id, status string
			n          int64
		)
		_, err := pgx.ForEachRow(rows, []any{&id, &status, &n}, func() error {
			add(id, policy.Status(status), n)
			return nil
		})
		return err
	}
}

type transitionRow struct {
	ID         int64
	HostID     int64
	PolicyID   string
	From       *string
	To         string
	At         time.Time
	Evidence   string
	Parameters *string
}

// transitionQuery builds ListTransitions' statement; every filter is a
// plain column condition, so one policy's history walks
// result_transitions_policy_time backwards from the cursor.
func transitionQuery(q store.TransitionQuery) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		for _, v := range a {
			args = append(args, v)
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1)
		}
		where = append(where, cond)
	}
	if q.PolicyID != "" {
		add(`policy_id = ?`, q.PolicyID)
	}
	if q.HostID != 0 {
		add(`host_id = ?`, q.HostID)
	}
	if !q.Since.IsZero() {
		add(`at >= ?`, ceilMicro(q.Since))
	}
	if q.AfterID > 0 {
		add(`(at, id) < (?, ?)`, q.AfterAt, q.AfterID)
	}
	query := `SELECT id, host_id, policy_id, from_status, to_status, at, evidence::text, parameters::text FROM result_transitions`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	args = append(args, limitOrDefault(q.Limit))
	return query + ` ORDER BY at DESC, id DESC LIMIT $` + strconv.Itoa(len(args)), args
}

// ListTransitions returns status changes, newest first.
func (s *Store) ListTransitions(ctx context.Context, q store.TransitionQuery) ([]store.Transition, error) {
	query, args := transitionQuery(q)
	rows, _ := s.pool.Query(ctx, query, args...)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[transitionRow])
	if err != nil {
		return nil, fmt.Errorf("list transitions: %w", err)
	}
	out := make([]store.Transition, len(rs))
	for i, r := range rs {
		out[i] = store.Transition{ID: r.ID, HostID: r.HostID, PolicyID: r.PolicyID, From: policy.Status(deref(r.From)),
			To: policy.Status(r.To), At: r.At.UTC(), Evidence: store.DecodeEvidence(r.Evidence),
			Parameters: store.DecodeParameters(deref(r.Parameters))}
	}
	return out, nil
}

func decodeLabels(s string) (map[string]string, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode labels: %w", err)
	}
	return m, nil
}
