package ingestplan

import (
	"cmp"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/server/internal/identity"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// Host is what a backend read about one host of a batch, in the
// transaction that applies it. Build updates it to what the batch leaves.
type Host struct {
	// LastSeq is the host's last applied sequence number.
	LastSeq uint64
	// Hashes holds the stored section hashes by name; needed only for
	// hosts with an inventory in the batch.
	Hashes map[string]string
	// Data holds the stored data of the sections OldData named, by name.
	Data map[string]string
}

// Write is one write a plan asks the backend for. It is one of
// *SectionUpsert, *SectionDelete, *HostOS, *HostIdentity, *IdentityClear,
// *CollectState and *SoftwareSet; the writes of one host must be applied
// in the order given.
type Write interface{ write() }

// SectionUpsert stores one message's new or changed sections of a host;
// Names, Hashes and Data run in parallel.
type SectionUpsert struct {
	HostID              int64
	Names, Hashes, Data []string
	At                  time.Time // the message's receipt: updated_at
}

// SectionDelete removes the sections a host no longer reports.
type SectionDelete struct {
	HostID int64
	Names  []string
}

// HostOS copies the os section's platform and version into the host row.
type HostOS struct {
	HostID            int64
	Platform, Version string
}

// HostIdentity copies the host section into the host row, identifiers
// normalised. An empty Hostname keeps the stored one: it would only hide
// the name the agent gave at hello.
type HostIdentity struct {
	HostID                                    int64
	Hostname, HardwareUUID, MachineID, Serial string
}

// IdentityClear empties the host row's identifiers once the host section
// is gone: stale ones would keep flagging the host as a duplicate.
type IdentityClear struct {
	HostID int64
}

// CollectState replaces the host's collection time and collector errors.
type CollectState struct {
	HostID      int64
	CollectedAt time.Time // zero when the agent sent none
	Errors      *string   // JSON object, nil when there are none
}

// SoftwareSet makes the host's software links equal Packages. When Track
// is set, the backend reports the packages it unlinked and linked in
// Removed and Added, from which Changes makes the software changes.
type SoftwareSet struct {
	HostID   int64
	Packages []Package // distinct, in ComparePackages order
	Track    bool
	Msg      int // the message's index in the batch

	Removed, Added []changes.Package
}

func (*SectionUpsert) write() {}
func (*SectionDelete) write() {}
func (*HostOS) write()        {}
func (*HostIdentity) write()  {}
func (*IdentityClear) write() {}
func (*CollectState) write()  {}
func (*SoftwareSet) write()   {}

// Progress is a host's sequence number and last contact after the batch.
type Progress struct {
	HostID   int64
	LastSeq  uint64
	LastSeen time.Time
}

// Plan is what one batch writes.
type Plan struct {
	// Results holds one result per message. Duplicate and Resync are set
	// by Build, Changes by Plan.Changes.
	Results []store.Result
	// Writes lists the writes in message order.
	Writes []Write
	// Progress holds, by host id, every host whose sequence number moved.
	Progress []Progress

	pending []*pending
}

// Build plans msgs, which Check accepted, against hosts, the state read
// for every host the messages name. A host missing from hosts fails the
// batch with store.ErrNotFound.
func Build(log *slog.Logger, msgs []store.Message, hosts map[int64]*Host) (*Plan, error) {
	for _, m := range msgs {
		if hosts[m.HostID] == nil {
			return nil, fmt.Errorf("host %d: %w", m.HostID, store.ErrNotFound)
		}
	}
	b := &builder{log: log, plan: &Plan{Results: make([]store.Result, len(msgs)), Progress: make([]Progress, 0, len(hosts))}}
	moved := make(map[int64]int, len(hosts)) // index in Progress
	for i, m := range msgs {
		h := hosts[m.HostID]
		if m.Seq <= h.LastSeq {
			b.plan.Results[i].Duplicate = true
			continue
		}
		h.LastSeq = m.Seq
		at, ok := moved[m.HostID]
		if !ok {
			at = len(b.plan.Progress)
			moved[m.HostID] = at
			b.plan.Progress = append(b.plan.Progress, Progress{HostID: m.HostID})
		}
		b.plan.Progress[at].LastSeq, b.plan.Progress[at].LastSeen = m.Seq, m.Received
		if m.Type == wire.TypeInventory {
			b.plan.Results[i].Resync = b.inventory(i, m, h)
		}
	}
	slices.SortFunc(b.plan.Progress, func(x, y Progress) int { return cmp.Compare(x.HostID, y.HostID) })
	return b.plan, nil
}

type builder struct {
	log  *slog.Logger
	plan *Plan
}

func (b *builder) add(w Write) { b.plan.Writes = append(b.plan.Writes, w) }

// inventory plans message i, an inventory of host h, and reports whether
// the hashes it leaves no longer fold into the message's digest.
func (b *builder) inventory(i int, m store.Message, h *Host) bool {
	inv := m.Inventory
	if h.Hashes == nil {
		h.Hashes = map[string]string{}
	}
	if h.Data == nil {
		h.Data = map[string]string{}
	}
	pd := newPending(i, m)
	b.plan.pending = append(b.plan.pending, pd)
	if len(h.Hashes) == 0 && len(inv.Sections) > 0 {
		pd.add(changes.Change{Kind: changes.FirstInventory})
	}
	up := &SectionUpsert{HostID: m.HostID, At: m.Received}
	var derived []Write
	for _, sec := range inv.Sections {
		oldHash, had := h.Hashes[sec.Name]
		// An unchanged section (a resync resends them all) is neither
		// rewritten nor normalised again: what it derives is current.
		if had && oldHash == sec.Hash {
			continue
		}
		up.Names = append(up.Names, sec.Name)
		up.Hashes = append(up.Hashes, sec.Hash)
		up.Data = append(up.Data, string(sec.Data))
		h.Hashes[sec.Name] = sec.Hash
		if w := b.derived(i, m.HostID, sec, had, pd); w != nil {
			derived = append(derived, w)
		}
		if sec.Name == inventory.SectionSoftware {
			continue // its changes come from the links
		}
		// A section seen for the first time is a baseline, not a change.
		if old, ok := h.Data[sec.Name]; had && ok {
			cs, err := changes.Section(sec.Name, []byte(old), sec.Data)
			if err != nil {
				b.log.Warn("section changes not recorded", "host_id", m.HostID, "section", sec.Name, "err", err)
			}
			pd.add(cs...)
		} else if had {
			b.log.Warn("section changes not recorded: previous data not read", "host_id", m.HostID, "section", sec.Name)
		}
		h.Data[sec.Name] = string(sec.Data)
	}
	if len(up.Names) > 0 {
		b.add(up)
	}
	for _, w := range derived {
		b.add(w)
	}
	if len(inv.Removed) > 0 {
		b.add(&SectionDelete{HostID: m.HostID, Names: slices.Clone(inv.Removed)})
		for _, name := range inv.Removed {
			delete(h.Hashes, name)
			delete(h.Data, name)
			// Nothing is recorded as a change: a collector that stopped
			// working says nothing about the machine.
			switch name {
			case inventory.SectionSoftware:
				b.add(&SoftwareSet{HostID: m.HostID, Msg: i})
			case inventory.SectionHost:
				b.add(&IdentityClear{HostID: m.HostID})
			}
		}
	}
	b.add(&CollectState{HostID: m.HostID, CollectedAt: inv.CollectedAt, Errors: errorsJSON(inv.Errors)})
	return inventory.Digest(h.Hashes) != inv.Digest
}

// derived returns the write copying what other tables keep from a new or
// changed section, if any; a software section's set difference becomes
// changes unless the host had none before (a baseline). A section that
// does not decode into its type is stored but not copied: failing the
// batch would block the agent's queue on a message it cannot fix, and its
// next collection replaces the section anyway.
func (b *builder) derived(i int, hostID int64, sec wire.Section, had bool, pd *pending) Write {
	switch sec.Name {
	case inventory.SectionSoftware:
		pkgs, err := decodeSoftware(sec.Data)
		if err != nil {
			b.log.Warn("software section not normalized", "host_id", hostID, "err", err)
			return nil
		}
		set := &SoftwareSet{HostID: hostID, Packages: pkgs, Track: had, Msg: i}
		if had {
			pd.software, pd.softwareAt = set, len(pd.changes)
		}
		return set
	case inventory.SectionOS:
		var o inventory.OS
		if err := json.Unmarshal(sec.Data, &o); err != nil {
			b.log.Warn("os section not copied to host", "host_id", hostID, "err", err)
			return nil
		}
		return &HostOS{HostID: hostID, Platform: Clean(o.Platform), Version: Clean(o.Version)}
	case inventory.SectionHost:
		var h inventory.Host
		if err := json.Unmarshal(sec.Data, &h); err != nil {
			b.log.Warn("host section not copied to host", "host_id", hostID, "err", err)
			return nil
		}
		return &HostIdentity{HostID: hostID, Hostname: Clean(h.Hostname),
			HardwareUUID: Clean(identity.HardwareUUID(h.HardwareUUID)),
			MachineID:    Clean(identity.MachineID(h.MachineID)),
			Serial:       Clean(identity.Serial(h.Serial))}
	}
	return nil
}

// errorsJSON encodes collector errors; none is nil.
func errorsJSON(errs map[string]string) *string {
	if len(errs) == 0 {
		return nil
	}
	raw, _ := json.Marshal(errs) // a map of strings always encodes
	s := string(raw)
	return &s
}
