package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/server/internal/identity"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// inventory queues one inventory message's writes, computes the changes
// it brings, updates h to what the host will hold after it, and reports
// whether the hashes no longer fold into the message's digest.
func (p *planner) inventory(m store.Message, h *hostState) bool {
	hostID, inv, hashes := m.HostID, m.Inventory, h.hashes
	rec := newPending(m)
	p.pending = append(p.pending, rec)
	if len(hashes) == 0 && len(inv.Sections) > 0 {
		rec.add(changes.Change{Kind: changes.FirstInventory})
	}
	var names, sums, data []string
	for _, sec := range inv.Sections {
		oldHash, had := hashes[sec.Name]
		// An unchanged section (a resync resends them all) is neither
		// rewritten nor normalized again: its links already match its data.
		if had && oldHash == sec.Hash {
			continue
		}
		names = append(names, sec.Name)
		sums = append(sums, sec.Hash)
		data = append(data, string(sec.Data))
		hashes[sec.Name] = sec.Hash
		p.derived(hostID, sec, had, rec)
		if sec.Name == inventory.SectionSoftware {
			continue
		}
		// A section seen for the first time is a baseline, not a change.
		if old, ok := h.data[sec.Name]; had && ok {
			cs, err := changes.Section(sec.Name, []byte(old), sec.Data)
			if err != nil {
				p.log.Warn("section changes not recorded", "host_id", hostID, "section", sec.Name, "err", err)
			}
			rec.add(cs...)
		} else if had {
			p.log.Warn("section changes not recorded: previous data not read", "host_id", hostID, "section", sec.Name)
		}
		h.data[sec.Name] = string(sec.Data)
	}
	if len(names) > 0 {
		p.batch.Queue(`INSERT INTO inventory_sections (host_id, name, hash, data, updated_at)
			SELECT $1, u.name, u.hash, u.data::json, $5
			FROM unnest($2::text[], $3::text[], $4::text[]) AS u(name, hash, data)
			ON CONFLICT (host_id, name) DO UPDATE
			SET hash = excluded.hash, data = excluded.data, updated_at = excluded.updated_at`,
			hostID, names, sums, data, m.Received)
	}
	if len(inv.Removed) > 0 {
		p.batch.Queue(`DELETE FROM inventory_sections WHERE host_id = $1 AND name = ANY($2)`, hostID, inv.Removed)
		for _, name := range inv.Removed {
			delete(hashes, name)
			delete(h.data, name)
			p.removeDerived(hostID, name)
		}
	}
	var errs *string
	if len(inv.Errors) > 0 {
		raw, _ := json.Marshal(inv.Errors) // a map of strings always encodes
		s := string(raw)
		errs = &s
	}
	p.batch.Queue(`UPDATE hosts SET collected_at = $2, collect_errors = $3::json WHERE id = $1`,
		hostID, nullTime(inv.CollectedAt), errs)
	return inventory.Digest(hashes) != inv.Digest
}

// derived queues what other tables keep from a changed section; the
// software links report their set difference to rec unless the host had
// no software section before (a baseline). A section that does not decode
// into its type is stored but not copied: failing the batch would block
// the agent's queue on a message it cannot fix, and its next collection
// replaces the section anyway.
func (p *planner) derived(hostID int64, sec wire.Section, had bool, rec *pending) {
	switch sec.Name {
	case inventory.SectionSoftware:
		want, err := decodeSoftware(sec.Data)
		if err != nil {
			p.log.Warn("software section not normalized", "host_id", hostID, "err", err)
			return
		}
		var track *softwareTrack
		if had {
			track = rec.trackSoftware()
		}
		p.software(hostID, want, track)
	case inventory.SectionOS:
		var o inventory.OS
		if err := json.Unmarshal(sec.Data, &o); err != nil {
			p.log.Warn("os section not copied to host", "host_id", hostID, "err", err)
			return
		}
		p.batch.Queue(`UPDATE hosts SET platform = $2, os_version = $3 WHERE id = $1`,
			hostID, clean(o.Platform), clean(o.Version))
	case inventory.SectionHost:
		var h inventory.Host
		if err := json.Unmarshal(sec.Data, &h); err != nil {
			p.log.Warn("host section not copied to host", "host_id", hostID, "err", err)
			return
		}
		// An empty hostname would only hide the one from hello.
		p.batch.Queue(`UPDATE hosts SET hostname = CASE WHEN $2 = '' THEN hostname ELSE $2 END,
			hardware_uuid = $3, machine_id = $4, serial = $5 WHERE id = $1`,
			hostID, clean(h.Hostname), clean(identity.HardwareUUID(h.HardwareUUID)),
			clean(identity.MachineID(h.MachineID)), clean(identity.Serial(h.Serial)))
	}
}

// removeDerived undoes derived for a section the agent no longer reports.
// Nothing is recorded as a change: a collector that stopped working says
// nothing about the machine.
func (p *planner) removeDerived(hostID int64, name string) {
	switch name {
	case inventory.SectionSoftware:
		p.software(hostID, nil, nil)
	case inventory.SectionHost:
		// Stale identifiers would keep flagging duplicates.
		p.batch.Queue(`UPDATE hosts SET hardware_uuid = '', machine_id = '', serial = '' WHERE id = $1`, hostID)
	}
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
