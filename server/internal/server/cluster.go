package server

import (
	"context"
	"log/slog"

	"github.com/steward-project/steward/server/internal/cluster"
	"github.com/steward-project/steward/server/internal/gateway"
	"github.com/steward-project/steward/server/internal/store"
)

// startCluster starts the bus that carries admin changes between server
// replicas sharing a PostgreSQL database; on SQLite, which one process
// owns, the bus only applies changes locally. stop waits for it to end.
func startCluster(ctx context.Context, raw store.Store, gw *gateway.Gateway, alerts *alertService, log *slog.Logger) (bus *cluster.Bus, stop func()) {
	shared, _ := raw.(cluster.Store)
	bus = cluster.New(cluster.Config{Store: shared, Logger: log, Local: cluster.Local{
		PoliciesChanged: func(ctx context.Context) {
			alerts.engine.PoliciesChanged()
			gw.PoliciesChanged(ctx)
		},
		LabelsChanged:     gw.HostLabelsChanged,
		CheckNow:          gw.CheckNow,
		HostGone:          func(id int64) { gw.Disconnect(id) },
		SilencesChanged:   alerts.engine.SilencesChanged,
		ExemptionsChanged: alerts.engine.ExemptionsChanged,
		AlertAcked:        func() { alerts.engine.AlertAcked(store.Alert{}) },
		ReloadAlerting: func(ctx context.Context) {
			alerts.reload(ctx, "replica") // a refusal is logged there
		},
	}})
	bctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); bus.Run(bctx) }()
	return bus, func() { cancel(); <-done }
}
