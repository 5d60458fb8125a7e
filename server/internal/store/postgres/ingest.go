package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/ingestplan"
	"github.com/steward-project/steward/shared/wire"
)

// ApplyBatch commits msgs in one transaction; see store.Ingest. A batch
// of heartbeats alone, the bulk of a fleet's traffic, is one statement
// and one round trip (applyHeartbeats). Any other batch, whatever its
// size, costs three round trips, four with software sections:
// lock and read the hosts' state; copy the wanted software links into a
// staging table; send every write as one pipelined batch; adjust catalog
// host counts and record the changes. ingestplan tracks sequence numbers,
// section hashes and data in Go in between, so no statement waits on the
// answer of another.
func (s *Store) ApplyBatch(ctx context.Context, msgs []store.Message) ([]store.Result, error) {
	if len(msgs) == 0 {
		return []store.Result{}, nil
	}
	if err := ingestplan.Check(msgs); err != nil {
		return nil, fmt.Errorf("apply batch: %w", err)
	}
	results := make([]store.Result, len(msgs))
	if heartbeatsOnly(msgs) {
		if err := s.applyHeartbeats(ctx, msgs, results); err != nil {
			return nil, fmt.Errorf("apply batch: %w", err)
		}
		return results, nil
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		return applyBatch(ctx, tx, s.log, msgs, results)
	})
	if err != nil {
		return nil, fmt.Errorf("apply batch: %w", err)
	}
	return results, nil
}

func heartbeatsOnly(msgs []store.Message) bool {
	for _, m := range msgs {
		if m.Type != wire.TypeHeartbeat {
			return false
		}
	}
	return true
}

// heartbeatSQL is a batch of heartbeats in one statement, so one round
// trip in its own implicit transaction instead of four (begin, lock,
// update, commit). It locks the hosts in id order as every other writer
// of hosts does, moves each host's last_seq and last_seen forward where
// the batch's highest sequence number is new, and returns the sequence
// numbers the hosts had before, from which ingestplan.Build tells the
// duplicates. When a host is unknown it changes nothing, and Build fails
// the batch as the general path would.
const heartbeatSQL = `WITH locked AS (
	SELECT id, last_seq FROM hosts WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE
), moved AS (
	UPDATE hosts h SET last_seq = u.seq, last_seen = u.seen
	FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) AS u(id, seq, seen), locked l
	WHERE h.id = u.id AND l.id = u.id AND u.seq > l.last_seq
		AND (SELECT count(*) FROM locked) = cardinality($1::bigint[])
)
SELECT id, last_seq FROM locked`

// applyHeartbeats applies a batch of heartbeats alone with heartbeatSQL
// and sets their results. It writes what Build's Progress would: each
// host's highest new sequence number and when its message arrived.
func (s *Store) applyHeartbeats(ctx context.Context, msgs []store.Message, results []store.Result) error {
	type top struct {
		seq  uint64
		seen time.Time
	}
	tops := make(map[int64]top, len(msgs))
	for _, m := range msgs {
		if t, ok := tops[m.HostID]; !ok || m.Seq > t.seq {
			tops[m.HostID] = top{m.Seq, m.Received}
		}
	}
	ids := slices.Sorted(maps.Keys(tops))
	seqs, seen := make([]int64, len(ids)), make([]time.Time, len(ids))
	for i, id := range ids {
		seqs[i], seen[i] = int64(tops[id].seq), tops[id].seen
	}
	hosts := make(map[int64]*ingestplan.Host, len(ids))
	err := s.retry(func() error {
		clear(hosts)
		rows, _ := s.pool.Query(ctx, heartbeatSQL, ids, seqs, seen)
		var id, seq int64
		_, err := pgx.ForEachRow(rows, []any{&id, &seq}, func() error {
			hosts[id] = &ingestplan.Host{LastSeq: uint64(seq)}
			return nil
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("heartbeats: %w", err)
	}
	plan, err := ingestplan.Build(s.log, msgs, hosts)
	if err != nil {
		return err
	}
	copy(results, plan.Results)
	return nil
}

// applyBatch applies msgs in tx and sets their results.
func applyBatch(ctx context.Context, tx pgx.Tx, log *slog.Logger, msgs []store.Message, results []store.Result) error {
	hosts, err := lockHosts(ctx, tx, msgs)
	if err != nil {
		return err
	}
	plan, err := ingestplan.Build(log, msgs, hosts)
	if err != nil {
		return err
	}
	w := &writer{batch: &pgx.Batch{}, deltas: map[int64]int64{}}
	for _, pw := range plan.Writes {
		if err := w.queue(pw); err != nil {
			return err
		}
	}
	w.progress(plan.Progress)
	w.collectStates()
	if err := w.sw.stage(ctx, tx); err != nil {
		return err
	}
	w.sw.queue(w.batch, w.deltas)
	if err := tx.SendBatch(ctx, w.batch).Close(); err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	if err := finish(ctx, tx, w.deltas, plan.Changes()); err != nil {
		return err
	}
	copy(results, plan.Results)
	return nil
}

// lockHosts locks every host of the batch in id order, so batches sharing
// hosts queue instead of deadlocking, and reads their sequence numbers and,
// for hosts with inventory, their section hashes and the stored data of
// the sections the batch may change. An unknown host is left out, for
// ingestplan.Build to refuse.
func lockHosts(ctx context.Context, tx pgx.Tx, msgs []store.Message) (map[int64]*ingestplan.Host, error) {
	ids, invIDs := map[int64]bool{}, map[int64]bool{}
	for _, m := range msgs {
		ids[m.HostID] = true
		if m.Type == wire.TypeInventory {
			invIDs[m.HostID] = true
		}
	}
	hosts := make(map[int64]*ingestplan.Host, len(ids))
	b := &pgx.Batch{}
	b.Queue(`SELECT id, last_seq FROM hosts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`,
		slices.Sorted(maps.Keys(ids))).Query(func(rows pgx.Rows) error {
		var id, seq int64
		_, err := pgx.ForEachRow(rows, []any{&id, &seq}, func() error {
			h := &ingestplan.Host{LastSeq: uint64(seq)}
			if invIDs[id] {
				h.Hashes, h.Data = map[string]string{}, map[string]string{}
			}
			hosts[id] = h
			return nil
		})
		return err
	})
	if len(invIDs) > 0 {
		b.Queue(createStageSQL)
		b.Queue(`SELECT host_id, name, hash FROM inventory_sections WHERE host_id = ANY($1)`,
			slices.Collect(maps.Keys(invIDs))).Query(func(rows pgx.Rows) error {
			var (
				id         int64
				name, hash string
			)
			_, err := pgx.ForEachRow(rows, []any{&id, &name, &hash}, func() error {
				if h := hosts[id]; h != nil {
					h.Hashes[name] = hash
				}
				return nil
			})
			return err
		})
		queueOldData(b, ingestplan.OldData(msgs), hosts)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("lock hosts: %w", err)
	}
	return hosts, nil
}

// writer queues one batch's writes.
type writer struct {
	batch *pgx.Batch
	// deltas sums host_count changes per catalog id, filled in as the
	// batch's link statements report what they changed.
	deltas map[int64]int64
	// sw holds the batch's software sets, written together at the end.
	sw softwareWrites
	// collect holds each host's last collection time and errors of the
	// batch, written together by collectStates.
	collect map[int64]ingestplan.CollectState
}

// collectStates writes the collection time and errors of every host with
// an inventory in the batch in one statement, instead of one per host: a
// fleet reconnecting with unchanged inventories sends one each.
func (w *writer) collectStates() {
	if len(w.collect) == 0 {
		return
	}
	ids := slices.Sorted(maps.Keys(w.collect))
	ats, errs := make([]*time.Time, len(ids)), make([]*string, len(ids))
	for i, id := range ids {
		c := w.collect[id]
		ats[i], errs[i] = nullTime(c.CollectedAt), c.Errors
	}
	w.batch.Queue(`UPDATE hosts h SET collected_at = u.at, collect_errors = u.errors::json
		FROM unnest($1::bigint[], $2::timestamptz[], $3::text[]) AS u(id, at, errors)
		WHERE h.id = u.id`, ids, ats, errs)
}

// progress writes every host's final last_seq and last_seen in one
// statement: a batch of heartbeats costs one UPDATE, not one per message.
func (w *writer) progress(ps []ingestplan.Progress) {
	if len(ps) == 0 {
		return
	}
	ids, seqs, seen := make([]int64, len(ps)), make([]int64, len(ps)), make([]time.Time, len(ps))
	for i, p := range ps {
		ids[i], seqs[i], seen[i] = p.HostID, int64(p.LastSeq), p.LastSeen
	}
	w.batch.Queue(`UPDATE hosts h SET last_seq = u.seq, last_seen = u.seen
		FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) AS u(id, seq, seen)
		WHERE h.id = u.id`, ids, seqs, seen)
}

// finish sends what the batch's writes left to do, as one pipelined batch:
// the host_count deltas and the changes (whose software part came back
// from the link statements).
func finish(ctx context.Context, tx pgx.Tx, deltas map[int64]int64, rows []ingestplan.ChangeRow) error {
	b := &pgx.Batch{}
	queueCounts(b, deltas)
	queueChanges(b, rows)
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("update host counts and changes: %w", err)
	}
	return nil
}

// queueCounts adds the batch's host_count deltas. Rows are locked in id
// order first: concurrent batches all touch the popular catalog rows
// (libc, openssl), and a common order keeps them from deadlocking.
func queueCounts(b *pgx.Batch, deltas map[int64]int64) {
	ids := make([]int64, 0, len(deltas))
	for id, d := range deltas {
		if d != 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	ds := make([]int64, len(ids))
	for i, id := range ids {
		ds[i] = deltas[id]
	}
	b.Queue(`SELECT id FROM software WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, ids)
	b.Queue(`UPDATE software s SET host_count = s.host_count + d.delta
		FROM unnest($1::bigint[], $2::bigint[]) AS d(id, delta) WHERE s.id = d.id`, ids, ds)
}
