// Package fleet computes the fleet gauges (hosts, agent versions, policy
// results and compliance) from the store on a schedule, so that a scrape
// of /metrics reads cached values and costs the database nothing. On the
// same schedule it pings the store for steward_store_up.
package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// Store is what the gauges are read from.
type Store interface {
	// Ping checks the database answers (steward_store_up).
	Ping(ctx context.Context) error
	FleetCounts(ctx context.Context, onlineSince time.Time) (store.FleetCounts, error)
	Compliance(ctx context.Context, at time.Time) ([]store.PolicyCounts, error)
	ListPolicies(ctx context.Context, afterID string, limit int) ([]store.StoredPolicy, error)
	FoldResultCounts(ctx context.Context) error
}

// Config is what Run needs; Store and Metrics are required.
type Config struct {
	Store   Store
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Interval is how often the gauges are computed; default 30 s.
	Interval time.Duration
	// OnlineWindow is how recent a host's last message must be for it to
	// count as online.
	OnlineWindow time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// maxPingWait bounds one ping, so that a database that hangs rather than
// refuses shows as down within one interval.
const maxPingWait = 5 * time.Second

// Run pings the store and updates the gauges at once and then every
// Interval until ctx ends.
func Run(ctx context.Context, cfg Config) {
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	up := true // as last logged: only changes are logged
	for {
		if err := Ping(ctx, cfg); ctx.Err() == nil && (err == nil) != up {
			up = err == nil
			if up {
				cfg.Logger.Info("database answers pings again; steward_store_up is 1")
			} else {
				cfg.Logger.Warn("database ping failed; steward_store_up is 0", "err", err)
			}
		}
		if err := Update(ctx, cfg); err != nil && ctx.Err() == nil {
			cfg.Logger.Warn("fleet gauges not updated; the previous values stay", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Ping pings the store once, within maxPingWait or Interval if shorter,
// and sets steward_store_up to 1 if it answered, else 0. A ping cut short
// because ctx ended leaves the gauge as it was.
func Ping(ctx context.Context, cfg Config) error {
	wait := maxPingWait
	if cfg.Interval > 0 {
		wait = min(wait, cfg.Interval)
	}
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	err := cfg.Store.Ping(pctx)
	if ctx.Err() != nil {
		return err
	}
	if err != nil {
		cfg.Metrics.StoreUp.Set(0)
	} else {
		cfg.Metrics.StoreUp.Set(1)
	}
	return err
}

// Update computes the gauges once. On an error the gauges keep their
// previous values.
func Update(ctx context.Context, cfg Config) error {
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	t := now()
	if err := cfg.Store.FoldResultCounts(ctx); err != nil {
		// The counts stay right without folding; only slower to read.
		if cfg.Logger != nil {
			cfg.Logger.Warn("result counts not folded", "err", err)
		}
	}
	fc, err := cfg.Store.FleetCounts(ctx, t.Add(-cfg.OnlineWindow))
	if err != nil {
		return err
	}
	counts, err := cfg.Store.Compliance(ctx, t)
	if err != nil {
		return err
	}
	policies, err := cfg.Store.ListPolicies(ctx, "", 0)
	if err != nil {
		return fmt.Errorf("list policies: %w", err)
	}
	m := cfg.Metrics
	hosts := metrics.GaugeValues{}
	for _, c := range fc.Hosts {
		hosts.Add(c.Count, "os", orUnknown(c.OS), "platform", orUnknown(c.Platform), "os_version", orUnknown(c.OSVersion), "online", fmt.Sprint(c.Online))
	}
	versions := metrics.GaugeValues{}
	for _, c := range fc.AgentVersions {
		versions.Add(c.Count, "version", orUnknown(c.Version))
	}
	severity := make(map[string]string, len(policies))
	for _, p := range policies {
		severity[p.Policy.ID] = p.Policy.Severity
	}
	results, ratios := metrics.GaugeValues{}, metrics.GaugeValues{}
	for _, c := range counts {
		sev, ok := severity[c.PolicyID]
		if !ok {
			continue // deleted since the counts were read
		}
		for st, n := range map[policy.Status]int64{policy.StatusPass: c.Pass, policy.StatusFail: c.Fail,
			policy.StatusNotApplicable: c.NotApplicable, policy.StatusError: c.Error, policy.StatusExempt: c.Exempt} {
			results.Add(n, "policy", c.PolicyID, "severity", sev, "status", string(st))
		}
		if concerned := c.Pass + c.Fail + c.Error + c.Exempt; concerned > 0 {
			ratios.Set(float64(c.Pass+c.Exempt)/float64(concerned), "policy", c.PolicyID, "severity", sev)
		}
	}
	hosts.Replace(m.Hosts)
	versions.Replace(m.AgentVersions)
	results.Replace(m.PolicyResults)
	ratios.Replace(m.ComplianceRatio)
	return nil
}

// orUnknown names a value a host has not reported yet.
func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
