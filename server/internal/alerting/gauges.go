package alerting

import (
	"context"
	"time"
)

// gaugeInterval is how often the alert and outbox gauges are read from
// the store: a scrape reads the cached values and costs the database
// nothing.
const gaugeInterval = 30 * time.Second

func (e *Engine) gaugeLoop(ctx context.Context) {
	if e.m == nil {
		return
	}
	tick := time.NewTicker(gaugeInterval)
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
	// Reset drops series whose count went to zero; the sets are small
	// (rules × severities × states, receivers × 2), so a scrape between
	// Reset and Set sees at worst one round without them.
	e.m.Alerts.Reset()
	for _, c := range alerts {
		e.m.Alerts.WithLabelValues(c.Rule, c.Severity, c.State).Set(float64(c.Count))
	}
	e.m.NotificationsQueued.Reset()
	for _, c := range queued {
		e.m.NotificationsQueued.WithLabelValues(c.Receiver, c.State).Set(float64(c.Count))
	}
	return nil
}
