package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/steward-project/steward/server/internal/alerting"
	"github.com/steward-project/steward/server/internal/alerting/alertconf"
	"github.com/steward-project/steward/server/internal/config"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/store"
)

// alertService runs the alerting engine beside the server and reloads its
// configuration on SIGHUP and on API request.
type alertService struct {
	engine *alerting.Engine
	file   string
	st     store.Store
	log    *slog.Logger
	stop   func()
}

func startAlerting(cfg config.Config, kind string, st store.Store, log *slog.Logger, m *metrics.Metrics) (*alertService, error) {
	workers := 0
	if kind == config.SQLite {
		workers = 1 // one delivery worker claims on SQLite
	}
	engine, err := alerting.New(alerting.Config{
		Store:       st,
		Alerting:    cfg.Alerting,
		ExternalURL: externalURL(cfg),
		Workers:     workers,
		Logger:      log.With("component", "alerting"),
		Metrics:     m,
		// Alert gauges on the fleet gauges' schedule.
		GaugeInterval: cfg.Metrics.FleetInterval,
	})
	if err != nil {
		return nil, err
	}
	a := &alertService{engine: engine, file: cfg.File, st: st, log: log}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); engine.Run(ctx) }()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	hupDone := make(chan struct{})
	go func() {
		defer close(hupDone)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				a.reload(ctx, "SIGHUP") // a refusal is logged there
			}
		}
	}()
	a.stop = func() {
		signal.Stop(hup)
		cancel()
		<-hupDone
		<-done
	}
	if n := len(cfg.Alerting.Rules); n > 0 {
		log.Info("alerting enabled", "rules", n, "receivers", len(cfg.Alerting.Receivers), "routes", len(cfg.Alerting.Routes))
	}
	return a, nil
}

// externalURL is the base of links in notifications when the alerting
// section sets none.
func externalURL(cfg config.Config) string {
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// reload reads the config file's alerting section again and, when it is
// valid, puts it in place and audits the change; an invalid one is
// refused whole, with every problem logged, and the running one stays.
func (a *alertService) reload(ctx context.Context, actor string) (any, error) {
	if a.file == "" {
		return nil, errors.New("the server was started without --config: there is no file to reload")
	}
	c, err := alertconf.LoadFile(a.file)
	if err == nil {
		err = a.engine.Reload(c)
	}
	if err != nil {
		a.log.Error("alerting configuration reload refused; the previous one stays", "by", actor, "err", err)
		return nil, err
	}
	summary := map[string]any{"file": a.file, "receivers": len(c.Receivers), "routes": len(c.Routes),
		"rules": len(c.Rules), "maintenance_windows": len(c.MaintenanceWindows)}
	detail, _ := json.Marshal(summary) // plain values
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := a.st.AppendAudit(actx, store.AuditEntry{Actor: actor, Action: store.AuditAlertingReloaded,
		Subject: a.file, Detail: detail}); err != nil {
		a.log.Warn("alerting reload not audited", "err", err)
	}
	a.log.Info("alerting configuration reloaded", "by", actor, "rules", len(c.Rules),
		"receivers", receiverNames(c))
	return summary, nil
}

func receiverNames(c alertconf.Config) string {
	names := make([]string, len(c.Receivers))
	for i, r := range c.Receivers {
		names[i] = fmt.Sprintf("%s(%s)", r.Name, r.Config.Type())
	}
	return strings.Join(names, ",")
}
