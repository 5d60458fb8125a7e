package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrInUse is returned by LockSingleServer when another process serves
// the database.
var ErrInUse = errors.New("the SQLite database is in use by another steward-server; SQLite serves one process, use PostgreSQL to run several")

// LockSingleServer claims the database at path for this process until
// unlock is called or the process ends, by an exclusive lock on path
// plus ".lock". A second server started on the same file gets an error
// wrapping ErrInUse that names the holder's process id, instead of two
// processes writing one file through separate caches.
func LockSingleServer(path string) (unlock func(), err error) {
	name := path + ".lock"
	// The lock comes before Open, which would create the directory (a
	// first run's data directory does not exist yet), with the same mode.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := lockFile(f); err != nil {
		holder, _ := os.ReadFile(name)
		f.Close()
		if errors.Is(err, errLocked) {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(holder))); perr == nil {
				return nil, fmt.Errorf("%s (process %d holds %s): %w", path, pid, name, ErrInUse)
			}
			return nil, fmt.Errorf("%s (%s is held): %w", path, name, ErrInUse)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	// The process id is only for the message above.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil // closing the file drops the lock
}
