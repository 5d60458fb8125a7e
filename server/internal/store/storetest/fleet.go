package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

var fleetTests = []subtest{
	{"fleet counts", testFleetCounts},
}

func testFleetCounts(t *testing.T, st store.Store) {
	ctx := t.Context()
	got, err := st.FleetCounts(ctx, at(0))
	if err != nil || len(got.Hosts) != 0 || len(got.AgentVersions) != 0 {
		t.Fatalf("empty fleet = %+v, %v", got, err)
	}
	h1, h2, _ := enroll(t, st, "f-1"), enroll(t, st, "f-2"), enroll(t, st, "f-3")
	h4 := enroll(t, st, "f-4")
	for _, c := range []struct {
		id      int64
		version string
		seen    time.Time
	}{{h1, "1.2.0", at(time.Hour)}, {h2, "1.2.0", at(time.Minute)}, {h4, "1.3.0", at(2 * time.Hour)}} {
		if err := st.HostConnected(ctx, c.id, store.HelloInfo{Hostname: "x", OS: "linux", Arch: "amd64", AgentVersion: c.version}, c.seen); err != nil {
			t.Fatal(err)
		}
	}
	got, err = st.FleetCounts(ctx, at(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := store.FleetCounts{
		Hosts: []store.HostCount{
			{OS: "", Online: false, Count: 1},      // f-3 never connected
			{OS: "linux", Online: false, Count: 1}, // f-2, last seen before the window
			{OS: "linux", Online: true, Count: 2},  // f-1 and f-4
		},
		AgentVersions: []store.VersionCount{{Version: "", Count: 1}, {Version: "1.2.0", Count: 2}, {Version: "1.3.0", Count: 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fleet counts =\n%+v\nwant\n%+v", got, want)
	}
}
