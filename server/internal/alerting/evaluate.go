package alerting

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/alertconf"
	"github.com/steward-project/steward/server/internal/alerting/match"
	"github.com/steward-project/steward/server/internal/store"
)

// muteCheckInterval is how often muted alerts are checked against the
// silences, so that one still firing when its silence ends is notified
// within this delay.
const muteCheckInterval = 15 * time.Second

// applyChunk bounds the alert changes committed in one transaction.
const applyChunk = 500

// work is what one evaluation pass has to do.
type work struct {
	hosts    []int64 // policy results changed
	invHosts []int64 // inventory changed
	full     bool
	policies bool
	offline  bool
	muted    bool
}

func (e *Engine) take(offline, muted bool) work {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := work{full: e.full, policies: e.policies, offline: offline, muted: muted || e.muted}
	w.hosts = slices.Sorted(maps.Keys(e.hosts))
	w.invHosts = slices.Sorted(maps.Keys(e.invHosts))
	clear(e.hosts)
	clear(e.invHosts)
	e.full, e.policies, e.muted = false, false, false
	return w
}

// giveBack requeues the work of a failed pass.
func (e *Engine) giveBack(w work) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, h := range w.hosts {
		e.hosts[h] = true
	}
	for _, h := range w.invHosts {
		e.invHosts[h] = true
	}
	e.full = e.full || w.full
	e.policies = e.policies || w.policies
	e.muted = e.muted || w.muted
}

// offlineTick is how often host_offline rules are checked: a tenth of the
// shortest `after`, between 1 s and 30 s.
func offlineTick(c alertconf.Config) time.Duration {
	tick := 30 * time.Second
	for _, r := range c.Rules {
		if r.Type == "host_offline" {
			tick = min(tick, max(time.Second, r.After/10))
		}
	}
	return tick
}

func (e *Engine) evaluateLoop(ctx context.Context) {
	lastSweep, lastMute, lastOffline := time.Time{}, time.Time{}, time.Time{}
	retry := time.Duration(0)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-timer.C:
		}
		conf := e.cur.Load().conf
		now := time.Now()
		offline := now.Sub(lastOffline) >= offlineTick(conf)
		muted := now.Sub(lastMute) >= muteCheckInterval
		if conf.SweepInterval > 0 && now.Sub(lastSweep) >= conf.SweepInterval {
			e.Resweep()
		}
		w := e.take(offline, muted)
		err := e.pass(ctx, w)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errStalePass) {
			e.giveBack(w) // and at once: Reload also asked for a full pass
			e.signal(e.wake)
		} else if err != nil {
			e.giveBack(w)
			retry = min(max(2*retry, time.Second), 30*time.Second)
			e.log.Error("alert evaluation failed; retrying", "err", err, "retry_in", retry)
		} else {
			retry = 0
			if w.full {
				lastSweep = now
			}
			if w.muted {
				lastMute = now
			}
			if w.offline || w.full {
				lastOffline = now
			}
		}
		e.passDone()
		next := min(offlineTick(conf), muteCheckInterval)
		if retry > 0 {
			next = retry
		}
		timer.Reset(next)
	}
}

// evaluationLocker is what a store shared by several server replicas
// provides (PostgreSQL) so that their evaluation passes never overlap.
type evaluationLocker interface {
	LockEvaluation(ctx context.Context) (release func(), err error)
}

// pass is one evaluation: every rule over the hosts the work names (or all
// of them), reconciled into the store.
func (e *Engine) pass(ctx context.Context, w work) error {
	if l, ok := e.st.(evaluationLocker); ok {
		release, err := l.LockEvaluation(ctx)
		if err != nil {
			return err
		}
		defer release()
	}
	s := e.cur.Load()
	p := &passState{e: e, s: s, now: e.now().UTC(), hosts: map[int64]*hostInfo{}}
	if len(w.hosts) > 0 && !w.full && !w.policies {
		if err := p.loadResults(ctx, w.hosts); err != nil {
			return err
		}
	}
	for _, r := range s.conf.Rules {
		var err error
		switch r.Type {
		case "policy_failing":
			switch {
			case w.full || w.policies:
				err = p.policySweep(ctx, r)
			case len(w.hosts) > 0:
				err = p.policyHosts(ctx, r, w.hosts)
			}
		case "inventory_change":
			switch {
			case w.full:
				err = p.inventoryChanges(ctx, r, nil)
			case len(w.invHosts) > 0:
				err = p.inventoryChanges(ctx, r, w.invHosts)
			}
		case "expr":
			switch {
			case w.full:
				err = p.exprAll(ctx, r)
			case len(w.invHosts) > 0:
				err = p.exprHosts(ctx, r, w.invHosts)
			}
		case "host_offline":
			if w.full || w.offline {
				err = p.offline(ctx, r)
			}
		}
		if err != nil {
			return fmt.Errorf("rule %s: %w", r.Name, err)
		}
	}
	if w.full {
		if err := p.orphans(ctx); err != nil {
			return err
		}
	}
	if w.muted || w.full {
		if err := p.unmute(ctx); err != nil {
			return err
		}
	}
	// A reload while the pass ran would have it route alerts, and queue
	// notifications, by rules and receivers that no longer exist (a
	// result that arrived after the reload must not page the removed
	// receiver). Such a pass writes nothing; its work is done again under
	// the new configuration.
	e.curMu.RLock()
	defer e.curMu.RUnlock()
	if e.cur.Load() != s {
		return errStalePass
	}
	return p.flush(ctx)
}

// errStalePass: the configuration was replaced during the pass.
var errStalePass = errors.New("the alerting configuration changed during the pass")

// passState is what one pass has read and what it will write.
type passState struct {
	e        *Engine
	s        *state
	now      time.Time
	hosts    map[int64]*hostInfo
	results  map[int64][]store.HostResult
	policies map[string]store.StoredPolicy
	silences []store.Silence
	loadedSl bool
	changes  store.AlertChanges
}

// hostInfo is what alert labels need of a host.
type hostInfo = store.AlertHost

// bulkChunk bounds the hosts one bulk read asks for.
const bulkChunk = 1000

// prefetch reads the hosts of ids the pass has not read yet, in bulk.
func (p *passState) prefetch(ctx context.Context, ids []int64) error {
	var missing []int64
	for _, id := range ids {
		if _, ok := p.hosts[id]; !ok {
			missing = append(missing, id)
		}
	}
	for len(missing) > 0 {
		n := min(len(missing), bulkChunk)
		got, err := p.e.st.AlertHosts(ctx, missing[:n])
		if err != nil {
			return fmt.Errorf("hosts: %w", err)
		}
		for _, id := range missing[:n] {
			if h, ok := got[id]; ok {
				p.hosts[id] = &h
			} else {
				p.hosts[id] = nil // gone: remembered, so it is not asked again
			}
		}
		missing = missing[n:]
	}
	return nil
}

// host returns a host the pass needs, reading it when no prefetch did;
// ErrNotFound when it no longer exists.
func (p *passState) host(ctx context.Context, id int64) (*hostInfo, error) {
	if err := p.prefetch(ctx, []int64{id}); err != nil {
		return nil, err
	}
	if h := p.hosts[id]; h != nil {
		return h, nil
	}
	return nil, fmt.Errorf("host %d: %w", id, store.ErrNotFound)
}

func (p *passState) loadPolicies(ctx context.Context) error {
	if p.policies != nil {
		return nil
	}
	ps, err := p.e.st.ListPolicies(ctx, "", 0)
	if err != nil {
		return fmt.Errorf("list policies: %w", err)
	}
	p.policies = make(map[string]store.StoredPolicy, len(ps))
	for _, sp := range ps {
		p.policies[sp.Policy.ID] = sp
	}
	return nil
}

func (p *passState) loadResults(ctx context.Context, hosts []int64) error {
	p.results = make(map[int64][]store.HostResult, len(hosts))
	for rest := hosts; len(rest) > 0; {
		n := min(len(rest), bulkChunk)
		rs, err := p.e.st.ResultsOfHosts(ctx, rest[:n], p.now)
		if err != nil {
			return fmt.Errorf("results: %w", err)
		}
		for _, r := range rs {
			p.results[r.HostID] = append(p.results[r.HostID], r)
		}
		rest = rest[n:]
	}
	return p.prefetch(ctx, hosts)
}

// muted reports whether an active silence or maintenance window covers
// an alert with these labels.
func (p *passState) muted(ctx context.Context, labels map[string]string) (bool, error) {
	if p.s.conf.InMaintenance(labels, p.now) {
		return true, nil
	}
	if !p.loadedSl {
		// A silence added while this pass ran (after p.now, before this
		// read) counts too: the results the pass reads may be newer than
		// p.now, and an admin who silenced first must not be paged for
		// them.
		loaded := p.e.now().UTC()
		for before := int64(0); ; {
			page, err := p.e.st.ListSilences(ctx, store.SilenceQuery{At: p.now, BeforeID: before, Limit: 1000})
			if err != nil {
				return false, fmt.Errorf("list silences: %w", err)
			}
			for _, sl := range page {
				if sl.Active(p.now) || sl.Active(loaded) {
					p.silences = append(p.silences, sl)
				}
			}
			if len(page) < 1000 {
				break
			}
			before = page[len(page)-1].ID
		}
		p.loadedSl = true
	}
	for _, sl := range p.silences {
		if match.All(sl.Matchers, labels) {
			return true, nil
		}
	}
	return false, nil
}

// key identifies an episode within one rule.
type key struct {
	host    int64
	subject string
}

// reconcile compares what rule r wants firing within scope (nil: every
// host) with the open alerts and queues the difference.
func (p *passState) reconcile(ctx context.Context, r alertconf.Rule, scope []int64, want map[key]store.AlertSpec) error {
	q := store.OpenAlertQuery{Rule: r.Name, HostIDs: scope}
	if scope != nil && len(scope) == 0 {
		return nil
	}
	open, err := p.e.st.OpenAlerts(ctx, q)
	if err != nil {
		return err
	}
	have := make(map[key]store.Alert, len(open))
	for _, a := range open {
		k := key{a.HostID, a.Subject}
		if _, ok := want[k]; !ok {
			p.changes.Resolve = append(p.changes.Resolve, a.ID)
			continue
		}
		have[k] = a
	}
	for _, k := range slices.SortedFunc(maps.Keys(want), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.host, b.host), cmp.Compare(a.subject, b.subject))
	}) {
		spec := want[k]
		if a, ok := have[k]; ok {
			if a.Annotations["evidence"] != spec.Annotations["evidence"] {
				p.changes.Annotate = append(p.changes.Annotate, store.AlertAnnotate{ID: a.ID, Annotations: spec.Annotations})
			}
			continue
		}
		muted, err := p.muted(ctx, spec.Labels)
		if err != nil {
			return err
		}
		p.changes.Open = append(p.changes.Open, store.AlertOpen{Spec: spec, Muted: muted, Receivers: p.s.conf.Route(spec.Labels)})
	}
	return nil
}

// orphans resolves open alerts of rules the configuration no longer has.
func (p *passState) orphans(ctx context.Context) error {
	open, err := p.e.st.OpenAlerts(ctx, store.OpenAlertQuery{})
	if err != nil {
		return fmt.Errorf("open alerts: %w", err)
	}
	for _, a := range open {
		if _, ok := p.s.conf.Rule(a.Rule); !ok {
			p.changes.Resolve = append(p.changes.Resolve, a.ID)
		}
	}
	return nil
}

// unmute notifies muted open alerts that no silence covers any more.
func (p *passState) unmute(ctx context.Context) error {
	open, err := p.e.st.OpenAlerts(ctx, store.OpenAlertQuery{Muted: true})
	if err != nil {
		return fmt.Errorf("muted alerts: %w", err)
	}
	for _, a := range open {
		muted, err := p.muted(ctx, a.Labels)
		if err != nil {
			return err
		}
		if !muted {
			p.changes.Unmute = append(p.changes.Unmute, store.AlertUnmute{ID: a.ID, Receivers: p.s.conf.Route(a.Labels)})
		}
	}
	return nil
}

// flush commits the queued changes in chunks and wakes the delivery
// workers when they wrote notifications.
func (p *passState) flush(ctx context.Context) error {
	c := p.changes
	for len(c.Open)+len(c.Resolve)+len(c.Unmute)+len(c.Annotate) > 0 {
		var step store.AlertChanges
		step.At = p.now
		n := applyChunk
		step.Open, c.Open = cut(c.Open, &n)
		step.Resolve, c.Resolve = cut(c.Resolve, &n)
		step.Unmute, c.Unmute = cut(c.Unmute, &n)
		step.Annotate, c.Annotate = cut(c.Annotate, &n)
		res, err := p.e.st.ApplyAlertChanges(ctx, step)
		if err != nil {
			return err
		}
		p.e.recordChanges(res)
	}
	p.changes = store.AlertChanges{}
	return nil
}

// cut takes up to *n items off s, lowering *n by what it took.
func cut[T any](s []T, n *int) (head, rest []T) {
	k := min(len(s), *n)
	*n -= k
	return s[:k], s[k:]
}

func (e *Engine) recordChanges(res store.AlertChangeResult) {
	for _, a := range res.Opened {
		e.log.Info("alert firing", "alert_id", a.ID, "rule", a.Rule, "host_id", a.HostID, "subject", a.Subject,
			"severity", a.Severity, "muted", a.Muted)
		e.count("opened", a)
	}
	for _, a := range res.Resolved {
		e.log.Info("alert resolved", "alert_id", a.ID, "rule", a.Rule, "host_id", a.HostID, "subject", a.Subject)
		e.count("resolved", a)
	}
	for _, a := range res.Unmuted {
		e.log.Info("alert no longer silenced; notifying", "alert_id", a.ID, "rule", a.Rule, "host_id", a.HostID)
		e.count("unmuted", a)
	}
	if res.Notifications > 0 {
		e.signal(e.deliver)
	}
}

func (e *Engine) count(what string, a store.Alert) {
	if e.m != nil {
		e.m.AlertTransitions.WithLabelValues(a.Rule, a.Severity, what).Inc()
	}
}
