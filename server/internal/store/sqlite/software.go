package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/ingestplan"
)

// setSoftware makes the host's links equal set.Packages: links to
// packages no longer reported go, new ones are added (with their catalog
// row if it is the first host to report it), and host_count deltas are
// noted. A tracked set gets the difference, for the change history.
func (b *batch) setSoftware(set *ingestplan.SoftwareSet) error {
	have, err := b.hostSoftware(set.HostID)
	if err != nil {
		return err
	}
	want := make(map[changes.Package]bool, len(set.Packages))
	for _, p := range set.Packages {
		want[p.Package] = true
	}
	for k, id := range have {
		if want[k] {
			continue
		}
		if err := b.exec(`DELETE FROM host_software WHERE host_id = ? AND software_id = ?`, set.HostID, id); err != nil {
			return fmt.Errorf("unlink software: %w", err)
		}
		b.deltas[id]--
		if set.Track {
			set.Removed = append(set.Removed, k)
		}
	}
	for _, p := range set.Packages {
		if _, ok := have[p.Package]; ok {
			continue
		}
		id, err := b.catalogID(p)
		if err != nil {
			return err
		}
		if err := b.exec(`INSERT INTO host_software (host_id, software_id) VALUES (?, ?)`, set.HostID, id); err != nil {
			return fmt.Errorf("link software: %w", err)
		}
		b.deltas[id]++
		if set.Track {
			set.Added = append(set.Added, p.Package)
		}
	}
	return nil
}

func (b *batch) hostSoftware(hostID int64) (map[changes.Package]int64, error) {
	rows, err := b.query(`SELECT s.id, s.name, s.version, s.arch, s.source
		FROM host_software hs JOIN software s ON s.id = hs.software_id
		WHERE hs.host_id = ?`, hostID)
	if err != nil {
		return nil, fmt.Errorf("read host software: %w", err)
	}
	defer rows.Close()
	have := map[changes.Package]int64{}
	for rows.Next() {
		var (
			id int64
			k  changes.Package
		)
		if err := rows.Scan(&id, &k.Name, &k.Version, &k.Arch, &k.Source); err != nil {
			return nil, fmt.Errorf("read host software: %w", err)
		}
		have[k] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read host software: %w", err)
	}
	return have, nil
}

// catalogID returns the catalog id of p, creating the row if needed. The
// write transaction holds SQLite's only write lock, so nobody can insert
// the same key between the lookup and the insert.
func (b *batch) catalogID(p ingestplan.Package) (int64, error) {
	row, err := b.queryRow(`SELECT id FROM software WHERE name = ? AND version = ? AND arch = ? AND source = ?`,
		p.Name, p.Version, p.Arch, p.Source)
	if err != nil {
		return 0, fmt.Errorf("find software: %w", err)
	}
	var id int64
	err = row.Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("find software: %w", err)
	}
	row, err = b.queryRow(`INSERT INTO software (name, version, arch, source, publisher)
		VALUES (?, ?, ?, ?, ?) RETURNING id`, p.Name, p.Version, p.Arch, p.Source, p.Publisher)
	if err != nil {
		return 0, fmt.Errorf("add software: %w", err)
	}
	if err := row.Scan(&id); err != nil {
		return 0, fmt.Errorf("add software: %w", err)
	}
	return id, nil
}

// Software search runs in two steps so that no step sorts the hits: the
// catalog rows of a name come from an index (the (name, version, ...)
// unique index for exact names, the lower(name) index for prefixes and
// globs with a literal start; a glob starting with "*" reads the
// catalog, which holds one row per distinct package, never a row per
// host), are checked and filtered by version in Go, then each row's hosts
// come from host_software's (software_id, host_id) index, already in
// order. One query joining both would sort every link of the name on
// every page.
const (
	catalogColumns  = `SELECT id, name, version, arch, source FROM software`
	catalogExactSQL = catalogColumns + ` WHERE name = ?`
	catalogRangeSQL = catalogColumns + ` WHERE lower(name) >= ? AND lower(name) < ?`
	catalogFromSQL  = catalogColumns + ` WHERE lower(name) >= ?`
	catalogAllSQL   = catalogColumns
	searchLinksSQL  = `SELECT hs.host_id, h.hostname
		FROM host_software hs JOIN hosts h ON h.id = hs.host_id AND h.retired_at IS NULL
		WHERE hs.software_id = ? AND hs.host_id > ?
		ORDER BY hs.host_id LIMIT ?`
	// countLiveLinksSQL is the catalog row's host_count (ingest and host
	// deletion keep it equal to its links) less the links of retired
	// hosts, from the partial index on retired hosts and host_software's
	// primary key.
	countLiveLinksSQL = `SELECT s.host_count - (SELECT count(*)
			FROM hosts h JOIN host_software l ON l.host_id = h.id AND l.software_id = s.id
			WHERE h.retired_at IS NOT NULL)
		FROM software s WHERE s.id = ?`
)

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
	return catalogAllSQL, nil
}

// catalog returns the catalog rows matching q, ordered by id.
func catalog(ctx context.Context, tx *sql.Tx, q store.SoftwareQuery) ([]store.SoftwareHit, error) {
	query, args := catalogQuery(q)
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []store.SoftwareHit
	for rows.Next() {
		var h store.SoftwareHit
		if err := rows.Scan(&h.SoftwareID, &h.Name, &h.Version, &h.Arch, &h.Source); err != nil {
			return nil, err
		}
		all = append(all, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return q.Catalog(all), nil
}

// SearchSoftware returns hosts with software matching q, one page in
// (software id, host id) order.
func (s *Store) SearchSoftware(ctx context.Context, q store.SoftwareQuery) ([]store.SoftwareHit, error) {
	hits, err := s.searchSoftware(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("search software: %w", err)
	}
	return hits, nil
}

func (s *Store) searchSoftware(ctx context.Context, q store.SoftwareQuery) ([]store.SoftwareHit, error) {
	// One read transaction: both steps see one snapshot.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	catalog, err := catalog(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	limit := limitOrDefault(q.Limit)
	hits := []store.SoftwareHit{}
	links, err := tx.PrepareContext(ctx, searchLinksSQL)
	if err != nil {
		return nil, err
	}
	defer links.Close()
	for _, c := range catalog {
		after := int64(0)
		if c.SoftwareID == q.AfterSoftwareID {
			after = q.AfterHostID
		}
		rows, err := links.QueryContext(ctx, c.SoftwareID, after, limit-len(hits))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			h := c
			if err := rows.Scan(&h.HostID, &h.Hostname); err != nil {
				rows.Close()
				return nil, err
			}
			hits = append(hits, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(hits) == limit {
			break
		}
	}
	return hits, nil
}

// SoftwareVersions counts the live hosts of every version matching q.
func (s *Store) SoftwareVersions(ctx context.Context, q store.SoftwareQuery) ([]store.SoftwareVersion, error) {
	out, err := s.softwareVersions(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("software versions: %w", err)
	}
	return out, nil
}

func (s *Store) softwareVersions(ctx context.Context, q store.SoftwareQuery) ([]store.SoftwareVersion, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	q.AfterSoftwareID = 0
	catalog, err := catalog(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	count, err := tx.PrepareContext(ctx, countLiveLinksSQL)
	if err != nil {
		return nil, err
	}
	defer count.Close()
	hosts := make(map[int64]int64, len(catalog))
	for _, c := range catalog {
		var n int64
		if err := count.QueryRowContext(ctx, c.SoftwareID).Scan(&n); err != nil {
			return nil, err
		}
		hosts[c.SoftwareID] = n
	}
	return store.GroupVersions(catalog, hosts), nil
}

// SoftwareHostCount returns a catalog row's host_count, or ErrNotFound. It
// is not part of store.Software yet; top-N software counts will read the
// same column and the contract suite checks it with this.
func (s *Store) SoftwareHostCount(ctx context.Context, softwareID int64) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT host_count FROM software WHERE id = ?`, softwareID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("software %d host count: %w", softwareID, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("software %d host count: %w", softwareID, err)
	}
	return n, nil
}
