package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/ingestplan"
	"github.com/steward-project/steward/shared/wire"
)

// ApplyBatch commits msgs in one write transaction; see store.Ingest.
// ingestplan decides what to write from the hosts' state read first;
// the statements then run one by one, each costing microseconds in
// process.
func (s *Store) ApplyBatch(ctx context.Context, msgs []store.Message) ([]store.Result, error) {
	if len(msgs) == 0 {
		return []store.Result{}, nil
	}
	if err := ingestplan.Check(msgs); err != nil {
		return nil, fmt.Errorf("apply batch: %w", err)
	}
	var results []store.Result
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		b := &batch{ctx: ctx, tx: tx, log: s.log, stmts: map[string]*sql.Stmt{}, deltas: map[int64]int64{}}
		defer b.close()
		hosts, err := b.readHosts(msgs)
		if err != nil {
			return err
		}
		plan, err := ingestplan.Build(s.log, msgs, hosts)
		if err != nil {
			return err
		}
		for _, w := range plan.Writes {
			if err := b.write(w); err != nil {
				return err
			}
		}
		if err := b.recordChanges(plan.Changes()); err != nil {
			return err
		}
		if err := b.progress(plan.Progress); err != nil {
			return err
		}
		results = plan.Results
		return b.flushCounts()
	})
	if err != nil {
		return nil, fmt.Errorf("apply batch: %w", err)
	}
	return results, nil
}

// batch is the state of one ApplyBatch transaction.
type batch struct {
	ctx   context.Context
	tx    *sql.Tx
	log   *slog.Logger
	stmts map[string]*sql.Stmt
	// deltas sums host_count changes per catalog id; they are written once
	// at the end instead of once per link.
	deltas map[int64]int64
}

// stmt prepares query once per batch: a batch runs the same few statements
// for every message and package.
func (b *batch) stmt(query string) (*sql.Stmt, error) {
	if st, ok := b.stmts[query]; ok {
		return st, nil
	}
	st, err := b.tx.PrepareContext(b.ctx, query)
	if err != nil {
		return nil, err
	}
	b.stmts[query] = st
	return st, nil
}

func (b *batch) exec(query string, args ...any) error {
	st, err := b.stmt(query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(b.ctx, args...)
	return err
}

func (b *batch) queryRow(query string, args ...any) (*sql.Row, error) {
	st, err := b.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(b.ctx, args...), nil
}

func (b *batch) query(query string, args ...any) (*sql.Rows, error) {
	st, err := b.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(b.ctx, args...)
}

func (b *batch) close() {
	for _, st := range b.stmts {
		st.Close()
	}
}

// readHosts reads what ingestplan.Build needs: every known host's last_seq
// and, for hosts with inventory, their section hashes and the stored data
// of the sections the batch may change. An unknown host is left out for
// Build to refuse.
func (b *batch) readHosts(msgs []store.Message) (map[int64]*ingestplan.Host, error) {
	hosts := map[int64]*ingestplan.Host{}
	for _, m := range msgs {
		h, ok := hosts[m.HostID]
		var err error
		if !ok {
			if h, err = b.readHost(m.HostID); err != nil {
				return nil, err
			}
			hosts[m.HostID] = h
		}
		if h != nil && m.Type == wire.TypeInventory && h.Hashes == nil {
			if h.Hashes, err = b.sectionHashes(m.HostID); err != nil {
				return nil, err
			}
			h.Data = map[string]string{}
		}
	}
	for _, ref := range ingestplan.OldData(msgs) {
		h := hosts[ref.HostID]
		if h == nil {
			continue
		}
		if stored, ok := h.Hashes[ref.Name]; !ok || !ref.Wanted(stored) {
			continue
		}
		data, err := b.sectionData(ref.HostID, ref.Name)
		if err != nil {
			return nil, err
		}
		h.Data[ref.Name] = data
	}
	for id, h := range hosts {
		if h == nil {
			delete(hosts, id)
		}
	}
	return hosts, nil
}

// readHost returns a host's last_seq, or nil for an unknown host.
func (b *batch) readHost(id int64) (*ingestplan.Host, error) {
	row, err := b.queryRow(`SELECT last_seq FROM hosts WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("host %d: %w", id, err)
	}
	var seq int64
	if err := row.Scan(&seq); errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("host %d: %w", id, err)
	}
	return &ingestplan.Host{LastSeq: uint64(seq)}, nil
}

// progress writes each host's final last_seq and last_seen.
func (b *batch) progress(ps []ingestplan.Progress) error {
	for _, p := range ps {
		if err := b.exec(`UPDATE hosts SET last_seq = ?, last_seen = ? WHERE id = ?`,
			int64(p.LastSeq), nanos(p.LastSeen), p.HostID); err != nil {
			return fmt.Errorf("update host: %w", err)
		}
	}
	return nil
}

// flushCounts applies the summed host_count changes of the batch.
func (b *batch) flushCounts() error {
	for id, d := range b.deltas {
		if d == 0 {
			continue
		}
		if err := b.exec(`UPDATE software SET host_count = host_count + ? WHERE id = ?`, d, id); err != nil {
			return fmt.Errorf("update host counts: %w", err)
		}
	}
	return nil
}
