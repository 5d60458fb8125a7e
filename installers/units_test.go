package installers

import (
	"os"
	"strings"
	"testing"

	"github.com/steward-project/steward/installers/systemd"
)

// templated are the directives the templates fill in at install; every
// other line of a template is the reference unit's, in the same order.
var templated = map[string]bool{"ExecStart": true, "User": true, "Group": true}

// section returns the lines of one [section] of a unit, without comments
// and blank lines.
func section(unit, name string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "["):
			in = line == "["+name+"]"
		case in && line != "" && !strings.HasPrefix(line, "#"):
			out = append(out, line)
		}
	}
	return out
}

// TestUnitTemplatesMatchReference checks that the unit a service install
// writes carries the reference unit's hardening: each section holds the
// same directives in the same order, and only ExecStart, User and Group
// differ.
func TestUnitTemplatesMatchReference(t *testing.T) {
	for ref, tmpl := range map[string]string{
		"systemd/steward-agent.service":  systemd.AgentUnit,
		"systemd/steward-server.service": systemd.ServerUnit,
	} {
		b, err := os.ReadFile(ref)
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range []string{"Unit", "Service", "Install"} {
			want, got := section(string(b), sec), section(tmpl, sec)
			if len(want) != len(got) {
				t.Errorf("%s [%s]: reference has %d lines, template %d:\n%s\n---\n%s", ref, sec, len(want), len(got),
					strings.Join(want, "\n"), strings.Join(got, "\n"))
				continue
			}
			for i := range want {
				key, _, _ := strings.Cut(want[i], "=")
				gotKey, _, _ := strings.Cut(got[i], "=")
				if key != gotKey || (!templated[key] && want[i] != got[i]) {
					t.Errorf("%s [%s] line %d: reference %q, template %q", ref, sec, i+1, want[i], got[i])
				}
			}
		}
		if n := len(section(tmpl, "Service")); n < 15 {
			t.Errorf("%s: only %d [Service] lines; the hardening is missing", ref, n)
		}
	}
}
