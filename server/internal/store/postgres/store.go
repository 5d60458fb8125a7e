package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/ingestplan"
)

// openTimeout bounds connecting and the first ping, so a server pointed at
// a database that is down says so at once instead of hanging.
const openTimeout = 5 * time.Second

// Store is the PostgreSQL store.Store.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	// retired caches retired hosts' links for SoftwareVersions.
	retired retiredLinks
}

var _ store.Store = (*Store)(nil)

// Open connects to dsn (a postgres:// URL or key=value string; pgxpool's
// pool_* parameters apply) and checks the server answers. It does not
// migrate; call Migrate.
func Open(ctx context.Context, dsn string, log *slog.Logger, opts ...Option) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included.
		return nil, errors.New("open postgres: invalid connection string")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > openTimeout {
		cfg.ConnConfig.ConnectTimeout = openTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "steward-server"
	}
	for _, o := range opts {
		o(cfg, dsn)
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", where, err)
	}
	pctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: database unreachable: %w", where, err)
	}
	return &Store{pool: pool, log: log}, nil
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// Close closes every pooled connection.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// txAttempts is how often a transaction that lost a deadlock or
// serialization race is tried in all. Ingest batches from many
// connections touch the same popular catalog rows; PostgreSQL resolves a
// rare lock cycle by failing one side, which can simply run again.
const txAttempts = 3

// tx runs fn in a transaction, again when PostgreSQL aborted it for a
// deadlock or serialization failure. fn must not keep state across calls.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.retry(func() error { return pgx.BeginFunc(ctx, s.pool, fn) })
}

// retry runs fn, a transaction, up to txAttempts times while PostgreSQL
// aborts it for a deadlock or serialization failure.
func (s *Store) retry(fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == txAttempts || !retryable(err) {
			return err
		}
		s.log.Debug("retrying transaction", "attempt", attempt, "err", err)
	}
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == "40001" || pgErr.Code == "40P01"
}

// Advisory lock keys; arbitrary constants that only have to differ from
// each other and from other applications sharing the database.
const (
	migrateLockKey   int64 = 0x5374_6577_0001 // "Stew" 1
	bootstrapLockKey int64 = 0x5374_6577_0002
)

// utc returns t in UTC, or the zero time for NULL.
func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// clean makes agent-reported text fit for an indexed column; ingest and
// every other writer of such text cut it the same way.
func clean(s string) string { return ingestplan.Clean(s) }

// defaultLimit is the page size when a query asks for none.
const defaultLimit = 100

func limitOrDefault(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}
