package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/ingestplan"
)

// recordChanges appends the batch's changes to host_changes, one prepared
// statement per row: in process, a row costs microseconds.
func (b *batch) recordChanges(rows []ingestplan.ChangeRow) error {
	for _, c := range rows {
		if err := b.exec(`INSERT INTO host_changes (host_id, kind, subject, old_value, new_value, details, first_seen, seq)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.HostID, c.Kind, c.Subject, c.Old, c.New, c.Details, nanos(c.FirstSeen), int64(c.Seq)); err != nil {
			return fmt.Errorf("record change: %w", err)
		}
	}
	return nil
}

// changeQuery builds ListChanges' statement. Every filter is a plain
// column condition, so SQLite picks host_changes_host_time for one host,
// host_changes_kind_time for one kind and host_changes_time otherwise, and
// walks it backwards from the cursor.
func changeQuery(q store.ChangeQuery) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if q.HostID != 0 {
		add(`host_id = ?`, q.HostID)
	}
	if len(q.Kinds) > 0 {
		add(`kind IN (?`+strings.Repeat(`, ?`, len(q.Kinds)-1)+`)`, anys(q.Kinds)...)
	}
	if q.Subject != "" {
		add(`subject = ?`, q.Subject)
	}
	if !q.Since.IsZero() {
		add(`first_seen >= ?`, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		add(`first_seen < ?`, q.Until.UnixNano())
	}
	if q.AfterID > 0 {
		add(`(first_seen, id) < (?, ?)`, q.AfterFirstSeen.UnixNano(), q.AfterID)
	}
	query := `SELECT id, host_id, kind, subject, old_value, new_value, details, first_seen, seq FROM host_changes`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return query + ` ORDER BY first_seen DESC, id DESC LIMIT ?`, append(args, limitOrDefault(q.Limit))
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// ListChanges returns one page of changes, newest first.
func (s *Store) ListChanges(ctx context.Context, q store.ChangeQuery) ([]store.Change, error) {
	out, err := s.listChanges(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list changes: %w", err)
	}
	return out, nil
}

func (s *Store) listChanges(ctx context.Context, q store.ChangeQuery) ([]store.Change, error) {
	// One read transaction: an empty page and the host check agree.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	query, args := changeQuery(q)
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Change{}
	for rows.Next() {
		var (
			c       store.Change
			details sql.NullString
			seen    int64
			seq     int64
		)
		if err := rows.Scan(&c.ID, &c.HostID, &c.Kind, &c.Subject, &c.OldValue, &c.NewValue, &details, &seen, &seq); err != nil {
			return nil, err
		}
		if details.Valid {
			c.Details = []byte(details.String)
		}
		c.FirstSeen = time.Unix(0, seen).UTC()
		c.Seq = uint64(seq)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Only an empty page needs to tell "no changes" from "no such host".
	if len(out) == 0 && q.HostID != 0 {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM hosts WHERE id = ?`, q.HostID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("host %d: %w", q.HostID, store.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
