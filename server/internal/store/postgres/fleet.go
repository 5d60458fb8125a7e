package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
)

// FleetCounts summarizes hosts in two grouped reads of one snapshot.
func (s *Store) FleetCounts(ctx context.Context, onlineSince time.Time) (store.FleetCounts, error) {
	var out store.FleetCounts
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := pgx.BeginTxFunc(ctx, s.pool, opts, func(tx pgx.Tx) error {
		out = store.FleetCounts{}
		b := &pgx.Batch{}
		b.Queue(`SELECT os, platform, os_version, COALESCE(last_seen >= $1, false) AS online, count(*)
			FROM hosts WHERE retired_at IS NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`, nowOr(onlineSince)).Query(func(rows pgx.Rows) error {
			var err error
			out.Hosts, err = pgx.CollectRows(rows, pgx.RowToStructByPos[store.HostCount])
			return err
		})
		b.Queue(`SELECT agent_version, count(*) FROM hosts WHERE retired_at IS NULL GROUP BY 1 ORDER BY 1`).Query(func(rows pgx.Rows) error {
			var err error
			out.AgentVersions, err = pgx.CollectRows(rows, pgx.RowToStructByPos[store.VersionCount])
			return err
		})
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return store.FleetCounts{}, fmt.Errorf("fleet counts: %w", err)
	}
	return out, nil
}
