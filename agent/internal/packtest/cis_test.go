//go:build linux

package packtest

import (
	"os"
	"path/filepath"
	"testing"
)

// cisPackDir is the CIS Debian 12 Level 1 Server pack, from this
// package's directory.
var cisPackDir = filepath.Join("..", "..", "..", "shared", "policy", "packs", "cis-debian12-l1-server")

// TestCISPack runs every policy of the CIS Debian 12 Level 1 Server pack
// on its pass, fail and extra fixture systems (testdata/*.fixtures.yaml
// in the pack directory). Run one policy with
// -run 'TestCISPack/cis-some-id'.
func TestCISPack(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("fixture systems own files as root and other accounts: run the tests as root")
	}
	if _, err := os.Stat(cisPackDir); err != nil {
		t.Fatalf("the CIS pack is missing: %v", err)
	}
	runPack(t, cisPackDir, filepath.Join(cisPackDir, "testdata"))
}
