package runner

import (
	"encoding/json"
	"time"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// diff is one inventory message computed against the acknowledged hashes.
type diff struct {
	msg wire.Inventory
	// hashes holds every section now present; it becomes the acknowledged
	// set once the server acks the message.
	hashes map[string]string
	// skipped names sections left out because the server would reject
	// them (unknown name, invalid JSON) and with them the whole message.
	skipped []string
}

// buildInventory hashes every section of doc and keeps, in full, only those
// whose hash differs from acked; sections acked before and now absent go
// in Removed.
//
// With an empty acked set (first report, lost state, resync) every section
// is sent, and every known section that is absent goes in Removed: the
// agent does not know what the server still holds, and without naming them
// a stale section on the server would keep the digests apart and ask for
// resync after resync.
func buildInventory(doc inventory.Document, acked map[string]string, now time.Time) diff {
	d := diff{hashes: make(map[string]string, len(doc.Sections))}
	for name, data := range doc.Sections {
		if !inventory.KnownSection(name) || !json.Valid(data) {
			d.skipped = append(d.skipped, name)
			continue
		}
		d.hashes[name] = inventory.Hash(data)
	}
	// Walk the fixed section order so the message is deterministic.
	for _, name := range inventory.SectionNames {
		h, present := d.hashes[name]
		switch {
		case present && acked[name] != h:
			d.msg.Sections = append(d.msg.Sections, wire.Section{Name: name, Hash: h, Data: doc.Sections[name]})
		case !present && (len(acked) == 0 || acked[name] != ""):
			d.msg.Removed = append(d.msg.Removed, name)
		}
	}
	for name, reason := range doc.Errors {
		if !inventory.KnownSection(name) {
			d.skipped = append(d.skipped, name)
			continue
		}
		if d.msg.Errors == nil {
			d.msg.Errors = map[string]string{}
		}
		d.msg.Errors[name] = reason
	}
	d.msg.Digest = inventory.Digest(d.hashes)
	d.msg.CollectedAt = doc.CollectedAt.UTC()
	if doc.CollectedAt.IsZero() {
		d.msg.CollectedAt = now.UTC()
	}
	return d
}
