package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// FleetCounts summarizes hosts in two grouped reads of one snapshot.
func (s *Store) FleetCounts(ctx context.Context, onlineSince time.Time) (store.FleetCounts, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.FleetCounts{}, fmt.Errorf("fleet counts: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	out := store.FleetCounts{}
	rows, err := tx.QueryContext(ctx, `SELECT os, platform, os_version, COALESCE(last_seen >= ?, 0) AS online, count(*)
		FROM hosts WHERE retired_at IS NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`, nowOr(onlineSince).UnixNano())
	if err != nil {
		return store.FleetCounts{}, fmt.Errorf("fleet counts: %w", err)
	}
	for rows.Next() {
		var c store.HostCount
		if err := rows.Scan(&c.OS, &c.Platform, &c.OSVersion, &c.Online, &c.Count); err != nil {
			rows.Close()
			return store.FleetCounts{}, fmt.Errorf("fleet counts: %w", err)
		}
		out.Hosts = append(out.Hosts, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return store.FleetCounts{}, fmt.Errorf("fleet counts: %w", err)
	}
	rows, err = tx.QueryContext(ctx, `SELECT agent_version, count(*) FROM hosts WHERE retired_at IS NULL GROUP BY 1 ORDER BY 1`)
	if err != nil {
		return store.FleetCounts{}, fmt.Errorf("fleet counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c store.VersionCount
		if err := rows.Scan(&c.Version, &c.Count); err != nil {
			return store.FleetCounts{}, fmt.Errorf("fleet counts: %w", err)
		}
		out.AgentVersions = append(out.AgentVersions, c)
	}
	return out, rows.Err()
}

// FoldResultCounts has nothing to fold: result_counts is kept exact by
// row triggers, SQLite having one writer at a time.
func (s *Store) FoldResultCounts(ctx context.Context) error { return nil }
