package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// exemptCTE names, per (policy, host), the lowest id among the exemptions
// active at :at that match: by host id, or by labels when the host carries
// every one of them (as many matching label rows as the exemption has).
// filter narrows both halves to one policy or one host, so a page or a
// host's list does not compute the fleet's matches.
func exemptCTE(filter string) string {
	hostFilter, labelFilter := "", ""
	switch filter {
	case "policy":
		hostFilter, labelFilter = ` AND e.policy_id = :policy`, ` AND e.policy_id = :policy`
	case "host":
		hostFilter, labelFilter = ` AND e.host_id = :host`, ` AND hl.host_id = :host`
	case "hosts":
		hostFilter = ` AND e.host_id IN (SELECT value FROM json_each(:hosts))`
		labelFilter = ` AND hl.host_id IN (SELECT value FROM json_each(:hosts))`
	}
	return `exempt AS (
		SELECT policy_id, host_id, min(id) AS exemption_id FROM (
			SELECT e.id, e.policy_id, e.host_id FROM exemptions e
			WHERE e.host_id IS NOT NULL AND e.revoked_at IS NULL AND e.expires_at > :at` + hostFilter + `
			UNION ALL
			SELECT e.id, e.policy_id, hl.host_id FROM exemptions e
			JOIN exemption_labels el ON el.exemption_id = e.id
			JOIN host_labels hl ON hl.key = el.key AND hl.value = el.value
			WHERE e.host_id IS NULL AND e.revoked_at IS NULL AND e.expires_at > :at` + labelFilter + `
			GROUP BY e.id, e.policy_id, hl.host_id, e.label_count
			HAVING count(*) = e.label_count
		) GROUP BY policy_id, host_id)`
}

// resultSelect reads a current result, its hostname and its matching
// exemption, in scanResult's order.
const resultSelect = `SELECT r.host_id, h.hostname, r.policy_id, r.status, r.evidence, r.parameters, r.error,
		r.checked_at, r.duration_ns, r.since, r.policy_revision,
		max(r.checked_at, CASE WHEN (SELECT p.expr_only FROM policies p WHERE p.id = r.policy_id)
			THEN 0 ELSE coalesce(h.policies_checked_at, 0) END),
		e.id, e.policy_id, e.host_id, e.labels, e.reason, e.owner, e.expires_at, e.created_at, e.created_by
	FROM results_current r
	JOIN hosts h ON h.id = r.host_id
	LEFT JOIN exempt x ON x.policy_id = r.policy_id AND x.host_id = r.host_id
	LEFT JOIN exemptions e ON e.id = x.exemption_id`

func scanResult(row scanner) (store.HostResult, error) {
	var (
		r                       store.HostResult
		status, evidence        string
		checked, dur, since     int64
		lastChecked             int64
		exID, exHost            sql.NullInt64
		exPolicy, exLabels      sql.NullString
		params                  sql.NullString
		exReason, exOwner, exBy sql.NullString
		exExpires, exCreated    sql.NullInt64
	)
	err := row.Scan(&r.HostID, &r.Hostname, &r.PolicyID, &status, &evidence, &params, &r.Error,
		&checked, &dur, &since, &r.PolicyRevision, &lastChecked,
		&exID, &exPolicy, &exHost, &exLabels, &exReason, &exOwner, &exExpires, &exCreated, &exBy)
	if err != nil {
		return r, err
	}
	r.Status = policy.Status(status)
	r.Evidence = store.DecodeEvidence(evidence)
	r.Parameters = store.DecodeParameters(params.String)
	r.CheckedAt = time.Unix(0, checked).UTC()
	r.LastCheckedAt = time.Unix(0, lastChecked).UTC()
	r.Duration = time.Duration(dur)
	r.Since = time.Unix(0, since).UTC()
	if exID.Valid {
		e := &store.Exemption{ID: exID.Int64, PolicyID: exPolicy.String, HostID: exHost.Int64,
			Reason: exReason.String, Owner: exOwner.String, CreatedBy: exBy.String,
			ExpiresAt: fromNanos(exExpires), CreatedAt: fromNanos(exCreated)}
		if e.Labels, err = decodeLabels(exLabels.String); err != nil {
			return r, err
		}
		r.UnderlyingStatus, r.Status, r.Exemption = r.Status, policy.StatusExempt, e
	}
	return r, nil
}

// PolicyResults returns one page of a policy's results, by host id.
func (s *Store) PolicyResults(ctx context.Context, q store.ResultQuery) ([]store.HostResult, error) {
	where := `r.policy_id = :policy AND r.host_id > :after`
	switch q.Status {
	case "":
	case policy.StatusExempt:
		where += ` AND x.exemption_id IS NOT NULL`
	default:
		where += ` AND r.status = :status AND x.exemption_id IS NULL`
	}
	query := `WITH ` + exemptCTE("policy") + ` ` + resultSelect + ` WHERE ` + where + ` ORDER BY r.host_id LIMIT :limit`
	out, err := s.queryResults(ctx, query,
		sql.Named("policy", q.PolicyID), sql.Named("after", q.AfterHostID), sql.Named("status", string(q.Status)),
		sql.Named("at", nowOr(q.At).UnixNano()), sql.Named("limit", limitOrDefault(q.Limit)))
	if err != nil {
		return nil, fmt.Errorf("policy results: %w", err)
	}
	return out, nil
}

// HostResults returns every current result of one host, by policy id.
func (s *Store) HostResults(ctx context.Context, hostID int64, at time.Time) ([]store.HostResult, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("host results: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM hosts WHERE id = ?`, hostID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("host results: host %d: %w", hostID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("host results: %w", err)
	}
	query := `WITH ` + exemptCTE("host") + ` ` + resultSelect + ` WHERE r.host_id = :host ORDER BY r.policy_id`
	out, err := queryResults(ctx, tx, query, sql.Named("host", hostID), sql.Named("at", nowOr(at).UnixNano()))
	if err != nil {
		return nil, fmt.Errorf("host results: %w", err)
	}
	return out, nil
}

func (s *Store) queryResults(ctx context.Context, query string, args ...any) ([]store.HostResult, error) {
	return queryResults(ctx, s.r, query, args...)
}

func queryResults(ctx context.Context, q querier, query string, args ...any) ([]store.HostResult, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.HostResult{}
	for rows.Next() {
		r, err := scanResult(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Compliance counts results per policy. Plain counts come from
// result_counts, kept by triggers; exempt results, few by nature, are
// counted apart and moved from their status to Exempt.
func (s *Store) Compliance(ctx context.Context, at time.Time) ([]store.PolicyCounts, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("compliance: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	counts := &store.CountTally{}
	if err := tally(ctx, tx, counts.Add,
		`SELECT policy_id, status, n FROM result_counts WHERE n <> 0`); err != nil {
		return nil, fmt.Errorf("compliance: %w", err)
	}
	if err := tally(ctx, tx, counts.Exempt, `WITH `+exemptCTE("")+`
		SELECT r.policy_id, r.status, count(*) FROM exempt x
		JOIN results_current r ON r.host_id = x.host_id AND r.policy_id = x.policy_id
		GROUP BY r.policy_id, r.status`, sql.Named("at", nowOr(at).UnixNano())); err != nil {
		return nil, fmt.Errorf("compliance: %w", err)
	}
	return counts.Sorted(), nil
}

// PolicyCompliance counts one policy's results as Compliance does.
func (s *Store) PolicyCompliance(ctx context.Context, policyID string, at time.Time) (store.PolicyCounts, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.PolicyCounts{}, fmt.Errorf("policy %q compliance: %w", policyID, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	counts := &store.CountTally{}
	if err := tally(ctx, tx, counts.Add,
		`SELECT policy_id, status, n FROM result_counts WHERE policy_id = :policy AND n <> 0`,
		sql.Named("policy", policyID)); err != nil {
		return store.PolicyCounts{}, fmt.Errorf("policy %q compliance: %w", policyID, err)
	}
	if err := tally(ctx, tx, counts.Exempt, `WITH `+exemptCTE("policy")+`
		SELECT r.policy_id, r.status, count(*) FROM exempt x
		JOIN results_current r ON r.host_id = x.host_id AND r.policy_id = x.policy_id
		GROUP BY r.policy_id, r.status`, sql.Named("at", nowOr(at).UnixNano()), sql.Named("policy", policyID)); err != nil {
		return store.PolicyCounts{}, fmt.Errorf("policy %q compliance: %w", policyID, err)
	}
	return counts.Of(policyID), nil
}

func tally(ctx context.Context, tx *sql.Tx, add func(string, policy.Status, int64), query string, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, status string
			n          int64
		)
		if err := rows.Scan(&id, &status, &n); err != nil {
			return err
		}
		add(id, policy.Status(status), n)
	}
	return rows.Err()
}

// ListTransitions returns status changes, newest first.
func (s *Store) ListTransitions(ctx context.Context, q store.TransitionQuery) ([]store.Transition, error) {
	var where []string
	var args []any
	if q.PolicyID != "" {
		where, args = append(where, `policy_id = ?`), append(args, q.PolicyID)
	}
	if q.HostID != 0 {
		where, args = append(where, `host_id = ?`), append(args, q.HostID)
	}
	if !q.Since.IsZero() {
		where, args = append(where, `at >= ?`), append(args, q.Since.UnixNano())
	}
	if q.AfterID > 0 {
		where, args = append(where, `(at, id) < (?, ?)`), append(args, q.AfterAt.UnixNano(), q.AfterID)
	}
	query := `SELECT id, host_id, policy_id, from_status, to_status, at, evidence, parameters FROM result_transitions`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := s.r.QueryContext(ctx, query+` ORDER BY at DESC, id DESC LIMIT ?`, append(args, limitOrDefault(q.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list transitions: %w", err)
	}
	defer rows.Close()
	out := []store.Transition{}
	for rows.Next() {
		var (
			t       store.Transition
			from    sql.NullString
			params  sql.NullString
			to, ev  string
			atNanos int64
		)
		if err := rows.Scan(&t.ID, &t.HostID, &t.PolicyID, &from, &to, &atNanos, &ev, &params); err != nil {
			return nil, fmt.Errorf("list transitions: %w", err)
		}
		t.From, t.To = statusOf(from), policy.Status(to)
		t.At = time.Unix(0, atNanos).UTC()
		t.Evidence = store.DecodeEvidence(ev)
		t.Parameters = store.DecodeParameters(params.String)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list transitions: %w", err)
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
