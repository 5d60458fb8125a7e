package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Channel is the PostgreSQL notification channel replicas talk on.
const Channel = "steward_cluster"

// Store is what the bus needs from the database.
type Store interface {
	// Notify sends payload to every session listening on channel.
	Notify(ctx context.Context, channel, payload string) error
	// Listen holds a connection of its own listening on channel, calls
	// ready once listening and handle for each payload, until ctx ends
	// or the connection fails.
	Listen(ctx context.Context, channel string, ready func(), handle func(payload string)) error
	PolicyRevision(ctx context.Context) (int64, error)
	HostLabels(ctx context.Context, hostID int64) (map[string]string, error)
}

// Local is what this replica does when another replica's change concerns
// it; every field may be nil.
type Local struct {
	// PoliciesChanged pushes the policy set to the agents connected here.
	PoliciesChanged func(ctx context.Context)
	// LabelsChanged sends the host's labels to its agent if connected here.
	LabelsChanged func(hostID int64, labels map[string]string)
	// CheckNow asks the host's agent, if connected here, to check now.
	CheckNow func(hostID int64) bool
	// HostGone closes the host's connection if it is here.
	HostGone func(hostID int64)
	// SilencesChanged, ExemptionsChanged and AlertAcked tell the
	// alerting engine to read again what it caches.
	SilencesChanged, ExemptionsChanged, AlertAcked func()
	// ReloadAlerting reads this replica's alerting configuration file
	// again.
	ReloadAlerting func(ctx context.Context)
}

// Config is what New needs.
type Config struct {
	// Store is the shared database; nil for a server that cannot have
	// replicas (SQLite), whose bus only calls Local.
	Store  Store
	Local  Local
	Logger *slog.Logger
	// CheckNowWait bounds how long CheckNow waits for another replica to
	// say it holds the host's connection; default 2 s.
	CheckNowWait time.Duration
}

// The kinds of event replicas send each other.
const (
	kindPolicies   = "policies"
	kindLabels     = "labels"
	kindCheckNow   = "check_now"
	kindCheckAck   = "check_now_ack"
	kindHostGone   = "host_gone"
	kindSilences   = "silences"
	kindExemptions = "exemptions"
	kindAlertAcked = "alert_acked"
	kindReload     = "alerting_reload"
)

// event is one notification's payload. It names what changed, never the
// change itself (labels are read from the database), so that it stays
// far below PostgreSQL's 8000-byte payload limit.
type event struct {
	From     string `json:"from"`
	Kind     string `json:"kind"`
	Host     int64  `json:"host,omitempty"`
	Revision int64  `json:"revision,omitempty"`
	Request  string `json:"request,omitempty"`
}

// Bus sends this replica's changes to the others and applies theirs here.
type Bus struct {
	cfg   Config
	id    string
	log   *slog.Logger
	ready chan struct{}
	// revision is the policy set revision last pushed to agents here, so
	// that a reconnect can tell whether a change was missed meanwhile.
	revision atomic.Int64

	mu      sync.Mutex
	pending map[string]chan struct{} // check_now requests awaiting an answer
}

// New returns a bus; Run must be running for other replicas' events to
// arrive.
func New(cfg Config) *Bus {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CheckNowWait <= 0 {
		cfg.CheckNowWait = 2 * time.Second
	}
	return &Bus{cfg: cfg, id: randomID(), log: cfg.Logger.With("component", "cluster"),
		ready: make(chan struct{}), pending: map[string]chan struct{}{}}
}

// ID names this replica in its notifications.
func (b *Bus) ID() string { return b.id }

// Ready is closed once the bus first listens: from then on other
// replicas' events arrive.
func (b *Bus) Ready() <-chan struct{} { return b.ready }

func randomID() string {
	var r [8]byte
	rand.Read(r[:]) // never fails
	return hex.EncodeToString(r[:])
}

// send notifies the other replicas; a failure is logged, since the change
// it announces is committed and the local replica has applied it.
func (b *Bus) send(ctx context.Context, e event) {
	if b.cfg.Store == nil {
		return
	}
	e.From = b.id
	payload, _ := json.Marshal(e) // plain values
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := b.cfg.Store.Notify(nctx, Channel, string(payload)); err != nil {
		b.log.Warn("other replicas not told of a change", "kind", e.Kind, "err", err)
	}
}
