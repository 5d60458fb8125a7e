package cluster

import (
	"context"
	"encoding/json"
	"time"
)

// Backoff bounds between attempts to listen again after the connection
// failed.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// Run listens for the other replicas' events until ctx ends. When the
// listening connection fails it connects again, waiting longer after each
// failure, and then catches up on what it may have missed meanwhile.
func (b *Bus) Run(ctx context.Context) {
	if b.cfg.Store == nil {
		close(b.ready)
		return
	}
	if rev, err := b.cfg.Store.PolicyRevision(ctx); err == nil {
		b.noteRevision(rev)
	}
	backoff := minBackoff
	first := true
	for {
		listening := false
		err := b.cfg.Store.Listen(ctx, Channel, func() {
			listening = true
			backoff = minBackoff
			if first {
				first = false
				close(b.ready)
				b.log.Info("listening for other replicas' changes", "replica", b.id)
				return
			}
			b.log.Info("listening for other replicas' changes again")
			b.catchUp(ctx)
		}, func(payload string) { b.handle(ctx, payload) })
		if ctx.Err() != nil {
			return
		}
		if listening {
			b.log.Warn("lost the connection other replicas' changes arrive on", "err", err)
		} else {
			b.log.Warn("cannot listen for other replicas' changes", "err", err, "retry_in", backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// catchUp applies what notifications missed while not listening would
// have carried: a newer policy set is pushed, and the alerting engine
// reads its caches again. Retired hosts' connections are closed by the
// gateway's own sweep; a label change missed reaches its agent when it
// next connects.
func (b *Bus) catchUp(ctx context.Context) {
	l := b.cfg.Local
	rev, err := b.cfg.Store.PolicyRevision(ctx)
	if err != nil {
		b.log.Warn("policy revision not read after reconnecting", "err", err)
	} else if rev != b.revision.Load() {
		b.noteRevision(rev)
		if l.PoliciesChanged != nil {
			go l.PoliciesChanged(context.WithoutCancel(ctx))
		}
	}
	for _, f := range []func(){l.SilencesChanged, l.ExemptionsChanged} {
		if f != nil {
			f()
		}
	}
}

// handle applies one event from another replica. It runs on the listening
// goroutine, so anything that may wait on the database or on agents runs
// on its own.
func (b *Bus) handle(ctx context.Context, payload string) {
	var e event
	if err := json.Unmarshal([]byte(payload), &e); err != nil {
		b.log.Warn("unreadable event from another replica", "err", err)
		return
	}
	if e.From == b.id {
		return // applied here before it was sent
	}
	l := b.cfg.Local
	call := func(f func()) {
		if f != nil {
			f()
		}
	}
	switch e.Kind {
	case kindPolicies:
		b.noteRevision(e.Revision)
		if l.PoliciesChanged != nil {
			go l.PoliciesChanged(context.WithoutCancel(ctx))
		}
	case kindLabels:
		if l.LabelsChanged != nil {
			go b.relabel(ctx, e.Host)
		}
	case kindCheckNow:
		if l.CheckNow != nil && l.CheckNow(e.Host) {
			go b.send(ctx, event{Kind: kindCheckAck, Host: e.Host, Request: e.Request})
		}
	case kindCheckAck:
		b.mu.Lock()
		if c, ok := b.pending[e.Request]; ok {
			close(c)
			delete(b.pending, e.Request)
		}
		b.mu.Unlock()
	case kindHostGone:
		if l.HostGone != nil {
			l.HostGone(e.Host)
		}
	case kindSilences:
		call(l.SilencesChanged)
	case kindExemptions:
		call(l.ExemptionsChanged)
	case kindAlertAcked:
		call(l.AlertAcked)
	case kindReload:
		if l.ReloadAlerting != nil {
			go l.ReloadAlerting(context.WithoutCancel(ctx))
		}
	default:
		b.log.Warn("event of an unknown kind from another replica", "kind", e.Kind)
	}
}

// relabel reads the host's labels and sends them to its agent if it is
// connected here.
func (b *Bus) relabel(ctx context.Context, hostID int64) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	labels, err := b.cfg.Store.HostLabels(rctx, hostID)
	if err != nil {
		b.log.Warn("labels changed on another replica not read", "host_id", hostID, "err", err)
		return
	}
	b.cfg.Local.LabelsChanged(hostID, labels)
}
