package collect

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes the agent binary the offline tests build, once every
// test of the package has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if agentBin.path != "" {
		os.RemoveAll(filepath.Dir(agentBin.path))
	}
	os.Exit(code)
}
