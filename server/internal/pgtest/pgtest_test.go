package pgtest

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func tableCount(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNewDatabase(t *testing.T) {
	a, b := NewDatabase(t), NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share the DSN %s", a)
	}
	ca, cb := connect(t, a), connect(t, b)
	if n := tableCount(t, ca); n != 0 {
		t.Errorf("new database has %d tables", n)
	}
	if _, err := ca.Exec(t.Context(), `CREATE TABLE only_in_a (x int)`); err != nil {
		t.Fatal(err)
	}
	if n := tableCount(t, cb); n != 0 {
		t.Errorf("a table created in one database shows in another (%d tables)", n)
	}
	var dbName string
	if err := ca.QueryRow(t.Context(), `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dbName, "steward_test_") || !strings.HasSuffix(a, "/"+dbName+"?sslmode=disable") {
		t.Errorf("connected to %q through %s", dbName, a)
	}
}

func TestDatabaseDropped(t *testing.T) {
	var dsn string
	t.Run("inner", func(t *testing.T) { dsn = NewDatabase(t) })
	if _, err := pgx.Connect(t.Context(), dsn); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("database still reachable after its test ended: %v", err)
	}
}

func TestClusterStopStart(t *testing.T) {
	c := NewCluster(t)
	dsn := c.NewDatabase(t)
	conn := connect(t, dsn)
	if _, err := conn.Exec(t.Context(), `CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)`); err != nil {
		t.Fatal(err)
	}
	port := c.Port()
	if err := c.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := conn.Ping(t.Context()); err == nil {
		t.Error("session survived Stop")
	}
	if _, err := pgx.Connect(t.Context(), dsn); err == nil {
		t.Error("connected to a stopped cluster")
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("start again: %v", err)
	}
	if c.Port() != port {
		t.Errorf("port changed from %d to %d", port, c.Port())
	}
	var x int
	if err := connect(t, dsn).QueryRow(t.Context(), `SELECT x FROM kept`).Scan(&x); err != nil || x != 42 {
		t.Errorf("data after restart = %d, %v; want 42", x, err)
	}
	dir := c.dir
	if err := c.Remove(); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cluster directory %s left behind: %v", dir, err)
	}
}

func TestMissingBinaries(t *testing.T) {
	_, err := startCluster(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "apt-get install -y postgresql-15") {
		t.Errorf("error = %v; want the install command", err)
	}
}
