// Package store defines what the server keeps and the small interfaces its
// storage backends (sqlite, postgres) implement; see storetest for the
// contract both must pass.
package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/steward-project/steward/server/internal/pkgver"
	"github.com/steward-project/steward/shared/wire"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Host is one enrolled agent. A host is its node key; everything else is an
// attribute reported by the agent.
type Host struct {
	ID             int64     `json:"id"`
	Hostname       string    `json:"hostname"`
	OS             string    `json:"os"`       // e.g. "linux"
	Platform       string    `json:"platform"` // e.g. "debian", from the os section
	OSVersion      string    `json:"os_version"`
	Arch           string    `json:"arch"`
	AgentVersion   string    `json:"agent_version"`
	EnrolledAt     time.Time `json:"enrolled_at"`
	LastSeen       time.Time `json:"last_seen,omitzero"`
	ConnectedAt    time.Time `json:"connected_at,omitzero"`
	DisconnectedAt time.Time `json:"disconnected_at,omitzero"`
	LastSeq        uint64    `json:"last_seq"`
	// HardwareUUID, MachineID and Serial come from the host section,
	// normalized by package identity: lower-cased, and empty when the
	// agent reported none or a firmware placeholder.
	HardwareUUID string `json:"hardware_uuid,omitempty"`
	MachineID    string `json:"machine_id,omitempty"`
	Serial       string `json:"serial,omitempty"`
	// PossibleDuplicates lists, in id order, up to MaxDuplicates other
	// hosts reporting the same hardware UUID or machine id: typically
	// cloned virtual machines. They stay separate hosts; nothing is merged.
	PossibleDuplicates []int64 `json:"possible_duplicates,omitempty"`
	// RetiredAt is when an admin retired the host; zero for a live one.
	RetiredAt time.Time `json:"retired_at,omitzero"`
	// PoliciesCheckedAt is when the host's agent last finished evaluating
	// its policy set; zero until it reports one.
	PoliciesCheckedAt time.Time `json:"policies_checked_at,omitzero"`
}

// MaxDuplicates bounds Host.PossibleDuplicates: an identifier shared by
// more hosts than this is a placeholder nobody listed yet, not a clone.
const MaxDuplicates = 20

// NewHost is what enrollment records.
type NewHost struct {
	NodeKeyHash    string // hex SHA-256 of the node key; the key itself is never stored
	Hostname       string
	EnrollSecretID int64
	EnrolledAt     time.Time
	// Labels are the labels the agent's configuration asked for at
	// enrollment (already checked); they are stored with the host, in the
	// same transaction.
	Labels map[string]string
}

// HelloInfo is what an agent says about itself when it connects.
type HelloInfo struct {
	Hostname     string
	OS           string
	Arch         string
	AgentVersion string
}

// Connect is one agent's hello, for HostsConnected.
type Connect struct {
	HostID int64
	Info   HelloInfo
	At     time.Time
}

// Disconnect is the end of one agent connection, for HostsDisconnected.
type Disconnect struct {
	HostID int64
	At     time.Time
}

// HostPage selects one page of hosts ordered by (hostname, id).
type HostPage struct {
	AfterHostname string
	AfterID       int64 // 0: from the start
	Limit         int
	// Duplicates keeps only hosts with PossibleDuplicates.
	Duplicates bool
	// Retired lists retired hosts too; without it they are left out.
	Retired bool
}

// Hosts is enrollment and host bookkeeping.
type Hosts interface {
	// EnrollHost returns an error wrapping ErrNotFound when the enroll
	// secret has reached its use limit (or was revoked meanwhile).
	EnrollHost(ctx context.Context, h NewHost) (int64, error)
	// HostsByNodeKeys serves agents' authentication, the connections of
	// many agents in one statement: each key of a host is in the map, a
	// retired host's too (RetiredAt set), an unknown key is absent. It
	// leaves the hosts' PossibleDuplicates empty; GetHost fills them.
	HostsByNodeKeys(ctx context.Context, nodeKeyHashes []string) (map[string]Host, error)
	HostConnected(ctx context.Context, id int64, info HelloInfo, at time.Time) error
	// HostsConnected records the hellos of cs, what HostConnected records
	// for one, in one statement. Several hellos of one host fold into its
	// latest. missing says, in cs's order, which hosts do not exist;
	// the others are recorded. An error records none.
	HostsConnected(ctx context.Context, cs []Connect) (missing []bool, err error)
	// HostsDisconnected records when agents' connections ended, all of
	// them in one statement. A host keeps the latest time it was given:
	// an older one, or an earlier one for the same host in ds, does not
	// replace it. A host id that does not exist (any more) is skipped.
	HostsDisconnected(ctx context.Context, ds []Disconnect) error
	// GetHost returns ErrNotFound for an unknown id.
	GetHost(ctx context.Context, id int64) (Host, error)
	ListHosts(ctx context.Context, p HostPage) ([]Host, error)
}

// Message is one decoded, validated agent data message ready to commit.
type Message struct {
	HostID    int64
	Seq       uint64
	Type      string // wire.TypeInventory or wire.TypeHeartbeat
	Received  time.Time
	Inventory *wire.Inventory // set when Type is inventory
	// Bytes is the message's size as received (its payload), which
	// ingest counts against its memory budget and batch bound; 0 when
	// unknown.
	Bytes int
}

// Result is the outcome of committing one Message.
type Result struct {
	// Duplicate is true when Seq was at or below the host's last applied
	// sequence number: the message was applied before and is acked again.
	Duplicate bool
	// Resync is true when, after applying, the section hashes the store
	// holds do not fold into the message's digest.
	Resync bool
	// Changes counts the inventory changes the message recorded (see
	// Changes), by kind (package changes); nil when it recorded none. They
	// are committed with the message, so they happened only when
	// ApplyBatch returns no error.
	Changes map[string]int
}

// Ingest commits agent messages.
type Ingest interface {
	// ApplyBatch commits every message in one transaction and returns one
	// Result per message, in order. Messages of one host are applied in the
	// order given. Either all are committed or, with an error, none.
	// Sections that changed are compared with what the host held before
	// and the typed changes recorded in the same transaction (see Changes).
	ApplyBatch(ctx context.Context, msgs []Message) ([]Result, error)
}

// InventoryDoc is a host's current inventory as stored.
type InventoryDoc struct {
	HostID      int64                      `json:"host_id"`
	CollectedAt time.Time                  `json:"collected_at,omitzero"`
	Sections    map[string]json.RawMessage `json:"sections"`
	Hashes      map[string]string          `json:"hashes"`
	Errors      map[string]string          `json:"errors,omitempty"`
}

// Inventory reads stored inventory documents.
type Inventory interface {
	// Inventory returns ErrNotFound for an unknown host; a known host with
	// no inventory yet has empty maps.
	Inventory(ctx context.Context, hostID int64) (InventoryDoc, error)
}

// SoftwareQuery selects hosts by installed software. Match says how Name
// selects package names (see NameMatch); Version, when not empty, keeps
// the catalog rows whose version satisfies it in their source's ordering.
// Results are ordered by (software id, host id).
type SoftwareQuery struct {
	Name            string
	Match           NameMatch
	Version         pkgver.Constraint
	AfterSoftwareID int64
	AfterHostID     int64
	Limit           int
}

// SoftwareHit is one host with one matching catalog entry.
type SoftwareHit struct {
	SoftwareID int64  `json:"software_id"`
	Name       string `json:"name"`
	Version    string `json:"version"`
	Arch       string `json:"arch,omitempty"`
	Source     string `json:"source"`
	HostID     int64  `json:"host_id"`
	Hostname   string `json:"hostname"`
}

// Software answers fleet-wide software questions from the normalized
// catalog (one row per name/version/arch/source) and its host links.
type Software interface {
	SearchSoftware(ctx context.Context, q SoftwareQuery) ([]SoftwareHit, error)
	// SoftwareVersions counts, per (name, version, source) matching q,
	// the hosts that are not retired and have it; entries without such a
	// host are left out. Paging fields of q are ignored.
	SoftwareVersions(ctx context.Context, q SoftwareQuery) ([]SoftwareVersion, error)
}

// Change is one typed inventory change ApplyBatch recorded for a host
// (kinds in package changes). FirstSeen is when the agent collected the
// inventory that showed it (the message's received time when the agent
// sent none); Seq is that message's sequence number.
type Change struct {
	ID        int64           `json:"id"`
	HostID    int64           `json:"host_id"`
	Kind      string          `json:"kind"`
	Subject   string          `json:"subject"`
	OldValue  string          `json:"old_value,omitempty"`
	NewValue  string          `json:"new_value,omitempty"`
	Details   json.RawMessage `json:"details,omitempty"`
	FirstSeen time.Time       `json:"first_seen"`
	Seq       uint64          `json:"seq"`
}

// ChangeQuery selects changes, newest first: ordered by (FirstSeen, ID)
// descending. Zero fields do not filter.
type ChangeQuery struct {
	HostID  int64    // 0: every host
	Kinds   []string // any of these
	Subject string   // exact match
	Since   time.Time
	Until   time.Time // FirstSeen in [Since, Until)
	// AfterFirstSeen and AfterID are the last change of the previous
	// page; AfterID 0 starts from the newest.
	AfterFirstSeen time.Time
	AfterID        int64
	Limit          int
}

// Changes reads the change history that ApplyBatch records as sections
// change.
type Changes interface {
	// ListChanges returns ErrNotFound when HostID names no host.
	ListChanges(ctx context.Context, q ChangeQuery) ([]Change, error)
}

// Credential is a secret to store: a name for people and the hex SHA-256
// of the secret. Secrets themselves are never stored.
type Credential struct {
	Name string
	Hash string
}

// Auth holds admin API tokens and enroll secrets.
type Auth interface {
	// Bootstrap stores the first admin token and enroll secret if the
	// store has no admin token yet, and reports whether it did.
	Bootstrap(ctx context.Context, admin, enroll Credential) (bool, error)
	// EnrollSecretID returns the id of the live enroll secret with this
	// hash (neither revoked nor expired), or ErrNotFound. Its use limit
	// is enforced by EnrollHost, in the enrollment's transaction.
	EnrollSecretID(ctx context.Context, hash string) (int64, error)
	Credentials
}

// Store is everything a backend provides; the server's wiring holds one and
// hands each part only the small interface it needs.
type Store interface {
	Hosts
	HostLifecycle
	Ingest
	Inventory
	Software
	Changes
	Auth
	Policies
	PolicySigning
	Tailorings
	Results
	Exemptions
	Audit
	Alerts
	Silences
	Outbox
	AlertReads
	Fleet
	Retention
	// Migrate applies pending schema migrations.
	Migrate(ctx context.Context) error
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	// PoolStats reads the connection pool's counters from memory; it
	// costs no query, so a metrics scrape may call it.
	PoolStats() PoolStats
	Close() error
}

// PoolStats describes a store's database connections. Counters are
// cumulative since the store was opened.
type PoolStats struct {
	// MaxConns is the most connections the store opens at once.
	MaxConns int64
	// InUse and Idle are the open connections handed out and waiting in
	// the pool.
	InUse, Idle int64
	// Acquires counts connections handed out by the pool; HasAcquires is
	// false when the pool does not count them (database/sql does not).
	Acquires    int64
	HasAcquires bool
	// AcquireWaits counts acquisitions that could not be served at once
	// and waited, and AcquireWait is the time they spent waiting. What
	// "waiting" covers depends on the pool; each backend documents it.
	AcquireWaits int64
	AcquireWait  time.Duration
}

// HistoryKind names a history that grows for as long as the server runs
// and that retention prunes.
type HistoryKind string

// The histories retention prunes, each by its own time column.
const (
	HistoryChanges       HistoryKind = "changes"       // host_changes by first_seen
	HistoryTransitions   HistoryKind = "transitions"   // result_transitions by at
	HistoryAlerts        HistoryKind = "alerts"        // resolved alerts by resolved_at
	HistoryNotifications HistoryKind = "notifications" // sent, dead or skipped by created_at
	HistoryAudit         HistoryKind = "audit"         // audit_log by at
)

// HistoryKinds lists every HistoryKind in a fixed order.
var HistoryKinds = []HistoryKind{HistoryChanges, HistoryTransitions, HistoryAlerts, HistoryNotifications, HistoryAudit}

// Retention deletes old history.
type Retention interface {
	// PruneHistory deletes up to limit rows of kind older than before, in
	// one short transaction, and returns how many went. Where a backend
	// keeps the history in time partitions it also drops whole partitions
	// that end at or before before; their rows are counted too, so the
	// result may exceed limit. Callers repeat until it returns less than
	// limit.
	PruneHistory(ctx context.Context, kind HistoryKind, before time.Time, limit int) (int64, error)
	// EnsurePartitions creates the time partitions the partitioned
	// histories need from now's month until a few months ahead; a backend
	// without partitions does nothing.
	EnsurePartitions(ctx context.Context, now time.Time) error
	// TryLockRetention takes the lock that makes one server of several
	// sharing a database prune at a time. ok is false, with no error, when
	// another holds it; otherwise release must be called.
	TryLockRetention(ctx context.Context) (release func(), ok bool, err error)
}

// LatestConnects returns cs with each host once, at its latest hello (of
// two at the same time, the later in cs), in host id order: what
// HostsConnected records.
func LatestConnects(cs []Connect) []Connect {
	byID := make(map[int64]int, len(cs))
	for i, c := range cs {
		if j, ok := byID[c.HostID]; !ok || !c.At.Before(cs[j].At) {
			byID[c.HostID] = i
		}
	}
	out := make([]Connect, 0, len(byID))
	for _, i := range byID {
		out = append(out, cs[i])
	}
	slices.SortFunc(out, func(a, b Connect) int { return cmp.Compare(a.HostID, b.HostID) })
	return out
}

// MissingConnects is HostsConnected's answer: which entries of cs name a
// host outside found, the ids it recorded.
func MissingConnects(cs []Connect, found []int64) []bool {
	ok := make(map[int64]bool, len(found))
	for _, id := range found {
		ok[id] = true
	}
	missing := make([]bool, len(cs))
	for i, c := range cs {
		missing[i] = !ok[c.HostID]
	}
	return missing
}
