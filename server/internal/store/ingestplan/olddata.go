package ingestplan

import (
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// SectionRef names a stored section whose data Build may compare with
// the batch's. Hash is the one hash the batch carries for it: the data is
// needed only when the stored hash differs. Nil means the batch carries
// several (two messages of one host), and the data is needed whatever is
// stored.
type SectionRef struct {
	HostID int64
	Name   string
	Hash   *string
}

// OldData returns, in first-seen order, the stored sections whose data the
// backend should read into Host.Data before Build. Software is left out:
// its changes come from its links, not its data.
func OldData(msgs []store.Message) []SectionRef {
	type key struct {
		host int64
		name string
	}
	at := map[key]int{}
	var refs []SectionRef
	for _, m := range msgs {
		if m.Type != wire.TypeInventory || m.Inventory == nil {
			continue
		}
		for _, sec := range m.Inventory.Sections {
			if sec.Name == inventory.SectionSoftware {
				continue
			}
			k := key{m.HostID, sec.Name}
			i, seen := at[k]
			switch {
			case !seen:
				h := sec.Hash
				at[k] = len(refs)
				refs = append(refs, SectionRef{HostID: m.HostID, Name: sec.Name, Hash: &h})
			case refs[i].Hash != nil && *refs[i].Hash != sec.Hash:
				refs[i].Hash = nil
			}
		}
	}
	return refs
}

// Wanted reports whether a section stored with hash is needed.
func (r SectionRef) Wanted(stored string) bool {
	return r.Hash == nil || *r.Hash != stored
}
