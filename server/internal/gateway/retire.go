package gateway

import (
	"context"
	"time"

	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/shared/wire"
)

// Disconnect closes the live connections of these hosts, if this server
// holds them, telling each agent its host was retired. It returns how
// many it closed. The agents' node keys are refused from then on by the
// store, so they cannot come back.
func (g *Gateway) Disconnect(hostIDs ...int64) int {
	g.mu.Lock()
	var victims []*conn
	for _, id := range hostIDs {
		if c := g.conns[id]; c != nil {
			victims = append(victims, c)
		}
	}
	g.mu.Unlock()
	for _, c := range victims {
		g.cfg.Logger.Info("closing a retired host's connection", "host_id", c.host.ID, "remote", c.remote)
		c.fail(errorFrame(wire.CodeRetired, "host retired by an administrator", 0).as(metrics.DisconnectRetired))
	}
	return len(victims)
}

// RetiredLister is the store read WatchRetired polls.
type RetiredLister interface {
	RetiredSince(ctx context.Context, since time.Time) ([]int64, error)
}

// WatchRetired closes, every interval until ctx ends, the connections of
// hosts retired since the previous look, so that a host retired through
// another server sharing the database loses its socket here too within
// about one interval. Each look reaches back a little before the
// previous one, so a retirement committed with a slightly older time on
// another server is not missed; closing a host twice is harmless.
func (g *Gateway) WatchRetired(ctx context.Context, st RetiredLister, interval time.Duration) {
	const overlap = 30 * time.Second
	since := time.Now().Add(-overlap)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := time.Now().Add(-overlap)
		ids, err := st.RetiredSince(ctx, since)
		if err != nil {
			g.cfg.Logger.Warn("look up retired hosts", "err", err)
			continue
		}
		g.Disconnect(ids...)
		since = next
	}
}
