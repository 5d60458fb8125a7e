// Package server wires the steward-server process together: store, ingest,
// agent gateway, admin API, health and metrics endpoints.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/compliance"
	"github.com/steward-project/steward/server/internal/config"
	"github.com/steward-project/steward/server/internal/fleet"
	"github.com/steward-project/steward/server/internal/gateway"
	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/limits"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/retention"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/instrument"
	"github.com/steward-project/steward/server/internal/store/postgres"
	"github.com/steward-project/steward/server/internal/store/sqlite"
)

// OpenStore opens the database named by cfg.DB.
func OpenStore(ctx context.Context, cfg config.Config, log *slog.Logger) (store.Store, string, error) {
	kind, target, err := config.ParseDB(cfg.DB)
	if err != nil {
		return nil, "", err
	}
	var st store.Store
	switch kind {
	case config.SQLite:
		st, err = sqlite.Open(ctx, target, log)
	case config.Postgres:
		st, err = postgres.Open(ctx, target, log, postgres.WithPoolFor(postgresPool(cfg)))
	}
	if err != nil {
		return nil, kind, fmt.Errorf("open database %s: %w", config.Redact(cfg.DB), err)
	}
	return st, kind, nil
}

// Migrate applies pending schema migrations and returns.
func Migrate(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	st, _, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", config.Redact(cfg.DB), err)
	}
	return nil
}

// Run serves until ctx ends, then shuts down in order: stop accepting,
// close agent connections, commit queued messages, close the store.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, version string) error {
	m := metrics.New(version)
	edge, err := newEdge(cfg, log, m)
	if err != nil {
		return err
	}
	defer edge.stop()
	// TLS, when configured: the certificate reloads on SIGHUP (tls.go).
	var stls *serverTLS
	if cfg.TLSCert != "" {
		if stls, err = newServerTLS(cfg, log, m); err != nil {
			return err
		}
		defer stls.watchHUP()()
	}
	// SQLite serves one process: a second server on the same file stops.
	if kind, target, err := config.ParseDB(cfg.DB); err == nil && kind == config.SQLite {
		unlock, err := sqlite.LockSingleServer(target)
		if err != nil {
			return err
		}
		defer unlock()
	}
	raw, kind, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	// Every part of the server gets the measured store, from the
	// migration on; the pool's statistics are read at each scrape.
	st := instrument.Wrap(raw, m)
	defer st.Close()
	m.RegisterPool(func() metrics.PoolStats { return metrics.PoolStats(st.PoolStats()) })
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", config.Redact(cfg.DB), err)
	}
	created, err := auth.Bootstrap(ctx, st, cfg.DataDir)
	if err != nil {
		return err
	}
	if created {
		log.Info("created first admin token and enroll secret", "data_dir", cfg.DataDir,
			"files", []string{auth.AdminTokenFile, auth.EnrollSecretFile})
	}

	writers := postgresWriters
	if kind == config.SQLite {
		writers = 1 // SQLite has one writer connection
	}
	// Expr-only policies are evaluated on the server, against stored
	// inventory, by one goroutine fed by ingest and policy changes.
	fleetCtx, stopFleet := context.WithCancel(context.Background())
	fleetDone := make(chan struct{})
	go func() {
		defer close(fleetDone)
		fleet.Run(fleetCtx, fleet.Config{Store: st, Metrics: m, Logger: log, Interval: cfg.Metrics.FleetInterval,
			OnlineWindow: 3 * cfg.Agent.HeartbeatInterval})
	}()
	defer func() { stopFleet(); <-fleetDone }()
	// Retention prunes old history in small batches; with several
	// servers on one database, one of them at a time (package retention).
	retCtx, stopRetention := context.WithCancel(context.Background())
	retDone := make(chan struct{})
	go func() {
		defer close(retDone)
		r := cfg.Retention
		retention.Run(retCtx, retention.Config{Store: st, Metrics: m, Logger: log, Interval: r.Interval,
			Keep: retention.Keep(r.Changes, r.Transitions, r.Alerts, r.Notifications, r.Audit)})
	}()
	defer func() { stopRetention(); <-retDone }()
	alerts, err := startAlerting(cfg, kind, st, log, m)
	if err != nil {
		return err
	}
	defer alerts.stop()
	evaluator := compliance.New(st, compliance.Config{Logger: log, Evaluated: func(_ int, ts []store.Transition) {
		alerts.engine.ResultsChanged(ts)
	}})
	evalCtx, stopEval := context.WithCancel(context.Background())
	evalDone := make(chan struct{})
	go func() { defer close(evalDone); evaluator.Run(evalCtx) }()
	defer func() { stopEval(); <-evalDone }()
	batcher := ingest.New(st, ingest.Config{Writers: writers, Logger: log, Metrics: m,
		MaxQueuedBytes: int64(cfg.Ingest.QueueMiB) << 20,
		MaxBatchBytes:  int64(cfg.Ingest.BatchMiB) << 20,
		CommitTimeout:  cfg.Ingest.CommitTimeout,
		CommitDelay:    cfg.Ingest.CommitDelay,
		Probe:          st.Ping,
		Committed: func(msgs []store.Message, results []store.Result) {
			evaluator.Committed(msgs, results)
			alerts.engine.InventoryCommitted(msgs, results)
		}})
	gw := gateway.New(gateway.Config{
		Store:             st,
		Policies:          st,
		ResultsApplied:    alerts.engine.ResultsChanged,
		HostConnected:     evaluator.HostConnected,
		ResultWriters:     writers,
		Ingest:            batcher,
		Logger:            log,
		Metrics:           m,
		Guard:             edge.guard,
		Agents:            edge.agents,
		InventoryInterval: cfg.Agent.InventoryInterval,
		HeartbeatInterval: cfg.Agent.HeartbeatInterval,
		AckDelay:          cfg.Agent.AckDelay,
		Window: gateway.WindowConfig{Messages: cfg.Ingest.WindowMessages,
			Bytes: int64(cfg.Ingest.WindowMiB) << 20, Wait: cfg.Ingest.WindowWait},
	})
	evaluator.SetAnswerSink(gw) // agents' expr leaves are answered through it
	// Changes made through another replica sharing the database reach the
	// agents connected here, and this replica's reach theirs (cluster.go).
	bus, stopBus := startCluster(ctx, raw, gw, alerts, log)
	defer stopBus()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /readyz", readyz{ingest: batcher, ping: st.Ping, commitFailures: cfg.Readiness.CommitFailures, log: log})
	mux.Handle("GET /metrics", m.Handler(cfg.Metrics.Token.Value()))
	if cfg.Debug.Pprof {
		mux.Handle(pprofPrefix, pprofHandler(st, edge.guard, log))
		log.Info("runtime profiles served to admin tokens", "path", pprofPrefix)
	}
	// The agent endpoints, under /agent/, may need a client certificate
	// (tls.go).
	agents := http.NewServeMux()
	gw.Register(agents)
	mux.Handle("/agent/", stls.agentRoutes(agents))
	mux.Handle(api.Prefix, api.New(api.Config{
		Store:        st,
		Guard:        edge.guard,
		Logger:       log,
		OnlineWindow: 3 * cfg.Agent.HeartbeatInterval,
		PoliciesChanged: func(rev int64) {
			evaluator.PoliciesChanged()
			alerts.engine.PoliciesChanged() // a deleted policy's alerts resolve
			go gw.PoliciesChanged(context.WithoutCancel(ctx))
			bus.PoliciesChanged(ctx, rev)
		},
		CheckNow: func(id int64) bool { return bus.CheckNow(ctx, id) },
		LabelsChanged: func(id int64, labels map[string]string) {
			gw.HostLabelsChanged(id, labels)
			bus.LabelsChanged(ctx, id)
		},
		Alerting:          st,
		AlertAcked:        func(a store.Alert) { alerts.engine.AlertAcked(a); bus.AlertAcked(ctx) },
		SilencesChanged:   func() { alerts.engine.SilencesChanged(); bus.SilencesChanged(ctx) },
		ExemptionsChanged: func() { alerts.engine.ExemptionsChanged(); bus.ExemptionsChanged(ctx) },
		ReloadAlerting: func(ctx context.Context, actor string) (any, error) {
			summary, err := alerts.reload(ctx, actor)
			if err == nil {
				bus.AlertingReloaded(ctx)
			}
			return summary, err
		},
		HostGone: func(id int64) { gw.Disconnect(id); bus.HostGone(ctx, id) },
		Version:  version,
	}))
	// A host retired through another server sharing the database loses
	// its socket here within a sweep.
	go gw.WatchRetired(ctx, st, retiredSweep)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		batcher.Stop()
		return fmt.Errorf("listen: %w", err)
	}
	ln = edge.listen(ln, cfg.TLSCert != "")
	srv := &http.Server{
		Handler:           limitRequestRead(capBodies(mux), requestReadTimeout),
		ConnContext:       limits.ConnContext,
		ReadHeaderTimeout: headerTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if stls != nil {
		scheme = "https"
		srv.TLSConfig = stls.config()
	}
	log.Info("steward-server listening", "url", scheme+"://"+ln.Addr().String(), "db", config.Redact(cfg.DB), "version", version)
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			errc <- srv.ServeTLS(ln, "", "") // the certificate comes from srv.TLSConfig
		} else {
			errc <- srv.Serve(ln)
		}
	}()

	select {
	case err = <-errc:
		err = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		err = nil
	}
	log.Info("shutting down")
	// One deadline bounds the whole stop; what ingest has not committed
	// by then is not acknowledged, and agents send it again.
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Ingest.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		log.Warn("http shutdown", "err", serr)
	}
	if gerr := gw.Shutdown(sctx); gerr != nil {
		log.Warn("agent connections did not close in time", "err", gerr)
	}
	if ierr := batcher.Shutdown(sctx); ierr != nil {
		log.Warn("shutdown deadline passed before ingest committed every queued message", "err", ierr)
	}
	return err
}
