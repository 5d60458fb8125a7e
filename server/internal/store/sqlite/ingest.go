package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"unicode/utf8"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/wire"
)

// ApplyBatch commits msgs in one write transaction; see store.Ingest.
func (s *Store) ApplyBatch(ctx context.Context, msgs []store.Message) ([]store.Result, error) {
	results := make([]store.Result, len(msgs))
	if len(msgs) == 0 {
		return results, nil
	}
	if err := checkMessages(msgs); err != nil {
		return nil, fmt.Errorf("apply batch: %w", err)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		b := &batch{ctx: ctx, tx: tx, log: s.log, stmts: map[string]*sql.Stmt{},
			lastSeq: map[int64]uint64{}, deltas: map[int64]int64{}}
		defer b.close()
		for i, m := range msgs {
			r, err := b.apply(m)
			if err != nil {
				return fmt.Errorf("message %d (host %d, seq %d): %w", i, m.HostID, m.Seq, err)
			}
			results[i] = r
		}
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
	// lastSeq caches each host's last applied sequence number, so a host
	// with many messages in the batch is read once.
	lastSeq map[int64]uint64
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

// checkMessages refuses, before any database work, what no database state
// could make valid. The postgres store refuses the same.
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

func (b *batch) apply(m store.Message) (store.Result, error) {
	last, err := b.hostLastSeq(m.HostID)
	if err != nil {
		return store.Result{}, err
	}
	if m.Seq <= last {
		return store.Result{Duplicate: true}, nil
	}
	if err := b.exec(`UPDATE hosts SET last_seq = ?, last_seen = ? WHERE id = ?`,
		int64(m.Seq), nanos(m.Received), m.HostID); err != nil {
		return store.Result{}, fmt.Errorf("update host: %w", err)
	}
	b.lastSeq[m.HostID] = m.Seq
	if m.Type == wire.TypeHeartbeat {
		return store.Result{}, nil
	}
	resync, kinds, err := b.applyInventory(m)
	if err != nil {
		return store.Result{}, err
	}
	return store.Result{Resync: resync, Changes: kinds}, nil
}

func (b *batch) hostLastSeq(id int64) (uint64, error) {
	if seq, ok := b.lastSeq[id]; ok {
		return seq, nil
	}
	row, err := b.queryRow(`SELECT last_seq FROM hosts WHERE id = ?`, id)
	if err != nil {
		return 0, err
	}
	var seq int64
	if err := row.Scan(&seq); errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("host %d: %w", id, store.ErrNotFound)
	} else if err != nil {
		return 0, fmt.Errorf("host %d: %w", id, err)
	}
	b.lastSeq[id] = uint64(seq)
	return uint64(seq), nil
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
