package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/ingestplan"
)

// busyTimeoutMS is how long a connection waits for another process's lock
// (a `steward-server migrate` next to a running server, a backup) before
// failing with SQLITE_BUSY. Inside one process writes queue in Go instead.
const busyTimeoutMS = 5000

// Store is the SQLite store.Store. It holds two pools on one file: w has a
// single connection, so writers queue in Go instead of failing with
// SQLITE_BUSY, and every transaction on it starts with BEGIN IMMEDIATE so
// it takes the write lock up front instead of upgrading mid-way; r is a
// read-only pool that WAL lets run beside the writer.
type Store struct {
	w   *sql.DB
	r   *sql.DB
	log *slog.Logger
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and its parent
// directory. It does not migrate; call Migrate.
func Open(ctx context.Context, path string, log *slog.Logger) (*Store, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open sqlite: invalid path %q", path)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The database holds every host's inventory and the credential
	// hashes: only the server's account may read it. SQLite creates the
	// -wal and -shm files with the database file's mode.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	if err := privateFile(path); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// synchronous=NORMAL in WAL mode survives a process crash; a power cut
	// may lose the last commits, which the protocol heals: the next digest
	// mismatch asks the agent to resync.
	common := fmt.Sprintf("_busy_timeout=%d&_foreign_keys=1", busyTimeoutMS)
	w, err := sql.Open("sqlite", path+"?"+common+"&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// The writer's first connection switches the file to WAL; readers are
	// opened only after that so none of them races it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", path+"?"+common+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &Store{w: w, r: r, log: log}, nil
}

// Ping checks that both pools can reach the file.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// writeTx runs fn in one write transaction and commits it if fn succeeds.
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // the error from fn is the one worth reporting
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// nanos is how times are stored: INTEGER unix nanoseconds UTC, NULL for the
// zero time. One integer compares and sorts correctly and costs 8 bytes.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// clean makes agent-reported text fit for an indexed column; ingest and
// every other writer of such text cut it the same way.
func clean(s string) string { return ingestplan.Clean(s) }

// privateFile creates path with mode 0600 if it does not exist, and takes
// group and other permissions away from one that does (a database made
// by an older version was 0644).
func privateFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return f.Chmod(fi.Mode().Perm() &^ 0o077)
	}
	return nil
}
