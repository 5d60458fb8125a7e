package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultBinDir holds the PostgreSQL 15 server binaries on Debian 12.
// STEWARD_PGTEST_BINDIR overrides it.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

const installHint = "apt-get install -y postgresql-15"

// Cluster is a throwaway PostgreSQL server: its own data directory and
// socket directory in a temporary directory, listening on 127.0.0.1 on a
// free port, trusting every local connection, tuned for speed over
// durability (fsync off). Stop and Start let end-to-end tests take the
// database away and bring it back with its data.
type Cluster struct {
	bin   string
	dir   string // temporary root: data/, sock/, postgres.log
	owner *owner
	port  int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

// NewCluster starts a private cluster for t and removes it when t ends.
// It ignores STEWARD_TEST_DATABASE: tests that stop the server must not
// stop a shared one.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := StartCluster()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Remove(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c
}

// StartCluster creates and starts a cluster; the caller must Remove it.
func StartCluster() (*Cluster, error) {
	bin := os.Getenv("STEWARD_PGTEST_BINDIR")
	if bin == "" {
		bin = DefaultBinDir
	}
	return startCluster(bin)
}

func startCluster(bin string) (*Cluster, error) {
	for _, tool := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, tool)); err != nil {
			return nil, fmt.Errorf("PostgreSQL server binaries not found in %s (%v): install them with `%s`, or set STEWARD_TEST_DATABASE to a postgres:// URL of a server where the user may CREATE DATABASE", bin, err, installHint)
		}
	}
	o, err := processOwner()
	if err != nil {
		return nil, err
	}
	reapStale()
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	c := &Cluster{bin: bin, dir: dir, owner: o}
	if err := c.create(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	// Another test binary may take the port between our probe and the
	// server's bind; a fresh port is then tried.
	for attempt := 1; ; attempt++ {
		c.port, err = freePort()
		if err == nil {
			err = c.Start()
		}
		if err == nil {
			return c, nil
		}
		if attempt == 3 || !strings.Contains(err.Error(), "could not bind") {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("start cluster: %w", err)
		}
	}
}

// dirPrefix names the temporary directories, so stale ones can be found.
const dirPrefix = "steward-pgtest-"

// create makes the directories and runs initdb.
func (c *Cluster) create() error {
	// The owner file lets a later run remove this directory if this test
	// binary dies without cleaning up.
	if err := os.WriteFile(filepath.Join(c.dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(c.dir, "sock"), 0o700); err != nil {
		return err
	}
	if c.owner != nil {
		for _, p := range []string{c.dir, filepath.Join(c.dir, "sock")} {
			if err := os.Chown(p, int(c.owner.uid), int(c.owner.gid)); err != nil {
				return err
			}
		}
	}
	cmd := c.command("initdb", "-D", c.dataDir(), "-U", "postgres", "--auth=trust",
		"--no-sync", "--encoding=UTF8", "--locale=C", "--no-instructions")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("initdb: %w: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }
func (c *Cluster) logPath() string { return filepath.Join(c.dir, "postgres.log") }

// command builds a command for one of the server binaries, run as the
// cluster's owner from inside its directory (initdb resolves paths
// relative to a working directory it must be able to read).
func (c *Cluster) command(tool string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, tool), args...)
	cmd.Dir = c.dir
	cmd.SysProcAttr = procAttr(c.owner)
	env := []string{"LC_ALL=C"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "LANG") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	return cmd
}

// Start starts the server (again, after Stop, on the same port and data)
// and waits until it accepts connections.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return errors.New("start postgres: already running")
	}
	logFile, err := os.OpenFile(c.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	defer logFile.Close() // the child holds its own copy
	cmd := c.command("postgres", "-D", c.dataDir(), "-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+filepath.Join(c.dir, "sock"),
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=32MB",
		"-c", "max_connections=200",
		"-c", "max_wal_size=1GB",
		"-c", "log_min_messages=warning",
		"-c", "log_min_error_statement=panic", // failing statements are the tests' business
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // how it ended is in the log
		close(exited)
	}()
	c.cmd, c.exited = cmd, exited
	if err := c.waitReady(exited); err != nil {
		c.stopLocked()
		return fmt.Errorf("start postgres: %w\n%s", err, c.logTail())
	}
	return nil
}

// waitReady polls until the server accepts a connection.
func (c *Cluster) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgconn.Connect(ctx, c.DSN("postgres"))
		cancel()
		if err == nil {
			return conn.Close(context.Background())
		}
		select {
		case <-exited:
			return errors.New("postgres exited during startup")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after 60s: %w", err)
		}
	}
}

// Stop shuts the server down fast (open sessions are ended, data kept)
// and waits for it to exit. Stopping a stopped cluster does nothing.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopLocked()
}

func (c *Cluster) stopLocked() error {
	if c.cmd == nil {
		return nil
	}
	defer func() { c.cmd, c.exited = nil, nil }()
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		select {
		case <-c.exited:
			return nil
		default:
		}
		_ = c.cmd.Process.Kill()
	}
	select {
	case <-c.exited:
		return nil
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return errors.New("stop postgres: no fast shutdown within 30s, killed")
	}
}

// Remove stops the server and deletes its directory.
func (c *Cluster) Remove() error {
	err := c.Stop()
	if rmErr := os.RemoveAll(c.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove cluster: %w", rmErr))
	}
	return err
}

// Port is the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// DSN returns a URL for database on this cluster.
func (c *Cluster) DSN(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, database)
}

// ServerDSN returns a URL for the cluster's maintenance database.
func (c *Cluster) ServerDSN() string { return c.DSN("postgres") }

// NewDatabase creates an empty database for t on this cluster and drops it
// when t ends (unless the cluster is stopped then: Remove takes it along).
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, c.ServerDSN(), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.cmd != nil
	})
}

// logTail returns the end of the server log, for startup errors.
func (c *Cluster) logTail() string {
	b, err := os.ReadFile(c.logPath())
	if err != nil {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "postgres log:\n" + string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// reapStale removes cluster directories left by test binaries that died
// without cleaning up (killed, or timed out). Their server got SIGINT when
// they died; only the files remain.
func reapStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue // being created right now, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || processAlive(pid) {
			continue
		}
		// A server killed outright leaves postmaster.pid behind; its
		// first line is the server's pid.
		if b, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
			first, _, _ := strings.Cut(string(b), "\n")
			if pm, err := strconv.Atoi(strings.TrimSpace(first)); err != nil || processAlive(pm) {
				continue
			}
		}
		os.RemoveAll(d)
	}
}
