package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// pending collects the changes one inventory message brings. Software
// changes are known only once the batch's link statements have answered,
// so they are filled in then, at the place the software section had.
type pending struct {
	msg       int // index of the message in the batch
	hostID    int64
	seq       uint64
	firstSeen time.Time
	changes   []changes.Change
	software  *softwareTrack
	swAt      int // index in changes where software's belong
}

// softwareTrack is what the link statements report for one software
// section: the packages unlinked and linked, and the whole new list.
type softwareTrack struct {
	removed, added []changes.Package
	after          []softwareKey
}

// newPending dates changes by when the agent collected the inventory, the
// closest the server knows to when they happened; an agent that spooled
// for a day still dates them right. Without a collection time, the
// message's receipt.
func newPending(m store.Message) *pending {
	at := m.Inventory.CollectedAt
	if at.IsZero() {
		at = m.Received
	}
	return &pending{hostID: m.HostID, seq: m.Seq, firstSeen: at}
}

func (p *pending) add(cs ...changes.Change) { p.changes = append(p.changes, cs...) }

func (p *pending) trackSoftware() *softwareTrack {
	p.software, p.swAt = &softwareTrack{}, len(p.changes)
	return p.software
}

// all returns the message's changes with the software ones in place.
func (p *pending) all() []changes.Change {
	t := p.software
	if t == nil || len(t.removed)+len(t.added) == 0 {
		return p.changes
	}
	after := make([]changes.Package, len(t.after))
	for i, k := range t.after {
		after[i] = changes.Package{Name: k.name, Version: k.version, Arch: k.arch, Source: k.source}
	}
	return slices.Insert(slices.Clone(p.changes), p.swAt, changes.Software(t.removed, t.added, after)...)
}

// changeRows is every change of a batch as parallel arrays, so that one
// statement records them all.
type changeRows struct {
	hosts                       []int64
	kinds, subjects, olds, news []string
	details                     []*string
	seen                        []time.Time
	seqs                        []int64
}

// changeRows gathers the batch's changes and counts each message's by
// kind in its result.
func (p *planner) changeRows(results []store.Result) *changeRows {
	r := &changeRows{}
	for _, pd := range p.pending {
		for _, c := range pd.all() {
			res := &results[pd.msg]
			if res.Changes == nil {
				res.Changes = map[string]int{}
			}
			res.Changes[c.Kind]++
			var d *string
			if len(c.Details) > 0 {
				s := string(c.Details)
				d = &s
			}
			r.hosts = append(r.hosts, pd.hostID)
			r.kinds = append(r.kinds, c.Kind)
			r.subjects = append(r.subjects, clean(c.Subject))
			r.olds = append(r.olds, clean(c.Old))
			r.news = append(r.news, clean(c.New))
			r.details = append(r.details, d)
			r.seen = append(r.seen, pd.firstSeen)
			r.seqs = append(r.seqs, int64(pd.seq))
		}
	}
	return r
}

// recordChangesSQL inserts a batch's changes in array order, so ids follow
// the order the messages and sections came in.
const recordChangesSQL = `INSERT INTO host_changes (host_id, kind, subject, old_value, new_value, details, first_seen, seq)
	SELECT u.host_id, u.kind, u.subject, u.old_value, u.new_value, u.details::json, u.first_seen, u.seq
	FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::bigint[])
		WITH ORDINALITY AS u(host_id, kind, subject, old_value, new_value, details, first_seen, seq, n)
	ORDER BY u.n`

func (r *changeRows) queue(b *pgx.Batch) {
	if len(r.hosts) == 0 {
		return
	}
	b.Queue(recordChangesSQL, r.hosts, r.kinds, r.subjects, r.olds, r.news, r.details, r.seen, r.seqs)
}

// sectionKey names one host's section.
type sectionKey struct {
	host int64
	name string
}

// queueOldData reads, with the hosts' state, the stored data of every
// section the batch may change, so changes are computed in Go without
// another round trip. A section carried with one hash is read only when
// the stored hash differs; carried with several (two messages of one
// host), always. Software is left out: its changes come from its links.
func queueOldData(b *pgx.Batch, msgs []store.Message, hosts map[int64]*hostState) {
	carried := map[sectionKey]*string{} // nil: several hashes
	var order []sectionKey
	for _, m := range msgs {
		if m.Type != wire.TypeInventory {
			continue
		}
		for _, sec := range m.Inventory.Sections {
			if sec.Name == inventory.SectionSoftware {
				continue
			}
			k := sectionKey{m.HostID, sec.Name}
			prev, seen := carried[k]
			switch {
			case !seen:
				h := sec.Hash
				carried[k] = &h
				order = append(order, k)
			case prev != nil && *prev != sec.Hash:
				carried[k] = nil
			}
		}
	}
	if len(order) == 0 {
		return
	}
	ids, names, sums := make([]int64, len(order)), make([]string, len(order)), make([]*string, len(order))
	for i, k := range order {
		ids[i], names[i], sums[i] = k.host, k.name, carried[k]
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
			if h := hosts[id]; h != nil && h.data != nil {
				h.data[name] = data
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
