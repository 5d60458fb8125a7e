// Package alerting raises alerts from stored data and delivers their
// notifications: rules are reconciled into alert episodes in the store,
// and delivery workers drain the store's outbox to the receivers.
package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/alertconf"
	"github.com/steward-project/steward/server/internal/alerting/notify"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/store"
)

// Store is the part of the server's store the engine reads and writes.
type Store interface {
	store.Alerts
	store.Silences
	store.Outbox
	store.AlertReads
	ListHosts(ctx context.Context, p store.HostPage) ([]store.Host, error)
	PolicyResults(ctx context.Context, q store.ResultQuery) ([]store.HostResult, error)
	ListPolicies(ctx context.Context, afterID string, limit int) ([]store.StoredPolicy, error)
	ListChanges(ctx context.Context, q store.ChangeQuery) ([]store.Change, error)
	Inventory(ctx context.Context, hostID int64) (store.InventoryDoc, error)
}

// Config is what New needs; Store and Alerting are required.
type Config struct {
	Store    Store
	Alerting alertconf.Config
	// ExternalURL is the base of links when the alerting section sets
	// none: "http://" + the listen address.
	ExternalURL string
	// Workers overrides Alerting.Delivery.Workers (1 on SQLite).
	Workers int
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Started is when the server started: host_offline counts contact
	// from no earlier than this. Zero means the engine's creation.
	Started time.Time
	// GaugeInterval is how often steward_alerts and
	// steward_notifications_queued are read from the store (the server
	// passes metrics.fleet_interval); zero means 30 s.
	GaugeInterval time.Duration
}

// state is one loaded configuration with the senders built from it;
// swapped whole on reload.
type state struct {
	conf    alertconf.Config
	senders map[string]notify.Sender
	types   map[string]string // receiver name -> type
}

// Engine evaluates rules and delivers notifications. Its hooks
// (ResultsChanged, InventoryCommitted, ...) only note work and return; a
// single evaluation goroutine does the work, so evaluations never race
// each other and a burst of data is reconciled in one pass.
type Engine struct {
	st      Store
	log     *slog.Logger
	m       *metrics.Metrics
	now     func() time.Time
	started time.Time
	extURL  string
	workers int
	// gaugeEvery is how often the alert gauges are read (gaugeLoop).
	gaugeEvery time.Duration

	cur atomic.Pointer[state]
	// curMu orders a configuration's replacement (Reload, write lock)
	// with a pass's writes (flush, read lock): a pass that began under a
	// configuration since replaced writes nothing (errStalePass).
	curMu sync.RWMutex

	mu       sync.Mutex
	hosts    map[int64]bool // hosts whose results changed
	invHosts map[int64]bool // hosts whose inventory changed
	full     bool           // reconcile every rule in full
	policies bool           // reconcile policy_failing rules in full
	muted    bool           // check muted alerts against silences
	wake     chan struct{}  // evaluation loop
	deliver  chan struct{}  // delivery workers

	// passes counts finished evaluation passes, for tests that wait for
	// the engine to catch up (WaitPass).
	passMu   sync.Mutex
	passes   uint64
	passCond *sync.Cond
}

// New builds an engine for cfg. It returns an error when a receiver
// cannot be built (the configuration was validated before, so this is a
// programming or environment error).
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("alerting: nil store")
	}
	e := &Engine{
		st:         cfg.Store,
		log:        cfg.Logger,
		m:          cfg.Metrics,
		now:        cfg.Now,
		started:    cfg.Started,
		gaugeEvery: cfg.GaugeInterval,
		extURL:     cfg.ExternalURL,
		workers:    cfg.Workers,
		hosts:      map[int64]bool{},
		invHosts:   map[int64]bool{},
		full:       true, // the first pass reconciles everything: catch up after a restart
		muted:      true,
		wake:       make(chan struct{}, 1),
		deliver:    make(chan struct{}, 1),
	}
	e.passCond = sync.NewCond(&e.passMu)
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.started.IsZero() {
		e.started = e.now()
	}
	s, err := e.build(cfg.Alerting)
	if err != nil {
		return nil, err
	}
	e.cur.Store(s)
	e.precreate(cfg.Alerting)
	return e, nil
}

func (e *Engine) build(c alertconf.Config) (*state, error) {
	s := &state{conf: c, senders: map[string]notify.Sender{}, types: map[string]string{}}
	for _, r := range c.Receivers {
		snd, err := notify.New(r.Name, r.Config, notify.Options{
			Timeout:        c.Delivery.Timeout,
			ResendInterval: c.Delivery.ResendInterval,
			UserAgent:      "steward-server",
		})
		if err != nil {
			return nil, fmt.Errorf("receiver %s: %w", r.Name, err)
		}
		s.senders[r.Name] = snd
		s.types[r.Name] = r.Config.Type()
	}
	return s, nil
}

// Config returns the alerting configuration in use.
func (e *Engine) Config() alertconf.Config { return e.cur.Load().conf }

// Reload replaces the configuration with c (already validated) and
// reconciles every rule against it: alerts of rules that are gone
// resolve, new rules raise theirs.
func (e *Engine) Reload(c alertconf.Config) error {
	s, err := e.build(c)
	if err != nil {
		return err
	}
	e.curMu.Lock()
	e.cur.Store(s)
	e.curMu.Unlock()
	e.precreate(c)
	e.mu.Lock()
	e.full, e.muted = true, true
	e.mu.Unlock()
	e.signal(e.wake)
	e.signal(e.deliver)
	return nil
}

func (e *Engine) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// ResultsChanged notes hosts whose policy results changed status; their
// policy_failing alerts are reconciled in the next pass.
func (e *Engine) ResultsChanged(ts []store.Transition) {
	if len(ts) == 0 {
		return
	}
	e.mu.Lock()
	for _, t := range ts {
		e.hosts[t.HostID] = true
	}
	e.mu.Unlock()
	e.signal(e.wake)
}

// InventoryCommitted is an ingest post-commit hook: hosts whose inventory
// was applied get their inventory_change and expr alerts reconciled.
func (e *Engine) InventoryCommitted(msgs []store.Message, results []store.Result) {
	noted := false
	e.mu.Lock()
	for i, m := range msgs {
		if m.Inventory == nil || i >= len(results) || results[i].Duplicate {
			continue
		}
		e.invHosts[m.HostID] = true
		noted = true
	}
	e.mu.Unlock()
	if noted {
		e.signal(e.wake)
	}
}

// ExemptionsChanged reconciles every policy_failing rule: an exemption can
// excuse or expose any host.
func (e *Engine) ExemptionsChanged() { e.PoliciesChanged() }

// PoliciesChanged reconciles every policy_failing rule: a deleted policy's
// alerts resolve, and a changed severity or tag set can bring a policy
// into a rule or take it out.
func (e *Engine) PoliciesChanged() {
	e.mu.Lock()
	e.policies = true
	e.mu.Unlock()
	e.signal(e.wake)
}

// Resweep asks for a full reconciliation of every rule.
func (e *Engine) Resweep() {
	e.mu.Lock()
	e.full = true
	e.mu.Unlock()
	e.signal(e.wake)
}

// SilencesChanged re-checks muted alerts against the silences now.
func (e *Engine) SilencesChanged() {
	e.mu.Lock()
	e.muted = true
	e.mu.Unlock()
	e.signal(e.wake)
}

// AlertAcked wakes the delivery workers for the acknowledge events.
func (e *Engine) AlertAcked(store.Alert) { e.signal(e.deliver) }

// WaitPass blocks until at least n evaluation passes have finished since
// the engine started and returns the number finished, or returns early
// when ctx ends.
func (e *Engine) WaitPass(ctx context.Context, n uint64) uint64 {
	stop := context.AfterFunc(ctx, func() {
		e.passMu.Lock()
		e.passCond.Broadcast()
		e.passMu.Unlock()
	})
	defer stop()
	e.passMu.Lock()
	defer e.passMu.Unlock()
	for e.passes < n && ctx.Err() == nil {
		e.passCond.Wait()
	}
	return e.passes
}

func (e *Engine) passDone() {
	e.passMu.Lock()
	e.passes++
	e.passCond.Broadcast()
	e.passMu.Unlock()
}

// Run evaluates and delivers until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { e.evaluateLoop(ctx) })
	wg.Go(func() { e.deliverLoop(ctx) })
	wg.Go(func() { e.refreshLoop(ctx) })
	wg.Go(func() { e.gaugeLoop(ctx) })
	wg.Wait()
}
