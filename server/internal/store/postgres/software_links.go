package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/server/internal/store/ingestplan"
)

// A batch's software sections are written set-based, whatever the number
// of hosts: every wanted (host, package) pair goes to a temporary staging
// table with one COPY, one statement adds the catalog rows the whole batch
// needs, and each round (below) costs one unlink and at most two link
// statements. PostgreSQL sizes its estimates of a temporary table from its
// pages, so the joins against 250,000 staged rows are hash joins, not the
// nested loops a parameter array's fixed estimate invites.
//
// A host with more than one software section in the batch has them
// applied in message order: its first goes in round 0, its second in round
// 1, and each round's statements run after the one before.
const (
	// createStageSQL makes the connection's staging table once; commit
	// empties it, and a rolled-back batch leaves nothing behind.
	createStageSQL = `CREATE TEMP TABLE IF NOT EXISTS software_stage (
		host_id bigint NOT NULL,
		round   int NOT NULL,
		track   bool NOT NULL,
		name    text COLLATE "C" NOT NULL,
		version text COLLATE "C" NOT NULL,
		arch    text COLLATE "C" NOT NULL,
		source  text COLLATE "C" NOT NULL
	) ON COMMIT DELETE ROWS`
	// addCatalogSQL creates the catalog rows seen for the first time, for
	// the whole batch in one statement, in key order: concurrent batches
	// insert overlapping new keys in the same order, so one waits for the
	// other instead of each holding a key the other needs. The NOT EXISTS
	// keeps known keys from drawing identity values that ON CONFLICT
	// would throw away; ON CONFLICT still settles races.
	addCatalogSQL = `INSERT INTO software (name, version, arch, source, publisher)
		SELECT k.name, k.version, k.arch, k.source, k.publisher
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY
			AS k(name, version, arch, source, publisher, n)
		WHERE NOT EXISTS (SELECT 1 FROM software s
			WHERE s.name = k.name AND s.version = k.version AND s.arch = k.arch AND s.source = k.source)
		ORDER BY k.n
		ON CONFLICT (name, version, arch, source) DO NOTHING`
	// unlinkStagedSQL drops the links of the round's hosts ($2) to
	// catalog rows not staged for them; a host with nothing staged loses
	// every link. Unlinks are few, so each names its package.
	unlinkStagedSQL = `DELETE FROM host_software hs USING software s
		WHERE hs.host_id = ANY($2) AND s.id = hs.software_id
		AND NOT EXISTS (SELECT 1 FROM software_stage k
			WHERE k.round = $1 AND k.host_id = hs.host_id
			AND k.name = s.name AND k.version = s.version AND k.arch = s.arch AND k.source = s.source)
		RETURNING hs.host_id, hs.software_id, s.name, s.version, s.arch, s.source`
	// linkStaged links each staged pair not yet linked. The catalog rows
	// exist (addCatalogSQL ran first) and the hosts are locked by the
	// batch, so every link points at rows that exist: host_software has no
	// foreign keys to check it again, row by row.
	linkStaged = `INSERT INTO host_software (host_id, software_id)
		SELECT k.host_id, s.id FROM software_stage k
		JOIN software s ON s.name = k.name AND s.version = k.version AND s.arch = k.arch AND s.source = k.source
		WHERE k.round = $1 AND k.track = $2
		ON CONFLICT DO NOTHING
		RETURNING host_id, software_id`
	// linkCountsSQL, for baselines, returns only how many links each
	// catalog row gained: a first inventory's 500 rows come back as
	// counts.
	linkCountsSQL = `WITH linked AS (` + linkStaged + `)
		SELECT software_id, count(*) FROM linked GROUP BY software_id`
	// linkKeyedSQL, for tracked sections, names each package linked.
	linkKeyedSQL = `WITH linked AS (` + linkStaged + `)
		SELECT l.host_id, l.software_id, s.name, s.version, s.arch, s.source
		FROM linked l JOIN software s ON s.id = l.software_id`
)

// softwareRound is the software sets of a batch applied together.
type softwareRound struct {
	hosts       []int64
	tracks      map[int64]*ingestplan.SoftwareSet // sets whose difference is reported
	trackedRows int                               // rows staged for tracked sets
	baseRows    int                               // rows staged for the others
}

// softwareWrites gathers a batch's software sets.
type softwareWrites struct {
	rounds []*softwareRound
	next   map[int64]int              // each host's next round
	rows   [][]any                    // software_stage rows
	pubs   map[changes.Package]string // catalog keys, with the first publisher seen
	order  []changes.Package          // catalog keys in first-seen order
}

// add plans making the host's links equal set.Packages. A tracked set's
// link statements also report which packages went and came.
func (w *softwareWrites) add(set *ingestplan.SoftwareSet) {
	if w.next == nil {
		w.next, w.pubs = map[int64]int{}, map[changes.Package]string{}
	}
	hostID := set.HostID
	r := w.next[hostID]
	w.next[hostID] = r + 1
	if r == len(w.rounds) {
		w.rounds = append(w.rounds, &softwareRound{tracks: map[int64]*ingestplan.SoftwareSet{}})
	}
	round := w.rounds[r]
	round.hosts = append(round.hosts, hostID)
	if set.Track {
		round.tracks[hostID] = set
		round.trackedRows += len(set.Packages)
	} else {
		round.baseRows += len(set.Packages)
	}
	for _, p := range set.Packages {
		w.rows = append(w.rows, []any{hostID, int32(r), set.Track, p.Name, p.Version, p.Arch, p.Source})
		if _, ok := w.pubs[p.Package]; !ok {
			w.pubs[p.Package] = p.Publisher
			w.order = append(w.order, p.Package)
		}
	}
}

// stage copies the batch's wanted links into the staging table.
func (w *softwareWrites) stage(ctx context.Context, tx pgx.Tx) error {
	if len(w.rows) == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"software_stage"},
		[]string{"host_id", "round", "track", "name", "version", "arch", "source"}, pgx.CopyFromRows(w.rows))
	if err != nil {
		return fmt.Errorf("stage software: %w", err)
	}
	return nil
}

// queue adds the catalog insert and each round's link statements to b,
// noting every host_count change in deltas.
func (w *softwareWrites) queue(b *pgx.Batch, deltas map[int64]int64) {
	if len(w.order) > 0 {
		// The catalog's key columns are "C" collation, which orders as
		// ComparePackages does.
		keys := slices.SortedFunc(slices.Values(w.order), ingestplan.ComparePackages)
		n := len(keys)
		names, versions, arches, sources, pubs :=
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, k := range keys {
			names[i], versions[i], arches[i], sources[i], pubs[i] = k.Name, k.Version, k.Arch, k.Source, w.pubs[k]
		}
		b.Queue(addCatalogSQL, names, versions, arches, sources, pubs)
	}
	for r, round := range w.rounds {
		b.Queue(unlinkStagedSQL, int32(r), round.hosts).Query(keyed(round, deltas, -1))
		if round.baseRows > 0 {
			b.Queue(linkCountsSQL, int32(r), false).Query(func(rows pgx.Rows) error {
				var id, n int64
				_, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error {
					deltas[id] += n
					return nil
				})
				return err
			})
		}
		if round.trackedRows > 0 {
			b.Queue(linkKeyedSQL, int32(r), true).Query(keyed(round, deltas, +1))
		}
	}
}

// keyed reads (host, catalog id, package) rows, counting each in deltas
// and adding the package to its host's set, if that is tracked.
func keyed(round *softwareRound, deltas map[int64]int64, delta int64) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		var (
			host, id int64
			k        changes.Package
		)
		_, err := pgx.ForEachRow(rows, []any{&host, &id, &k.Name, &k.Version, &k.Arch, &k.Source}, func() error {
			deltas[id] += delta
			t := round.tracks[host]
			switch {
			case t == nil:
			case delta < 0:
				t.Removed = append(t.Removed, k)
			default:
				t.Added = append(t.Added, k)
			}
			return nil
		})
		return err
	}
}
