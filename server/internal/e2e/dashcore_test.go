package e2e

import (
	"testing"

	"github.com/steward-project/steward/dashboards/generate"
)

// generatedCorePanels is the dashboard generator's list of the panels
// that must return data, by dashboard uid.
func generatedCorePanels(t *testing.T) map[string][]string {
	t.Helper()
	core := generate.CorePanels()
	if len(core) == 0 {
		t.Fatal("dashboards/generate.CorePanels() names no panels")
	}
	return core
}
