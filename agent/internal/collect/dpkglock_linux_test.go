package collect

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// holdDpkgLock takes a shared lock that the end-to-end test which installs
// a probe package with dpkg takes exclusively (server/internal/e2e), so a
// comparison of this machine's packages never runs while that package
// comes and goes. go test runs the two packages in parallel.
func holdDpkgLock(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "steward-test-dpkg.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("dpkg test lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		t.Fatalf("dpkg test lock: %v", err)
	}
	t.Cleanup(func() { f.Close() })
}
