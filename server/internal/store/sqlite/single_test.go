package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLockSingleServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "steward.db")
	unlock, err := LockSingleServer(path)
	if err != nil {
		t.Fatal(err)
	}
	// A second claim (another server) is refused and names the holder.
	_, err = LockSingleServer(path)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), fmt.Sprintf("process %d", os.Getpid())) {
		t.Fatalf("second claim: %v; want ErrInUse naming process %d", err, os.Getpid())
	}
	// Released, the database can be claimed again.
	unlock()
	unlock, err = LockSingleServer(path)
	if err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	unlock()
}

// TestLockSingleServerFirstRun: on a first run the data directory does
// not exist yet; the lock creates it, owner-only, as Open would.
func TestLockSingleServerFirstRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "new")
	unlock, err := LockSingleServer(filepath.Join(dir, "steward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory: %v, mode %v; want it created 0700", err, fi)
	}
}
