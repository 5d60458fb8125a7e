package server

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/steward-project/steward/server/internal/config"
	"github.com/steward-project/steward/server/internal/limits"
	"github.com/steward-project/steward/server/internal/metrics"
)

// edge holds the server's connection caps and authentication rate
// limits (package limits), built from the limits: section.
type edge struct {
	guard *limits.Guard
	// agents is agents' share of the connection cap: the gateway refuses
	// agents past it, so that API requests still find room.
	agents   *limits.Share
	lcfg     limits.ListenerConfig
	stopped  chan struct{}
	stopFunc context.CancelFunc
}

// newEdge builds the limits and starts the goroutine that writes the
// failed-authentication summaries; stop ends it.
func newEdge(cfg config.Config, log *slog.Logger, m *metrics.Metrics) (*edge, error) {
	trusted, err := limits.ParsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, err // Validate has reported it already
	}
	l := cfg.Limits
	openFiles := limits.OpenFilesLimit()
	maxConns := l.MaxConnections
	if maxConns == 0 {
		maxConns = limits.MaxConnsFor(openFiles)
	}
	perIP := l.MaxUnauthenticatedPerIP
	if perIP == 0 {
		perIP = limits.MaxUnauthPerIPFor(maxConns)
	}
	reserve := l.APIReserve
	if reserve == 0 {
		reserve = limits.APIReserveFor(maxConns)
	}
	if reserve >= maxConns {
		log.Warn("limits.api_reserve is not below the connection cap: agents get a single connection",
			"api_reserve", reserve, "max_connections", maxConns)
	}
	maxAgents := limits.MaxAgentsFor(maxConns, reserve)
	if openFiles > 0 && uint64(maxConns) >= openFiles {
		log.Warn("limits.max_connections is not below the open files limit: the server can run out of file descriptors before it refuses connections",
			"max_connections", maxConns, "open_files_limit", openFiles)
	}
	refused := func(reason string) { m.HTTPRefused.WithLabelValues(reason).Inc() }
	authed, unauthed := m.HTTPConnections.WithLabelValues("authenticated"), m.HTTPConnections.WithLabelValues("unauthenticated")
	m.HTTPMaxConnections.Set(float64(maxConns))
	e := &edge{
		guard: limits.NewGuard(limits.GuardConfig{
			FailedAuth: l.FailedAuth.Limit(),
			Credentials: [...]limits.Rate{
				limits.EnrollSecret: l.EnrollSecret.Limit(),
				limits.NodeKey:      l.NodeKey.Limit(),
				limits.APIToken:     l.APIToken.Limit(),
			},
			TrustedProxies: trusted,
			Logger:         log,
			Refused:        refused,
		}),
		lcfg: limits.ListenerConfig{
			MaxConns:       maxConns,
			MaxUnauthPerIP: perIP,
			TrustedProxies: trusted,
			Refused:        refused,
			Counted: func(a, u int) {
				authed.Set(float64(a))
				unauthed.Set(float64(u))
			},
		},
		agents:  limits.NewShare(maxAgents),
		stopped: make(chan struct{}),
	}
	log.Info("connection limits", "max_connections", maxConns, "max_agents", maxAgents, "max_unauthenticated_per_ip", perIP,
		"open_files_limit", openFiles, "trusted_proxies", len(trusted))
	ctx, cancel := context.WithCancel(context.Background())
	e.stopFunc = cancel
	go func() {
		defer close(e.stopped)
		e.guard.Run(ctx, logFlushInterval)
	}()
	return e, nil
}

// logFlushInterval is how often summaries that are due get written when
// no new failure comes to write them.
const logFlushInterval = 10 * time.Second

// listen wraps ln in the connection caps. Over a TLS listener a refused
// connection is closed without an answer: answering would take a TLS
// handshake first.
func (e *edge) listen(ln net.Listener, tls bool) net.Listener {
	c := e.lcfg
	c.NoAnswer = tls
	return limits.NewListener(ln, c)
}

// stop writes the failure summaries still pending and ends the
// goroutine.
func (e *edge) stop() {
	e.stopFunc()
	<-e.stopped
}
