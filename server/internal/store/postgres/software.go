package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
)

// Software search runs in two steps. The catalog rows of a name come from
// an index (the (name, version, ...) unique index for exact names, the
// lower(name) index for the name range of a prefix or of a glob's literal
// start; a glob starting with "*" reads the catalog, one row per distinct
// package, never a row per host); Go checks their names and versions.
// Then each row's hosts come from host_software's (software_id, host_id)
// index, already in order, a growing number of rows per round trip,
// until the page is full: only one page of each row is read, and nothing is sorted.
const (
	catalogColumns  = `SELECT id, name, version, arch, source FROM software`
	catalogExactSQL = catalogColumns + ` WHERE name = $1`
	catalogRangeSQL = catalogColumns + ` WHERE lower(name) >= $1 AND lower(name) < $2`
	catalogFromSQL  = catalogColumns + ` WHERE lower(name) >= $1`
	catalogGlobSQL  = catalogColumns + ` WHERE lower(name) LIKE $1`
	searchLinksSQL  = `SELECT l.host_id, h.hostname
		FROM host_software l JOIN hosts h ON h.id = l.host_id AND h.retired_at IS NULL
		WHERE l.software_id = $1 AND l.host_id > $2
		ORDER BY l.host_id
		LIMIT $3`
	// versionColumns is catalogColumns with each row's host_count.
	versionColumns = `SELECT id, name, version, arch, source, host_count FROM software`
	// retiredLinksSQL counts every retired host's links per catalog
	// row: the partial index on retired hosts, then each one's primary
	// key range of host_software (OFFSET 0 keeps the planner from
	// turning it into a pass over every link).
	retiredLinksSQL = `SELECT l.software_id, count(*) AS n
		FROM hosts h CROSS JOIN LATERAL (
			SELECT software_id FROM host_software WHERE host_id = h.id OFFSET 0) l
		WHERE h.retired_at IS NOT NULL
		GROUP BY l.software_id`
)

// maxLinkChunk is the most catalog rows' pages one round trip asks for.
const maxLinkChunk = 32

// catalogQuery is the statement reading q's candidate catalog rows.
func catalogQuery(q store.SoftwareQuery) (string, []any) {
	if q.Effective() == store.MatchExact {
		return catalogExactSQL, []any{q.Name}
	}
	if lo, hi, ok := q.NameRange(); ok {
		if hi == "" {
			return catalogFromSQL, []any{lo}
		}
		return catalogRangeSQL, []any{lo, hi}
	}
	// A glob with no literal start reads the catalog whole; LIKE drops
	// what cannot match in PostgreSQL, so only candidates travel.
	return catalogGlobSQL, []any{q.LikePattern()}
}

// catalog returns the catalog rows matching q, ordered by id.
func catalog(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, q store.SoftwareQuery) ([]store.SoftwareHit, error) {
	query, args := catalogQuery(q)
	rows, _ := db.Query(ctx, query, args...)
	var all []store.SoftwareHit
	var h store.SoftwareHit
	_, err := pgx.ForEachRow(rows, []any{&h.SoftwareID, &h.Name, &h.Version, &h.Arch, &h.Source}, func() error {
		all = append(all, h)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return q.Catalog(all), nil
}

// SearchSoftware returns hosts with software matching q, one page in
// (software id, host id) order.
func (s *Store) SearchSoftware(ctx context.Context, q store.SoftwareQuery) ([]store.SoftwareHit, error) {
	var hits []store.SoftwareHit
	// One repeatable-read transaction: every step sees one snapshot.
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		hits, err = searchSoftware(ctx, tx, q)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("search software: %w", err)
	}
	return hits, nil
}

func searchSoftware(ctx context.Context, tx pgx.Tx, q store.SoftwareQuery) ([]store.SoftwareHit, error) {
	cat, err := catalog(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	limit := limitOrDefault(q.Limit)
	hits := []store.SoftwareHit{}
	// The first round trip asks for one catalog row's page, which fills
	// the page for any package that many hosts have; each further round
	// asks for twice as many rows as the last, up to maxLinkChunk.
	chunkSize := 1
	for len(cat) > 0 && len(hits) < limit {
		chunk := cat[:min(chunkSize, len(cat))]
		chunkSize = min(2*chunkSize, maxLinkChunk)
		cat = cat[len(chunk):]
		b := &pgx.Batch{}
		pages := make([][]store.SoftwareHit, len(chunk))
		for i, c := range chunk {
			after := int64(0)
			if c.SoftwareID == q.AfterSoftwareID {
				after = q.AfterHostID
			}
			b.Queue(searchLinksSQL, c.SoftwareID, after, limit-len(hits)).Query(func(rows pgx.Rows) error {
				h := c
				_, err := pgx.ForEachRow(rows, []any{&h.HostID, &h.Hostname}, func() error {
					pages[i] = append(pages[i], h)
					return nil
				})
				return err
			})
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, err
		}
		for _, p := range pages {
			hits = append(hits, p[:min(len(p), limit-len(hits))]...)
		}
	}
	return hits, nil
}

// SoftwareVersions counts the live hosts of every version matching q:
// each catalog row's host_count, read with the row, less its links from
// retired hosts. Those come from s.retired when it was counted for the
// retired hosts as they are in this snapshot; otherwise every retired
// host's links are counted, in this snapshot, and replace s.retired. One
// round trip when s.retired is current.
func (s *Store) SoftwareVersions(ctx context.Context, q store.SoftwareQuery) ([]store.SoftwareVersion, error) {
	var out []store.SoftwareVersion
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		q.AfterSoftwareID = 0
		query, args := catalogQuery(q)
		var (
			key   string
			all   []store.SoftwareHit
			hit   store.SoftwareHit
			n     int64
			hosts = map[int64]int64{}
		)
		b := &pgx.Batch{}
		b.Queue(retiredKeySQL).QueryRow(func(r pgx.Row) error { return r.Scan(&key) })
		b.Queue(versionColumns+strings.TrimPrefix(query, catalogColumns), args...).Query(func(rows pgx.Rows) error {
			_, err := pgx.ForEachRow(rows, []any{&hit.SoftwareID, &hit.Name, &hit.Version, &hit.Arch, &hit.Source, &n}, func() error {
				all = append(all, hit)
				hosts[hit.SoftwareID] = n
				return nil
			})
			return err
		})
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		cat := q.Catalog(all)
		if len(cat) == 0 {
			return nil
		}
		retired, ok := s.retired.get(key)
		if !ok {
			rows, _ := tx.Query(ctx, retiredLinksSQL)
			retired = map[int64]int64{}
			var id int64
			if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error {
				retired[id] = n
				return nil
			}); err != nil {
				return err
			}
			s.retired.put(key, retired)
		}
		for id := range hosts {
			hosts[id] -= retired[id]
		}
		out = store.GroupVersions(cat, hosts)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("software versions: %w", err)
	}
	if out == nil {
		out = []store.SoftwareVersion{}
	}
	return out, nil
}

// retiredKeySQL names the state of every retired host's links: the
// retired hosts' ids with their last_seq. Links change only with an
// inventory message, which moves its host's last_seq in the same
// transaction, or when a host is deleted or retired, which changes the
// ids; host ids are never reused. Equal keys therefore mean equal
// retired links. It reads the partial index on retired_at.
const retiredKeySQL = `SELECT coalesce(md5(string_agg(id::text || ':' || last_seq::text, ',' ORDER BY id)), '')
	FROM hosts WHERE retired_at IS NOT NULL`

// retiredLinks remembers the links of retired hosts per catalog row, as
// counted for one retiredKeySQL key. Retired hosts neither come back nor,
// once their agents are disconnected, change, so the count is redone
// only after a host is retired or deleted. Each server process keeps
// its own; the key read in every snapshot keeps them all right.
type retiredLinks struct {
	mu  sync.Mutex
	key string
	n   map[int64]int64 // read-only once stored
}

func (r *retiredLinks) get(key string) (map[int64]int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil || r.key != key {
		return nil, false
	}
	return r.n, true
}

func (r *retiredLinks) put(key string, n map[int64]int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.key, r.n = key, n
}

// SoftwareHostCount returns a catalog row's host_count, or ErrNotFound. It
// is not part of store.Software yet; top-N software counts will read the
// same column and the contract suite checks it with this.
func (s *Store) SoftwareHostCount(ctx context.Context, softwareID int64) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT host_count FROM software WHERE id = $1`, softwareID).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("software %d host count: %w", softwareID, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("software %d host count: %w", softwareID, err)
	}
	return n, nil
}
