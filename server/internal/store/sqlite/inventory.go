package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/ingestplan"
)

// write runs one write of the batch's plan.
func (b *batch) write(w ingestplan.Write) error {
	switch w := w.(type) {
	case *ingestplan.SectionUpsert:
		for i, name := range w.Names {
			if err := b.exec(`INSERT INTO inventory_sections (host_id, name, hash, data, updated_at)
				VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (host_id, name) DO UPDATE
				SET hash = excluded.hash, data = excluded.data, updated_at = excluded.updated_at`,
				w.HostID, name, w.Hashes[i], w.Data[i], nanos(w.At)); err != nil {
				return fmt.Errorf("store section %s: %w", name, err)
			}
		}
	case *ingestplan.SectionDelete:
		for _, name := range w.Names {
			if err := b.exec(`DELETE FROM inventory_sections WHERE host_id = ? AND name = ?`, w.HostID, name); err != nil {
				return fmt.Errorf("remove section %s: %w", name, err)
			}
		}
	case *ingestplan.HostOS:
		if err := b.exec(`UPDATE hosts SET platform = ?, os_version = ? WHERE id = ?`,
			w.Platform, w.Version, w.HostID); err != nil {
			return fmt.Errorf("copy os section: %w", err)
		}
	case *ingestplan.HostIdentity:
		if err := b.exec(`UPDATE hosts SET hostname = CASE WHEN ? = '' THEN hostname ELSE ? END,
			hardware_uuid = ?, machine_id = ?, serial = ? WHERE id = ?`,
			w.Hostname, w.Hostname, w.HardwareUUID, w.MachineID, w.Serial, w.HostID); err != nil {
			return fmt.Errorf("copy host section: %w", err)
		}
	case *ingestplan.IdentityClear:
		if err := b.exec(`UPDATE hosts SET hardware_uuid = '', machine_id = '', serial = '' WHERE id = ?`, w.HostID); err != nil {
			return fmt.Errorf("clear host identity: %w", err)
		}
	case *ingestplan.CollectState:
		if err := b.exec(`UPDATE hosts SET collected_at = ?, collect_errors = ? WHERE id = ?`,
			nanos(w.CollectedAt), w.Errors, w.HostID); err != nil {
			return fmt.Errorf("update collect state: %w", err)
		}
	case *ingestplan.SoftwareSet:
		return b.setSoftware(w)
	default:
		return fmt.Errorf("unknown write %T", w)
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
