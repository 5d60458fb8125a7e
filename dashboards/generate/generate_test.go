package generate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

// grafanaDir holds the committed dashboards, relative to this package.
const grafanaDir = "../grafana"

// TestCommittedJSONUpToDate fails when dashboards/grafana differs from what
// the generator produces: a generator change without regenerating, or a
// hand edit of a generated file.
func TestCommittedJSONUpToDate(t *testing.T) {
	files, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(grafanaDir, name))
		if err != nil {
			t.Errorf("dashboards/grafana/%s: %v; run `make dashboards` and commit the result", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("dashboards/grafana/%s differs from the generator's output (%s); run `make dashboards` and commit the result",
				name, firstDifference(got, want))
		}
	}
	committed, err := filepath.Glob(filepath.Join(grafanaDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range committed {
		if _, ok := files[filepath.Base(path)]; !ok {
			t.Errorf("dashboards/grafana/%s is not produced by the generator; run `make dashboards` (it removes stale files)", filepath.Base(path))
		}
	}
}

// firstDifference locates the first differing line, for the failure
// message.
func firstDifference(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < len(g) && i < len(w); i++ {
		if !bytes.Equal(g[i], w[i]) {
			return fmt.Sprintf("first at line %d: committed %q, generated %q", i+1, cut(g[i]), cut(w[i]))
		}
	}
	return fmt.Sprintf("committed %d lines, generated %d", len(g), len(w))
}

func cut(b []byte) string {
	s := string(bytes.TrimSpace(b))
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// TestRenderDeterministic renders twice and compares: map order or
// anything else random must not reach the files.
func TestRenderDeterministic(t *testing.T) {
	a, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	for name := range a {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s rendered differently twice", name)
		}
		if !bytes.HasSuffix(a[name], []byte("}\n")) {
			t.Errorf("%s does not end with a newline", name)
		}
	}
}

// TestCorePanels checks the list end-to-end tests rely on: every uid is a
// dashboard, every title names exactly one panel of it, and the list
// covers each dashboard an admin opens first.
func TestCorePanels(t *testing.T) {
	boards, err := Boards()
	if err != nil {
		t.Fatal(err)
	}
	titles := map[string][]string{}
	for _, b := range boards {
		titles[b.UID()] = Titles(b.Dashboard)
	}
	core := CorePanels()
	var uids []string
	for uid, list := range core {
		uids = append(uids, uid)
		all, ok := titles[uid]
		if !ok {
			t.Errorf("CorePanels names dashboard %q, which does not exist", uid)
			continue
		}
		for _, title := range list {
			n := 0
			for _, have := range all {
				if have == title {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s: core panel %q matches %d panels, want 1", uid, title, n)
			}
		}
	}
	sort.Strings(uids)
	for _, uid := range []string{UIDFleet, UIDCompliance, UIDInventory, UIDHost, UIDAlerts, UIDServer, UIDFleetProm, UIDComplianceProm} {
		if len(core[uid]) == 0 {
			t.Errorf("CorePanels has nothing for %s (have %v)", uid, uids)
		}
	}
	// Panels that stay empty on a healthy system must not be required.
	for uid, list := range core {
		for _, never := range []string{"Dead letters", "TLS certificate expires in", "Exemptions expiring within 30 days", "Store operation errors", "Checks in error"} {
			if slices.Contains(list, never) {
				t.Errorf("%s: %q is listed as core but has no data on a healthy system", uid, never)
			}
		}
	}
	// The map is the caller's: changing it changes nothing here.
	core[UIDFleet] = nil
	if len(CorePanels()[UIDFleet]) == 0 {
		t.Error("CorePanels returned shared state")
	}
}
