package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/ingestplan"
)

// queue adds one write of the batch's plan; software sets are gathered
// for the set-based statements of software_links.go.
func (w *writer) queue(pw ingestplan.Write) error {
	switch pw := pw.(type) {
	case *ingestplan.SectionUpsert:
		w.batch.Queue(`INSERT INTO inventory_sections (host_id, name, hash, data, updated_at)
			SELECT $1, u.name, u.hash, u.data::json, $5
			FROM unnest($2::text[], $3::text[], $4::text[]) AS u(name, hash, data)
			ON CONFLICT (host_id, name) DO UPDATE
			SET hash = excluded.hash, data = excluded.data, updated_at = excluded.updated_at`,
			pw.HostID, pw.Names, pw.Hashes, pw.Data, pw.At)
	case *ingestplan.SectionDelete:
		w.batch.Queue(`DELETE FROM inventory_sections WHERE host_id = $1 AND name = ANY($2)`, pw.HostID, pw.Names)
	case *ingestplan.HostOS:
		w.batch.Queue(`UPDATE hosts SET platform = $2, os_version = $3 WHERE id = $1`,
			pw.HostID, pw.Platform, pw.Version)
	case *ingestplan.HostIdentity:
		w.batch.Queue(`UPDATE hosts SET hostname = CASE WHEN $2 = '' THEN hostname ELSE $2 END,
			hardware_uuid = $3, machine_id = $4, serial = $5 WHERE id = $1`,
			pw.HostID, pw.Hostname, pw.HardwareUUID, pw.MachineID, pw.Serial)
	case *ingestplan.IdentityClear:
		w.batch.Queue(`UPDATE hosts SET hardware_uuid = '', machine_id = '', serial = '' WHERE id = $1`, pw.HostID)
	case *ingestplan.CollectState:
		// Written for all hosts at once (collectStates); a later
		// inventory of the same host in the batch replaces an earlier.
		if w.collect == nil {
			w.collect = map[int64]ingestplan.CollectState{}
		}
		w.collect[pw.HostID] = *pw
	case *ingestplan.SoftwareSet:
		w.sw.add(pw)
	default:
		return fmt.Errorf("unknown ingest write %T", pw)
	}
	return nil
}

// inventoryRow is one row of the host-with-sections join Inventory reads.
type inventoryRow struct {
	CollectedAt *time.Time `db:"collected_at"`
	Errors      *string    `db:"collect_errors"`
	Name        *string    `db:"name"`
	Hash        *string    `db:"hash"`
	Data        []byte     `db:"data"`
}

// Inventory returns a host's stored sections, byte for byte as received.
// One query joins host and sections, so they are one snapshot.
func (s *Store) Inventory(ctx context.Context, hostID int64) (store.InventoryDoc, error) {
	rows, _ := s.pool.Query(ctx, `SELECT h.collected_at, h.collect_errors::text AS collect_errors,
			s.name, s.hash, s.data::text AS data
		FROM hosts h LEFT JOIN inventory_sections s ON s.host_id = h.id
		WHERE h.id = $1`, hostID)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[inventoryRow])
	if err != nil {
		return store.InventoryDoc{}, fmt.Errorf("inventory %d: %w", hostID, err)
	}
	if len(rs) == 0 {
		return store.InventoryDoc{}, fmt.Errorf("inventory %d: %w", hostID, store.ErrNotFound)
	}
	doc := store.InventoryDoc{
		HostID:      hostID,
		CollectedAt: utc(rs[0].CollectedAt),
		Sections:    make(map[string]json.RawMessage, len(rs)),
		Hashes:      make(map[string]string, len(rs)),
	}
	if e := rs[0].Errors; e != nil {
		if err := json.Unmarshal([]byte(*e), &doc.Errors); err != nil {
			return store.InventoryDoc{}, fmt.Errorf("inventory %d: collect errors: %w", hostID, err)
		}
	}
	for _, r := range rs {
		if r.Name == nil { // the LEFT JOIN's row for a host without sections
			continue
		}
		doc.Sections[*r.Name] = json.RawMessage(r.Data)
		doc.Hashes[*r.Name] = *r.Hash
	}
	return doc, nil
}
