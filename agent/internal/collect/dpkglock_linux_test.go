package collect

import (
	"os"
	"syscall"
	"testing"
)

// dpkgTestLock is the lock file agent/internal/collect and
// server/internal/e2e share. It lives in /run/lock (world-writable and
// sticky, emptied at boot) rather than the temporary directory, which the
// tests leave as they found it.
const dpkgTestLock = "/run/lock/steward-test-dpkg.lock"

// holdDpkgLock takes a shared lock that the end-to-end test which installs
// a probe package with dpkg takes exclusively (server/internal/e2e), so a
// comparison of this machine's packages never runs while that package
// comes and goes. go test runs the two packages in parallel.
func holdDpkgLock(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(dpkgTestLock, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("dpkg test lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		t.Fatalf("dpkg test lock: %v", err)
	}
	t.Cleanup(func() { f.Close() })
}
