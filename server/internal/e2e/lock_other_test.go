//go:build !unix

package e2e

import (
	"os"
	"testing"
)

// lockExclusive fails the test: the tests that take these locks install
// packages with dpkg, which needs a Unix system.
func lockExclusive(t *testing.T, path string, perm os.FileMode, what string) {
	t.Helper()
	t.Fatalf("%s %s: these tests need a Unix system", what, path)
}
