package ingestplan

import (
	"slices"
	"time"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/server/internal/store"
)

// pending collects the changes one inventory message brings. Its software
// changes are known only once the backend has applied the software set,
// so they are put in later, at the place the software section had.
type pending struct {
	msg        int // the message's index in the batch
	hostID     int64
	seq        uint64
	firstSeen  time.Time
	changes    []changes.Change
	software   *SoftwareSet
	softwareAt int // index in changes where the software ones belong
}

// newPending dates changes by when the agent collected the inventory, the
// closest the server knows to when they happened: an agent that spooled
// for a day still dates them right. Without a collection time, the
// message's receipt.
func newPending(i int, m store.Message) *pending {
	at := m.Inventory.CollectedAt
	if at.IsZero() {
		at = m.Received
	}
	return &pending{msg: i, hostID: m.HostID, seq: m.Seq, firstSeen: at}
}

func (p *pending) add(cs ...changes.Change) { p.changes = append(p.changes, cs...) }

// all returns the message's changes with the software ones in place.
func (p *pending) all() []changes.Change {
	if p.software == nil {
		return p.changes
	}
	sw := p.software.changes()
	if len(sw) == 0 {
		return p.changes
	}
	return slices.Insert(slices.Clone(p.changes), p.softwareAt, sw...)
}

// ChangeRow is one row of the change history, its text cleaned.
type ChangeRow struct {
	HostID                  int64
	Kind, Subject, Old, New string
	Details                 *string // JSON, nil when none
	FirstSeen               time.Time
	Seq                     uint64
}

// Changes returns the batch's change rows in message order, and counts
// each message's by kind in its result. Call it after the backend has
// filled in every tracked SoftwareSet.
func (p *Plan) Changes() []ChangeRow {
	var rows []ChangeRow
	for _, pd := range p.pending {
		res := &p.Results[pd.msg]
		res.Changes = nil
		for _, c := range pd.all() {
			if res.Changes == nil {
				res.Changes = map[string]int{}
			}
			res.Changes[c.Kind]++
			var details *string
			if len(c.Details) > 0 {
				s := string(c.Details)
				details = &s
			}
			rows = append(rows, ChangeRow{HostID: pd.hostID, Kind: c.Kind,
				Subject: Clean(c.Subject), Old: Clean(c.Old), New: Clean(c.New),
				Details: details, FirstSeen: pd.firstSeen, Seq: pd.seq})
		}
	}
	return rows
}
