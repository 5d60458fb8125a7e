package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/server/internal/identity"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// applyInventory stores one inventory message's sections, records the
// changes they bring, and reports whether the host's stored hashes no
// longer fold into its digest, and the changes recorded by kind.
func (b *batch) applyInventory(m store.Message) (bool, map[string]int, error) {
	hostID, inv := m.HostID, m.Inventory
	hashes, err := b.sectionHashes(hostID)
	if err != nil {
		return false, nil, err
	}
	rec := newRecorder(m)
	if len(hashes) == 0 && len(inv.Sections) > 0 {
		rec.add(changes.Change{Kind: changes.FirstInventory})
	}
	for _, sec := range inv.Sections {
		oldHash, had := hashes[sec.Name]
		// An unchanged section (a resync resends them all) is neither
		// rewritten nor normalized again: its links already match its data.
		if had && oldHash == sec.Hash {
			continue
		}
		var old string
		if had && sec.Name != inventory.SectionSoftware {
			if old, err = b.sectionData(hostID, sec.Name); err != nil {
				return false, nil, err
			}
		}
		if err := b.exec(`INSERT INTO inventory_sections (host_id, name, hash, data, updated_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (host_id, name) DO UPDATE
			SET hash = excluded.hash, data = excluded.data, updated_at = excluded.updated_at`,
			hostID, sec.Name, sec.Hash, string(sec.Data), nanos(m.Received)); err != nil {
			return false, nil, fmt.Errorf("store section %s: %w", sec.Name, err)
		}
		hashes[sec.Name] = sec.Hash
		if err := b.applyDerived(hostID, sec, had, rec); err != nil {
			return false, nil, err
		}
		// A section seen for the first time is a baseline, not a change.
		if had && sec.Name != inventory.SectionSoftware {
			cs, err := changes.Section(sec.Name, []byte(old), sec.Data)
			if err != nil {
				b.log.Warn("section changes not recorded", "host_id", hostID, "section", sec.Name, "err", err)
			}
			rec.add(cs...)
		}
	}
	for _, name := range inv.Removed {
		if err := b.exec(`DELETE FROM inventory_sections WHERE host_id = ? AND name = ?`, hostID, name); err != nil {
			return false, nil, fmt.Errorf("remove section %s: %w", name, err)
		}
		delete(hashes, name)
		if err := b.removeDerived(hostID, name); err != nil {
			return false, nil, err
		}
	}
	errs, err := errorsJSON(inv.Errors)
	if err != nil {
		return false, nil, err
	}
	if err := b.exec(`UPDATE hosts SET collected_at = ?, collect_errors = ? WHERE id = ?`,
		nanos(inv.CollectedAt), errs, hostID); err != nil {
		return false, nil, fmt.Errorf("update collect state: %w", err)
	}
	if err := b.recordChanges(rec); err != nil {
		return false, nil, err
	}
	return inventory.Digest(hashes) != inv.Digest, rec.kinds(), nil
}

// applyDerived copies what other tables keep from a changed section and
// hands the software set difference to rec unless the host had no
// software section before (a baseline). A section that does not decode
// into its type is stored but not copied: failing the batch would block
// the agent's queue on a message it cannot fix, and its next collection
// replaces the section anyway.
func (b *batch) applyDerived(hostID int64, sec wire.Section, had bool, rec *recorder) error {
	switch sec.Name {
	case inventory.SectionSoftware:
		want, err := decodeSoftware(sec.Data)
		if err != nil {
			b.log.Warn("software section not normalized", "host_id", hostID, "err", err)
			return nil
		}
		removed, added, err := b.setSoftware(hostID, want)
		if err != nil {
			return err
		}
		if had {
			rec.add(softwareChanges(removed, added, want)...)
		}
	case inventory.SectionOS:
		var o inventory.OS
		if err := json.Unmarshal(sec.Data, &o); err != nil {
			b.log.Warn("os section not copied to host", "host_id", hostID, "err", err)
			return nil
		}
		if err := b.exec(`UPDATE hosts SET platform = ?, os_version = ? WHERE id = ?`,
			clean(o.Platform), clean(o.Version), hostID); err != nil {
			return fmt.Errorf("copy os section: %w", err)
		}
	case inventory.SectionHost:
		var h inventory.Host
		if err := json.Unmarshal(sec.Data, &h); err != nil {
			b.log.Warn("host section not copied to host", "host_id", hostID, "err", err)
			return nil
		}
		// An empty hostname would only hide the one from hello.
		if err := b.exec(`UPDATE hosts SET hostname = CASE WHEN ? = '' THEN hostname ELSE ? END,
			hardware_uuid = ?, machine_id = ?, serial = ? WHERE id = ?`,
			clean(h.Hostname), clean(h.Hostname), clean(identity.HardwareUUID(h.HardwareUUID)),
			clean(identity.MachineID(h.MachineID)), clean(identity.Serial(h.Serial)), hostID); err != nil {
			return fmt.Errorf("copy host section: %w", err)
		}
	}
	return nil
}

// removeDerived undoes applyDerived for a section the agent no longer
// reports. Nothing is recorded as a change: a collector that stopped
// working says nothing about the machine.
func (b *batch) removeDerived(hostID int64, name string) error {
	switch name {
	case inventory.SectionSoftware:
		if _, _, err := b.setSoftware(hostID, nil); err != nil {
			return err
		}
	case inventory.SectionHost:
		// Stale identifiers would keep flagging duplicates.
		if err := b.exec(`UPDATE hosts SET hardware_uuid = '', machine_id = '', serial = '' WHERE id = ?`, hostID); err != nil {
			return fmt.Errorf("clear host identity: %w", err)
		}
	}
	return nil
}

// sectionData reads one stored section's data.
func (b *batch) sectionData(hostID int64, name string) (string, error) {
	row, err := b.queryRow(`SELECT data FROM inventory_sections WHERE host_id = ? AND name = ?`, hostID, name)
	if err != nil {
		return "", fmt.Errorf("read section %s: %w", name, err)
	}
	var data string
	if err := row.Scan(&data); err != nil {
		return "", fmt.Errorf("read section %s: %w", name, err)
	}
	return data, nil
}

func (b *batch) sectionHashes(hostID int64) (map[string]string, error) {
	rows, err := b.query(`SELECT name, hash FROM inventory_sections WHERE host_id = ?`, hostID)
	if err != nil {
		return nil, fmt.Errorf("read section hashes: %w", err)
	}
	defer rows.Close()
	hashes := map[string]string{}
	for rows.Next() {
		var name, hash string
		if err := rows.Scan(&name, &hash); err != nil {
			return nil, fmt.Errorf("read section hashes: %w", err)
		}
		hashes[name] = hash
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read section hashes: %w", err)
	}
	return hashes, nil
}

// errorsJSON encodes collector errors; none is NULL.
func errorsJSON(errs map[string]string) (any, error) {
	if len(errs) == 0 {
		return nil, nil
	}
	raw, err := json.Marshal(errs)
	if err != nil {
		return nil, fmt.Errorf("encode collect errors: %w", err)
	}
	return string(raw), nil
}

// Inventory returns a host's stored sections, byte for byte as received.
func (s *Store) Inventory(ctx context.Context, hostID int64) (store.InventoryDoc, error) {
	doc := store.InventoryDoc{HostID: hostID, Sections: map[string]json.RawMessage{}, Hashes: map[string]string{}}
	// One read transaction so host row and sections are one snapshot.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.InventoryDoc{}, fmt.Errorf("inventory %d: %w", hostID, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var (
		collected sql.NullInt64
		errs      sql.NullString
	)
	err = tx.QueryRowContext(ctx, `SELECT collected_at, collect_errors FROM hosts WHERE id = ?`, hostID).Scan(&collected, &errs)
	if errors.Is(err, sql.ErrNoRows) {
		return store.InventoryDoc{}, fmt.Errorf("inventory %d: %w", hostID, store.ErrNotFound)
	}
	if err != nil {
		return store.InventoryDoc{}, fmt.Errorf("inventory %d: %w", hostID, err)
	}
	doc.CollectedAt = fromNanos(collected)
	if errs.Valid {
		if err := json.Unmarshal([]byte(errs.String), &doc.Errors); err != nil {
			return store.InventoryDoc{}, fmt.Errorf("inventory %d: collect errors: %w", hostID, err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT name, hash, data FROM inventory_sections WHERE host_id = ?`, hostID)
	if err != nil {
		return store.InventoryDoc{}, fmt.Errorf("inventory %d: %w", hostID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, hash, data string
		if err := rows.Scan(&name, &hash, &data); err != nil {
			return store.InventoryDoc{}, fmt.Errorf("inventory %d: %w", hostID, err)
		}
		doc.Sections[name] = json.RawMessage(data)
		doc.Hashes[name] = hash
	}
	if err := rows.Err(); err != nil {
		return store.InventoryDoc{}, fmt.Errorf("inventory %d: %w", hostID, err)
	}
	return doc, nil
}
