package ingest

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// ErrUnavailable is wrapped by the error passed to Done, and returned by
// Submit, while the database cannot take writes at all. The message was
// not committed; the agent should come back later and send it again.
var ErrUnavailable = errors.New("database unavailable")

// SQLite result codes (the low byte of an extended code) that say the
// database file cannot be written now, whatever the data.
const (
	sqliteBusy     = 5
	sqliteLocked   = 6
	sqliteNoMem    = 7
	sqliteIOErr    = 10
	sqliteFull     = 13
	sqliteCantOpen = 14
)

// Unavailable reports whether err says the database could not take the
// transaction at all (a timeout, a broken or refused connection, a server
// shutting down, a busy or unwritable SQLite file) rather than that it
// refused some message in it. Retrying such a batch message by message
// only multiplies the wait.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.Timeout(err) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return unavailableState(pe.Code)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqliteBusy, sqliteLocked, sqliteNoMem, sqliteIOErr, sqliteFull, sqliteCantOpen:
			return true
		}
		return false
	}
	// pgx reports a closed connection or pool by message only.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool")
}

// unavailableState reports whether a PostgreSQL SQLSTATE is about the
// server rather than the statement: connection exceptions (08), lack of
// resources (53: disk full, out of memory, too many connections), an
// operator intervention (57: shutdown, cancel, cannot connect now) and
// system errors (58).
func unavailableState(code string) bool {
	if len(code) < 2 {
		return false
	}
	switch code[:2] {
	case "08", "53", "57", "58":
		return true
	}
	return false
}

// markUnavailable takes the batcher out of service after err, until the
// probe succeeds; only the first caller starts the probe.
func (b *Batcher) markUnavailable(err error) {
	b.downMu.Lock()
	defer b.downMu.Unlock()
	if b.down != nil {
		return
	}
	b.down = err
	b.cfg.Logger.Error("database unavailable; refusing agent data until it answers", "err", err)
	b.probes.Add(1)
	go b.probe()
}

// Unavailable returns why the batcher refuses data (nil: it takes it).
// It is set when a commit fails for the database, not for a message, and
// cleared when the probe reaches the database again.
func (b *Batcher) Unavailable() error {
	b.downMu.Lock()
	defer b.downMu.Unlock()
	return b.down
}

// probe calls cfg.Probe every ProbeInterval until it succeeds or the
// batcher stops.
func (b *Batcher) probe() {
	defer b.probes.Done()
	t := time.NewTimer(b.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-b.stopping:
			return
		}
		err := b.ping()
		if err == nil {
			b.downMu.Lock()
			b.down = nil
			b.downMu.Unlock()
			b.cfg.Logger.Info("database reachable again; taking agent data")
			return
		}
		b.cfg.Logger.Debug("database probe failed", "err", err)
		t.Reset(b.cfg.ProbeInterval)
	}
}

func (b *Batcher) ping() error {
	if b.cfg.Probe == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.ProbeInterval+2*time.Second)
	defer cancel()
	go func() {
		select {
		case <-b.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	return b.cfg.Probe(ctx)
}
