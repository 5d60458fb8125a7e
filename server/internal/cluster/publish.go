package cluster

import (
	"context"
	"time"
)

// The methods below are called by the admin API after a change committed
// and after the local replica applied it; they tell the other replicas.

// PoliciesChanged tells the other replicas the policy set is now at
// revision.
func (b *Bus) PoliciesChanged(ctx context.Context, revision int64) {
	b.noteRevision(revision)
	b.send(ctx, event{Kind: kindPolicies, Revision: revision})
}

// LabelsChanged tells the other replicas the host's labels changed.
func (b *Bus) LabelsChanged(ctx context.Context, hostID int64) {
	b.send(ctx, event{Kind: kindLabels, Host: hostID})
}

// HostGone tells the other replicas to close the host's connection.
func (b *Bus) HostGone(ctx context.Context, hostID int64) {
	b.send(ctx, event{Kind: kindHostGone, Host: hostID})
}

// SilencesChanged, ExemptionsChanged, AlertAcked and AlertingReloaded
// tell the other replicas' alerting engines.
func (b *Bus) SilencesChanged(ctx context.Context) { b.send(ctx, event{Kind: kindSilences}) }

// ExemptionsChanged: see SilencesChanged.
func (b *Bus) ExemptionsChanged(ctx context.Context) { b.send(ctx, event{Kind: kindExemptions}) }

// AlertAcked: see SilencesChanged.
func (b *Bus) AlertAcked(ctx context.Context) { b.send(ctx, event{Kind: kindAlertAcked}) }

// AlertingReloaded: see SilencesChanged. Each replica reads its own
// configuration file again.
func (b *Bus) AlertingReloaded(ctx context.Context) { b.send(ctx, event{Kind: kindReload}) }

// CheckNow asks the host's agent to check now wherever it is connected:
// here if it is, else on the replica that answers within CheckNowWait
// that it holds the connection. It returns false when no replica does.
func (b *Bus) CheckNow(ctx context.Context, hostID int64) bool {
	if f := b.cfg.Local.CheckNow; f != nil && f(hostID) {
		return true
	}
	if b.cfg.Store == nil {
		return false
	}
	req := randomID()
	answered := make(chan struct{})
	b.mu.Lock()
	b.pending[req] = answered
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.pending, req)
		b.mu.Unlock()
	}()
	b.send(ctx, event{Kind: kindCheckNow, Host: hostID, Request: req})
	t := time.NewTimer(b.cfg.CheckNowWait)
	defer t.Stop()
	select {
	case <-answered:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// noteRevision remembers the newest policy revision seen.
func (b *Bus) noteRevision(rev int64) {
	for {
		cur := b.revision.Load()
		if rev <= cur || b.revision.CompareAndSwap(cur, rev) {
			return
		}
	}
}
