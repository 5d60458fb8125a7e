package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDatabase names the environment variable with a postgres:// URL of a
// server where the user may CREATE DATABASE. When it is set, tests use that
// server instead of starting a cluster.
const EnvDatabase = "STEWARD_TEST_DATABASE"

// shared is the one server per test binary that NewDatabase uses.
var shared struct {
	once    sync.Once
	dsn     string
	cluster *Cluster // nil when EnvDatabase names the server
	err     error
}

// mainActive is set by Main: without it a shared cluster would outlive the
// test binary's files.
var mainActive atomic.Bool

// Main runs the tests of a package that uses NewDatabase or ServerDSN,
// stops and removes the shared cluster if one was started, and exits.
// Call it from the package's TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// The cluster starts on the first NewDatabase, so test runs that do not
// need PostgreSQL (go test -run Foo) do not pay for it.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main for a TestMain with set-up and clean-up of its own: it
// returns the exit code instead of exiting.
func Run(m *testing.M) int {
	mainActive.Store(true)
	code := m.Run()
	if c := shared.cluster; c != nil {
		if err := c.Remove(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// ServerDSN returns a URL for the shared server's maintenance database,
// starting the server on first use. Tests should prefer NewDatabase.
func ServerDSN(t testing.TB) string {
	t.Helper()
	if !mainActive.Load() {
		t.Fatal("pgtest: call pgtest.Main(m) from this package's TestMain, so the shared cluster is stopped when the tests end")
	}
	shared.once.Do(func() {
		if dsn := os.Getenv(EnvDatabase); dsn != "" {
			shared.dsn = dsn
			return
		}
		shared.cluster, shared.err = StartCluster()
		if shared.err == nil {
			shared.dsn = shared.cluster.ServerDSN()
		}
	})
	if shared.err != nil {
		t.Fatalf("pgtest: %v", shared.err)
	}
	return shared.dsn
}

// NewDatabase creates an empty database with a unique name on the shared
// server, so tests can run in parallel, and drops it when t ends. It
// returns the database's postgres:// URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, ServerDSN(t), func() bool { return true })
}

var dbSeq atomic.Int64

// newDatabase creates a database through serverDSN and drops it at the end
// of t if running still reports true then.
func newDatabase(t testing.TB, serverDSN string, running func() bool) string {
	t.Helper()
	u, err := url.Parse(serverDSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s must be a postgres:// URL", EnvDatabase)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:]) // never fails
	// Pid, sequence and randomness: unique across parallel tests, test
	// binaries and machines sharing one STEWARD_TEST_DATABASE server.
	name := fmt.Sprintf("steward_test_%d_%d_%s", os.Getpid(), dbSeq.Add(1), hex.EncodeToString(rnd[:]))
	if err := admin(serverDSN, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if !running() {
			return
		}
		// FORCE ends sessions a test left open (PostgreSQL 13+).
		if err := admin(serverDSN, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	q := u.Query()
	if !q.Has("sslmode") && isLocal(u.Hostname()) {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func isLocal(host string) bool {
	return host == "" || host == "localhost" || host == "127.0.0.1" || host == "::1" || strings.HasPrefix(host, "/")
}

// admin runs one statement on its own connection; CREATE and DROP
// DATABASE cannot run inside a transaction or a pooled session's state.
func admin(serverDSN, stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverDSN)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, stmt)
	return err
}
