//go:build unix

package e2e

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// lockExclusive holds an exclusive lock on the file at path (made with
// perm if missing) until the test ends; what names the lock in errors.
func lockExclusive(t *testing.T, path string, perm os.FileMode, what string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		t.Fatalf("%s: %v", what, err)
	}
	t.Cleanup(func() { f.Close() })
}
