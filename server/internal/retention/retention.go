package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/store"
)

// Store is what retention prunes.
type Store interface {
	PruneHistory(ctx context.Context, kind store.HistoryKind, before time.Time, limit int) (int64, error)
	EnsurePartitions(ctx context.Context, now time.Time) error
	TryLockRetention(ctx context.Context) (release func(), ok bool, err error)
}

// Defaults for Config's zero fields.
const (
	DefaultInterval  = time.Hour
	DefaultBatchSize = 5000
	// DefaultPause between two batches leaves the database to ingest
	// and readers for a while; a batch of 5,000 rows takes tens of
	// milliseconds.
	DefaultPause = 200 * time.Millisecond
)

// Config is what Run needs; Store is required.
type Config struct {
	Store   Store
	Metrics *metrics.Metrics // nil: not counted
	Logger  *slog.Logger
	// Keep is how long each history keeps rows; a kind missing or 0 is
	// kept forever.
	Keep map[store.HistoryKind]time.Duration
	// Interval is the time between runs.
	Interval time.Duration
	// BatchSize bounds the rows one statement deletes.
	BatchSize int
	// Pause is the wait between two batches; negative means none.
	Pause time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Pause == 0 {
		c.Pause = DefaultPause
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Run prunes at once and then every Interval until ctx ends. A failed run
// is logged and the next one tries again.
func Run(ctx context.Context, cfg Config) {
	cfg.defaults()
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	for {
		if _, err := Once(ctx, cfg); err != nil && ctx.Err() == nil {
			cfg.Logger.Warn("retention run failed; the next run tries again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Once runs retention one time: it creates the coming months' partitions,
// then deletes each history's rows past its period, batch by batch. It
// returns the rows deleted per kind, also when it stops early with an
// error, and nil with no error when another server sharing the database
// holds the retention lock: that one does the work.
func Once(ctx context.Context, cfg Config) (map[store.HistoryKind]int64, error) {
	cfg.defaults()
	release, ok, err := cfg.Store.TryLockRetention(ctx)
	if err != nil {
		cfg.countRun("error")
		return nil, err
	}
	if !ok {
		cfg.countRun("locked")
		cfg.Logger.Debug("retention skipped: another server holds the lock")
		return nil, nil
	}
	defer release()
	start := cfg.Now()
	deleted := map[store.HistoryKind]int64{}
	var errs []error
	if err := cfg.Store.EnsurePartitions(ctx, start); err != nil {
		errs = append(errs, err)
	}
	for _, kind := range store.HistoryKinds {
		keep := cfg.Keep[kind]
		if keep <= 0 {
			continue
		}
		n, err := cfg.prune(ctx, kind, start.Add(-keep))
		deleted[kind] = n
		if err != nil {
			errs = append(errs, fmt.Errorf("retention of %s: %w", kind, err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	err = errors.Join(errs...)
	if err != nil {
		cfg.countRun("error")
	} else {
		cfg.countRun("ok")
	}
	attrs := []any{"took", cfg.Now().Sub(start).Round(time.Millisecond)}
	for _, kind := range store.HistoryKinds {
		if n, ok := deleted[kind]; ok {
			attrs = append(attrs, string(kind), n)
		}
	}
	cfg.Logger.Info("retention run finished", attrs...)
	return deleted, err
}

// prune deletes kind's rows older than before, one batch per call with a
// pause in between, until a batch comes back short.
func (c Config) prune(ctx context.Context, kind store.HistoryKind, before time.Time) (int64, error) {
	var total int64
	for {
		n, err := c.Store.PruneHistory(ctx, kind, before, c.BatchSize)
		total += n
		if n > 0 && c.Metrics != nil {
			c.Metrics.RetentionDeleted.WithLabelValues(string(kind)).Add(float64(n))
		}
		if err != nil || n < int64(c.BatchSize) {
			return total, err
		}
		if err := c.pause(ctx); err != nil {
			return total, err
		}
	}
}

func (c Config) pause(ctx context.Context) error {
	if c.Pause < 0 {
		return ctx.Err()
	}
	t := time.NewTimer(c.Pause)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c Config) countRun(result string) {
	if c.Metrics != nil {
		c.Metrics.RetentionRuns.WithLabelValues(result).Inc()
	}
}

// Keep maps the retention section of the configuration to Config.Keep.
func Keep(changes, transitions, alerts, notifications, audit time.Duration) map[store.HistoryKind]time.Duration {
	return map[store.HistoryKind]time.Duration{
		store.HistoryChanges:       changes,
		store.HistoryTransitions:   transitions,
		store.HistoryAlerts:        alerts,
		store.HistoryNotifications: notifications,
		store.HistoryAudit:         audit,
	}
}
