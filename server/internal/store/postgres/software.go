package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
)

// softwareKey identifies one catalog row.
type softwareKey struct {
	name, version, arch, source string
}

// decodeSoftware returns the distinct packages of a software section, each
// with the publisher first reported for it. Packages without a name carry
// nothing to search for and are left out.
func decodeSoftware(data []byte) (map[softwareKey]string, error) {
	var sw inventory.Software
	if err := json.Unmarshal(data, &sw); err != nil {
		return nil, fmt.Errorf("decode software section: %w", err)
	}
	want := make(map[softwareKey]string, len(sw.Packages))
	for _, p := range sw.Packages {
		k := softwareKey{clean(p.Name), clean(p.Version), clean(p.Arch), clean(p.Source)}
		if k.name == "" {
			continue
		}
		if _, dup := want[k]; !dup {
			want[k] = clean(p.Publisher)
		}
	}
	return want, nil
}

// The set difference runs in PostgreSQL, three statements per software
// section whatever its size, each taking the whole package list as
// parallel arrays:
const (
	// unlinkVanishedSQL drops links to catalog rows not in the list.
	unlinkVanishedSQL = `DELETE FROM host_software hs USING software s
		WHERE hs.host_id = $1 AND s.id = hs.software_id
		AND NOT EXISTS (
			SELECT 1 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS k(name, version, arch, source)
			WHERE k.name = s.name AND k.version = s.version AND k.arch = s.arch AND k.source = s.source)
		RETURNING hs.software_id`
	// addCatalogSQL creates catalog rows seen for the first time. The NOT
	// EXISTS keeps known keys from drawing identity values that ON
	// CONFLICT would throw away; ON CONFLICT still settles races with
	// concurrent batches, and ORDER BY makes them take index locks in one
	// order.
	addCatalogSQL = `INSERT INTO software (name, version, arch, source, publisher)
		SELECT k.name, k.version, k.arch, k.source, k.publisher
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(name, version, arch, source, publisher)
		WHERE NOT EXISTS (SELECT 1 FROM software s
			WHERE s.name = k.name AND s.version = k.version AND s.arch = k.arch AND s.source = k.source)
		ORDER BY k.name, k.version, k.arch, k.source
		ON CONFLICT (name, version, arch, source) DO NOTHING`
	// linkNewSQL links the host to every listed catalog row it is not yet
	// linked to; RETURNING names only the links actually added.
	linkNewSQL = `INSERT INTO host_software (host_id, software_id)
		SELECT $1, s.id
		FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS k(name, version, arch, source)
		JOIN software s ON s.name = k.name AND s.version = k.version AND s.arch = k.arch AND s.source = k.source
		ON CONFLICT DO NOTHING
		RETURNING software_id`
)

// Keyed variants of the link statements also name the packages they
// unlinked and linked, for the changes a later inventory brings; a
// baseline inventory uses the plain ones.
const (
	unlinkVanishedKeyedSQL = unlinkVanishedSQL + `, s.name, s.version, s.arch, s.source`
	linkNewKeyedSQL        = `WITH linked AS (` + linkNewSQL + `)
		SELECT l.software_id, s.name, s.version, s.arch, s.source
		FROM linked l JOIN software s ON s.id = l.software_id`
)

// software queues making the host's links equal want and notes the
// host_count change of every link added or removed. With track, the link
// statements also report which packages went and came.
func (p *planner) software(hostID int64, want map[softwareKey]string, track *softwareTrack) {
	keys := slices.SortedFunc(func(yield func(softwareKey) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	}, func(a, b softwareKey) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.version, b.version),
			cmp.Compare(a.arch, b.arch), cmp.Compare(a.source, b.source))
	})
	n := len(keys)
	names, versions, arches, sources, publishers :=
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, k := range keys {
		names[i], versions[i], arches[i], sources[i], publishers[i] = k.name, k.version, k.arch, k.source, want[k]
	}
	count := func(delta int64) func(pgx.Rows) error {
		return func(rows pgx.Rows) error {
			var id int64
			_, err := pgx.ForEachRow(rows, []any{&id}, func() error {
				p.deltas[id] += delta
				return nil
			})
			return err
		}
	}
	// countKeyed also collects the package of each link into *into.
	countKeyed := func(delta int64, into *[]changes.Package) func(pgx.Rows) error {
		return func(rows pgx.Rows) error {
			var (
				id int64
				k  changes.Package
			)
			_, err := pgx.ForEachRow(rows, []any{&id, &k.Name, &k.Version, &k.Arch, &k.Source}, func() error {
				p.deltas[id] += delta
				*into = append(*into, k)
				return nil
			})
			return err
		}
	}
	if track != nil {
		track.after = keys
		p.batch.Queue(unlinkVanishedKeyedSQL, hostID, names, versions, arches, sources).Query(countKeyed(-1, &track.removed))
	} else {
		p.batch.Queue(unlinkVanishedSQL, hostID, names, versions, arches, sources).Query(count(-1))
	}
	if n == 0 {
		return
	}
	p.batch.Queue(addCatalogSQL, names, versions, arches, sources, publishers)
	if track != nil {
		p.batch.Queue(linkNewKeyedSQL, hostID, names, versions, arches, sources).Query(countKeyed(+1, &track.added))
	} else {
		p.batch.Queue(linkNewSQL, hostID, names, versions, arches, sources).Query(count(+1))
	}
}

// searchSoftwareSQL finds the few catalog rows of a name through the
// unique index, then takes at most one page of hosts from each through
// host_software's (software_id, host_id) index, already in order. Only
// those pages are sorted, never every link of a popular package. The
// hostname join sits inside the LATERAL page so that it costs one index
// lookup per hit, not a pass over hosts.
const searchSoftwareSQL = `SELECT s.id, s.name, s.version, s.arch, s.source, hs.host_id, hs.hostname
	FROM software s
	CROSS JOIN LATERAL (
		SELECT l.host_id, h.hostname
		FROM host_software l JOIN hosts h ON h.id = l.host_id AND h.retired_at IS NULL
		WHERE l.software_id = s.id AND (l.software_id, l.host_id) > ($2, $3)
		ORDER BY l.host_id
		LIMIT $4
	) hs
	WHERE s.name = $1 AND s.id >= $2 %s
	ORDER BY s.id, hs.host_id
	LIMIT $4`

// SearchSoftware returns hosts with software of this exact name (and
// version, when given), one page in (software id, host id) order.
func (s *Store) SearchSoftware(ctx context.Context, q store.SoftwareQuery) ([]store.SoftwareHit, error) {
	version, args := "", []any{q.Name, q.AfterSoftwareID, q.AfterHostID, limitOrDefault(q.Limit)}
	if q.Version != "" {
		version = "AND s.version = $5"
		args = append(args, q.Version)
	}
	rows, _ := s.pool.Query(ctx, fmt.Sprintf(searchSoftwareSQL, version), args...)
	hits, err := pgx.CollectRows(rows, pgx.RowToStructByPos[store.SoftwareHit])
	if err != nil {
		return nil, fmt.Errorf("search software: %w", err)
	}
	return hits, nil
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
