package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
)

// testVersionsFollowRetiredHosts: per-version counts of a name with more
// catalog rows than a store probes one by one stay right as hosts are
// retired, as a retired host's links change (its agent may still be
// connected to another server for a while) and as it is deleted.
func testVersionsFollowRetiredHosts(t *testing.T, st store.Store) {
	const rows = 300
	pkgs := func(from, to int) []inventory.Package {
		var out []inventory.Package
		for i := from; i < to; i++ {
			out = append(out, inventory.Package{Name: fmt.Sprintf("bulk-%03d", i), Version: "1", Arch: "amd64", Source: "dpkg"})
		}
		return out
	}
	a, b, c := enroll(t, st, "a"), enroll(t, st, "b"), enroll(t, st, "c")
	for _, h := range []int64{a, b, c} {
		setSoftware(t, st, h, 1, pkgs(0, rows)...)
	}
	// check wants every bulk-NNN in [from, to) counted on want hosts and
	// every other one on none.
	check := func(when string, want int64, from, to int) {
		t.Helper()
		vs, err := st.SoftwareVersions(t.Context(), store.SoftwareQuery{Name: "bulk-"})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, v := range vs {
			got[v.Name] = v.Hosts
		}
		for i := range rows + 10 {
			name, w := fmt.Sprintf("bulk-%03d", i), int64(0)
			if i >= from && i < to {
				w = want
			}
			if got[name] != w {
				t.Fatalf("%s: %s on %d hosts, want %d", when, name, got[name], w)
			}
		}
	}
	check("three live hosts", 3, 0, rows)
	if _, err := st.RetireHost(t.Context(), c, "alice", at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("one host retired", 2, 0, rows)
	check("asked again", 2, 0, rows)
	// The retired host's software changes: ten packages go, ten arrive;
	// none of it counts.
	setSoftware(t, st, c, 2, pkgs(10, rows+10)...)
	check("retired host's links changed", 2, 0, rows)
	if err := st.DeleteHost(t.Context(), c, "alice", at(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("retired host deleted", 2, 0, rows)
	if _, err := st.RetireHost(t.Context(), b, "alice", at(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("second host retired", 1, 0, rows)
	setSoftware(t, st, a, 2, pkgs(5, rows)...)
	check("live host's links changed", 1, 5, rows)
}
