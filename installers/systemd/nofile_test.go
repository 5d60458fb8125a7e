package systemd

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// serverNoFile is the least open files limit the server's unit must give:
// 50,000 agents, each one socket, and the server's own reserve.
const serverNoFile = 51_200

// TestServerUnitOpenFiles: the server unit, as shipped and as rendered by
// install, raises the open files limit far enough for a large fleet.
func TestServerUnitOpenFiles(t *testing.T) {
	ref, err := os.ReadFile("steward-server.service")
	if err != nil {
		t.Fatal(err)
	}
	for name, unit := range map[string]string{"steward-server.service": string(ref), "steward-server.service.tmpl": ServerUnit} {
		found := false
		for line := range strings.Lines(unit) {
			v, ok := strings.CutPrefix(strings.TrimSpace(line), "LimitNOFILE=")
			if !ok {
				continue
			}
			found = true
			n, err := strconv.Atoi(v)
			if err != nil || n < serverNoFile {
				t.Errorf("%s: LimitNOFILE=%s, want a number of at least %d", name, v, serverNoFile)
			}
		}
		if !found {
			t.Errorf("%s sets no LimitNOFILE", name)
		}
	}
}
