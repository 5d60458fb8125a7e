package alerting

import (
	"context"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/alertconf"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/shared/policy"
)

// defaultGaugeInterval is how often the alert and outbox gauges are read
// from the store when Config.GaugeInterval is not set: a scrape reads the
// cached values and costs the database nothing.
const defaultGaugeInterval = 30 * time.Second

func (e *Engine) gaugeLoop(ctx context.Context) {
	if e.m == nil {
		return
	}
	every := e.gaugeEvery
	if every <= 0 {
		every = defaultGaugeInterval
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if err := e.updateGauges(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("alert gauges not updated", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (e *Engine) updateGauges(ctx context.Context) error {
	alerts, err := e.st.AlertCounts(ctx)
	if err != nil {
		return err
	}
	queued, err := e.st.NotificationCounts(ctx)
	if err != nil {
		return err
	}
	// Replaced in place, so a scrape meanwhile never sees them emptied;
	// series whose count went to zero go.
	open := metrics.GaugeValues{}
	for _, c := range alerts {
		open.Add(c.Count, "rule", c.Rule, "severity", c.Severity, "state", c.State)
	}
	pending := metrics.GaugeValues{}
	for _, c := range queued {
		pending.Add(c.Count, "receiver", c.Receiver, "state", c.State)
	}
	open.Replace(e.m.Alerts)
	pending.Replace(e.m.NotificationsQueued)
	return nil
}

// precreate makes the counters of every configured rule and receiver
// exist at zero, so that the first alert a rule opens or the first
// notification a receiver gets shows in increase() and rate(): a series
// born at its first increment has no earlier sample to increase from.
func (e *Engine) precreate(c alertconf.Config) {
	if e.m == nil {
		return
	}
	for _, r := range c.Rules {
		sevs := []string{r.Severity}
		if r.Severity == "" { // policy_failing: the failing policy's own
			sevs = nil
			for _, s := range []string{policy.SeverityInfo, policy.SeverityLow, policy.SeverityMedium, policy.SeverityHigh, policy.SeverityCritical} {
				if alertconf.SeverityAtLeast(s, r.MinSeverity) {
					sevs = append(sevs, s)
				}
			}
		}
		for _, s := range sevs {
			for _, t := range []string{"opened", "resolved", "unmuted"} {
				e.m.AlertTransitions.WithLabelValues(r.Name, s, t)
			}
		}
	}
	for _, r := range c.Receivers {
		for _, res := range []string{"sent", "failed", "dead", "skipped"} {
			e.m.Notifications.WithLabelValues(r.Name, res)
		}
	}
}
