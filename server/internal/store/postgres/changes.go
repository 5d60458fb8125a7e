package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/ingestplan"
)

// recordChangesSQL inserts a batch's changes in array order, so ids follow
// the order the messages and sections came in.
const recordChangesSQL = `INSERT INTO host_changes (host_id, kind, subject, old_value, new_value, details, first_seen, seq)
	SELECT u.host_id, u.kind, u.subject, u.old_value, u.new_value, u.details::json, u.first_seen, u.seq
	FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::bigint[])
		WITH ORDINALITY AS u(host_id, kind, subject, old_value, new_value, details, first_seen, seq, n)
	ORDER BY u.n`

// queueChanges adds one statement recording every change of the batch,
// passed as parallel arrays.
func queueChanges(b *pgx.Batch, rows []ingestplan.ChangeRow) {
	n := len(rows)
	if n == 0 {
		return
	}
	var (
		hosts, seqs                 = make([]int64, n), make([]int64, n)
		kinds, subjects, olds, news = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		details                     = make([]*string, n)
		seen                        = make([]time.Time, n)
	)
	for i, c := range rows {
		hosts[i], seqs[i] = c.HostID, int64(c.Seq)
		kinds[i], subjects[i], olds[i], news[i] = c.Kind, c.Subject, c.Old, c.New
		details[i], seen[i] = c.Details, c.FirstSeen
	}
	b.Queue(recordChangesSQL, hosts, kinds, subjects, olds, news, details, seen, seqs)
}

// queueOldData reads, with the hosts' state, the stored data of the
// sections refs names (see ingestplan.OldData), so changes are computed
// in Go without another round trip.
func queueOldData(b *pgx.Batch, refs []ingestplan.SectionRef, hosts map[int64]*ingestplan.Host) {
	if len(refs) == 0 {
		return
	}
	ids, names, sums := make([]int64, len(refs)), make([]string, len(refs)), make([]*string, len(refs))
	for i, r := range refs {
		ids[i], names[i], sums[i] = r.HostID, r.Name, r.Hash
	}
	b.Queue(`SELECT s.host_id, s.name, s.data::text
		FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(host_id, name, hash)
		JOIN inventory_sections s ON s.host_id = u.host_id AND s.name = u.name
		WHERE u.hash IS NULL OR s.hash <> u.hash`, ids, names, sums).Query(func(rows pgx.Rows) error {
		var (
			id         int64
			name, data string
		)
		_, err := pgx.ForEachRow(rows, []any{&id, &name, &data}, func() error {
			if h := hosts[id]; h != nil && h.Data != nil {
				h.Data[name] = data
			}
			return nil
		})
		return err
	})
}

// changeRow is one row of ListChanges.
type changeRow struct {
	ID        int64
	HostID    int64
	Kind      string
	Subject   string
	OldValue  string
	NewValue  string
	Details   *string
	FirstSeen time.Time
	Seq       int64
}

// changeQuery builds ListChanges' statement. Every filter is a plain
// column condition, so the planner can walk host_changes_host_time for
// one host, host_changes_kind_time for one kind, host_changes_time
// otherwise, backwards from the cursor.
func changeQuery(q store.ChangeQuery) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		args = append(args, a...)
		n := len(args) - len(a)
		for i := range a {
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(n+i+1), 1)
		}
		where = append(where, cond)
	}
	if q.HostID != 0 {
		add(`host_id = ?`, q.HostID)
	}
	if len(q.Kinds) > 0 {
		add(`kind = ANY(?)`, q.Kinds)
	}
	if q.Subject != "" {
		add(`subject = ?`, q.Subject)
	}
	if !q.Since.IsZero() {
		add(`first_seen >= ?`, ceilMicro(q.Since))
	}
	if !q.Until.IsZero() {
		add(`first_seen < ?`, ceilMicro(q.Until))
	}
	if q.AfterID > 0 {
		add(`(first_seen, id) < (?, ?)`, q.AfterFirstSeen, q.AfterID)
	}
	query := `SELECT id, host_id, kind, subject, old_value, new_value, details::text, first_seen, seq FROM host_changes`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	args = append(args, limitOrDefault(q.Limit))
	return query + ` ORDER BY first_seen DESC, id DESC LIMIT $` + strconv.Itoa(len(args)), args
}

// ceilMicro rounds t up to PostgreSQL's microsecond precision, which would
// otherwise round to nearest: for stored microsecond times x,
// x >= ceilMicro(t) exactly when x >= t, and likewise for <.
func ceilMicro(t time.Time) time.Time {
	if c := t.Truncate(time.Microsecond); c.Before(t) {
		return c.Add(time.Microsecond)
	}
	return t
}

// ListChanges returns one page of changes, newest first.
func (s *Store) ListChanges(ctx context.Context, q store.ChangeQuery) ([]store.Change, error) {
	query, args := changeQuery(q)
	rows, _ := s.pool.Query(ctx, query, args...)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[changeRow])
	if err != nil {
		return nil, fmt.Errorf("list changes: %w", err)
	}
	// Only an empty page needs to tell "no changes" from "no such host".
	if len(rs) == 0 && q.HostID != 0 {
		var one int
		err := s.pool.QueryRow(ctx, `SELECT 1 FROM hosts WHERE id = $1`, q.HostID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("list changes: host %d: %w", q.HostID, store.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("list changes: %w", err)
		}
	}
	out := make([]store.Change, len(rs))
	for i, r := range rs {
		out[i] = store.Change{ID: r.ID, HostID: r.HostID, Kind: r.Kind, Subject: r.Subject,
			OldValue: r.OldValue, NewValue: r.NewValue, FirstSeen: r.FirstSeen.UTC(), Seq: uint64(r.Seq)}
		if r.Details != nil {
			out[i].Details = []byte(*r.Details)
		}
	}
	return out, nil
}
