package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/wire"
)

// ApplyBatch commits msgs in one transaction; see store.Ingest. Whatever
// the batch size it costs three round trips, four with software sections:
// lock and read the hosts' state; copy the wanted software links into a
// staging table; send every write as one pipelined batch; adjust catalog
// host counts and record the changes. Go tracks sequence numbers, section
// hashes and data in between, so no statement waits on the answer of
// another.
func (s *Store) ApplyBatch(ctx context.Context, msgs []store.Message) ([]store.Result, error) {
	results := make([]store.Result, len(msgs))
	if len(msgs) == 0 {
		return results, nil
	}
	if err := checkMessages(msgs); err != nil {
		return nil, fmt.Errorf("apply batch: %w", err)
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		clear(results)
		return applyBatch(ctx, tx, s.log, msgs, results)
	})
	if err != nil {
		return nil, fmt.Errorf("apply batch: %w", err)
	}
	return results, nil
}

// checkMessages refuses, before any database work, what no database state
// could make valid.
func checkMessages(msgs []store.Message) error {
	for i, m := range msgs {
		switch m.Type {
		case wire.TypeHeartbeat:
		case wire.TypeInventory:
			if m.Inventory == nil {
				return fmt.Errorf("message %d: inventory message without inventory", i)
			}
			for _, sec := range m.Inventory.Sections {
				// json.Valid lets invalid UTF-8 through; PostgreSQL text
				// refuses it, and the section's hash forbids repairing it.
				if !utf8.Valid(sec.Data) {
					return fmt.Errorf("message %d: section %s is not valid UTF-8", i, sec.Name)
				}
			}
		default:
			return fmt.Errorf("message %d: unknown message type %q", i, m.Type)
		}
		if m.Seq > math.MaxInt64 {
			return fmt.Errorf("message %d: sequence number %d out of range", i, m.Seq)
		}
	}
	return nil
}

// hostState is what a batch knows about one host while planning.
type hostState struct {
	lastSeq  uint64
	lastSeen time.Time
	changed  bool              // lastSeq/lastSeen must be written
	hashes   map[string]string // stored section hashes, as the batch leaves them
	// data holds the section data changes are computed from: as stored
	// for sections the batch changes (software excepted, whose changes
	// come from its links), then as the batch leaves them.
	data map[string]string
}

func applyBatch(ctx context.Context, tx pgx.Tx, log *slog.Logger, msgs []store.Message, results []store.Result) error {
	hosts, err := lockHosts(ctx, tx, msgs)
	if err != nil {
		return err
	}
	p := &planner{log: log, batch: &pgx.Batch{}, deltas: map[int64]int64{}}
	for i, m := range msgs {
		h := hosts[m.HostID]
		if m.Seq <= h.lastSeq {
			results[i].Duplicate = true
			continue
		}
		h.lastSeq, h.lastSeen, h.changed = m.Seq, m.Received, true
		if m.Type == wire.TypeInventory {
			results[i].Resync = p.inventory(m, h)
			p.pending[len(p.pending)-1].msg = i // inventory added one
		}
	}
	p.hostProgress(hosts)
	if err := p.sw.stage(ctx, tx); err != nil {
		return err
	}
	p.sw.queue(p.batch, p.deltas)
	if err := tx.SendBatch(ctx, p.batch).Close(); err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	return finish(ctx, tx, p.deltas, p.changeRows(results))
}

// lockHosts locks every host of the batch in id order, so batches sharing
// hosts queue instead of deadlocking, and reads their sequence numbers and,
// for hosts with inventory, their section hashes and the stored data of
// the sections the batch changes.
func lockHosts(ctx context.Context, tx pgx.Tx, msgs []store.Message) (map[int64]*hostState, error) {
	ids, invIDs := map[int64]bool{}, map[int64]bool{}
	for _, m := range msgs {
		ids[m.HostID] = true
		if m.Type == wire.TypeInventory {
			invIDs[m.HostID] = true
		}
	}
	hosts := make(map[int64]*hostState, len(ids))
	b := &pgx.Batch{}
	b.Queue(`SELECT id, last_seq FROM hosts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`,
		slices.Sorted(maps.Keys(ids))).Query(func(rows pgx.Rows) error {
		var id, seq int64
		_, err := pgx.ForEachRow(rows, []any{&id, &seq}, func() error {
			h := &hostState{lastSeq: uint64(seq)}
			if invIDs[id] {
				h.hashes, h.data = map[string]string{}, map[string]string{}
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
					h.hashes[name] = hash
				}
				return nil
			})
			return err
		})
		queueOldData(b, msgs, hosts)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("lock hosts: %w", err)
	}
	for _, m := range msgs {
		if hosts[m.HostID] == nil {
			return nil, fmt.Errorf("host %d: %w", m.HostID, store.ErrNotFound)
		}
	}
	return hosts, nil
}

// planner queues one batch's writes.
type planner struct {
	log   *slog.Logger
	batch *pgx.Batch
	// deltas sums host_count changes per catalog id, filled in as the
	// batch's link statements report what they changed.
	deltas map[int64]int64
	// pending holds each inventory message's changes, in batch order.
	pending []*pending
	// sw holds the batch's software sections, written together at the end.
	sw softwareWrites
}

// hostProgress writes every host's final last_seq and last_seen in one
// statement: a batch of heartbeats costs one UPDATE, not one per message.
func (p *planner) hostProgress(hosts map[int64]*hostState) {
	var (
		ids  []int64
		seqs []int64
		seen []time.Time
	)
	for id, h := range hosts {
		if !h.changed {
			continue
		}
		ids = append(ids, id)
		seqs = append(seqs, int64(h.lastSeq))
		seen = append(seen, h.lastSeen)
	}
	if len(ids) == 0 {
		return
	}
	p.batch.Queue(`UPDATE hosts h SET last_seq = u.seq, last_seen = u.seen
		FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) AS u(id, seq, seen)
		WHERE h.id = u.id`, ids, seqs, seen)
}

// finish sends what the batch's writes left to do, as one pipelined batch:
// the host_count deltas and the changes (whose software part came back
// from the link statements).
func finish(ctx context.Context, tx pgx.Tx, deltas map[int64]int64, rows *changeRows) error {
	b := &pgx.Batch{}
	queueCounts(b, deltas)
	rows.queue(b)
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
